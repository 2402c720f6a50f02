"""``pynomaly plugin new``: start a plugin package from a working template.

Light on purpose: click and the standard library only; the templates load when the command
runs, so that ``pynomaly --help`` stays fast.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

PLUGIN_TYPES = ("algorithm", "data_source", "output", "processing")  # = pynomaly.scaffold's

_TRY_IT = {
    "algorithm": "pynomaly detect sample:wbc -d {name}:mad",
    "data_source": "pynomaly detect data.arff",
    "output": "pynomaly detect sample:wbc -o scores.md --format markdown",
    "processing": "pynomaly detect sample:wbc --step {name}_clip",
}


def _handles_errors(func: F) -> F:
    """The CLI's error handling (one-line message, exit 2 for bad input), looked up when the
    command runs: ``pynomaly.cli.main`` imports this module, so it cannot be imported here."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pynomaly.cli.main import handles_errors

        return handles_errors(func)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@click.group("plugin")
def plugin() -> None:
    """Write plugins: start a new plugin package."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "-t",
    "--type",
    "plugin_type",
    type=click.Choice(PLUGIN_TYPES),
    default="algorithm",
    show_default=True,
    help="What the plugin provides: a detector (algorithm), a reader of ARFF files "
    "(data_source), Markdown tables (output), or a processing step fitted on the training "
    "data (processing).",
)
@click.option(
    "--directory",
    default=".",
    metavar="DIR",
    help="Where to create pynomaly-NAME/  [default: the current directory]",
)
@click.option("--force", is_flag=True, help="Overwrite the files of an existing pynomaly-NAME.")
@_handles_errors
def new(name: str, plugin_type: str, directory: str, force: bool) -> None:
    """Create the package pynomaly-NAME: a working NAME plugin, its tests and README.

    NAME is lowercase letters, digits and underscores (e.g. robustz); the plugin module is
    pynomaly_NAME, registered through the 'pynomaly.plugins' entry point.

    \b
    Examples:
      pynomaly plugin new robustz
      pynomaly plugin new benchmarks --type data_source --directory ~/src
    """
    from pynomaly.scaffold import create_plugin

    done = create_plugin(name, plugin_type, directory, force=force)
    root = _shown(done.root)
    click.echo(f"Created {plugin_type} plugin {name!r} in {root}{os.sep}:")
    for path in done.files:
        click.echo(f"  {_shown(path)}")
    click.echo()
    click.echo("Next steps:")
    steps = [
        (f"pip install -e {root}", "with pynomaly installed from its checkout first"),
        ("pynomaly plugins list", f"{name!r} is listed as loaded"),
        (f"pytest {root}", "its tests, with pynomaly's test kit"),
        (_TRY_IT[plugin_type].format(name=name), "try it"),
    ]
    width = max(len(cmd) for cmd, _ in steps)
    for cmd, why in steps:
        click.echo(f"  {cmd:<{width}}  # {why}")
