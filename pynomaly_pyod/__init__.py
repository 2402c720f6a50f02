"""pynomaly_pyod: the ``pyod_adapter`` plugin, PyOD's tabular detectors as ``pyod:<name>``.

The hooks live in :mod:`pynomaly_pyod.plugin`, the static detector table in
:mod:`pynomaly_pyod.catalog`. Importing this package does not import PyOD.
"""
