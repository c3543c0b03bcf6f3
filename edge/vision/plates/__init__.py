"""Chinese licence-plate recognition on the CPU: see docs/vision-plates.md.

Entry points: `pipeline.PlateReader` (frame or crop in, `PlateRead`s out) and
`vote.PlatePasses` (per-camera tracking and voting, one `PlatePass` per vehicle).
"""
