"""Access tests."""

import edge.config  # noqa: F401  (until the explicit registry lands: import order)
