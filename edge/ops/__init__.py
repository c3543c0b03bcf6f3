"""Field operations: `edge doctor` checks and the diagnostic bundle."""
