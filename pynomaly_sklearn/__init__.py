"""pynomaly_sklearn: scikit-learn's outlier detectors as a pynomaly algorithm plugin.

The plugin (:mod:`pynomaly_sklearn.plugin`, entry point ``sklearn_adapter``) offers
``sklearn:iforest``, ``sklearn:lof``, ``sklearn:ocsvm``, ``sklearn:elliptic`` and
``sklearn:sgd_ocsvm``. Scores are scikit-learn's own, negated so that higher means more
anomalous. scikit-learn is imported only when a detector is validated, fitted or used, never
when plugins or detectors are listed.
"""
