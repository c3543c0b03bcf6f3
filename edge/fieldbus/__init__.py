"""Field buses: serial lines and Modbus links, one transaction at a time, per-device backoff.

`edge.config` is imported first on purpose: it builds the `devices:` union from the
drivers, which import this package, so whichever is imported first the config
models are complete before any module here needs them.
"""

import edge.config  # noqa: F401
