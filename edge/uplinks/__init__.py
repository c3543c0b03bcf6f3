"""Upstream destinations: one package per `type` under `uplinks:`.

A package defines `CONFIG` (with `type: Literal["name"]`) and `UPLINK`
(constructed as `UPLINK(name, config, runtime)`, with `async def run(self)`).
Plain modules here are the kit every uplink shares (outbox drain, data policy);
`edge.registry` loads the packages.
"""
