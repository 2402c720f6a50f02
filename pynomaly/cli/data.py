"""``pynomaly sources``, ``schema`` and ``steps``: what data can be read and processed."""

from __future__ import annotations

import json
from typing import Any

import click

from pynomaly.cli.common import Context, handles_errors, print_table
from pynomaly.cli.detection import collect_source_options, source_options


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handles_errors
def sources(ctx: Context, as_json: bool) -> None:
    """List the data sources of all loaded plugins (URI schemes, file extensions)."""
    from pynomaly.cli.listings import source_rows

    rows = ctx.cached_listing("sources", lambda: source_rows(ctx.manager()))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    print_table(
        ("name", "plugin", "reads", "description"),
        [
            (
                i["name"],
                i["plugin"],
                " ".join([f"{s}:" for s in i["schemes"]] + list(i["extensions"])),
                i["description"],
            )
            for i in rows
        ],
    )


@click.command()
@click.argument("source")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handles_errors
def schema(ctx: Context, source: str, as_json: bool, **options: Any) -> None:
    """Print the column names and types of SOURCE.

    \b
    Examples:
      pynomaly schema data.csv
      pynomaly schema sqlite:///shop.db --table orders --json
    """
    from pynomaly.services.data import connect, get_schema, test_connection

    pm = ctx.manager()
    connection = connect(pm, source, collect_source_options(options))
    test_connection(pm, connection)
    columns = get_schema(pm, connection)
    if as_json:
        click.echo(json.dumps(columns, indent=2))
    else:
        print_table(("column", "type"), list(columns.items()))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handles_errors
def steps(ctx: Context, as_json: bool) -> None:
    """List the processing steps of all loaded plugins, with their options."""
    from pynomaly.cli.listings import step_rows

    rows = ctx.cached_listing("steps", lambda: step_rows(ctx.manager()))
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    print_table(
        ("name", "plugin", "options", "description"),
        [(i["name"], i["plugin"], ", ".join(i["options"]) or "-", i["description"]) for i in rows],
    )
