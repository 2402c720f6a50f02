"""The ``pynomaly`` command line.

Start-up matters: this module imports only click and the plugin manager; numpy, pandas and
the detector libraries load inside the commands that need them.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from pynomaly._version import __version__
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
    ) -> None:
        self.debug = debug
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
            )
            for module in self.extra_modules:
                import importlib

                try:
                    obj = importlib.import_module(module)
                except ImportError as exc:
                    raise InputError(f"-p {module}: cannot import: {exc}") from None
                pm.register(obj, name=module)
            self._manager = pm
        return self._manager


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
        except Exception as exc:  # an unexpected bug: say so in one line unless --debug
            if ctx.debug:
                raise
            _fail(
                ctx, PynomalyError(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug)")
            )

    return wrapper  # type: ignore[return-value]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  pynomaly detect sample:wbc
  pynomaly detect data.csv -d pyod:ecod --contamination 0.05 -o scores.csv
  pynomaly detectors
  pynomaly plugins list --json
  pynomaly -p no:pyod_adapter plugins list

\b
Plugins come from the 'pynomaly.plugins' entry-point group and the ./plugins directory.
Environment: PYNOMALY_DISABLE_PLUGIN_AUTOLOAD=1, PYNOMALY_PLUGINS=a,b (allow-list),
PYNOMALY_DISABLE_PLUGINS=a,b, PYNOMALY_STRICT_PLUGINS=1, PYNOMALY_PLUGINS_DIR, PYNOMALY_TRACE=1.""",
)
@click.version_option(__version__, "-V", "--version", prog_name="pynomaly")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--strict", is_flag=True, help="Fail when any plugin fails to load.")
@click.option(
    "-p",
    "plugin_args",
    multiple=True,
    metavar="no:NAME|MODULE",
    help="Disable plugin NAME (no:NAME) or register an importable MODULE; repeatable.",
)
@click.option("--plugins-dir", metavar="DIR", help="Directory of local plugin files [./plugins].")
@click.option(
    "--config", metavar="FILE", help='JSON plugin configuration {"plugins": {NAME: {...}}}.'
)
@click.pass_context
def cli(
    ctx: click.Context,
    debug: bool,
    strict: bool,
    plugin_args: tuple[str, ...],
    plugins_dir: str | None,
    config: str | None,
) -> None:
    """pynomaly: anomaly detection built from plugins."""
    ctx.obj = Context(debug, strict, plugin_args, plugins_dir, config)


