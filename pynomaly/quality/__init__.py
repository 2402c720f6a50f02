"""Detection quality: comparing detectors on one dataset, the built-in benchmark suite,
hyperparameter tuning. Imported by the ``compare``, ``benchmark`` and ``tune`` commands and by
:func:`pynomaly.compare`; see docs/quality.md."""
