"""Configuration: runtime settings (environment, .env, labelgram.toml) and project files."""

from config.project import OptionSpec, ProjectFileError, ProjectSpec, load_project_file
from config.settings import ConfigError, Settings, load_settings

__all__ = [
    "ConfigError",
    "OptionSpec",
    "ProjectFileError",
    "ProjectSpec",
    "Settings",
    "load_project_file",
    "load_settings",
]
