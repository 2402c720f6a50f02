"""Scoring a source batch by batch in flat memory (each batch written as it is scored, running
summaries kept), and scoring on several cores (``jobs``) with the scores of one process."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly import hookimpl
from pynomaly.cli.main import cli
from pynomaly.detection import parallel
from pynomaly.detection.results import combine_results
from pynomaly.detection.stream import Summary, read_ahead, stream
from pynomaly.errors import DataError, InputError, PluginError
from pynomaly.plugin.manager import PluginManager
from pynomaly.services import outputs as output_service
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata

FORMATS = {"csv": ".csv", "jsonl": ".jsonl", "json": ".json", "parquet": ".parquet"}


@pytest.fixture
def invoke():
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """1,000 rows (a few planted outliers) with a 0/1 label column ``y``, as CSV."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.standard_normal((1000, 4)), columns=["a", "b", "c", "d"])
    frame.loc[::97, ["a", "c"]] += 6.0
    frame["y"] = 0
    frame.loc[::97, "y"] = 1
    path = tmp_path_factory.mktemp("data") / "data.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(labelled, tmp_path_factory):
    fitted = pynomaly.fit(labelled, "sklearn:iforest", random_state=0, label_column="y")
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    fitted.save(path)
    return path


def _read(path, fmt):
    if fmt == "csv":
        return pd.read_csv(path, index_col=0)
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True)
    return pd.DataFrame(json.loads(path.read_text())["rows"])


# --------------------------------------------------------------------------------------------
# Streamed outputs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_streamed_output_equals_the_whole_result_written_at_once(invoke, labelled, model,
                                                                  tmp_path, fmt):
    streamed = tmp_path / f"streamed{FORMATS[fmt]}"
    done = invoke("score", model, labelled, "--batch-size", 128, "-o", streamed)
    assert done.exit_code == 0, done.output
    whole = pynomaly.load(model).detect(labelled)
    at_once = tmp_path / f"at_once{FORMATS[fmt]}"
    output_service.export_data(pynomaly.default_manager(), whole, str(at_once), fmt)
    pd.testing.assert_frame_equal(_read(streamed, fmt), _read(at_once, fmt), check_exact=True)
    if fmt == "json":
        summary = json.loads(streamed.read_text())["summary"]
        expected = whole.summary()
        volatile = ("seconds", "source", "timings")
        assert "score" in summary["timings"]
        assert {k: v for k, v in summary.items() if k not in volatile} == {
            k: v for k, v in expected.items() if k not in volatile
        }
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([streamed.name, at_once.name])


def test_streamed_result_summarizes_like_the_whole_one(labelled, model):
    fitted = pynomaly.load(model)
    whole = fitted.detect(labelled)
    result = stream(fitted.score_source(labelled, batch_size=100), keep=12)
    assert result.rows == 1000 and result.n_anomalies == whole.n_anomalies
    assert result.metrics == pytest.approx(whole.metrics, abs=0) and "roc_auc" in result.metrics
    pd.testing.assert_frame_equal(result.top(12), whole.top(12), check_exact=True)
    assert result.y_true.tolist() == whole.y_true.reindex(result.index).tolist()
    assert len(result.data) == 1000  # under 2,000 rows: every row is the reference sample
    pd.testing.assert_frame_equal(
        result.contributions(3), whole.contributions(3), check_exact=False, atol=1e-12
    )
    with pytest.raises(ValueError, match="kept its 12 highest-scoring rows"):
        result.top(13)
    with pytest.raises(AttributeError, match="no per-row scores"):
        result.scores  # noqa: B018


def test_streamed_top_rows_keep_ties_in_input_order(model):
    fitted = pynomaly.load(model)
    frame = pd.DataFrame(np.zeros((30, 4)), columns=["a", "b", "c", "d"])
    frame.iloc[[3, 17, 25]] = 9.0  # three identical outliers, in three batches of 10
    summary = Summary(keep=3)
    for start in range(0, 30, 10):
        summary.add(fitted.detect(frame.iloc[start : start + 10]))
    assert summary.result(0.0).top(3).index.tolist() == [3, 17, 25]


