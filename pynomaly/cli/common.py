"""Plumbing shared by the ``pynomaly`` commands: the context, error handling, small helpers.

Imports only click and the standard library: ``pynomaly --help`` must stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from pynomaly.errors import InputError, PynomalyError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_ANOMALIES = 3
EXIT_INTERRUPTED = 130

#: The exit codes of every ``pynomaly`` command (README, ``pynomaly --help``, docs/security.md).
EXIT_CODES = (
    (EXIT_OK, "success"),
    (EXIT_FAILURE, "failure: a plugin, database, notification or write failed (input was fine)"),
    (EXIT_BAD_INPUT, "bad input or usage: a file, URL, option or parameter is wrong"),
    (EXIT_ANOMALIES, "anomalies found, with --fail-on-anomaly (outputs are written first)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)


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
        self._configuration: Any = None
        self._config_error: PynomalyError | None = None
        self.quiet = False

    def load_configuration(self) -> None:
        """Read the configuration now (the group does, to set the commands' defaults); an
        error is kept until a command needs the configuration, so that --help still works."""
        try:
            self.configuration()
        except PynomalyError as exc:
            self._config_error = exc

    def configuration(self) -> Any:
        """The merged :class:`~pynomaly.configuration.Configuration`, with the group's
        command-line options on top."""
        if self._config_error is not None:
            raise self._config_error
        if self._configuration is None:
            from pynomaly import configuration

            given: dict[str, Any] = {}
            if self.strict:
                given["plugins.strict"] = True
            if self.plugins_dir is not None:
                given["plugins.plugins_dir"] = self.plugins_dir
            if self.disable:
                given["plugins.disable"] = self.disable
            given.update(self._isolation())
            self._configuration = configuration.load(self.config_file).with_values(given)
        return self._configuration

    def _isolation(self) -> dict[str, Any]:
        """--isolation, --timeout and --memory-limit, checked (errors name the option)."""
        from pynomaly.plugin import settings

        given: dict[str, Any] = {}
        if self.isolation is not None:
            settings.parse_isolation(self.isolation, "--isolation")
            given["plugins.isolation"] = self.isolation
        if self.timeout is not None:
            given["plugins.timeout"] = settings.parse_timeout(self.timeout, "--timeout") or 0
        if self.memory_limit is not None:
            limit = settings.parse_memory(self.memory_limit, "--memory-limit")
            given["plugins.memory_limit"] = limit or 0
        return given

    def manager(self) -> Any:
        if self._manager is None:
            from pynomaly.configuration import check_plugin_tables
            from pynomaly.plugin.manager import PluginManager

            config = self.configuration()
            pm = PluginManager(**config.manager_arguments())
            # plugins' cleanup hooks run when the command ends, as when a library user calls
            # shutdown(); a command that failed before creating the manager has nothing to clean
            click.get_current_context().call_on_close(pm.shutdown)
            for module in self.extra_modules:
                import importlib

                try:
                    obj = importlib.import_module(module)
                except ImportError as exc:
                    raise InputError(f"-p {module}: cannot import: {exc}") from None
                pm.register(obj, name=module)
            check_plugin_tables(pm, config)
            self._manager = pm
        return self._manager


# the commands whose options take their defaults from the configuration's [detect] table
DETECT_COMMANDS = ("detect", "fit", "score")


def command_defaults(ctx: Context) -> dict[str, dict[str, Any]] | None:
    """click's ``default_map`` from the ``[detect]`` table: each key is the default of the
    option of the same name in detect, fit and score (``format`` of ``--format``; a key a
    command has no option for, such as ``jobs`` before ``--jobs`` exists, is ignored)."""
    try:
        detect = ctx.configuration().detect
    except PynomalyError:
        return None  # reported when a command needs the configuration
    defaults = {("fmt" if k == "format" else k): v for k, v in detect.items() if k != "steps"}
    if defaults.get("random_state", 0) is None:
        defaults["random_state"] = "random"  # None would mean "no default" to click
    return dict.fromkeys(DETECT_COMMANDS, defaults)


def _fail(ctx: Context, exc: BaseException) -> NoReturn:
    from pynomaly.redact import mask_text

    if ctx.debug:  # the traceback too: messages in it may quote a credential
        import traceback

        sys.stderr.write(mask_text("".join(traceback.format_exception(exc))))
    code = EXIT_BAD_INPUT if isinstance(exc, InputError) else EXIT_FAILURE
    click.echo(f"Error: {mask_text(str(exc))}", err=True)
    sys.exit(code)


def interrupted() -> NoReturn:
    """Ctrl-C: a short message and exit code 130 (128 + SIGINT), as shells report it."""
    click.echo("Interrupted.", err=True)
    sys.exit(EXIT_INTERRUPTED)


def handles_errors(func: F) -> F:
    """Turn pynomaly's errors into a one-line message and exit code 2 (input) or 1; Ctrl-C
    into 130 (see :data:`EXIT_CODES`)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx: Context = click.get_current_context().find_object(Context)  # type: ignore[assignment]
        try:
            return func(*args, **kwargs)
        except PynomalyError as exc:
            _fail(ctx, exc)
        except KeyboardInterrupt:
            interrupted()
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_FAILURE)
        except Exception as exc:  # an unexpected bug: say so in one line unless --debug
            what = f"unexpected {type(exc).__name__}: {exc}"
            if ctx.debug:
                _fail(ctx, exc)
            _fail(ctx, PynomalyError(f"{what} (rerun with --debug)"))

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


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
