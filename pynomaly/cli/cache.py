"""``pynomaly cache info`` and ``cache clear``: the cache of fitted models (``--cache``)."""

from __future__ import annotations

import json

import click

from pynomaly.cli.common import Context, handles_errors


@click.group()
def cache() -> None:
    """The cache of fitted models that --cache reuses (PYNOMALY_CACHE_DIR,
    PYNOMALY_CACHE_SIZE)."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handles_errors
def cache_info(ctx: Context, as_json: bool) -> None:
    """Where the cache is, how many models it holds, its size and cap."""
    from pynomaly.detection.cache import ModelCache

    info = ModelCache().info()
    if as_json:
        click.echo(json.dumps(info.to_dict()))
        return
    click.echo(f"directory: {info.directory}")
    click.echo(f"models:    {info.entries}")
    click.echo(f"size:      {info.bytes} bytes (cap {info.max_bytes} bytes)")


@cache.command("clear")
@click.pass_obj
@handles_errors
def cache_clear(ctx: Context) -> None:
    """Delete every cached model."""
    from pynomaly.detection.cache import ModelCache

    models = ModelCache()
    removed = models.clear()
    click.echo(f"Deleted {removed} cached models from {models.directory}")
