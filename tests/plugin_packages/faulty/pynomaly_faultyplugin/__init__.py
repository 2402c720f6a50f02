"""Test plugin that misbehaves on request, for the fault-injection tests of isolation.

Detectors: ``faulty:<fault>`` for each fault in :data:`FAULTS` (``faulty:ok`` behaves).
The fault strikes in ``pynomaly_fit``, or with ``-P phase=score`` in ``pynomaly_score`` (the
fit then behaves). ``faulty:flaky`` fails one call in ten: with ``-P call=N`` it strikes when
``N % 10 == 9``, with the faults of :data:`FLAKY` in turn.

Any other hook misbehaves when the environment says so: ``FAULTY_HOOKS`` is a comma-separated
list of ``hook=fault`` (``pynomaly_preprocess=exit,pynomaly_detectors=raise``).

The plugin also offers the output format ``faulty`` (``-o out.faulty``, written through
``pynomaly.atomic_write``: its fault strikes after half of the file is written), the step
``faulty`` (a copy of the data) and the source ``faulty:NAME`` (three rows of numbers).
"""

from __future__ import annotations

import os
import sys
import time

import pynomaly
from pynomaly import hookimpl
from pynomaly.types import DetectorInfo, FitResult, OutputInfo, ParamSpec, SourceInfo, StepInfo

__version__ = "0.1.0"

FAULTS = (
    "ok", "raise", "exit", "kill", "segfault", "hang", "alloc", "interrupt", "print", "mutate",
    "nan", "short", "wrongtype", "owntype", "unsendable",
)  # fmt: skip
FLAKY = ("raise", "exit", "kill", "segfault", "hang")

PRINTED = "FAULTY PLUGIN WAS HERE"


def strike(fault: str, X=None, scores=None):
    """Do what ``fault`` says; return the (possibly spoiled) scores."""
    if fault == "raise":
        raise RuntimeError("faulty plugin raised on purpose")
    if fault == "exit":
        sys.exit(0)
    if fault == "kill":
        os._exit(3)
    if fault == "segfault":
        import ctypes

        ctypes.string_at(0)
    if fault == "hang":
        time.sleep(3600)
    if fault == "alloc":
        held = []
        for _ in range(1024):  # 64 GiB of address space at most: never touched, never resident
            held.append(bytearray(64 << 20))
        return scores
    if fault == "interrupt":
        raise KeyboardInterrupt
    if fault == "print":
        print(PRINTED)
        return scores
    if fault == "mutate":
        if X is not None:
            X[0, 0] = 1e9
        return scores
    if fault == "nan" and scores is not None:
        spoiled = scores.astype(float)
        spoiled[0] = float("nan")
        return spoiled
    if fault == "short" and scores is not None:
        return scores[:-1]
    if fault == "wrongtype":
        return "not scores"
    if fault == "owntype" and scores is not None:
        return Scores(scores)  # fine in-process; an isolated host does not load this class
    if fault == "unsendable" and scores is not None:
        return (float(s) for s in scores)  # a generator cannot be pickled
    return scores


class Scores(list):
    """Scores in a class of the plugin's own."""


def hook_fault(hook: str) -> str | None:
    for item in os.environ.get("FAULTY_HOOKS", "").split(","):
        name, _, fault = item.partition("=")
        if name.strip() == hook:
            return fault.strip()
    return None


def _maybe(hook: str, X=None, value=None):
    fault = hook_fault(hook)
    return value if fault is None else strike(fault, X, value)


@hookimpl
def pynomaly_initialize(config):
    _maybe("pynomaly_initialize")


@hookimpl
def pynomaly_health_check():
    _maybe("pynomaly_health_check")
    return {"status": "healthy"}


@hookimpl
def pynomaly_detectors():
    _maybe("pynomaly_detectors")
    phase = ParamSpec("categorical", "fit", choices=("fit", "score"))
    infos = [
        DetectorInfo(f"faulty:{fault}", f"misbehaves: {fault}", {"phase": phase})
        for fault in FAULTS
    ]
    call = ParamSpec("int", 0, low=0, high=10**9)
    infos.append(DetectorInfo("faulty:flaky", "fails one call in ten", {"call": call}))
    return infos


