"""The plugin host: discovery, lifecycle, dispatch and monitoring of pynomaly plugins."""