def test_the_reference_sample_is_bounded_and_drawn_from_every_batch(model):
    fitted = pynomaly.load(model)
    rng = np.random.default_rng(0)
    summary = Summary(keep=5, sample=200)
    for start in range(0, 5000, 1000):
        frame = pd.DataFrame(rng.standard_normal((1000, 4)), columns=["a", "b", "c", "d"])
        summary.add(fitted.detect(frame.set_axis(pd.RangeIndex(start, start + 1000))))
    sample = summary.result(0.0).data
    assert len(sample) == 200 and sample.index.is_unique
    # a uniform sample: each batch of 1,000 rows gives about 40 of the 200
    counts = np.bincount(sample.index // 1000, minlength=5)
    assert counts.min() >= 20, counts


def test_score_table_and_json_have_contributions(invoke, labelled, model):
    table = invoke("score", model, labelled, "--batch-size", 200, "--top", 3)
    assert table.exit_code == 0, table.output
    assert "top contributing features" in table.output and "ROC AUC" in table.output
    document = json.loads(invoke("score", model, labelled, "--batch-size", 200, "--json").output)
    assert document["summary"]["rows"] == 1000
    assert len(document["top"]) == 10 and "contributions" in document["top"][0]


def test_detect_with_batch_size_writes_the_same_files(invoke, labelled, tmp_path):
    for fmt, suffix in FORMATS.items():
        at_once, batched = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        assert invoke("detect", labelled, "-o", at_once).exit_code == 0
        done = invoke("detect", labelled, "-o", batched, "--batch-size", 333)
        assert done.exit_code == 0, done.output
        a, b = _read(at_once, fmt), _read(batched, fmt)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=fmt)


def test_a_failing_batch_leaves_no_output(model, tmp_path, labelled):
    out = tmp_path / "scores.csv"
    writer = output_service.open_output(pynomaly.default_manager(), str(out), "csv")

    def batches():
        yield from pynomaly.load(model).score_source(labelled, batch_size=300)
        raise DataError("the source broke")

    with pytest.raises(DataError, match="the source broke"):
        stream(batches(), writer)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_refused_before_scoring(invoke, labelled, model, tmp_path):
    out = tmp_path / "scores.csv"
    out.write_text("keep me\n")
    done = invoke("score", model, labelled, "-o", out)
    assert done.exit_code == 2 and "already exists" in done.output
    assert out.read_text() == "keep me\n"


def test_an_output_format_that_does_not_stream_gets_every_row(model, labelled, tmp_path,
                                                                invoke):
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    done = invoke("score", model, labelled, "--batch-size", 300, "-o", url)
    assert done.exit_code == 0, done.output
    import sqlite3

    with sqlite3.connect(tmp_path / "scores.db") as db:
        assert db.execute("select count(*) from anomaly_scores").fetchone() == (1000,)


def test_read_ahead_passes_errors_on_and_closes_the_source():
    closed = []

    def numbers():
        try:
            yield 1
            yield 2
            raise DataError("disk on fire")
        finally:
            closed.append(True)

    with read_ahead(numbers) as items, pytest.raises(DataError, match="disk on fire"):
        assert list(items) == [1, 2]
    assert closed == [True]

    def endless():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.append("endless")

    with read_ahead(endless) as items:
        assert next(items) == 1  # the consumer stops early
    assert closed[-1] == "endless"


def test_an_empty_source_is_an_error():
    with pytest.raises(DataError, match="no rows to score"):
        stream(iter([]))
    with pytest.raises(DataError, match="no rows to score"):
        combine_results(iter([]))


# --------------------------------------------------------------------------------------------
# jobs: n_jobs of the library, worker processes for scoring
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_rows():
    """20,500 rows: enough for two jobs to share, in threads or (when they pay) processes."""
    rng = np.random.default_rng(11)
    return rng.standard_normal((20_500, 3))


@pytest.fixture
def processes_pay(monkeypatch):
    """Worker processes as soon as a detector may have them, whatever the rows cost (the
    rows of a test take too little time for workers to pay)."""
    monkeypatch.setattr(parallel, "PROBE_SECONDS", 0.0)  # two chunks of ALIGN rows
    monkeypatch.setattr(parallel, "START_SECONDS", 0.0)
    monkeypatch.setattr(parallel, "MIN_GAIN_SECONDS", 0.0)
    monkeypatch.setattr(parallel, "MIN_GAIN_KEPT", 0.0)


