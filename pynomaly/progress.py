"""What a long call is doing: phases reported to a callback, and the time each took.

``pynomaly.detect(data, progress=callback)`` (and ``fit``, ``Model.score_source``) call
``callback(event)`` with a :class:`ProgressEvent` when a phase starts, advances (a batch
scored) and ends, and around first-use costs: a heavy library imported through
:func:`pynomaly.import_module` for the first time, numba compiling code. The callback runs in
the caller's thread and must be quick; an exception it raises propagates. This module imports
neither rich nor numpy: the command line draws the events (:mod:`pynomaly.cli.progress`), a
service may log them.

Phases, in the order a command runs them: ``load`` (plugins, the detector and the steps
named), ``read`` (the data source), ``prepare``
(preprocessing, processing steps, validation), ``fit`` (the detector, with its training
scores), ``score`` (rows of new data), ``explain`` (contributions) and ``write`` (outputs).
Each phase's time, less the first-use costs within it, is kept in
:attr:`Tracker.timings` (``DetectionResult.timings``); first-use costs under ``first_use``.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import attrs

from pynomaly import markers
from pynomaly._log import get_logger
from pynomaly.redact import mask_uri

PHASES = ("load", "read", "prepare", "fit", "score", "explain", "write")
FIRST_USE = "first_use"

log = get_logger("pynomaly.progress")


@attrs.frozen
class ProgressEvent:
    """One step of a long call.

    * ``phase``: one of :data:`PHASES`.
    * ``status``: ``"start"``, ``"advance"`` (rows done so far), ``"end"``; or
      ``"first_use_start"`` / ``"first_use_end"`` around a first-use cost within the phase
      (``detail`` says which: ``"importing pyod.models.ecod"``, ``"compiling numba code"``).
    * ``rows``: rows done (or being worked on), when known; ``total``: rows expected, when
      known (an estimate for a file read in batches).
    * ``batches``: batches done; ``seconds``: since the phase started (at ``"end"``: its
      duration less the first-use costs; at ``"first_use_end"``: that cost).
    * ``detail``: what the phase works on (a source, a detector id) or the first-use cost.
    """

    phase: str
    status: str
    rows: int | None = None
    total: int | None = None
    batches: int = 0
    seconds: float = 0.0
    detail: str = ""


#: A progress callback: ``progress=callback`` in the API.
ProgressCallback = Callable[[ProgressEvent], None]


class Phase:
    """A running phase: :meth:`advance` reports rows done."""

    __slots__ = (
        "_tracker",
        "batches",
        "detail",
        "excluded",
        "name",
        "numba",
        "rows",
        "stack",
        "start",
        "total",
    )

    def __init__(
        self, tracker: Tracker, name: str, rows: int | None, total: int | None, detail: str
    ) -> None:
        self._tracker = tracker
        self.name = name
        self.rows = rows
        self.total = total
        self.detail = mask_uri(detail)  # a destination may be a database URL with a password
        self.batches = 0
        self.excluded = 0.0  # first-use costs, and reads between a batched phase's batches
        self.start = time.perf_counter()
        self.stack: ExitStack | None = None
        self.numba = False  # numba's compilations are watched

    def exclude(self, name: str, seconds: float) -> None:
        """Count ``seconds`` spent within this phase as phase ``name``'s (a batch read while
        scoring)."""
        self.excluded += seconds
        self._tracker.add(name, seconds)

    def advance(self, rows: int, batches: int = 1) -> None:
        """``rows`` more rows done, in ``batches`` more batches."""
        self.rows = (self.rows or 0) + rows
        self.batches += batches
        self._tracker.emit(self, "advance", time.perf_counter() - self.start)


class Tracker:
    """Per-call bookkeeping: emits :class:`ProgressEvent`s to an optional callback and sums
    each phase's seconds in :attr:`timings` (first-use costs apart, under ``"first_use"``).

    A tracker may be passed as ``progress=`` instead of a callback, so that several calls
    (a command's detect, then its writes) add up in one :attr:`timings`.
    """

    __slots__ = ("_current", "_open", "callback", "timings")

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        self.callback = callback
        self.timings: dict[str, float] = {}
        self._current: Phase | None = None
        self._open = 0  # first-use costs under way: one within another is counted once

    @classmethod
    def of(cls, progress: ProgressCallback | Tracker | None) -> Tracker:
        """``progress`` if it is a tracker, else a new tracker calling it."""
        return progress if isinstance(progress, Tracker) else cls(progress)

    def emit(self, phase: Phase, status: str, seconds: float, detail: str | None = None) -> None:
        if self.callback is not None:
            self.callback(
                ProgressEvent(
                    phase.name,
                    status,
                    phase.rows,
                    phase.total,
                    phase.batches,
                    seconds,
                    phase.detail if detail is None else detail,
                )
            )

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to phase ``name``'s time without reporting it."""
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    @contextmanager
    def phase(
        self, name: str, *, rows: int | None = None, total: int | None = None, detail: str = ""
    ) -> Iterator[Phase]:
        """Run a phase: ``"start"`` now, ``"end"`` when the block exits without error.

        First-use costs within it are reported (imports through
        :func:`pynomaly.import_module`; numba compilation) and kept apart from its time.
        """
        phase = Phase(self, name, rows, total if total is not None else rows, detail)
        outer, self._current = self._current, phase
        self.emit(phase, "start", 0.0)
        token = markers.first_use.set(self._first_use)
        with ExitStack() as stack:
            phase.stack = stack
            self._watch_numba(phase)
            try:
                yield phase
            finally:
                markers.first_use.reset(token)
                self._current = outer
                elapsed = time.perf_counter() - phase.start
                net = max(0.0, elapsed - phase.excluded)
                self.add(name, net)
        self.emit(phase, "end", net)
        log.debug("%s: %s rows in %.3f s", name, phase.rows if phase.rows is not None else "?", net)

    def _first_use(self, what: str, seconds: float | None) -> None:
        """Called by :func:`pynomaly.import_module` (and the numba listener) before
        (``seconds=None``) and after a first-use cost."""
        phase = self._current
        if phase is None:
            return
        if seconds is None:
            self._open += 1
            self.emit(phase, "first_use_start", 0.0, what)
            return
        self._open = max(0, self._open - 1)
        if self._open == 0:  # numba compiling while a module imports: within the import
            phase.excluded += seconds
            self.add(FIRST_USE, seconds)
        self._watch_numba(phase)  # the import may have loaded numba, which compiles next
        self.emit(phase, "first_use_end", seconds, what)
        log.info("first use: %s took %.2f s", what, seconds)

    def _watch_numba(self, phase: Phase) -> None:
        """Report numba's compilations within ``phase`` as first-use costs, if numba is
        loaded (it is never imported for this)."""
        if phase.numba or phase.stack is None or "numba" not in sys.modules:
            return
        try:
            from numba.core import event
        except Exception:  # pragma: no cover - an unusual numba
            return
        phase.numba = True
        phase.stack.enter_context(
            event.install_listener("numba:compile", _numba_listener(self))
        )


def _numba_listener(tracker: Tracker) -> Any:
    return _compilations_class()(tracker)


@functools.cache
def _compilations_class() -> type:
    """The listener class, made once: a class statement per phase cost more than the phase."""
    from numba.core import event

    class Compilations(event.Listener):
        """Outermost compilations only: compiling one function compiles its callees."""

        def __init__(self, tracker: Tracker) -> None:
            self.tracker = tracker
            self.depth = 0
            self.start = 0.0

        def on_start(self, ev: Any) -> None:
            self.depth += 1
            if self.depth == 1:
                self.start = time.perf_counter()
                self.tracker._first_use("compiling numba code", None)

        def on_end(self, ev: Any) -> None:
            self.depth -= 1
            if self.depth == 0:
                self.tracker._first_use(
                    "compiling numba code", time.perf_counter() - self.start
                )

    return Compilations


__all__ = ["FIRST_USE", "PHASES", "Phase", "ProgressCallback", "ProgressEvent", "Tracker"]
