"""`edge doctor`'s checks, one module per area; `edge.ops.doctor` runs them in order."""
