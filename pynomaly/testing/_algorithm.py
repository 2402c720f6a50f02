"""Conformance checks of algorithm plugins: the detector list and, per detector, parameters,
scores, orientation, reproducibility, purity, explanations and pickling."""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pynomaly.errors import InputError, InvalidParameterError
from pynomaly.services import detectors as detector_service
from pynomaly.testing._core import (
    CONTAMINATION,
    N_FEATURES,
    N_TRAIN,
    OUTLIER_DISTANCE,
    SEED,
    SuiteBase,
    _array,
    _close,
    _describe,
    _expect,
    _max_diff,
    _Memo,
    _Problem,
    _raiser,
)
from pynomaly.types import DetectorInfo, ParamSpec

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from pynomaly.types import FitResult

_DETECTOR_ID = re.compile(r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$")


class AlgorithmChecks(SuiteBase):
    """Checks of plugins that offer detectors."""

    def own_detectors(self) -> list[DetectorInfo]:
        return [d for d in detector_service.detectors(self.pm) if d.plugin == self.name]

    def algorithm_checks(self) -> Iterator[tuple[str, str, Callable[[], str | None]]]:
        yield "detector_list", "", self.check_detector_list
        yield "foreign_detector", "", self.check_foreign_detector
        own = {d.id: d for d in self.own_detectors()}
        if self.detector_filter is None:
            selected = [d for d in own.values() if d.available]
        else:
            selected = []
            for wanted in self.detector_filter:
                info = own.get(wanted) or next(
                    (d for d in own.values() if d.short_id == wanted), None
                )
                if info is None or not info.available:
                    available = ", ".join(d.id for d in own.values() if d.available)
                    got = "no such detector" if info is None else f"unavailable: {info.reason}"
                    yield (
                        "detector_list",
                        wanted,
                        _raiser(
                            _Problem(
                                f"an available detector of plugin {self.name!r}",
                                f"{wanted!r}: {got} (available: {available or 'none'})",
                                "pass detectors=[...] with ids from `pynomaly detectors`",
                            )
                        ),
                    )
                    continue
                selected.append(info)
        self.checked_detectors = [d.id for d in selected]
        for info in selected:
            run = _DetectorRun(self, info)
            yield "param_space", info.id, run.check_param_space
            yield "param_values", info.id, run.check_param_values
            yield "one_score_per_row", info.id, run.check_one_score_per_row
            yield "scores_finite", info.id, run.check_scores_finite
            yield "higher_is_anomalous", info.id, run.check_higher_is_anomalous
            yield "reproducible", info.id, run.check_reproducible
            yield "input_unchanged", info.id, run.check_input_unchanged
            yield "score_new_data", info.id, run.check_score_new_data
            if info.batch_independent:
                yield "batch_independent", info.id, run.check_batch_independent
            if info.threaded_scoring:
                yield "threaded_scoring", info.id, run.check_threaded_scoring
            yield "explain", info.id, run.check_explain
            yield "pickle", info.id, run.check_pickle

    def check_detector_list(self) -> str:
        fix = "return [DetectorInfo('namespace:name', 'description', params={...}), ...]"
        try:
            raw = self.hook("pynomaly_detectors")
        except Exception as exc:
            raise _Problem("pynomaly_detectors to list detectors", _describe(exc), fix) from exc
        infos = list(raw or [])
        _expect(bool(infos), "at least one detector", "an empty list", fix)
        wrong = [type(i).__name__ for i in infos if not isinstance(i, DetectorInfo)]
        _expect(not wrong, "DetectorInfo objects", ", ".join(wrong), fix)
        bad_ids = [i.id for i in infos if not _DETECTOR_ID.match(i.id)]
        _expect(not bad_ids, "ids of the form 'namespace:name'", ", ".join(map(repr, bad_ids)), fix)
        ids = [i.id for i in infos]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        _expect(not dupes, "unique ids", "duplicates " + ", ".join(dupes), fix)
        silent = [i.id for i in infos if not i.available and not i.reason.strip()]
        _expect(
            not silent,
            "a reason for every unavailable detector",
            "none for " + ", ".join(silent),
            "set DetectorInfo(available=False, reason='needs torch: pip install torch')",
        )
        every = detector_service.detectors(self.pm)
        taken = {d.id: d.plugin for d in every if d.plugin != self.name}
        shadowed = [f"{i} (by {taken[i]})" for i in ids if i in taken]
        _expect(
            not shadowed,
            "detector ids no other plugin provides",
            "already provided: " + ", ".join(shadowed),
            "use your own namespace in the ids",
        )
        available = sum(i.available for i in infos)
        return f"{len(infos)} detectors, {available} available"

    def check_foreign_detector(self) -> str:
        """Owner hooks are called on every plugin: only the owner may answer."""
        import numpy as np

        other = "conformance-other:none"
        X = np.zeros((5, 2))
        calls: dict[str, dict[str, Any]] = {
            "pynomaly_validate_parameters": {"detector_id": other, "params": {}},
            "pynomaly_fit": {
                "detector_id": other,
                "X": X,
                "params": {},
                "contamination": CONTAMINATION,
                "random_state": SEED,
            },
            "pynomaly_score": {"detector_id": other, "state": None, "X": X},
            "pynomaly_explain": {"detector_id": other, "state": None, "X": X},
        }
        fix = (
            "start each of these hooks with `if not pynomaly.is_mine(detector_id, "
            "'yournamespace'): return None`"
        )
        checked = []
        for hook, kwargs in calls.items():
            if not self.implements(hook):
                continue
            expected = f"{hook} to return None for another plugin's detector ({other})"
            self.expect_none(hook, expected, fix, **kwargs)
            checked.append(hook.removeprefix("pynomaly_"))
        return "None from " + ", ".join(checked) if checked else "no owner hooks"

    def fit_width(self, detector: str, X: np.ndarray) -> np.ndarray:
        """``X``, or its first column if the detector fits one feature only."""
        width = self.memo.get(f"width-{detector}", lambda: None)
        return X[:, :1].copy() if width == 1 else X


class _Fit:
    """A fit on writable arrays, with copies taken before fitting to detect modification."""

    def __init__(self, train: np.ndarray, test: np.ndarray) -> None:
        self.train, self.test = train, test
        self.train_before, self.test_before = train.copy(), test.copy()
        self.result: FitResult


class _DetectorRun:
    """The checks of one detector; fits are shared between checks and made on first use."""

    def __init__(self, suite: SuiteBase, info: DetectorInfo) -> None:
        self.suite, self.info, self.id = suite, info, info.id
        self.pm = suite.pm
        self.memo = _Memo()

    # --- shared fits ----------------------------------------------------------------------------

    def _fit(self, X: np.ndarray, what: str, *, negotiate: bool = False) -> FitResult:
        """Fit with default parameters; an InputError propagates only when ``negotiate``
        (the caller then tries data of another width)."""
        try:
            return detector_service.fit(self.pm, self.id, X, {}, CONTAMINATION, SEED)
        except InputError as exc:
            if negotiate:
                raise
            raise _Problem(
                f"pynomaly_fit to fit {X.shape[0]}×{X.shape[1]} {what} with default parameters",
                _describe(exc),
                "accept data of this shape, or raise InputError already for the "
                f"{N_TRAIN}×{N_FEATURES} breast-cancer rows the kit fits first",
            ) from exc
        except Exception as exc:
            raise _Problem(
                f"pynomaly_fit to fit {X.shape[0]}×{X.shape[1]} {what} with default parameters",
                _describe(exc),
                _READ_ONLY_FIX
                if _wrote_read_only(exc)
                else "fix the fit hook (raise InputError for data the detector cannot handle)",
            ) from exc

    def _width(self) -> int | None:
        """1 if the detector fits one feature only (negotiated on the main data), else None."""
        self.main()
        width: int | None = self.suite.memo.get(f"width-{self.id}", lambda: None)
        return width

    def main(self) -> _Fit:
        """Fit on 120 breast-cancer rows (10 features; 1 if the detector refuses more)."""

        def fit() -> _Fit:
            import numpy as np

            train_df, test_df = self.suite.breast_cancer()
            train = np.array(train_df.to_numpy(dtype=np.float64), order="C", copy=True)
            test = np.array(test_df.to_numpy(dtype=np.float64), order="C", copy=True)
            fitted = _Fit(train, test)
            try:
                fitted.result = self._fit(train, "breast-cancer rows", negotiate=True)
                return fitted
            except InputError as first:
                fitted = _Fit(fitted.train_before[:, :1].copy(), fitted.test_before[:, :1].copy())
                try:
                    fitted.result = self._fit(
                        fitted.train, "breast-cancer rows (1 feature)", negotiate=True
                    )
                except InputError:
                    raise _Problem(
                        f"pynomaly_fit to fit {train.shape[0]}×{train.shape[1]} (or ×1) "
                        "breast-cancer rows with default parameters",
                        _describe(first),
                        "accept numeric data of any width, or at least one column",
                    ) from first
                self.suite.memo.get(f"width-{self.id}", lambda: 1)
                return fitted

        result: _Fit = self.memo.get("main", fit)
        return result

    def shaped(self, X: np.ndarray) -> np.ndarray:
        return X[:, :1].copy() if self._width() == 1 else X.copy()

    def main_test_scores(self) -> np.ndarray:
        def score() -> np.ndarray:
            fit = self.main()
            return self._score(fit.result.state, fit.test, "new breast-cancer rows")

        result: np.ndarray = self.memo.get("main_test_scores", score)
        return result

    def _score(self, state: Any, X: np.ndarray, what: str) -> np.ndarray:
        try:
            return detector_service.score(self.pm, self.id, state, X)
        except Exception as exc:
            raise _Problem(
                f"pynomaly_score to score {X.shape[0]}×{X.shape[1]} {what}",
                _describe(exc),
                _READ_ONLY_FIX if _wrote_read_only(exc) else "fix the score hook",
            ) from exc

    def read_only_fit(self) -> FitResult:
        def fit() -> FitResult:
            fitted = self.main()
            X = fitted.train_before.copy()
            X.setflags(write=False)
            try:
                return detector_service.fit(self.pm, self.id, X, {}, CONTAMINATION, SEED)
            except Exception as exc:
                raise _Problem(
                    "pynomaly_fit to accept a read-only array",
                    _describe(exc),
                    "never write into X; work on a copy (X = X.copy()) if you must change it",
                ) from exc

        result: FitResult = self.memo.get("read_only_fit", fit)
        return result

    def planted_fit(self) -> tuple[FitResult, int]:
        def fit() -> tuple[FitResult, int]:
            X, row = self.suite.planted("train")
            assert row is not None
            return self._fit(self.shaped(X), "planted-outlier rows"), row

        result: tuple[FitResult, int] = self.memo.get("planted_fit", fit)
        return result

    def clean_fit(self) -> FitResult:
        def fit() -> FitResult:
            X, _ = self.suite.planted("clean")
            return self._fit(self.shaped(X), "standard-normal rows")

        result: FitResult = self.memo.get("clean_fit", fit)
        return result

    # --- checks -----------------------------------------------------------------------------------

    def check_param_space(self) -> str:
        problems = []
        for name, spec in self.info.params.items():
            problems += [f"{name!r}: {p}" for p in _space_problems(name, spec)]
        _expect(
            not problems,
            "a well-formed hyperparameter space",
            "; ".join(problems),
            "fix the ParamSpec entries in DetectorInfo.params",
        )
        return f"{len(self.info.params)} parameters"

    def check_param_values(self) -> str:
        import numpy as np

        rng = np.random.default_rng(SEED)
        space = {  # malformed specs are param_space's to report
            n: s for n, s in self.info.params.items() if not _space_problems(n, s)
        }
        tried = 0
        rejected: list[str] = []

        def attempt(params: dict[str, Any]) -> None:
            nonlocal tried
            tried += 1
            try:
                detector_service.validate_parameters(self.pm, self.id, params)
            except InvalidParameterError as exc:
                rejected.append(f"{params!r}: {exc.problem}")
            except Exception as exc:
                rejected.append(f"{params!r}: {_describe(exc)}")

        attempt({})
        draws: dict[str, list[Any]] = {}
        for name, spec in space.items():
            attempt({name: spec.default})
            draws[name] = [_sample(spec, rng) for _ in range(3)]
            for value in [*draws[name], *_bounds(spec)]:
                attempt({name: value})
        for i in range(3 if space else 0):  # joint draws: the values combined
            attempt({name: values[i] for name, values in draws.items()})
        _expect(
            not rejected,
            "validate_parameters to accept the defaults and every value sampled from the "
            "hyperparameter space",
            f"{len(rejected)} of {tried} rejected: " + " | ".join(rejected[:5]),
            "narrow the space to values the detector accepts (or accept them)",
        )
        return f"{tried} parameter sets accepted"

    def check_one_score_per_row(self) -> str:
        fit = self.main()
        n = fit.train.shape[0]
        fix = "return one score per row of X as a 1-D array (scores.ravel())"
        train_scores = _array(fit.result.training_scores)
        _expect(
            train_scores.shape == (n,),
            f"{n} training scores, shape ({n},)",
            f"shape {train_scores.shape}",
            "put one score per training row in FitResult.training_scores; " + fix,
        )
        again = _array(self._score(fit.result.state, fit.train_before.copy(), "training rows"))
        _expect(
            again.shape == (n,),
            f"pynomaly_score of the {n} training rows to return shape ({n},)",
            f"shape {again.shape}",
            fix,
        )
        return f"{n} scores"

    def check_scores_finite(self) -> str:
        import numpy as np

        fit = self.main()
        for what, scores in (
            ("training scores", _array(fit.result.training_scores)),
            ("scores of new rows", _array(self.main_test_scores())),
        ):
            bad = int(np.count_nonzero(~np.isfinite(scores)))
            _expect(
                bad == 0,
                f"finite {what}",
                f"{bad} NaN/inf among {scores.size}",
                "guard divisions and logs (add an epsilon to spreads, clip densities)",
            )
        return "all finite"

    def check_higher_is_anomalous(self) -> str:
        fix = (
            "scores must be higher = more anomalous: negate a library's 'lower = more abnormal' "
            "scores (such as scikit-learn's score_samples)"
        )
        fitted, row = self.planted_fit()
        scores = _array(fitted.training_scores)
        _expect(
            scores.ndim == 1 and scores.size > row,
            "one training score per row",
            f"shape {scores.shape}",
            fix,
        )
        n = scores.size
        self._top(
            scores,
            row,
            f"the planted outlier (row {row} of {n}, "
            f"{OUTLIER_DISTANCE:g} standard deviations out in every feature) to be labelled an "
            "anomaly (training score above the 90th percentile)",
            fix,
        )
        batch, brow = self.suite.planted("batch")
        assert brow is not None
        new = _array(self._score(self.clean_fit().state, self.shaped(batch), "new rows"))
        self._top(
            new,
            brow,
            f"a new obvious outlier (row {brow} of {new.size} new rows) to be labelled an "
            "anomaly (score above the 90th percentile) by a model fitted on clean data",
            fix,
        )
        return "the planted outliers are labelled anomalies"

    @staticmethod
    def _top(scores: np.ndarray, row: int, expected: str, fix: str) -> None:
        """The row must be detected: scored above the threshold contamination 0.1 gives (the
        90th percentile), i.e. labelled an anomaly, like the highest-scoring tenth of rows."""
        import numpy as np

        threshold = float(np.percentile(scores, 90.0))
        if scores[row] > threshold:
            return
        others = np.delete(scores, row)
        rank = int(np.count_nonzero(others > scores[row])) + 1
        ties = int(np.count_nonzero(others == scores[row]))
        got = (
            f"rank {rank} of {scores.size} (score {scores[row]:.4g}, threshold {threshold:.4g}; "
            f"top {scores.max():.4g}, median {np.median(scores):.4g})"
        )
        if ties:
            got += f", tied with {ties} other row(s)"
        raise _Problem(expected, got, fix)

    def check_reproducible(self) -> str:
        fit = self.main()
        try:
            other = self.read_only_fit()
            note = ""
        except _Problem:  # reported by input_unchanged; compare with a writable refit
            other = self._fit(fit.train_before.copy(), "breast-cancer rows")
            note = " (writable refit)"
        fix = "pass random_state to every random number generator the detector uses"
        _expect(
            _close(fit.result.training_scores, other.training_scores),
            "the same training scores from two fits with random_state=0",
            lambda: _max_diff(fit.result.training_scores, other.training_scores),
            fix,
        )
        first = self._score(other.state, fit.test_before.copy(), "new breast-cancer rows")
        second = self._score(other.state, fit.test_before.copy(), "new breast-cancer rows")
        _expect(
            _close(first, second),
            "the same scores when one fitted model scores the same rows twice",
            lambda: _max_diff(second, first),
            "do not draw from a random generator kept in the fitted state while scoring (it "
            "advances on every call); re-create it from the seed in each call, or copy the "
            "state before scoring",
        )
        # scoring is deterministic, so the main model's scores compare whatever it scored before
        _expect(
            _close(self.main_test_scores(), first),
            "the same scores of new rows from two fits with random_state=0",
            lambda: _max_diff(first, self.main_test_scores()),
            fix,
        )
        return "identical" + note

    def check_input_unchanged(self) -> str:
        import numpy as np

        fit = self.main()
        self.main_test_scores()
        fix = "never modify X in place; work on a copy (X = X.copy()) if you must change it"
        _expect(
            np.array_equal(fit.train, fit.train_before),
            "pynomaly_fit to leave X unchanged",
            lambda: f"{int(np.count_nonzero(fit.train != fit.train_before))} values changed",
            fix,
        )
        _expect(
            np.array_equal(fit.test, fit.test_before),
            "pynomaly_score to leave X unchanged",
            lambda: f"{int(np.count_nonzero(fit.test != fit.test_before))} values changed",
            fix,
        )
        self.read_only_fit()
        X = fit.test_before.copy()
        X.setflags(write=False)
        try:
            detector_service.score(self.pm, self.id, fit.result.state, X)
        except Exception as exc:
            raise _Problem(
                "pynomaly_score to accept a read-only array", _describe(exc), fix
            ) from exc
        return "inputs unchanged; read-only arrays accepted"

    def check_score_new_data(self) -> str:
        import numpy as np

        fit = self.main()
        scores = _array(self.main_test_scores())
        m, n = fit.test.shape[0], fit.train.shape[0]
        _expect(
            scores.shape == (m,),
            f"{m} scores for {m} new rows (the model was fitted on {n})",
            f"shape {scores.shape}",
            "score the rows of X given to pynomaly_score, not the training rows",
        )
        _expect(
            bool(np.isfinite(scores).all()),
            "finite scores of new rows",
            f"{int(np.count_nonzero(~np.isfinite(scores)))} NaN/inf",
            "guard divisions and logs",
        )
        return f"{m} rows scored"

    def check_batch_independent(self) -> str:
        """A detector that declares ``batch_independent=True`` gives a row the same score alone
        and in any batch: streaming, chunked and parallel scoring rely on it."""
        import numpy as np

        fit = self.main()
        batch = _array(self.main_test_scores())
        X = fit.test_before
        m = X.shape[0]
        rows = list(range(0, m, max(1, m // 10)))
        fix = (
            "the detector declares DetectorInfo(batch_independent=True): drop the flag, or "
            "score each row from the fitted state and that row alone"
        )
        state = fit.result.state

        def scored(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(
                [_array(detector_service.score(self.pm, self.id, state, p)) for p in parts]
            )

        try:
            alone = scored([X[i : i + 1].copy() for i in rows])
            sevens = scored([X[i : i + 7].copy() for i in range(0, m, 7)])
        except Exception as exc:
            raise _Problem(
                "pynomaly_score to score a batch of one row (and of 7 rows)", _describe(exc), fix
            ) from exc
        _expect(
            _close(alone, batch[rows]),
            f"each of {len(rows)} new rows scored alone (a 1-row batch) to get its score within "
            f"the {m}-row batch",
            lambda: _max_diff(alone, batch[rows]),
            fix,
        )
        _expect(
            _close(sevens, batch),
            f"the {m} new rows scored in batches of 7 to get their scores within the {m}-row batch",
            lambda: _max_diff(sevens, batch),
            fix,
        )
        return f"{len(rows)} rows alone and {m} in batches of 7 as in one batch"

    def check_threaded_scoring(self) -> str:
        """A detector that declares ``threaded_scoring=True`` is batch-independent and gives
        the scores of one call when several threads score parts of a batch at once: ``jobs``
        scores it in threads and relies on it."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        import numpy as np

        fix = (
            "the detector declares DetectorInfo(threaded_scoring=True): drop the flag, or "
            "score without changing anything shared (the fitted state, module or plugin "
            "attributes)"
        )
        _expect(
            self.info.batch_independent,
            "threaded_scoring declared with batch_independent=True (threads score chunks)",
            "batch_independent=False",
            fix,
        )
        fit = self.main()
        batch = _array(self.main_test_scores())
        X, state = fit.test_before, fit.result.state
        threads, rounds = 4, 3
        parts = np.array_split(np.arange(X.shape[0]), threads)
        together = threading.Barrier(threads)

        def scored(rows: np.ndarray) -> np.ndarray:
            chunk = X[rows].copy()
            together.wait(timeout=60)  # all threads call pynomaly_score at the same moment
            return _array(detector_service.score(self.pm, self.id, state, chunk))

        try:
            with ThreadPoolExecutor(threads) as pool:
                results = [
                    np.concatenate(list(pool.map(scored, parts))) for _ in range(rounds)
                ]
        except Exception as exc:
            raise _Problem(
                f"pynomaly_score called by {threads} threads at once", _describe(exc), fix
            ) from exc
        m = X.shape[0]
        wrong = next((got for got in results if not _close(got, batch)), None)
        _expect(
            wrong is None,
            f"the {m} new rows scored by {threads} threads at once (a part each) to get their "
            f"scores within the {m}-row batch",
            lambda: _max_diff(wrong, batch),
            fix,
        )
        return f"{m} rows scored by {threads} threads at once, {rounds} times, as in one batch"

    def check_explain(self) -> str:
        """``pynomaly_explain`` gives per-row contributions shaped like ``X`` or one importance
        per feature (else pynomaly's measurement works); contributions of a detector declaring
        ``additive_contributions`` add up to each row's score; a detector declaring
        ``cannot_explain`` is left to that."""
        import numpy as np

        batch, _ = self.suite.planted("batch")
        X = self.shaped(batch)
        state = self.clean_fit().state
        n, m = X.shape
        if self.info.cannot_explain:
            self.suite.expect_none(
                "pynomaly_explain",
                "pynomaly_explain to return None for a detector that declares cannot_explain",
                "drop DetectorInfo.cannot_explain, or return None",
                detector_id=self.id,
                state=state,
                X=X,
            )
            return f"cannot be explained: {self.info.cannot_explain}"
        fix = (
            f"return per-row contributions shaped like X ({n}, {m}) or one finite importance "
            f">= 0 per feature ({m},) from pynomaly_explain, or None to let pynomaly measure them"
        )
        try:
            own = self.suite.hook("pynomaly_explain", detector_id=self.id, state=state, X=X)
            measured = own
            if measured is None:  # the plugin does not explain: pynomaly's measurement
                measured = detector_service.explain(self.pm, self.id, state, X)
            values = _array(measured)
        except Exception as exc:
            raise _Problem(
                f"explain to give per-row contributions or {m} importances",
                _describe(exc),
                "fix pynomaly_explain (or pynomaly_score, which the measurement calls)",
            ) from exc
        _expect(
            values.shape in ((n, m), (m,)),
            f"per-row contributions of shape ({n}, {m}) or one importance per feature ({m},)",
            f"shape {values.shape}",
            fix,
        )
        _expect(bool(np.isfinite(values).all()), "finite values", str(values), fix)
        additive = self.info.additive_contributions
        if values.ndim == 1:
            _expect(bool((values >= 0).all()), "non-negative importances", str(values), fix)
            _expect(
                not additive,
                "per-row contributions from a detector that declares additive_contributions",
                "one importance per feature" if own is not None else "None",
                "return the per-row terms of the score, or drop additive_contributions",
            )
            return "own explain hook" if own is not None else "pynomaly's measured contributions"
        if not additive:
            return "own per-row contributions"
        scores = _array(detector_service.score(self.pm, self.id, state, X))
        _expect(
            _close(values.sum(axis=1), scores),
            f"each of the {n} rows' contributions to add up to its score (additive_contributions)",
            lambda: _max_diff(values.sum(axis=1), scores),
            "return terms whose row sums are the scores, or drop additive_contributions",
        )
        return "own per-row contributions, adding up to the scores"

    def check_pickle(self) -> str:
        import pandas as pd

        from pynomaly.detection.api import fit as api_fit

        fitted = self.main()
        train = pd.DataFrame(fitted.train_before)
        test = pd.DataFrame(fitted.test_before)
        fix = (
            "keep only picklable objects in FitResult.state (no open files, locks, lambdas or "
            "local classes)"
        )
        try:
            model = api_fit(
                train, self.id, contamination=CONTAMINATION, random_state=SEED, manager=self.pm
            )
        except Exception as exc:
            raise _Problem("pynomaly.fit to work", _describe(exc), "see the traceback") from exc
        try:
            blob = pickle.dumps(model)
            restored = pickle.loads(blob)
        except Exception as exc:
            raise _Problem("the fitted Model to pickle", _describe(exc), fix) from exc
        _expect(
            restored.detector == model.detector
            and restored.threshold == model.threshold
            and _close(restored.training_scores, model.training_scores),
            "the unpickled Model's detector, threshold and training scores unchanged",
            f"{restored.detector}, threshold {restored.threshold}",
            fix,
        )
        expected = model.score(test, manager=self.pm)
        got = restored.score(test, manager=self.pm)
        _expect(
            _close(expected, got),
            "the unpickled Model to score new rows as the original",
            lambda: _max_diff(got, expected),
            fix + "; scoring must not depend on state that is lost when pickling",
        )
        return f"{len(blob)} bytes"


def _space_problems(name: str, spec: Any) -> list[str]:
    if not isinstance(spec, ParamSpec):
        return [f"expected a ParamSpec, got {type(spec).__name__}"]
    problems: list[str] = []
    if name in ("contamination", "random_state"):
        problems.append(
            "expected no space for it (pynomaly passes it to pynomaly_fit itself), got one"
        )
    if spec.kind in ("int", "float"):
        low, high = spec.low, spec.high
        numbers_ok = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in (low, high)
        )
        if not numbers_ok:
            return [*problems, f"expected finite low and high, got low={low!r}, high={high!r}"]
        assert low is not None and high is not None
        if low > high:
            problems.append(f"expected low <= high, got low={low}, high={high}")
        if spec.kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
            problems.append(f"expected integer bounds, got low={low}, high={high}")
        if spec.log and low <= 0:
            problems.append(f"expected low > 0 for log=True, got low={low}")
        default = spec.default
        if isinstance(default, bool) or (
            isinstance(default, (int, float)) and not low <= default <= high
        ):
            problems.append(
                f"expected the default inside [{low}, {high}] (or None / a string such as "
                f"'auto' that validate_parameters accepts), got {default!r}"
            )
    elif spec.kind == "categorical":
        if not spec.choices:
            problems.append("expected non-empty choices, got none")
        elif len(set(map(repr, spec.choices))) != len(spec.choices):
            problems.append(f"expected distinct choices, got {list(spec.choices)}")
        elif spec.default is not None and spec.default not in spec.choices:
            problems.append(
                f"expected the default among the choices {list(spec.choices)} (or None), "
                f"got {spec.default!r}"
            )
    elif spec.kind == "bool" and not isinstance(spec.default, bool) and spec.default is not None:
        problems.append(f"expected a bool default, got {spec.default!r}")
    return problems


def _sample(spec: ParamSpec, rng: Any) -> Any:
    if spec.kind == "bool":
        return bool(rng.integers(2))
    if spec.kind == "categorical":
        return spec.choices[int(rng.integers(len(spec.choices)))]
    low, high = float(spec.low or 0), float(spec.high or 0)
    if spec.log and low > 0:
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    if spec.kind == "int":
        return int(min(high, max(low, round(value))))
    return float(min(high, max(low, value)))


def _bounds(spec: ParamSpec) -> list[Any]:
    if spec.kind == "int":
        return [int(spec.low or 0), int(spec.high or 0)]
    if spec.kind == "float":
        return [float(spec.low or 0), float(spec.high or 0)]
    if spec.kind == "bool":
        return [True, False]
    return list(spec.choices)


_READ_ONLY_FIX = (
    "never write into X: pynomaly hands it over read-only; work on a copy (X = X.copy()) if "
    "you must change it"
)


def _wrote_read_only(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) is numpy refusing a write into a read-only array."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ValueError) and "read-only" in str(seen):
            return True
        seen = seen.__cause__
    return False
