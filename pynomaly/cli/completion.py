"""Shell completion: ``pynomaly completion bash|zsh|fish`` prints (or installs) click's
completion script; custom completers offer detector ids, step names, sample names and plugin
names.

The completers run on every Tab press, so they stay fast: they ask the services of a plugin
manager (plugin modules import no heavy library at module level) and never import numpy,
pandas or a detector library.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from click.shell_completion import BashComplete, CompletionItem, add_completion_class

from pynomaly.cli.common import handles_errors

COMPLETE_VAR = "_PYNOMALY_COMPLETE"


def _manager() -> Any:
    """A manager for completion, honouring the configuration (plugins disabled there stay
    out); never fails: completion must not print errors."""
    from pynomaly.plugin.manager import PluginManager

    try:
        from pynomaly import configuration

        return PluginManager(**configuration.load().manager_arguments())
    except Exception:
        return PluginManager()


def _quietly(func: Any) -> Any:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        try:
            return list(func(ctx, param, incomplete))
        except Exception:  # a broken plugin must not break the shell
            return []

    return complete


@_quietly
def complete_detector(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from pynomaly.services.detectors import detectors

    return [
        CompletionItem(d.id, help=d.description)
        for d in detectors(_manager())
        if d.available and (d.id.startswith(incomplete) or d.short_id.startswith(incomplete))
    ]


@_quietly
def complete_step(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from pynomaly.services.processing import processing_steps

    names = sorted({s.name for s in processing_steps(_manager())})
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


@_quietly
def complete_source(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Files, then the bundled samples (``sample:wbc``) and other sources' schemes."""
    from pynomaly.services.data import data_sources

    items: list[Any] = []
    if ":" not in incomplete:
        items.append(CompletionItem(incomplete, type="file"))  # the shell completes paths
    sources = data_sources(_manager())
    offered = [u for s in sources for u in s.uris] + [
        f"{scheme}:" for s in sources for scheme in s.schemes if not s.uris
    ]
    items += [CompletionItem(u) for u in offered if u.startswith(incomplete) and incomplete]
    return items


@_quietly
def complete_plugin_arg(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``-p no:NAME``: the names of the plugins that could load."""
    records = _manager().discover()
    return [
        CompletionItem(f"no:{r.name}")
        for r in records
        if f"no:{r.name}".startswith(incomplete) and " " not in r.name
    ]


@_quietly
def complete_installed(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Distributions that provide pynomaly plugins (for ``uninstall``), without importing."""
    from importlib.metadata import entry_points

    from pynomaly.plugin.discovery import ENTRY_POINT_GROUP

    names = {
        ep.dist.name for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.dist is not None
    }
    names.discard("pynomaly")
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


class _Bash(BashComplete):
    """click's bash completion, with words containing ``:`` (``sklearn:iforest``,
    ``sample:wbc``, ``no:sql``) kept whole: bash splits them at the colon (it is in
    ``COMP_WORDBREAKS``), so the line up to the cursor is split here instead, and each
    completion is given back without the part bash already considers typed."""

    source_template = BashComplete.source_template.replace(
        "COMP_CWORD=$COMP_CWORD ",
        'COMP_CWORD=$COMP_CWORD _PYNOMALY_COMP_LINE="${COMP_LINE:0:$COMP_POINT}" ',
    )

    def get_completion_args(self) -> tuple[list[str], str]:
        line = os.environ.get("_PYNOMALY_COMP_LINE")
        if line is None:
            return super().get_completion_args()
        from click.shell_completion import split_arg_string

        words = split_arg_string(line)
        incomplete = words.pop() if line and not line[-1].isspace() and words else ""
        self._typed = incomplete.rpartition(":")[0] + ":" if ":" in incomplete else ""
        return words[1:], incomplete

    def format_completion(self, item: CompletionItem) -> str:
        typed = getattr(self, "_typed", "")
        if typed and item.type == "plain" and item.value.startswith(typed):
            item = CompletionItem(item.value[len(typed) :], type=item.type, help=item.help)
        return super().format_completion(item)


add_completion_class(_Bash, "bash")

_INSTALL_PATHS = {
    "bash": "${XDG_DATA_HOME:-~/.local/share}/bash-completion/completions/pynomaly",
    "zsh": "~/.zfunc/_pynomaly",
    "fish": "${XDG_CONFIG_HOME:-~/.config}/fish/completions/pynomaly.fish",
}


def _install_path(shell: str) -> Path:
    if shell == "bash":
        base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
        return Path(base).expanduser() / "bash-completion" / "completions" / "pynomaly"
    if shell == "fish":
        base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
        return Path(base).expanduser() / "fish" / "completions" / "pynomaly.fish"
    return Path("~/.zfunc/_pynomaly").expanduser()


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.option(
    "--install",
    is_flag=True,
    help="Write the script where the shell loads it: "
    + "; ".join(f"{s}: {p}" for s, p in _INSTALL_PATHS.items())
    + " (zsh: add ~/.zfunc to fpath before compinit).",
)
@handles_errors
def completion(shell: str, install: bool) -> None:
    """Print the completion script of SHELL, or --install it.

    Completes commands, options, detector ids, processing steps, samples and plugin names.

    \b
    Examples:
      eval "$(pynomaly completion bash)"        # in ~/.bashrc
      pynomaly completion zsh > ~/.zfunc/_pynomaly
      pynomaly completion fish --install
    """
    from click.shell_completion import get_completion_class

    from pynomaly.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None
    script = cls(cli, {}, "pynomaly", COMPLETE_VAR).source()
    if not install:
        click.echo(script)
        return
    from pynomaly.builtin.atomic import atomic_write

    path = _install_path(shell)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(script + "\n"), overwrite=True)
    click.echo(f"Wrote the {shell} completion script to {path}; it is used by new shells.")