def _score(state, X):
    mean, std = state
    return abs((X - mean) / std).max(axis=1)


def _fault(detector_id: str, params, phase: str) -> str:
    fault = detector_id.split(":", 1)[1]
    if fault == "flaky":
        call = int(params.get("call", 0))
        return FLAKY[(call // 10) % len(FLAKY)] if call % 10 == 9 else "ok"
    return fault if params.get("phase", "fit") == phase else "ok"


@hookimpl
def pynomaly_fit(detector_id, X, params, contamination, random_state):
    if not pynomaly.is_mine(detector_id, "faulty"):
        return None
    state = (X.mean(axis=0), X.std(axis=0) + 1e-12, dict(params))
    scores = _score(state[:2], X)
    fault = _fault(detector_id, params, "fit")
    if fault == "wrongtype":
        return {"state": state}
    return FitResult(state=state, training_scores=strike(fault, X, scores))


@hookimpl
def pynomaly_score(detector_id, state, X):
    if not pynomaly.is_mine(detector_id, "faulty"):
        return None
    scores = _score(state[:2], X)
    return strike(_fault(detector_id, state[2], "score"), X, scores)


@hookimpl
def pynomaly_preprocess(data, source):
    fault = hook_fault("pynomaly_preprocess")
    if fault == "mutate":  # the caller's frame must not change
        data.iloc[0, 0] = 1e9
        data["added_by_faulty"] = 1.0
        return None
    return _maybe("pynomaly_preprocess")


@hookimpl
def pynomaly_validate(data, source):
    _maybe("pynomaly_validate")


@hookimpl
def pynomaly_postprocess(result):
    fault = hook_fault("pynomaly_postprocess")
    if fault == "mutate":
        result.scores[0] = 1e9
        return None
    return _maybe("pynomaly_postprocess")


@hookimpl
def pynomaly_before_fit(detector_id, n_samples, n_features):
    _maybe("pynomaly_before_fit")


@hookimpl
def pynomaly_outputs():
    _maybe("pynomaly_outputs")
    return [OutputInfo("faulty", "scores, written half then faulted", (".faulty",))]


@hookimpl
def pynomaly_export_data(result, destination, fmt, options):
    if fmt != "faulty":
        return None
    text = result.to_frame().to_csv()

    def write(path):
        with open(path, "w") as f:
            f.write(text[: len(text) // 2])
            f.flush()
            _maybe("pynomaly_export_data")
            f.write(text[len(text) // 2 :])

    pynomaly.atomic_write(destination, write, overwrite=bool(options.get("overwrite")))
    return True


@hookimpl
def pynomaly_format_output(result, fmt, options):
    if fmt != "faulty":
        return None
    _maybe("pynomaly_format_output")
    return f"faulty: {len(result.scores)} rows"


@hookimpl
def pynomaly_data_sources():
    return [SourceInfo("faulty", "three rows of numbers", schemes=("faulty",))]


@hookimpl
def pynomaly_connect(uri, options):
    if not uri.startswith("faulty:"):
        return None
    _maybe("pynomaly_connect")
    return {"uri": uri}


@hookimpl
def pynomaly_read_data(connection, query):
    import pandas as pd

    _maybe("pynomaly_read_data")
    return pd.DataFrame({"a": [1.0, 2.0, 3.0, 40.0], "b": [0.5, 0.1, 0.2, 9.0]})


@hookimpl
def pynomaly_read_batches(connection, query, batch_size):
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 40.0] * 5, "b": [0.5, 0.1, 0.2, 9.0] * 5})
    for start in range(0, len(frame), batch_size):
        if start:
            _maybe("pynomaly_read_batches")
        yield frame.iloc[start : start + batch_size]


class CopyStep:
    """The step ``faulty``: a copy of the data (misbehaves with FAULTY_HOOKS=step=...)."""

    def fit(self, data):
        _maybe("step")
        self.columns = list(data.columns)
        return self

    def transform(self, data):
        _maybe("step")
        return data.copy()


@hookimpl
def pynomaly_processing_steps():
    return [StepInfo("faulty", "a copy of the data")]


@hookimpl
def pynomaly_create_step(name, options):
    return CopyStep() if name == "faulty" else None
