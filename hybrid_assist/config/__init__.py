"""The layered configuration loader, generic over the root settings model it is given.

``hybrid_assist.config`` is the bottom of the dependency graph: it imports
nothing of the project (only pydantic), so every package may import it. Each
package owns its settings sections; the root model that puts them together is
:class:`hybrid_assist.settings.HybridSettings`, assembled at the top.
"""

from hybrid_assist.config.loader import ConfigLayer, LoadedSettings, SettingsLoader, validate_layers

__all__ = ["ConfigLayer", "LoadedSettings", "SettingsLoader", "validate_layers"]