@pytest.mark.parametrize(
    ("detector", "threads", "rtol"),
    [
        ("pyod:iforest", True, 0),
        ("pyod:ecod", True, 0),
        ("pyod:hbos", False, 0),
        # BLAS blocks and shares a matrix product by the matrix's size: a row scored in a
        # part may round differently in its last bit (as with another --batch-size)
        ("pyod:kpca", False, 1e-14),
    ],
)
def test_jobs_2_scores_equal_jobs_1(many_rows, processes_pay, detector, threads, rtol):
    kpca = detector == "pyod:kpca"
    rows = many_rows[:2_600] if kpca else many_rows  # KPCA scores about 150 µs a row
    model = pynomaly.fit(many_rows[: 300 if kpca else 2000], detector, random_state=0)
    with parallel.batch_scorer(pynomaly.default_manager(), model, 2) as scorer:
        two = scorer.score(rows)
        assert scorer.parallel  # really scored by two workers
        assert scorer.threaded == threads  # in threads, as declared; else in processes
        streamed = np.concatenate([scorer.submit(rows).result() for _ in range(2)])
    np.testing.assert_allclose(two, model.score(rows), rtol=rtol, atol=0)
    np.testing.assert_allclose(streamed, np.tile(two, 2), rtol=rtol, atol=0)
    few = many_rows[:500]  # too few rows to share: scored here, as asked
    np.testing.assert_allclose(pynomaly.score(model, few, jobs=2), model.score(few), rtol=rtol,
                               atol=0)
    parallel.shutdown()


class SlowRows:
    """A batch-independent detector scoring ``per_row`` seconds a row in the calling thread,
    ``threads`` threads busy meanwhile (1: a single-threaded library; 2: one that keeps two
    cores busy, as OpenMP does in KNN and LOF)."""

    def __init__(self, per_row: float, threads: int = 1) -> None:
        self.per_row, self.threads = per_row, threads

    @hookimpl
    def pynomaly_plugin_metadata(self):
        return PluginMetadata(name="slow", version="1.0", plugin_types=["algorithm"])

    @hookimpl
    def pynomaly_detectors(self):
        return [DetectorInfo("slow:rows", "slow rows", batch_independent=True)]

    @hookimpl
    def pynomaly_fit(self, detector_id, X, params, contamination, random_state):
        return FitResult(0.0, np.zeros(len(X))) if detector_id == "slow:rows" else None

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id != "slow:rows":
            return None
        until = time.perf_counter() + self.per_row * len(X)

        def busy():
            while time.perf_counter() < until:
                np.sort(np.random.default_rng(0).random(20_000))  # releases the GIL

        helpers = [threading.Thread(target=busy) for _ in range(self.threads - 1)]
        for helper in helpers:
            helper.start()
        if self.threads == 1:
            time.sleep(max(0.0, until - time.perf_counter()))
        else:
            busy()
        for helper in helpers:
            helper.join()
        return X[:, 0].copy()


def slow_model(tmp_path, per_row, threads=1):
    pm = PluginManager(autoload=False, plugins_dir=str(tmp_path / "none"))
    pm.register(SlowRows(per_row, threads), "slow")
    return pm, pynomaly.fit(np.eye(10, 2), "slow:rows", manager=pm)


def test_worker_processes_start_only_where_they_pay(tmp_path, many_rows):
    """Measured on the first rows: workers for enough slow single-threaded work, none for
    cheap rows (HBOS) nor for little work; the rows measured are part of the result."""
    parallel.shutdown()
    hbos = pynomaly.fit(many_rows[:2000], "pyod:hbos")
    with parallel.batch_scorer(pynomaly.default_manager(), hbos, 2) as scorer:
        np.testing.assert_array_equal(scorer.score(many_rows), hbos.score(many_rows))
        assert not scorer.parallel  # 20,500 rows take HBOS milliseconds
    pm, model = slow_model(tmp_path, per_row=0.5e-3)
    rows = np.arange(7_000, dtype=float).reshape(-1, 1).repeat(2, axis=1)
    try:
        with parallel.batch_scorer(pm, model, 2) as scorer:  # 0.5 s: less than a start
            np.testing.assert_array_equal(scorer.score(rows[:1_000]), rows[:1_000, 0])
            assert not scorer.parallel
        with parallel.batch_scorer(pm, model, 2) as scorer:  # 3.5 s of rows: workers pay
            np.testing.assert_array_equal(scorer.score(rows), rows[:, 0])
            assert scorer.parallel and not scorer.threaded
        with parallel.batch_scorer(pm, model, 2) as scorer:  # 0.5 s, with workers waiting
            np.testing.assert_array_equal(scorer.score(rows[:1_000]), rows[:1_000, 0])
            assert scorer.parallel
    finally:
        parallel.shutdown()


