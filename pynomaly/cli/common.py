"""Plumbing shared by the ``pynomaly`` commands: the context, error handling, small helpers.

Imports only click and the standard library: ``pynomaly --help`` must stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from pynomaly.errors import InputError, PynomalyError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class Context:
    """What the group options decided, shared by the sub-commands."""

    def __init__(
        self,
        debug: bool,
        strict: bool,
        plugin_args: Sequence[str],
        plugins_dir: str | None,
        config: str | None,
        *,
        isolation: str | None = None,
        timeout: str | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.debug = debug
        self.isolation = isolation
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.strict = strict
        self.disable = [p[3:] for p in plugin_args if p.startswith("no:")]
        self.extra_modules = [p for p in plugin_args if not p.startswith("no:")]
        self.plugins_dir = plugins_dir
        self.config_file = config
        self._manager: Any = None

    def manager(self) -> Any:
        if self._manager is None:
            from pynomaly.plugin.manager import PluginManager

            pm = PluginManager(
                disable=self.disable,
                strict=True if self.strict else None,
                plugins_dir=self.plugins_dir,
                config=_read_config(self.config_file) if self.config_file else None,
                **self._isolation(),
            )
            for module in self.extra_modules:
                import importlib

                try:
                    obj = importlib.import_module(module)
                except ImportError as exc:
                    raise InputError(f"-p {module}: cannot import: {exc}") from None
                pm.register(obj, name=module)
            self._manager = pm
            # plugins' cleanup hooks run when the command ends, as when a library user calls
            # shutdown(); a command that failed before creating the manager has nothing to clean
            click.get_current_context().call_on_close(pm.shutdown)
        return self._manager


    def _isolation(self) -> dict[str, Any]:
        """--isolation, --timeout and --memory-limit, checked (errors name the option)."""
        from pynomaly.plugin import settings

        given: dict[str, Any] = {}
        if self.isolation is not None:
            settings.parse_isolation(self.isolation, "--isolation")
            given["isolation"] = self.isolation
        if self.timeout is not None:
            given["timeout"] = settings.parse_timeout(self.timeout, "--timeout") or 0
        if self.memory_limit is not None:
            given["memory_limit"] = settings.parse_memory(self.memory_limit, "--memory-limit") or 0
        return given


def _read_config(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"--config {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"--config {path}: not valid JSON: {exc}") from None
    plugins = data.get("plugins", data) if isinstance(data, dict) else None
    if not isinstance(plugins, dict) or not all(isinstance(v, dict) for v in plugins.values()):
        raise InputError(f'--config {path}: expected {{"plugins": {{"NAME": {{...}}}}}}')
    return plugins


def _fail(ctx: Context, exc: BaseException) -> NoReturn:
    if ctx.debug:
        import traceback

        traceback.print_exception(exc)
    code = EXIT_BAD_INPUT if isinstance(exc, InputError) else EXIT_FAILURE
    click.echo(f"Error: {exc}", err=True)
    sys.exit(code)


def handles_errors(func: F) -> F:
    """Turn pynomaly's errors into a one-line message and exit code 2 (input) or 1."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx: Context = click.get_current_context().find_object(Context)  # type: ignore[assignment]
        try:
            return func(*args, **kwargs)
        except PynomalyError as exc:
            _fail(ctx, exc)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:  # an unexpected bug: say so in one line unless --debug
            if ctx.debug:
                raise
            _fail(
                ctx, PynomalyError(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug)")
            )

    return wrapper  # type: ignore[return-value]


def parse_param(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep or not name:
        raise InputError(f"--param {item!r}: expected NAME=VALUE")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word such as auto or rbf
    return name.strip(), value


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr when it is a terminal; silent when piped."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
