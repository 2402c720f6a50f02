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
    interrupted,
    print_table,
)
from pynomaly.cli.completion import complete_plugin_arg


class _Group(click.Group):
    """The ``pynomaly`` group: Ctrl-C anywhere in a sub-command exits 130, also in one whose
    callback forgot :func:`handles_errors` (click's own handling would exit 1, "Aborted!")."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  pynomaly detect sample:wbc
  pynomaly detect data.csv -d pyod:ecod --contamination 0.05 -o scores.csv
  pynomaly detectors
  pynomaly plugins list --json
  pynomaly -p no:pyod_adapter plugins list

\b
Plugins come from the 'pynomaly.plugins' entry-point group, and from a local directory's *.py
files only when one is named (--plugins-dir DIR / PYNOMALY_PLUGINS_DIR): they run as code.
Environment: PYNOMALY_DISABLE_PLUGIN_AUTOLOAD=1, PYNOMALY_PLUGINS=a,b (allow-list),
PYNOMALY_DISABLE_PLUGINS=a,b, PYNOMALY_STRICT_PLUGINS=1, PYNOMALY_PLUGINS_DIR, PYNOMALY_TRACE=1,
PYNOMALY_LOG_LEVEL, PYNOMALY_AUDIT_LOG=FILE, PYNOMALY_KEY_FILE=FILE (model signing key),
PYNOMALY_MODEL_FORMAT=pickle|skops, PYNOMALY_SQLITE_BUSY_TIMEOUT=SECONDS,
PYNOMALY_NO_PLUGIN_CACHE=1 (listings discover plugins instead of reading the metadata cache).

\b
Configuration: ./pynomaly.toml (or [tool.pynomaly] in ./pyproject.toml), a user file
(`pynomaly config path`), PYNOMALY_* variables; options win. `pynomaly config show`.

\b
Isolation: --isolation process runs every plugin but the built-ins in a worker process of
its own (third-party: also not the sklearn/pyod adapters; process:NAME,NAME: those). A plugin
that raises, exits, crashes, hangs past --timeout or exceeds --memory-limit then fails with a
one-line error (exit 1) and its worker restarts. Environment: PYNOMALY_ISOLATION,
PYNOMALY_TIMEOUT, PYNOMALY_MEMORY_LIMIT ([plugins] isolation, timeout, memory_limit).

\b
Exit codes (every command):
  0    success
  1    failure: a plugin, database, notification or write failed (input was fine)
  2    bad input or usage: a file, URL, option or parameter is wrong
  3    anomalies found, with --fail-on-anomaly (outputs are written first)
  130  interrupted (Ctrl-C)""",
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
@click.option(
    "--plugins-dir",
    metavar="DIR",
    help="Load the *.py files of DIR as plugins (they run as code) [none].",
)
@click.option(
    "--audit-log",
    metavar="FILE",
    help="Append JSON Lines of plugin and model-file events to FILE [PYNOMALY_AUDIT_LOG].",
)
@click.option(
    "--config",
    metavar="FILE",
    help="Configuration file read after the others (TOML; .json: the 1.0 plugin settings).",
)
@click.option("-v", "--verbose", count=True, help="More messages on stderr; -vv for debugging.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr: no progress or notes.")
@click.option(
    "--isolation",
    metavar="POLICY",
    help="Run plugins in worker processes: none, process (all but the built-ins), third-party "
    "(also not the sklearn/pyod adapters) or process:NAME,NAME.  [none]",
)
@click.option(
    "--timeout",
    metavar="SECONDS",
    help="Stop an isolated plugin's hook call after SECONDS; its worker restarts.",
)
@click.option(
    "--memory-limit",
    metavar="SIZE",
    help="Address-space limit of each isolated plugin's worker (2GiB, 512MiB).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    debug: bool,
    strict: bool,
    plugin_args: tuple[str, ...],
    plugins_dir: str | None,
    audit_log: str | None,
    config: str | None,
    verbose: int,
    quiet: bool,
    isolation: str | None,
    timeout: str | None,
    memory_limit: str | None,
) -> None:
    """pynomaly: anomaly detection built from plugins."""
    from pynomaly.cli.progress import setup_logging

    if audit_log is not None:
        from pynomaly import audit

        audit.configure(audit_log)
        ctx.call_on_close(lambda: audit.configure(None))  # in-process callers (tests) go on
    ctx.obj = Context(
        debug,
        strict,
        plugin_args,
        plugins_dir,
        config,
        isolation=isolation,
        timeout=timeout,
        memory_limit=memory_limit,
    )
    ctx.obj.quiet = quiet
    ctx.obj.verbose = verbose
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
    from pynomaly.cli.listings import detector_rows

    every = ctx.cached_listing("detectors", lambda: detector_rows(ctx.manager()))
    infos = [d for d in every if show_all or d["data"]["available"]]
    if as_json:
        click.echo(json.dumps([d["data"] for d in infos], indent=2, default=str))
        return
    width = max((len(d["data"]["id"]) for d in infos), default=10)
    for row in infos:
        d = row["data"]
        params = ", ".join(row["params"]) or "-"
        state = "" if d["available"] else f"  [unavailable: {d['reason']}]"
        click.echo(f"{d['id']:<{width}}  {d['plugin']:<16} {d['description']}{state}")
        batch = (
            "each row scored independently of its batch"
            if d["batch_independent"]
            else "a row's score may depend on its batch"
        )
        click.echo(f"{'':<{width}}  parameters: {params}; {batch}")
        if d["cannot_explain"]:
            click.echo(f"{'':<{width}}  cannot be explained: {d['cannot_explain']}")
        elif d["additive_contributions"]:
            click.echo(f"{'':<{width}}  contributions: its own per-feature terms of the score")
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
    from pynomaly.cli.listings import plugin_rows

    # --stats: the statistics of this run's hook calls, so real discovery
    found = (
        plugin_rows(ctx.manager())
        if stats
        else ctx.cached_listing("plugins", lambda: plugin_rows(ctx.manager()))
    )
    if ctx.debug:
        for row in found:
            if row["traceback"]:
                click.echo(f"plugin {row['name']} failed:\n{row['traceback']}", err=True)
    rows = [{k: v for k, v in row.items() if k != "traceback"} for row in found]
    if as_json:
        doc: dict[str, Any] | list[Any] = rows
        if stats:
            pm = ctx.manager()
            doc = {
                "plugins": rows,
                "stats": [s.to_dict() for s in pm.stats()],
                "workers": [w.to_dict() for w in pm.workers()],
            }
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
        pm = ctx.manager()
        click.echo()
        print_table(
            ("plugin", "hook", "calls", "errors", "seconds"),
            [
                (s.plugin, s.hook, str(s.calls), str(s.errors), f"{s.seconds:.4f}")
                for s in pm.stats()
            ],
        )
        _print_workers(pm.workers())


def _print_workers(workers: Sequence[Any]) -> None:
    """The worker process of each isolated plugin: what its calls cost, how often it failed."""
    if not workers:
        return
    click.echo()
    print_table(
        (
            "isolated plugin",
            "pid",
            "calls",
            "errors",
            "cpu s",
            "peak MiB",
            "restarts",
            "crashes",
            "timeouts",
        ),
        [
            (
                w.plugin,
                str(w.pid or "-"),
                str(w.calls),
                str(w.errors),
                f"{w.cpu_seconds:.3f}",
                f"{w.peak_memory / 2**20:.1f}",
                str(w.restarts),
                str(w.crashes),
                str(w.timeouts),
            )
            for w in workers
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
    from pynomaly.plugin.protect import enable_crash_reports

    # a plugin that crashes the process (segfault) leaves a traceback naming it; Ctrl-C is
    # told from plugin code raising KeyboardInterrupt
    enable_crash_reports()
    cli.main(args=list(argv) if argv is not None else None, prog_name="pynomaly")


if __name__ == "__main__":  # pragma: no cover
    main()