def test_no_worker_processes_for_a_library_that_uses_the_cores(tmp_path):
    """What jobs would gain is the share of the cores the library leaves idle."""
    pm, model = slow_model(tmp_path, per_row=1e-3, threads=2)
    rows = np.zeros((1_000, 2))
    scorer = parallel.BatchScorer(pm, model, 2)
    head = scorer._measure(rows)
    per_row, cores = scorer._pace
    assert len(head) < len(rows) and per_row == pytest.approx(1e-3, rel=0.3)
    assert cores > 1.2  # its two threads kept about two cores busy
    for cores, rows_left, pays in [
        (1.0, 10_000, True),  # 10 s alone: 4.5 s saved on two cores
        (1.0, 2_500, True),  # 2.5 s alone: 0.75 s saved
        (1.0, 1_500, False),  # 1.5 s alone: 0.25 s saved, less than a start is worth
        (2.0, 100_000, False),  # 100 s alone, but the library keeps both cores busy
        (1.5, 100_000, True),  # a quarter of 100 s saved
    ]:
        scorer._pace = 1e-3, cores
        assert scorer._pays(rows_left) == pays, (cores, rows_left)


class WhoScores:
    """A batch-independent detector whose score of a row is the id of the process that scored
    it (``failing``: a worker process raises instead)."""

    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.parent = os.getpid()

    @hookimpl
    def pynomaly_plugin_metadata(self):
        return PluginMetadata(name="who", version="1.0", plugin_types=["algorithm"])

    @hookimpl
    def pynomaly_detectors(self):
        return [DetectorInfo("who:pid", "the scoring process", batch_independent=True)]

    @hookimpl
    def pynomaly_fit(self, detector_id, X, params, contamination, random_state):
        return FitResult(X.mean(axis=0), np.zeros(len(X))) if detector_id == "who:pid" else None

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id != "who:pid":
            return None
        if self.failing and os.getpid() != self.parent:
            raise RuntimeError("no scores in a worker")
        return np.full(len(X), float(os.getpid()))


class WhichThread(WhoScores):
    """The same, scored in threads (``threaded_scoring``): a row's score is the id of the thread
    that scored it."""

    @hookimpl
    def pynomaly_detectors(self):
        return [DetectorInfo("who:pid", "the scoring thread", batch_independent=True,
                             threaded_scoring=True)]

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id != "who:pid":
            return None
        time.sleep(0.01)  # long enough for the other thread to take a part
        return np.full(len(X), float(threading.get_ident()))


def test_threaded_scoring_shares_batches_with_threads_of_this_process(tmp_path):
    pm = PluginManager(autoload=False, plugins_dir=str(tmp_path / "none"))
    pm.register(WhichThread(), "who")
    model = pynomaly.fit(np.eye(10, 2), "who:pid", manager=pm)
    rows = np.zeros((6 * parallel.MIN_ROWS_PER_THREAD, 2))
    me = float(threading.get_ident())
    parallel.shutdown()  # the worker processes earlier tests kept
    with parallel.batch_scorer(pm, model, 2) as scorer:
        whole = scorer.score(rows)  # one matrix, in slices
        batch = scorer.submit(rows).result()  # a batch of a stream, split once
        assert scorer.threaded
    for scores in (whole, batch):
        assert me in scores and len(np.unique(scores)) == 2  # this thread and one other
    assert parallel._Workers._kept is None  # no worker process was started, or kept
    few = rows[: 2 * parallel.MIN_ROWS_PER_THREAD - 1]  # too few to share
    assert set(pynomaly.score(model, few, manager=pm, jobs=2)) == {me}


class FailingThread(WhichThread):
    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id == "who:pid" and threading.current_thread() is not threading.main_thread():
            raise RuntimeError("no scores in another thread")
        return super().pynomaly_score(detector_id, state, X)


