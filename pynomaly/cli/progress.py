"""Progress and verbosity on the command line: the library's phase events drawn on stderr,
and ``-v`` / ``-q`` / ``PYNOMALY_LOG_LEVEL`` over the standard :mod:`logging`.

On a terminal, a rich display shows each phase (rows, batches, elapsed time, an ETA when the
rows to come are known) and clears itself when the command prints its results. Elsewhere,
``--progress`` prints plain one-line updates to stderr. Nothing ever goes to stdout.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.progress import ProgressEvent

ENV_LOG_LEVEL = "PYNOMALY_LOG_LEVEL"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_VERBS = {
    "load": "loading",
    "read": "reading",
    "prepare": "preparing",
    "fit": "fitting",
    "score": "scoring",
    "explain": "explaining",
    "write": "writing",
}


def setup_logging(verbose: int, quiet: bool) -> None:
    """Route pynomaly's log records to stderr at the level asked for: ``-q`` errors only,
    ``-v`` info, ``-vv`` debug, else ``PYNOMALY_LOG_LEVEL``. Without any of them logging is
    left alone (Python prints warnings and errors), and is not even imported."""
    env = os.environ.get(ENV_LOG_LEVEL, "").strip().upper()
    if quiet:
        level = "ERROR"
    elif verbose:
        level = "DEBUG" if verbose > 1 else "INFO"
    elif env:
        if env not in _LEVELS:
            raise click.BadParameter(
                f"{env!r}: expected one of {', '.join(_LEVELS)}", param_hint=ENV_LOG_LEVEL
            )
        level = env
    else:
        level = None
    if level is None and "logging" not in sys.modules:
        return  # nothing asked for, nothing configured before: not even import logging
    import logging

    logger = logging.getLogger("pynomaly")
    for old in [h for h in logger.handlers if isinstance(h, _handler_class())]:
        logger.removeHandler(old)  # set up by an earlier command in this process
    if level is None:
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
        return
    from pynomaly.redact import mask_text

    class Masked(logging.Formatter):  # a record may quote a URL, a header, an error message
        def format(self, record: logging.LogRecord) -> str:
            return mask_text(super().format(record))

    handler = _handler_class()()
    handler.setFormatter(Masked("pynomaly: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


_HANDLER: Any = None


def _handler_class() -> Any:
    """A logging handler writing to whatever ``sys.stderr`` is when a record comes (tests
    and rich swap it); made once, on first use, to keep logging out of start-up."""
    global _HANDLER
    if _HANDLER is None:
        import logging

        class Stderr(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    sys.stderr.write(self.format(record) + "\n")
                except Exception:
                    self.handleError(record)

        _HANDLER = Stderr
    return _HANDLER


def _rows(event: ProgressEvent) -> str:
    if event.rows is None:
        return ""
    total = f"/{event.total:,}" if event.total and event.total != event.rows else ""
    batches = f", {event.batches} batches" if event.batches > 1 else (
        ", 1 batch" if event.batches == 1 else "")
    return f"{event.rows:,}{total} rows{batches}"


class Plain:
    """One line on stderr per phase start and end, per first-use cost, and at most one a
    second while a phase advances."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self._last = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        status = event.status
        if status == "advance":
            now = time.monotonic()
            if now - self._last < 1.0:
                return
            self._last = now
            eta = ""
            if event.total and event.rows and event.seconds > 0 and event.rows < event.total:
                left = event.seconds * (event.total - event.rows) / event.rows
                eta = f", ETA {left:.0f} s"
            line = f"{event.phase}: {_rows(event)}, {event.seconds:.1f} s{eta}"
        elif status == "start":
            rows = f" ({_rows(event)})" if event.rows is not None else ""
            line = f"{event.phase}: {_VERBS.get(event.phase, event.phase)} {event.detail}{rows}"
        elif status == "end":
            rows = f"{_rows(event)} " if event.rows is not None else ""
            line = f"{event.phase}: done, {rows}in {event.seconds:.2f} s"
        elif status == "first_use_start":
            line = f"{event.phase}: first use: {event.detail} ..."
        elif status == "first_use_end":
            line = f"{event.phase}: first use: {event.detail} took {event.seconds:.2f} s"
        else:
            return
        stream = self.stream or sys.stderr
        stream.write(f"pynomaly: {line.rstrip()}\n")
        stream.flush()


class Live:
    """A rich display on the terminal (stderr): a line per phase and first-use cost."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def __call__(self, event: ProgressEvent) -> None:
        progress = self.progress
        status = event.status
        if status == "start":
            label = f"{_VERBS.get(event.phase, event.phase)} {event.detail}".rstrip()
            self.tasks[event.phase] = progress.add_task(
                label, total=event.total, rows=_rows(event)
            )
        elif status in ("advance", "end") and event.phase in self.tasks:
            task = self.tasks[event.phase]
            done = event.rows or 0
            if status == "end":
                progress.update(task, total=done or 1, completed=done or 1, rows=_rows(event))
                progress.stop_task(task)
            else:
                progress.update(task, completed=done, rows=_rows(event))
        elif status == "first_use_start":
            self.tasks[f"{event.phase}:first"] = progress.add_task(
                f"  first use: {event.detail}", total=None, rows=""
            )
        elif status == "first_use_end":
            task = self.tasks.pop(f"{event.phase}:first", None)
            if task is not None:
                progress.update(task, total=1, completed=1)
                progress.stop_task(task)
        else:
            return
        progress.refresh()  # every phase is drawn at least once, however short

    def stop(self) -> None:
        self.progress.stop()


class Reporter:
    """A command's :class:`~pynomaly.progress.Tracker` and the display it feeds; the display
    is stopped (and cleared) before the command writes its results."""

    def __init__(self, mode: bool | None, quiet: bool) -> None:
        display: Any = None
        if not quiet and mode is not False:
            if sys.stderr.isatty():
                display = Live()
            elif mode:
                display = Plain()
        self.display = display
        from pynomaly.progress import Tracker  # with the command, not at start-up

        self.tracker = Tracker(self._emit)

    def _emit(self, event: ProgressEvent) -> None:
        if self.display is not None:
            self.display(event)

    def stop(self) -> None:
        """Stop drawing (idempotent); later events are only timed."""
        if isinstance(self.display, Live):
            self.display.stop()
        self.display = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``-v`` / ``-q`` given after a command: as if given before it."""
    if not value or ctx.resilient_parsing:
        return
    from pynomaly.cli.common import Context

    obj = ctx.find_object(Context)
    quiet = param.name == "quiet"
    if obj is not None and quiet:
        obj.quiet = True
    setup_logging(0 if quiet else int(value), quiet)


def progress_option(func: Any) -> Any:
    """``--progress/--no-progress``, ``-v`` and ``-q`` for the commands that do long work."""
    func = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_verbosity,
        help="Only errors on stderr: no progress or notes.",
    )(func)
    func = click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_verbosity,
        help="More messages on stderr; -vv for debugging.",
    )(func)
    return click.option(
        "--progress/--no-progress",
        "progress",
        default=None,
        help="Show progress on stderr: on a terminal by default; --progress also when "
        "stderr is not one (plain lines).",
    )(func)
