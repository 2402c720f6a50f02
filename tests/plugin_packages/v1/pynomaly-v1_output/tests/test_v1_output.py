"""Tests of the plugin ``v1_output``, using pynomaly's test kit."""

import pynomaly
import pytest
from pynomaly import hookimpl
from pynomaly.errors import InputError
from pynomaly.testing import check_plugin
from pynomaly.types import DetectorInfo, FitResult


class Distance:
    """A tiny detector for these tests: the distance of a row to the column means."""

    @hookimpl
    def pynomaly_detectors(self):
        return [DetectorInfo("testing:distance", "distance to the column means")]

    @hookimpl
    def pynomaly_fit(self, detector_id, X):
        if detector_id != "testing:distance":
            return None
        mean = X.mean(axis=0)
        return FitResult(state=mean, training_scores=self.pynomaly_score(detector_id, mean, X))

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id != "testing:distance":
            return None
        return ((X - state) ** 2).sum(axis=1) ** 0.5


@pytest.fixture
def result(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm("v1_output", register=[Distance()])
    X, _ = pynomaly_dataset("planted")
    return pm, pynomaly.detect(X, "testing:distance", manager=pm)


def test_plugin_passes_the_conformance_checks():
    check_plugin("v1_output").raise_for_failures()


def test_markdown_lists_the_top_anomalies(result):
    pm, res = result
    assert "markdown" in [o.name for o in pm.outputs()]
    text = pm.format_output(res, "markdown", {"top": 5})
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 5  # header, separator and five rows
    assert f"{res.scores.max():.6g}" in rows[2]


def test_export_writes_every_row_and_never_clobbers(result, tmp_path):
    pm, res = result
    destination = tmp_path / "scores.md"
    pm.export_data(res, str(destination), "markdown")
    lines = destination.read_text().splitlines()
    assert len(lines) == 2 + len(res.scores)
    with pytest.raises(InputError, match="already exists"):
        pm.export_data(res, str(destination), "markdown")
    pm.export_data(res, str(destination), "markdown", {"overwrite": True})
    assert [p.name for p in tmp_path.iterdir()] == ["scores.md"]  # no temporary file left
