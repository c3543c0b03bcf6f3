"""The YAML configuration: models per section, a loader that names key and line."""

from edge.config.loader import ConfigError, ConfigUnreadable, Problem, load_config, parse_config
from edge.config.model import EdgeConfig

__all__ = [
    "ConfigError",
    "ConfigUnreadable",
    "EdgeConfig",
    "Problem",
    "load_config",
    "parse_config",
]