def _parse_param(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep or not name:
        raise InputError(f"--param {item!r}: expected NAME=VALUE")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word such as auto or rbf
    return name.strip(), value


@contextmanager
def _status(message: str) -> Iterator[None]:
    """A spinner on stderr when it is a terminal; silent when piped."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


@cli.command()
@click.argument("source")
@click.option(
    "-d",
    "--detector",
    default=None,
    metavar="ID",
    help="Detector id, e.g. sklearn:iforest, pyod:ecod or unambiguous short id.  "
    "[default: sklearn:iforest]",
)
@click.option(
    "-c",
    "--contamination",
    type=float,
    default=0.1,
    show_default=True,
    help="Expected share of anomalies, in (0, 0.5]; sets the threshold.",
)
@click.option(
    "--random-state", type=int, default=0, show_default=True, help="Seed, for reproducible results."
)
@click.option(
    "-P",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Detector parameter (JSON value or bare word); repeatable.",
)
@click.option("-o", "--output", metavar="PATH", help="Write index, anomaly_score, is_anomaly here.")
@click.option("--format", "fmt", metavar="FMT", help="Output file format [from the extension].")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--top", type=int, default=10, show_default=True, help="Rows in the console table.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of a table.")
@click.pass_obj
@handles_errors
def detect(
    ctx: Context,
    source: str,
    detector: str | None,
    contamination: float,
    random_state: int,
    params: tuple[str, ...],
    output: str | None,
    fmt: str | None,
    overwrite: bool,
    top: int,
    as_json: bool,
) -> None:
    """Find anomalies in SOURCE: a CSV/Parquet path or a URI such as sample:wbc.

    \b
    Examples:
      pynomaly detect sample:wbc
      pynomaly detect data.csv -d pyod:ecod -c 0.05 -o scores.csv
      pynomaly detect data.parquet -d sklearn:lof -P n_neighbors=35 --json
    """
    from pynomaly.builtin.outputs import format_for
    from pynomaly.detection import api

    pm = ctx.manager()
    kwargs = dict(_parse_param(p) for p in params)
    if output is not None:  # fail on a bad destination before spending time on detection
        fmt = fmt or format_for(output)
        if fmt is None:
            raise InputError(
                f"--output {output}: unknown file type; pass --format csv|json|parquet"
            )
        if Path(output).exists() and not overwrite:
            raise InputError(f"--output {output}: already exists (use --overwrite to replace it)")
    with _status(f"Detecting anomalies in {source} ..."):
        result = api.detect(
            source,
            detector or api.DEFAULT_DETECTOR,
            contamination=contamination,
            random_state=random_state,
            manager=pm,
            **kwargs,
        )
    if output is not None:
        assert fmt is not None
        pm.export_data(result, output, fmt, {"overwrite": overwrite})
    click.echo(pm.format_output(result, "json" if as_json else "table", {"top": top}))
    if output is not None and not as_json:
        click.echo(f"Wrote {len(result.scores)} rows to {output}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Include unavailable detectors.")
@click.pass_obj
@handles_errors
def detectors(ctx: Context, as_json: bool, show_all: bool) -> None:
    """List the detectors of all loaded plugins with their parameters."""
    infos = [d for d in ctx.manager().detectors() if show_all or d.available]
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in infos], indent=2, default=str))
        return
    width = max((len(d.id) for d in infos), default=10)
    for d in infos:
        params = ", ".join(d.params) or "-"
        state = "" if d.available else f"  [unavailable: {d.reason}]"
        click.echo(f"{d.id:<{width}}  {d.plugin:<16} {d.description}{state}")
        click.echo(f"{'':<{width}}  parameters: {params}")
    hidden = len(ctx.manager().detectors()) - len(infos)
    if hidden:
        click.echo(f"({hidden} unavailable detectors hidden; --all shows them)")


@cli.group()
def plugins() -> None:
    """Inspect plugins: list them, check their health."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--stats", is_flag=True, help="Show hook calls, errors and time per plugin.")
@click.pass_obj
@handles_errors
def plugins_list(ctx: Context, as_json: bool, stats: bool) -> None:
    """List every discovered plugin: name, version, types, status and reason."""
    pm = ctx.manager()
    records = pm.load_all()
    rows = [r.to_dict() for r in records]
    if as_json:
        doc: dict[str, Any] | list[Any] = rows
        if stats:
            doc = {"plugins": rows, "stats": [s.to_dict() for s in pm.stats()]}
        click.echo(json.dumps(doc, indent=2))
        return
    table = [
        (
            r["name"],
            r["version"] or "-",
            ",".join(r["types"]) or "-",
            r["status"],
            r["reason"] or r["origin"],
        )
        for r in rows
    ]
    _print_table(("name", "version", "types", "status", "origin / reason"), table)
    if stats:
        click.echo()
        _print_table(
            ("plugin", "hook", "calls", "errors", "seconds"),
            [
                (s.plugin, s.hook, str(s.calls), str(s.errors), f"{s.seconds:.4f}")
                for s in pm.stats()
            ],
        )


@plugins.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handles_errors
def plugins_check(ctx: Context, as_json: bool) -> None:
    """Run every plugin's health check; exit 1 if one is unhealthy."""
    report = ctx.manager().health_check_all()
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        for name, health in report.items():
            reason = f"  {health.get('reason')}" if health.get("reason") else ""
            click.echo(f"{name:<20} {health['status']}{reason}")
    if any(h["status"] != "healthy" for h in report.values()):
        sys.exit(EXIT_FAILURE)


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="pynomaly")


if __name__ == "__main__":  # pragma: no cover
    main()
