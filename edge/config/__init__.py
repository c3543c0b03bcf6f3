"""The YAML configuration: models per section, a loader that names key and line."""

from edge.config.loader import ConfigError, ConfigUnreadable, Problem, load_config, parse_config
from edge.config.model import EdgeConfig, config_model

__all__ = [
    "ConfigError",
    "ConfigUnreadable",
    "EdgeConfig",
    "Problem",
    "config_model",
    "load_config",
    "parse_config",
]
