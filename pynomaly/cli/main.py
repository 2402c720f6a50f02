"""The ``pynomaly`` command line.

Start-up matters: this module imports only click and the plugin manager; numpy, pandas and
the detector libraries load inside the commands that need them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from pynomaly._version import __version__
from pynomaly.cli.common import (
    EXIT_FAILURE,
    Context,
    command_defaults,
    handles_errors,
    print_table,
)
from pynomaly.cli.completion import complete_plugin_arg


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
PYNOMALY_DISABLE_PLUGINS=a,b, PYNOMALY_STRICT_PLUGINS=1, PYNOMALY_PLUGINS_DIR, PYNOMALY_TRACE=1,
PYNOMALY_LOG_LEVEL.

\b
Configuration: ./pynomaly.toml (or [tool.pynomaly] in ./pyproject.toml), a user file
(`pynomaly config path`), PYNOMALY_* variables; options win. `pynomaly config show`.

\b
Exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 anomalies found (--fail-on-anomaly),
130 interrupted.""",
)
@click.version_option(__version__, "-V", "--version", prog_name="pynomaly")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--strict", is_flag=True, help="Fail when any plugin fails to load.")
@click.option(
    "-p",
    "plugin_args",
    multiple=True,
    metavar="no:NAME|MODULE",
    shell_complete=complete_plugin_arg,
    help="Disable plugin NAME (no:NAME) or register an importable MODULE; repeatable.",
)
@click.option("--plugins-dir", metavar="DIR", help="Directory of local plugin files [./plugins].")
@click.option(
    "--config",
    metavar="FILE",
    help="Configuration file read after the others (TOML; .json: the 1.0 plugin settings).",
)
@click.option("-v", "--verbose", count=True, help="More messages on stderr; -vv for debugging.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr: no progress or notes.")
@click.pass_context
def cli(
    ctx: click.Context,
    debug: bool,
    strict: bool,
    plugin_args: tuple[str, ...],
    plugins_dir: str | None,
    config: str | None,
    verbose: int,
    quiet: bool,
) -> None:
    """pynomaly: anomaly detection built from plugins."""
    from pynomaly.cli.progress import setup_logging

    ctx.obj = Context(debug, strict, plugin_args, plugins_dir, config)
    ctx.obj.quiet = quiet
    setup_logging(verbose, quiet)
    ctx.obj.load_configuration()
    ctx.default_map = command_defaults(ctx.obj)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Include unavailable detectors.")
@click.pass_obj
@handles_errors
def detectors(ctx: Context, as_json: bool, show_all: bool) -> None:
    """List the detectors of all loaded plugins with their parameters."""
    from pynomaly.services.detectors import detectors as all_detectors

    every = all_detectors(ctx.manager())
    infos = [d for d in every if show_all or d.available]
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in infos], indent=2, default=str))
        return
    width = max((len(d.id) for d in infos), default=10)
    for d in infos:
        params = ", ".join(d.params) or "-"
        state = "" if d.available else f"  [unavailable: {d.reason}]"
        click.echo(f"{d.id:<{width}}  {d.plugin:<16} {d.description}{state}")
        batch = (
            "each row scored independently of its batch"
            if d.batch_independent
            else "a row's score may depend on its batch"
        )
        click.echo(f"{'':<{width}}  parameters: {params}; {batch}")
    hidden = len(every) - len(infos)
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
    """List every discovered plugin: name, version, types, status and reason.

    A plugin that failed to import is shown with the file and line that raised; --debug (or
    PYNOMALY_TRACE=1) also prints its full traceback to stderr.
    """
    pm = ctx.manager()
    records = pm.load_all()
    if ctx.debug:
        for record in records:
            if record.traceback:
                click.echo(f"plugin {record.name} failed:\n{record.traceback}", err=True)
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
    print_table(("name", "version", "types", "status", "origin / reason"), table)
    if stats:
        click.echo()
        print_table(
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


from pynomaly.cli.data import schema, sources, steps  # noqa: E402
from pynomaly.cli.detection import detect, fit, score  # noqa: E402

for _command in (detect, fit, score, sources, schema, steps):
    cli.add_command(_command)


from pynomaly.cli.quality import benchmark, compare, tune  # noqa: E402

for _command in (compare, benchmark, tune):
    cli.add_command(_command)

from pynomaly.cli.scaffold import plugin as _plugin_group  # noqa: E402

cli.add_command(_plugin_group)

from pynomaly.cli.completion import completion  # noqa: E402
from pynomaly.cli.config import config as _config_group  # noqa: E402
from pynomaly.cli.install import install, uninstall  # noqa: E402

for _command in (_config_group, completion, install, uninstall):
    cli.add_command(_command)

from pynomaly.cli.cache import cache as _cache_group  # noqa: E402

cli.add_command(_cache_group)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="pynomaly")


if __name__ == "__main__":  # pragma: no cover
    main()
