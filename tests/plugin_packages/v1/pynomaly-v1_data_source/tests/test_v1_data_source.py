"""Tests of the plugin ``v1_data_source``, using pynomaly's test kit."""

import pynomaly
import pytest
from pynomaly.errors import DataError
from pynomaly.testing import check_plugin

import pynomaly_v1_data_source as plugin

ARFF = """% a small ARFF file
@RELATION demo

@ATTRIBUTE 'cell size' NUMERIC
@attribute shape real
@ATTRIBUTE class {benign, malignant}

@DATA
1.5, 2, benign
% a comment between rows
2.5, ?, 'malignant'
3, 4.25, benign
"""


def test_plugin_passes_the_conformance_checks():
    check_plugin("v1_data_source").raise_for_failures()


def test_plugin_is_loaded_with_its_source(pynomaly_pm):
    pm = pynomaly_pm("v1_data_source")
    assert "arff" in [s.name for s in pm.data_sources()]  # loads the plugins on first use
    assert "v1_data_source" in pm.loaded()


def test_reads_arff(pynomaly_pm, tmp_path):
    pm = pynomaly_pm("v1_data_source")
    path = tmp_path / "demo.arff"
    path.write_text(ARFF)
    frame = pynomaly.load_data(path, manager=pm)
    assert list(frame.columns) == ["cell size", "shape", "class"]
    assert frame["cell size"].tolist() == [1.5, 2.5, 3.0]
    assert frame["shape"].isna().tolist() == [False, True, False]
    assert frame["class"].tolist() == ["benign", "malignant", "benign"]
    connection = pm.connect(f"arff:{path}")
    assert pm.get_schema(connection)["shape"] == "float64"
    assert pm.test_connection(connection)


def test_the_shipped_sample_reads(pynomaly_pm):
    pm = pynomaly_pm("v1_data_source")
    frame = pynomaly.load_data(plugin.SAMPLE, manager=pm)
    assert list(frame.columns) == ["temperature", "pressure", "flow rate"]
    assert frame.shape == (12, 3) and frame["flow rate"].isna().sum() == 1


def test_a_benchmark_in_arff_reads_back_exactly(pynomaly_pm, pynomaly_dataset, tmp_path):
    pm = pynomaly_pm("v1_data_source")
    X, _ = pynomaly_dataset("wine")
    header = [f"@attribute '{name}' numeric" for name in X.columns]
    rows = [",".join(repr(float(v)) for v in row) for row in X.itertuples(index=False)]
    path = tmp_path / "wine.arff"
    path.write_text("\n".join(["@relation wine", *header, "@data", *rows]) + "\n")
    back = pynomaly.load_data(path, manager=pm)
    assert back.shape == X.shape
    assert (back.to_numpy() == X.to_numpy(dtype=float)).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@relation x\n@attribute a numeric\n@data\n1\n2,3\n", "line 5: 2 values for 1"),
        ("@relation x\n@attribute a numeric\n@data\n{0 1}\n", "sparse"),
        ("@relation x\n@attribute a numeric\n@data\nabc\n", "numeric attribute 'a'"),
        ("a,b\n1,2\n", "unexpected"),
        ("@relation x\n@attribute a numeric\n", "no @data"),
    ],
)
def test_bad_files_are_reported(pynomaly_pm, tmp_path, text, message):
    pm = pynomaly_pm("v1_data_source")
    path = tmp_path / "bad.arff"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        pynomaly.load_data(path, manager=pm)


def test_a_missing_file_is_reported(pynomaly_pm, tmp_path):
    pm = pynomaly_pm("v1_data_source")
    with pytest.raises(DataError, match="no such file"):
        pynomaly.load_data(tmp_path / "missing.arff", manager=pm)