def test_a_plugin_failing_in_a_scoring_thread_is_a_plugin_error(tmp_path):
    pm = PluginManager(autoload=False, plugins_dir=str(tmp_path / "none"))
    pm.register(FailingThread(), "who")
    model = pynomaly.fit(np.eye(10, 2), "who:pid", manager=pm)
    rows = np.zeros((2 * parallel.MIN_ROWS_PER_THREAD, 2))
    with pytest.raises(PluginError, match="who.*pynomaly_score.*no scores in another thread"):
        model.score(rows, manager=pm, jobs=2)
    with (
        pytest.raises(PluginError, match="no scores in another thread"),
        parallel.batch_scorer(pm, model, 2) as scorer,
    ):
        scorer.submit(rows).result()  # a batch of a stream
    assert set(model.score(rows[:10], manager=pm, jobs=2)) == {float(threading.get_ident())}


def test_blas_limits_last_until_the_last_of_overlapping_scorers_ends(tmp_path):
    """jobs limits BLAS to a job's share of the cores, process-wide: two scorers running at
    once (threads of a service) leave the limits as they found them, in whichever order they
    end."""
    pm = PluginManager(autoload=False, plugins_dir=str(tmp_path / "none"))
    pm.register(WhichThread(), "who")
    model = pynomaly.fit(np.eye(10, 2), "who:pid", manager=pm)
    rows = np.zeros((2 * parallel.MIN_ROWS_PER_THREAD, 2))

    def blas() -> list[int]:
        return [pool["num_threads"] for pool in parallel._threadpools().info()]

    before, share = blas(), max(1, parallel._cpu_count() // 2)
    assert before, "numpy's BLAS is seen by threadpoolctl"
    first, second = (parallel.BatchScorer(pm, model, 2) for _ in range(2))
    first.score(rows)
    second.score(rows)
    assert blas() == [share] * len(before)
    first.close()  # the first to start ends first: the second still runs limited
    assert blas() == [share] * len(before)
    second.close()
    assert blas() == before


def who_scores(tmp_path, failing=False):
    pm = PluginManager(autoload=False, plugins_dir=str(tmp_path / "none"))
    pm.register(WhoScores(failing), "who")
    return pm, pynomaly.fit(np.eye(10, 2), "who:pid", manager=pm)


def test_jobs_share_one_matrix_and_keep_their_workers_for_the_next_call(
    tmp_path, processes_pay
):
    pm, model = who_scores(tmp_path)
    rows = np.zeros((60_000, 2))
    try:
        with parallel.batch_scorer(pm, model, 2) as scorer:
            scorer._start().submit(parallel._worker.ready).result()  # the worker is up
            first = scorer.score(rows)
        parent = float(os.getpid())
        workers = set(np.unique(first)) - {parent}
        assert len(workers) == 1 and parent in first  # both processes scored slices
        # slices are whole: each process scored runs of contiguous rows, shrinking ones
        assert np.count_nonzero(np.diff(first)) < 50
        # the next call with the same model and jobs finds the same worker process, started
        again = pynomaly.score(model, rows, manager=pm, jobs=2)
        assert set(np.unique(again)) - {parent} <= workers
        other = pynomaly.fit(np.eye(10, 2) * 2, "who:pid", manager=pm)  # another model
        with parallel.batch_scorer(pm, other, 2) as scorer:
            assert scorer._start().submit(os.getpid).result() not in workers
    finally:
        parallel.shutdown()
    assert parallel._Workers._kept is None


def test_kept_workers_that_died_while_idle_are_replaced(tmp_path, processes_pay):
    """A kept worker killed between calls (the OOM killer, a user's kill) is not the next
    call's failure: that call starts new workers."""
    pm, model = who_scores(tmp_path)
    rows = np.zeros((60_000, 2))
    try:
        with parallel.batch_scorer(pm, model, 2) as scorer:
            worker = scorer._start().submit(os.getpid).result()
        kept = parallel._Workers._kept
        assert kept is not None
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the process is gone (reaped by loky)
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # loky's manager thread marks the pool broken
        scores = pynomaly.score(model, rows, manager=pm, jobs=2)
        assert worker not in scores
        assert parallel._Workers._kept is not kept
    finally:
        parallel.shutdown()


def test_a_failing_worker_is_a_plugin_error_and_its_workers_are_not_kept(tmp_path):
    pm, model = who_scores(tmp_path, failing=True)
    rows = np.zeros((60_000, 2))
    with (
        pytest.raises(PluginError, match="who.*no scores in a worker"),
        parallel.batch_scorer(pm, model, 2) as scorer,
    ):
        scorer._start().submit(parallel._worker.ready).result()
        scorer.score(rows)
    assert parallel._Workers._kept is None


@pytest.mark.parametrize(
    ("detector", "forced", "processes"),
    [("sklearn:iforest", False, False), ("pyod:hbos", False, False), ("pyod:hbos", True, True)],
)
def test_cli_score_with_jobs_2_writes_what_jobs_1_writes(
    invoke, many_rows, tmp_path, monkeypatch, detector, forced, processes
):
    """IsolationForest is scored in threads; HBOS in this process (its rows cost too little
    for workers to pay) unless workers are made to pay: then in worker processes, stopped
    once every row is scored."""
    if forced:
        monkeypatch.setattr(parallel, "PROBE_SECONDS", 0.0)
        monkeypatch.setattr(parallel, "START_SECONDS", 0.0)
        monkeypatch.setattr(parallel, "MIN_GAIN_SECONDS", 0.0)
    data = tmp_path / "many.csv"
    pd.DataFrame(many_rows, columns=["a", "b", "c"]).to_csv(data, index=False)
    model = tmp_path / "m.pkl"
    assert invoke("fit", data, "-d", detector, "--save", model).exit_code == 0
    started = []  # the worker processes the command started
    for_model = parallel._Workers.for_model
    monkeypatch.setattr(parallel._Workers, "for_model", classmethod(
        lambda cls, *a: started.append(for_model(*a)) or started[-1]))
    outputs = {}
    parallel.shutdown()
    for jobs in (1, 2):
        outputs[jobs] = tmp_path / f"jobs{jobs}.csv"
        done = invoke("score", model, data, "-o", outputs[jobs], "--jobs", jobs,
                      "--batch-size", 5_000)
        assert done.exit_code == 0, done.output
    assert outputs[1].read_bytes() == outputs[2].read_bytes()
    assert bool(started) == processes
    # a command has no next call: its workers were stopped once every row was scored
    for thread in threading.enumerate():
        if thread.name == "pynomaly-jobs-stop":
            thread.join(timeout=60)
    assert parallel._Workers._kept is None


def test_a_batch_relative_detector_is_scored_in_one_process(many_rows, processes_pay):
    rows = many_rows[:600]  # few (COF scores a batch with its training rows: O(n²))
    model = pynomaly.fit(many_rows[:200], "pyod:cof")
    with parallel.batch_scorer(pynomaly.default_manager(), model, 2) as scorer:
        scores = scorer.score(rows)
        assert not scorer.parallel
    np.testing.assert_array_equal(scores, model.score(rows))


def test_jobs_is_the_n_jobs_of_detectors_that_take_one(many_rows):
    rows = many_rows[:500]
    forest = pynomaly.fit(rows, "sklearn:iforest", random_state=0, jobs=2)
    assert forest.params["n_jobs"] == 2 and forest.state.n_jobs == 2
    own = pynomaly.fit(rows, "sklearn:iforest", random_state=0, jobs=2, n_jobs=1)
    assert own.state.n_jobs == 1  # a detector's own n_jobs wins
    hbos = pynomaly.fit(rows, "pyod:hbos", jobs=2)  # HBOS has no n_jobs
    assert "n_jobs" not in hbos.params
    np.testing.assert_array_equal(
        pynomaly.detect(rows, "sklearn:iforest", random_state=0, jobs=2).scores,
        pynomaly.detect(rows, "sklearn:iforest", random_state=0).scores,
    )


def test_bad_jobs_are_input_errors(invoke, labelled, model):
    with pytest.raises(InputError, match="jobs must be a positive number"):
        pynomaly.fit(np.eye(3), jobs=0)
    with pytest.raises(InputError, match="jobs must be a positive number"):
        pynomaly.load(model).score(labelled, jobs=-2)
    done = invoke("score", model, labelled, "--jobs", 0)
    assert done.exit_code == 2 and "--jobs must be a positive number" in done.output

