"""Rules that turn readings into alarms (thresholds now; access policy lives elsewhere).

`edge.config` is imported first: the drivers it loads use these rule models.
"""

import edge.config  # noqa: F401
