"""``pynomaly install`` / ``uninstall``: plugins pip-installed into pynomaly's own environment.

As ``llm install`` does, pip runs as ``sys.executable -m pip``, so a plugin lands where this
pynomaly runs whatever ``pip`` is first on PATH, and ``pynomaly plugins list`` shows it at once.
The package index holds an unrelated distribution also named ``pynomaly`` (a LoOP
implementation, imported as ``PyNomaly``): installing or uninstalling a package of that name is
refused, and pip is constrained to keep this pynomaly's version whatever a plugin requires.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pynomaly.cli.common import EXIT_BAD_INPUT, handles_errors
from pynomaly.cli.completion import complete_installed
from pynomaly.errors import InputError

SELF = "pynomaly"
_REFUSAL = (
    "{what} {name!r}: refused. {name!r} is pynomaly itself; the package index's 'pynomaly' "
    "is an unrelated LoOP implementation (imported as PyNomaly) that would replace it. "
    "Plugins are named pynomaly-SOMETHING; reinstall pynomaly from its checkout with pip."
)


def _project_name(requirement: str) -> str | None:
    """The canonical project name a requirement names (``PyNomaly[x]>=1`` → ``pynomaly``),
    or ``None`` for a path, URL or option."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if requirement.startswith("-") or "/" in requirement or requirement.startswith("."):
        return None
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return None


def _plugins() -> dict[str, str]:
    """Entry-point plugin name → its distribution, read afresh (no import)."""
    import importlib
    from importlib.metadata import entry_points

    from pynomaly.plugin.discovery import ENTRY_POINT_GROUP

    importlib.invalidate_caches()
    return {
        ep.name: ep.dist.name if ep.dist is not None else ep.value
        for ep in entry_points(group=ENTRY_POINT_GROUP)
    }


def _pip(*args: str) -> int:
    import subprocess

    return subprocess.call([sys.executable, "-m", "pip", *args])


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("packages", nargs=-1, required=True, metavar="PACKAGE... [PIP OPTIONS]")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the packages to their newest.")
@click.option("-e", "--editable", metavar="PATH", help="Install a plugin project in editable mode.")
@handles_errors
def install(packages: tuple[str, ...], upgrade: bool, editable: str | None) -> None:
    """Install plugin PACKAGEs into pynomaly's own environment (pip runs as this Python's
    ``-m pip``); other arguments are passed to pip.

    \b
    Examples:
      pynomaly install pynomaly-robustz
      pynomaly install ./my-plugin --no-build-isolation
      pynomaly install -e ./my-plugin
    """
    for requirement in packages:
        if _project_name(requirement) == SELF:
            raise InputError(_REFUSAL.format(what="install", name=requirement))
    import tempfile
    from importlib.metadata import version

    before = _plugins()
    with tempfile.TemporaryDirectory() as tmp:
        # whatever a plugin requires, pip keeps this pynomaly (never the index's namesake)
        pin = Path(tmp, "constraints.txt")
        pin.write_text(f"{SELF}=={version(SELF)}\n")
        args = ["install", "--disable-pip-version-check", "-c", str(pin)]
        if upgrade:
            args.append("--upgrade")
        if editable:
            args += ["--editable", editable]
        code = _pip(*args, *packages)
    if code:
        click.echo(f"Error: pip install failed (exit code {code})", err=True)
        sys.exit(1)
    added = sorted(set(_plugins()) - set(before))
    if added:
        click.echo(f"Installed plugins: {', '.join(added)}")
    else:
        click.echo("No new plugin: `pynomaly plugins list` shows what is installed.")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("packages", nargs=-1, required=True, shell_complete=complete_installed)
@click.option("-y", "--yes", is_flag=True, hidden=True, help="Kept for pip's habit; always on.")
@handles_errors
def uninstall(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugin PACKAGEs from pynomaly's environment (never pynomaly itself).

    \b
    Example:
      pynomaly uninstall pynomaly-robustz
    """
    for name in packages:
        if _project_name(name) == SELF:
            raise InputError(_REFUSAL.format(what="uninstall", name=name))
        if _project_name(name) is None:
            raise InputError(f"uninstall {name!r}: expected a distribution name")
    before = _plugins()
    code = _pip("uninstall", "--yes", "--disable-pip-version-check", *packages)
    if code:
        click.echo(f"Error: pip uninstall failed (exit code {code})", err=True)
        sys.exit(EXIT_BAD_INPUT if code == 2 else 1)
    removed = sorted(set(before) - set(_plugins()))
    if removed:
        click.echo(f"Removed plugins: {', '.join(removed)}")
