"""The one typed settings model and the layered loader that fills it.

``hybrid_assist.config`` sits at the bottom of the dependency graph: it only
imports the pydantic settings sections that each package defines for itself.
"""

from hybrid_assist.config.loader import ConfigLayer, LoadedSettings, SettingsLoader
from hybrid_assist.config.settings import HybridSettings

__all__ = ["ConfigLayer", "HybridSettings", "LoadedSettings", "SettingsLoader"]
