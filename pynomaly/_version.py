"""The single source of pynomaly's version (read by setup.cfg and the plugin manager)."""

__version__ = "1.0.0"
