"""Plugins shipped inside pynomaly; they use the same hooks as any third-party plugin."""
