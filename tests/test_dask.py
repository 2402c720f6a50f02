"""engine='dask' on a real distributed.LocalCluster (two single-threaded worker processes on
127.0.0.1): partitions scored on the workers give the local engine's scores, the sample is
the data when it is small, partitioned output files are complete and atomic, and detectors
that score rows against their batch are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly.cli.main import cli
from pynomaly.detection import partitioned
from pynomaly.errors import DataError, InputError
from pynomaly.plugin import replica

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

# every batch-independent detector of scikit-learn, and a representative set of PyOD's
DETECTORS = [
    "sklearn:iforest",
    "sklearn:lof",
    "sklearn:ocsvm",
    "sklearn:elliptic",
    "sklearn:sgd_ocsvm",
    "pyod:ecod",
    "pyod:copod",
    "pyod:hbos",
    "pyod:iforest",
    "pyod:knn",
    "pyod:lof",
    "pyod:pca",
]
PARTS = 4
ROWS = 150  # per partition


@pytest.fixture(scope="module")
def scheduler() -> str:
    """The address of a local cluster of two worker processes, one thread each."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def partitions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """Four Parquet files of 150 rows (5 features, a few planted outliers) and their
    concatenation, as the local engine reads it."""
    where = tmp_path_factory.mktemp("parts")
    rng = np.random.default_rng(3)
    frames = []
    for i in range(PARTS):
        frame = pd.DataFrame(rng.standard_normal((ROWS, 5)), columns=list("abcde"))
        frame.iloc[i * 7] = 8.0 + i  # an outlier in each partition
        frame.to_parquet(where / f"day{i}.parquet")
        frames.append(frame)
    return where, pd.concat(frames, ignore_index=True)


def test_every_batch_independent_detector_scores_as_the_local_engine(scheduler, partitions):
    where, whole = partitions
    for detector in DETECTORS:
        model = pynomaly.fit(whole, detector)  # seed 0, as the dask engine's
        expected = model.score(whole)
        # a given model, scored on the cluster
        scores = model.score(str(where / "*.parquet"), engine="dask", scheduler=scheduler)
        # equal to the last bit but for linear kernels (sgd_ocsvm): BLAS sums a product in
        # blocks that depend on the batch, a difference of one unit in the last place
        np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=0, err_msg=detector)
        # fitted on the cluster's sample, which is every row in order: the same model
        res = pynomaly.detect(str(where), detector, engine="dask", scheduler=scheduler)
        assert res.model.training_scores.shape == (PARTS * ROWS,), detector
        np.testing.assert_array_equal(res.model.training_scores, model.training_scores)
        assert res.threshold == model.threshold, detector
        np.testing.assert_allclose(res.scores, expected, rtol=1e-12, atol=0, err_msg=detector)
        np.testing.assert_array_equal(res.labels, (expected > model.threshold).astype(np.int8))


def test_jobs_with_the_dask_engine_is_the_fitted_detectors_n_jobs(scheduler, partitions):
    where, whole = partitions
    res = pynomaly.detect(str(where), "sklearn:iforest", engine="dask", scheduler=scheduler,
                          jobs=2)
    assert res.model.params["n_jobs"] == 2
    np.testing.assert_array_equal(res.scores, pynomaly.fit(whole, "sklearn:iforest").score(whole))


def test_a_sample_is_seeded_and_uniform_over_partitions(scheduler, partitions):
    where, whole = partitions
    kwargs = {"engine": "dask", "scheduler": scheduler, "fit_rows": 200}
    a = pynomaly.fit(str(where), "pyod:ecod", random_state=1, **kwargs)
    b = pynomaly.fit(str(where), "pyod:ecod", random_state=1, **kwargs)
    c = pynomaly.fit(str(where), "pyod:ecod", random_state=2, **kwargs)
    assert a.training_scores.shape == (200,)
    np.testing.assert_array_equal(a.training_scores, b.training_scores)
    assert not np.array_equal(a.training_scores, c.training_scores)
    # the sample itself: rows of the data, from every partition, in (partition, row) order
    pm = pynomaly.default_manager()
    parts, _ = partitioned.partitions_of(pm, str(where))
    setup = replica.describe(pm)
    with distributed.Client(scheduler, set_as_default=False) as client:
        one = partitioned.draw_sample(client, parts, setup, {}, 200, 1)
        two = partitioned.draw_sample(client, parts, setup, {}, 200, 1)
    assert one.rows == PARTS * ROWS and len(one.frame) == 200
    np.testing.assert_array_equal(one.positions, two.positions)
    assert set(one.parts) == set(range(PARTS))
    order = one.parts * ROWS + one.positions
    assert (np.diff(order) > 0).all()
    np.testing.assert_array_equal(one.frame.to_numpy(), whole.to_numpy()[order])


def test_merging_partial_samples_keeps_the_smallest_keys_in_order():
    def part(number: int, keys: list[float]) -> partitioned.Sample:
        frame = pd.DataFrame({"x": [number * 100 + i for i in range(len(keys))]})
        return partitioned.Sample(
            np.array(keys), np.full(len(keys), number), np.arange(len(keys)), frame, len(keys)
        )

    merged = partitioned._merge(part(1, [0.9, 0.1, 0.5]), part(0, [0.3, 0.8, 0.2]), 3)
    assert merged.frame["x"].tolist() == [0, 2, 101]  # keys 0.3, 0.2 (part 0), 0.1 (part 1)
    assert merged.rows == 6
    everything = partitioned._merge(part(1, [0.9]), part(0, [0.3, 0.8]), None)
    assert everything.frame["x"].tolist() == [0, 1, 100]


def test_a_dask_dataframe_keeps_its_index(scheduler, partitions):
    _, whole = partitions
    indexed = whole.set_axis(pd.RangeIndex(1000, 1000 + len(whole), name="id"))
    frame = dd.from_pandas(indexed, npartitions=3)
    with distributed.Client(scheduler):  # the active client is used without scheduler=
        res = pynomaly.detect(frame, "sklearn:iforest", engine="dask")
    expected = pynomaly.fit(indexed, "sklearn:iforest")
    assert res.index.equals(indexed.index)
    np.testing.assert_array_equal(res.scores, expected.score(indexed))
    assert res.data is None and res.source == "<Dask DataFrame>"


def test_batch_relative_detectors_are_refused(scheduler, partitions):
    where, whole = partitions
    with pytest.raises(InputError, match=r"pyod:cof scores a row relative to the other rows"):
        pynomaly.detect(str(where), "pyod:cof", engine="dask", scheduler=scheduler)
    model = pynomaly.fit(whole, "pyod:cof")
    with pytest.raises(InputError, match="use engine 'local'"):
        model.score(str(where), engine="dask", scheduler=scheduler)


def test_bad_input_fails_before_any_work(partitions, tmp_path):
    where, _ = partitions
    with pytest.raises(InputError, match="engine must be one of local, dask"):
        pynomaly.detect(str(where), engine="spark")
    with pytest.raises(InputError, match="needs engine 'dask'"):
        pynomaly.detect(str(where), scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match="fit_rows must be an integer >= 2"):
        pynomaly.fit(str(where), engine="dask", fit_rows=1)
    with pytest.raises(InputError, match="contamination"):
        pynomaly.detect(str(where), engine="dask", contamination=0.9)
    pm = pynomaly.default_manager()
    with pytest.raises(DataError, match="no file matches"):
        partitioned.partitions_of(pm, str(tmp_path / "*.csv"))
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "a.parquet").write_bytes((where / "day0.parquet").read_bytes())
    with pytest.raises(DataError, match="would write the same output file a"):
        partitioned.partitions_of(pm, str(tmp_path))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_partitioned_output_files_are_complete_and_atomic(scheduler, partitions, tmp_path):
    where, whole = partitions
    out = tmp_path / "scores"
    code, output = run(
        "detect", str(where), "-d", "pyod:ecod", "--engine", "dask", "--scheduler", scheduler,
        "-o", str(out), "--json",
    )
    assert code == 0, output
    summary = json.loads(output)["summary"]
    assert summary["rows"] == PARTS * ROWS and summary["partitions"] == PARTS
    assert sorted(os.listdir(out)) == [f"day{i}.parquet" for i in range(PARTS)]  # no temporaries
    expected = pynomaly.fit(whole, "pyod:ecod")
    scores = expected.score(whole)
    for i in range(PARTS):
        written = pd.read_parquet(out / f"day{i}.parquet")
        assert list(written.columns) == ["anomaly_score", "is_anomaly"]
        assert written.index.tolist() == list(range(ROWS))  # the input rows' index
        part = scores[i * ROWS : (i + 1) * ROWS]
        np.testing.assert_allclose(written["anomaly_score"], part, rtol=1e-12, atol=0)
        assert written["is_anomaly"].tolist() == (part > expected.threshold).astype(int).tolist()
    assert summary["anomalies"] == int((scores > expected.threshold).sum())

    # an existing file is refused before anything is written, an input is never replaced
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, output = run(
        "detect", str(where), "--engine", "dask", "--scheduler", scheduler, "-o", str(out),
    )
    assert code == 2 and "day0.parquet already exists" in output
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    code, output = run(
        "detect", str(where), "--engine", "dask", "--scheduler", scheduler, "-o", str(where),
        "--overwrite",
    )
    assert code == 2 and "refusing to replace an input" in output

    # a partition that fails leaves no partial file: the others are whole, or absent
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(PARTS):
        (broken / f"day{i}.parquet").write_bytes((where / f"day{i}.parquet").read_bytes())
    pd.DataFrame({"a": ["x"] * ROWS, **{c: 0.0 for c in "bcde"}}).to_parquet(
        broken / "day9.parquet"
    )
    model = tmp_path / "ecod.model"
    expected.save(model)
    failed = tmp_path / "failed"
    code, output = run(
        "score", str(model), str(broken), "--engine", "dask", "--scheduler", scheduler,
        "-o", str(failed),
    )
    assert code == 2 and "day9.parquet" in output, output
    for name in os.listdir(failed):
        assert not name.startswith("."), name  # no temporary left behind
        assert len(pd.read_parquet(failed / name)) == ROWS


def test_score_command_writes_other_formats(scheduler, partitions, tmp_path):
    _, whole = partitions
    model = pynomaly.fit(whole, "sklearn:iforest")
    model.save(tmp_path / "m.model")
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for i in range(2):
        whole.iloc[i * ROWS : (i + 1) * ROWS].to_csv(csv_dir / f"part{i}.csv", index=False)
    out = tmp_path / "out"
    code, output = run(
        "score", str(tmp_path / "m.model"), str(csv_dir / "*.csv"), "--engine", "dask",
        "--scheduler", scheduler, "-o", str(out), "--format", "csv", "--top", "3",
    )
    assert code == 0, output
    assert "Wrote 2 files" in output and "sklearn:iforest" in output
    written = pd.concat(pd.read_csv(out / f"part{i}.csv", index_col=0) for i in range(2))
    np.testing.assert_allclose(
        written["anomaly_score"], model.score(whole.iloc[: 2 * ROWS]), rtol=1e-12, atol=0
    )
    result = CliRunner().invoke(
        cli,
        ["score", str(tmp_path / "m.model"), str(csv_dir), "--engine", "dask", "--scheduler",
         scheduler, "--nl", "--top", "2", "--fail-on-anomaly"],
    )
    assert result.exit_code == 3, result.output  # anomalies found
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["anomaly_score"] for line in lines] == sorted(
        model.score(whole.iloc[: 2 * ROWS]), reverse=True
    )[:2]
    assert "anomalies in 300 rows, 2 partitions" in result.stderr


def test_without_a_scheduler_a_local_cluster_is_started_and_stopped(partitions, tmp_path):
    where, _ = partitions
    psutil = pytest.importorskip("psutil")
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    code, output = run("detect", str(where), "--engine", "dask", "-d", "pyod:hbos", "--json")
    assert code == 0, output
    assert json.loads(output)["summary"]["rows"] == PARTS * ROWS
    with pytest.raises(ValueError):
        distributed.Client.current()  # no client left behind
    left = {p.pid for p in psutil.Process().children(recursive=True)} - children
    assert not [
        p for p in left
        if psutil.pid_exists(p) and psutil.Process(p).is_running()
        and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        # multiprocessing's resource tracker lives as long as this process, by design: the
        # first test of the session to use multiprocessing starts it
        and "multiprocessing.resource_tracker" not in " ".join(psutil.Process(p).cmdline())
    ]
