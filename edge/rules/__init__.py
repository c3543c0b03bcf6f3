"""Rules that turn readings into alarms (thresholds now; access policy lives elsewhere)."""
