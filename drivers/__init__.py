"""Device drivers: one module per `type` in the YAML `devices:` list.

A module defines `CONFIG` (based on `edge.config.devices.DeviceBase`, with
`type: Literal["name"]`) and `DRIVER` (constructed as `DRIVER(config, runtime)`,
with `async def run(self) -> None` run under the supervisor). Every module here
is a driver (`edge.registry` loads them; one without CONFIG is an error).
"""
