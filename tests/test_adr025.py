"""ADR-025's two test sketches, as real tests against the real adapters."""

from __future__ import annotations

import numpy as np

import pynomaly
from pynomaly.plugin.manager import PluginManager
from pynomaly.plugin.records import PluginStatus
from pynomaly.services import detectors as detector_service


def test_plugin_lifecycle():
    """discover → load sklearn_adapter → health check healthy → unload."""
    pm = PluginManager(plugins_dir="")
    plugins = pm.discover()
    assert len(plugins) > 0
    assert {"sklearn_adapter", "pyod_adapter"} <= {r.name for r in plugins}

    record = pm.load("sklearn_adapter")
    assert record.status is PluginStatus.LOADED
    assert "sklearn_adapter" in pm.loaded()

    health = pm.health_check("sklearn_adapter")
    assert health["status"] == "healthy"

    pm.unload("sklearn_adapter")
    assert "sklearn_adapter" not in pm.loaded()
    assert not any(d.plugin == "sklearn_adapter" for d in detector_service.detectors(pm))


def test_algorithm_plugin_interface(breast_cancer):
    """fit → predict, one result per row → explain, one importance per feature."""
    model = pynomaly.fit(breast_cancer, detector="sklearn:iforest", random_state=0)
    assert model is not None

    labels = model.predict(breast_cancer)
    assert len(labels) == len(breast_cancer)
    assert set(np.unique(labels)) <= {0, 1}

    importance = pynomaly.explain(model, breast_cancer)
    assert len(importance) == breast_cancer.shape[1]
    assert list(importance.index) == list(breast_cancer.columns)
    assert np.isfinite(importance).all() and importance.max() > 0
