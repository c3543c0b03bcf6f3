"""compound-edge: the residential-compound gateway daemon."""

__version__ = "0.1.0"
