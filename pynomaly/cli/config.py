"""``pynomaly config show`` and ``config path``: the merged configuration and its files."""

from __future__ import annotations

import json
from typing import Any

import click

from pynomaly.cli.common import Context, handles_errors


@click.group()
def config() -> None:
    """Show the configuration: merged values and where each comes from, or the files read.

    \b
    Layers, lowest first: defaults, the user file, ./pynomaly.toml (else [tool.pynomaly] in
    ./pyproject.toml), --config FILE (or PYNOMALY_CONFIG), PYNOMALY_* variables; command-line
    options win over all of them.
    """


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {key: {value, origin}}.")
@click.pass_obj
@handles_errors
def config_show(ctx: Context, as_json: bool) -> None:
    """Print the merged configuration and where each value came from (credentials masked).

    Each [plugins.NAME] table is checked against its plugin's JSON Schema: a plugin whose
    settings are invalid is listed under "problems" (and fails to load in every command).
    """
    from pynomaly.configuration import check_plugin_tables
    from pynomaly.plugin.records import PluginStatus

    configuration = ctx.configuration()
    pm = ctx.manager()
    records = {r.name: r for r in pm.load_all()}
    problems = [
        records[name].reason
        for name in configuration.plugin_configs()
        if name in records and records[name].status is PluginStatus.FAILED
    ]
    problems += check_plugin_tables(pm, configuration)
    shown = configuration.to_dict()
    if as_json:
        doc = {"values": shown, "files": [str(f.label) for f in configuration.files]}
        click.echo(json.dumps({**doc, "problems": problems}, indent=2, default=str))
        return
    tables: dict[str, list[tuple[str, Any, str]]] = {}
    for key, item in shown.items():
        table, _, name = key.rpartition(".")
        tables.setdefault(table, []).append((name, item["value"], item["origin"]))
    for n, (table, rows) in enumerate(tables.items()):
        if n:
            click.echo()
        click.echo(f"[{table}]")
        lines = [f"{name} = {_toml(value)}" for name, value, _ in rows]
        width = max(len(line) for line in lines)
        for line, (_, _, origin) in zip(lines, rows, strict=True):
            click.echo(f"{line:<{width}}  # {origin}")
    if problems:
        click.echo("\nproblems:")
        for problem in problems:
            click.echo(f"  {problem}")


def _toml(value: Any) -> str:
    """A TOML-like rendering of a value (strings quoted, lists and tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if value is None:
        return '"random"'  # the only key whose value may be None: random_state
    return json.dumps(value) if isinstance(value, str) else str(value)


@config.command("path")
@click.pass_obj
@handles_errors
def config_path(ctx: Context) -> None:
    """Print the configuration files pynomaly reads, lowest layer first, and which exist.

    The user file is the one to create for settings of your own (its directory may not exist
    yet); PYNOMALY_USER_CONFIG names another one.
    """
    from pynomaly.configuration import candidate_files

    for role, path in candidate_files(ctx.config_file):
        state = "" if path.is_file() else "  (not found)"
        click.echo(f"{role + ':':<10} {path}{state}")
