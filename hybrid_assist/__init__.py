"""hybrid-assist: the application shell (settings model, CLI, composition root)."""

__version__ = "0.1.0"
