"""``pynomaly detect``, ``fit`` and ``score``: the commands that run detectors.

Processing-step flags are applied in a fixed order whatever their order on the command line:
drop → datetime → impute → encode → drop-constant → scale, then each ``--step`` as given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from pynomaly.cli.common import Context, handles_errors, parse_param, status
from pynomaly.errors import InputError
from pynomaly.redact import mask_uri

F = TypeVar("F", bound=Callable[..., Any])


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


source_options = _options(
    click.option("--table", metavar="NAME", help="Database table to read (SQL sources)."),
    click.option("--query", metavar="SQL", help="SQL query to read (SQL sources)."),
    click.option("--delimiter", metavar="CHAR", help="CSV field delimiter [, or tab for .tsv]."),
    click.option("--encoding", metavar="NAME", help="Text encoding of CSV files [utf-8]."),
    click.option("--index-col", metavar="COL", help="Column to use as the row index."),
    click.option(
        "--credentials-file",
        metavar="PATH",
        help="JSON/INI file with database user, password, host (SQL sources).",
    ),
    click.option(
        "--source-option",
        "source_option",
        multiple=True,
        metavar="KEY=VALUE",
        help="Any other option of the data source (e.g. labels=true for sample:wbc).",
    ),
)

model_options = _options(
    click.option(
        "-d",
        "--detector",
        default=None,
        metavar="ID",
        help="Detector id (sklearn:iforest, pyod:ecod, or an unambiguous short id).  "
        "[default: sklearn:iforest]",
    ),
    click.option(
        "-c",
        "--contamination",
        type=float,
        default=0.1,
        show_default=True,
        help="Expected share of anomalies, in (0, 0.5].",
    ),
    click.option(
        "--random-state",
        type=int,
        default=0,
        show_default=True,
        help="Seed, for reproducible results.",
    ),
    click.option(
        "-P",
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Detector parameter (JSON value or bare word); repeatable.",
    ),
    click.option(
        "--drop", "drop_columns", multiple=True, metavar="COL", help="Drop a column; repeatable."
    ),
    click.option(
        "--datetime",
        "datetime_mode",
        type=click.Choice(["expand", "drop"]),
        help="Expand datetime columns into numbers, or drop them.",
    ),
    click.option(
        "--impute",
        metavar="STRATEGY",
        help="Fill missing values: mean, median, most_frequent, constant.",
    ),
    click.option("--encode", metavar="METHOD", help="Encode text columns: onehot, ordinal."),
    click.option("--drop-constant", is_flag=True, help="Drop columns constant in training data."),
    click.option("--scale", metavar="METHOD", help="Scale features: standard, robust, minmax."),
    click.option(
        "--step",
        "extra_steps",
        multiple=True,
        metavar="NAME[:K=V;K=V]",
        help="Any processing step by name, with options; repeatable.",
    ),
    click.option(
        "--label-column",
        metavar="COL",
        help="Ground-truth column (1 = anomaly): excluded, scored with ROC AUC / AP.",
    ),
    click.option(
        "--threshold-percentile",
        type=float,
        metavar="P",
        help="Label threshold: this percentile of training scores.",
    ),
    click.option(
        "--threshold-score", type=float, metavar="S", help="Label threshold: this fixed score."
    ),
)

output_options = _options(
    click.option(
        "-o",
        "--output",
        metavar="PATH|URL",
        help="Write index, anomaly_score, is_anomaly (CSV, JSON, JSONL, Parquet, SQL).",
    ),
    click.option(
        "--format",
        "fmt",
        metavar="FMT",
        help="Format of --output [from its extension]; without --output, the console format "
        "(table, json, or any output plugin's).",
    ),
    click.option(
        "--output-table", metavar="NAME", help="Table for a SQL --output [anomaly_scores]."
    ),
    click.option("--overwrite", is_flag=True, help="Replace an existing output."),
    click.option("--report", metavar="PATH", help="Also write an HTML report here."),
    click.option("--notify", metavar="URL", help="POST a JSON summary to this webhook."),
    click.option(
        "--notify-timeout",
        type=float,
        default=5.0,
        show_default=True,
        metavar="SECONDS",
        help="Timeout of each webhook attempt.",
    ),
    click.option(
        "--top",
        type=click.IntRange(min=0),
        default=10,
        show_default=True,
        help="Rows in the table.",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table."),
)


jobs_option = click.option(
    "-j",
    "--jobs",
    type=int,
    default=1,
    show_default=True,
    metavar="N",
    help="Cores to use (-1: every one): the detector's n_jobs where it has one; scoring a "
    "batch-independent detector adds N-1 worker processes.",
)


def collect_source_options(kw: dict[str, Any]) -> dict[str, Any]:
    """Take the source flags out of ``kw``: the ones given become source options."""
    keys = ("table", "query", "delimiter", "encoding", "index_col", "credentials_file")
    given = {k: kw.pop(k, None) for k in keys}
    extra = dict(parse_param(item) for item in kw.pop("source_option", ()) or ())
    return {**extra, **{k: v for k, v in given.items() if v is not None}}


def _step_spec(text: str) -> tuple[str, dict[str, Any]]:
    # options are separated by ';' so that a value may be a comma-separated list
    name, _, rest = text.partition(":")
    options = dict(parse_param(item) for item in rest.split(";") if item) if rest else {}
    if not name:
        raise InputError(f"--step {text!r}: expected NAME or NAME:KEY=VALUE;KEY=VALUE")
    return name, options


def _steps(kw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    steps: list[tuple[str, dict[str, Any]]] = []
    if kw["drop_columns"]:
        steps.append(("drop", {"columns": list(kw["drop_columns"])}))
    if kw["datetime_mode"]:
        steps.append(("datetime", {"mode": kw["datetime_mode"]}))
    if kw["impute"]:
        steps.append(("impute", {"strategy": kw["impute"]}))
    if kw["encode"]:
        steps.append(("encode", {"method": kw["encode"]}))
    if kw["drop_constant"]:
        steps.append(("drop_constant", {}))
    if kw["scale"]:
        steps.append(("scale", {"method": kw["scale"]}))
    steps.extend(_step_spec(s) for s in kw["extra_steps"])
    return steps


# keywords of pynomaly.fit/detect that have their own flags: never detector parameters
_RESERVED = {
    "contamination": "-c/--contamination",
    "random_state": "--random-state",
    "detector": "-d/--detector",
    "steps": "the step flags",
    "label_column": "--label-column",
    "threshold_percentile": "--threshold-percentile",
    "threshold_score": "--threshold-score",
    "source_options": "the source flags",
    "manager": "-p and --config",
    "jobs": "-j/--jobs",
}


def _detector_params(items: tuple[str, ...]) -> dict[str, Any]:
    params = dict(parse_param(p) for p in items)
    for name in params:
        if name in _RESERVED:
            raise InputError(f"--param {name}: not a detector parameter; use {_RESERVED[name]}")
    return params


def _fit_arguments(kw: Mapping[str, Any]) -> dict[str, Any]:
    from pynomaly.detection import api

    return {
        "detector": kw["detector"] or api.DEFAULT_DETECTOR,
        "contamination": kw["contamination"],
        "random_state": kw["random_state"],
        "steps": _steps(dict(kw)),
        "label_column": kw["label_column"],
        "threshold_percentile": kw["threshold_percentile"],
        "threshold_score": kw["threshold_score"],
        "jobs": _jobs(kw.get("jobs")),
        **_detector_params(kw["params"]),
    }


def _jobs(jobs: int | None) -> int:
    from pynomaly.detection.parallel import resolve_jobs

    resolve_jobs(jobs, "--jobs")  # a bad value is an error before anything is read
    return 1 if jobs is None else jobs


def _output_format(output: str, fmt: str | None, pm: Any) -> str:
    """``fmt``, else the format a database URL or the destination's extension implies (from
    the extensions every output plugin declares)."""
    from pynomaly.services.outputs import format_for, outputs

    if fmt:
        return fmt
    if "://" in output:
        return "sql"
    found = format_for(pm, output)
    if found is None:
        known = sorted({e for o in outputs(pm) for e in o.extensions})
        raise InputError(
            f"--output {output}: unknown file type (known: {', '.join(known)}); pass --format"
        )
    return found


def _check_destinations(kw: Mapping[str, Any], save: str | None = None, pm: Any = None) -> None:
    """Fail on an unusable destination before spending time on detection (and before any
    output is written: a bad --report must not leave a lone --output behind)."""
    notify = kw.get("notify")
    if notify is not None and not notify.lower().startswith(("http://", "https://")):
        raise InputError(f"--notify {notify}: expected an http:// or https:// URL")
    for flag, path in (
        ("--output", kw.get("output")),
        ("--report", kw.get("report")),
        ("--save", save),
    ):
        if path is None or (flag == "--output" and "://" in path):
            continue
        if flag == "--output":
            _output_format(path, kw.get("fmt"), pm)
        if Path(path).exists() and not kw.get("overwrite"):
            raise InputError(f"{flag} {path}: already exists (use --overwrite to replace it)")
        parent = Path(path).parent
        if not parent.is_dir():
            raise InputError(f"{flag} {path}: directory {parent} does not exist")


def _output_options(kw: Mapping[str, Any], source_options: Mapping[str, Any]) -> dict[str, Any]:
    options = {
        "overwrite": kw["overwrite"],
        "table": kw.get("output_table") or "anomaly_scores",
    }
    if source_options.get("credentials_file"):  # the same database credentials
        options["credentials_file"] = source_options["credentials_file"]
    return options


def _console_format(kw: Mapping[str, Any]) -> str:
    # --format without --output picks the console format (any plugin's)
    if kw["as_json"]:
        return "json"
    return (kw.get("fmt") if kw.get("output") is None else None) or "table"


def _deliver(
    ctx: Context,
    result: Any,
    kw: Mapping[str, Any],
    source_options: Mapping[str, Any],
    *,
    exported: bool = False,
) -> None:
    """Write ``result`` to ``--output`` (unless ``exported`` already) and ``--report``, print
    it, and notify."""
    from pynomaly.services.outputs import export_data, format_output, send_notification

    pm = ctx.manager()
    output = kw.get("output")
    if output is not None and not exported:
        fmt = _output_format(output, kw.get("fmt"), pm)
        export_data(pm, result, output, fmt, _output_options(kw, source_options))
    if kw.get("report"):
        export_data(pm, result, kw["report"], "html", {"overwrite": kw["overwrite"]})
    click.echo(format_output(pm, result, _console_format(kw), {"top": kw["top"]}))
    if not kw["as_json"]:
        if output is not None:
            click.echo(f"Wrote {result.summary()['rows']} rows to {mask_uri(output)}")
        if kw.get("report"):
            click.echo(f"Wrote report to {kw['report']}")
    if kw.get("notify"):
        summary = result.summary()
        message = (
            f"pynomaly: {summary['anomalies']} anomalies in {summary['rows']} rows "
            f"of {summary['source']}"
        )
        options = {"webhook": kw["notify"], "timeout": kw["notify_timeout"]}
        failures = send_notification(pm, message, result, options)
        if failures:  # the results are delivered; say the notification was not, and exit 1
            for plugin, error in failures:
                click.echo(f"Error: notification by plugin {plugin} failed: {error}", err=True)
            raise SystemExit(1)


def _stream_writer(
    ctx: Context, kw: Mapping[str, Any], source_options: Mapping[str, Any]
) -> tuple[bool, Any]:
    """Whether the results can be delivered batch by batch — an ``--output`` whose format a
    plugin streams (or none), no ``--report`` (it needs every score), the built-in console
    formats — and the writer for ``--output``, opened before anything is scored."""
    from pynomaly.services.outputs import open_output

    if kw.get("report") or _console_format(kw) not in ("table", "json"):
        return False, None
    output = kw.get("output")
    if output is None:
        return True, None
    pm = ctx.manager()
    fmt = _output_format(output, kw.get("fmt"), pm)
    writer = open_output(pm, output, fmt, _output_options(kw, source_options))
    return writer is not None, writer


@click.command()
@click.argument("source")
@source_options
@model_options
@output_options
@click.option(
    "--save", metavar="PATH", help="Also save the fitted model here (a pickle: load only your own)."
)
@jobs_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    metavar="N",
    help="Write --output N rows at a time, as the scores are delivered.",
)
@click.pass_obj
@handles_errors
def detect(
    ctx: Context, source: str, save: str | None, batch_size: int | None, **kw: Any
) -> None:
    """Find anomalies in SOURCE: a file (CSV, Parquet, JSON Lines, Excel), a database URL
    or a sample such as sample:wbc.

    \b
    Examples:
      pynomaly detect sample:wbc
      pynomaly detect data.csv -d pyod:ecod -c 0.05 -o scores.csv
      pynomaly detect data.parquet -d sklearn:lof -P n_neighbors=35 --json
      pynomaly detect data.csv --impute median --encode onehot --scale robust --label-column y
      pynomaly detect sqlite:///shop.db --table orders -o sqlite:///shop.db --output-table scores
    """
    from pynomaly.detection import api

    _check_destinations(kw, save, ctx.manager())
    options = collect_source_options(kw)
    with status(f"Detecting anomalies in {mask_uri(source)} ..."):
        result = api.detect(
            source, source_options=options, manager=ctx.manager(), **_fit_arguments(kw)
        )
    if save:
        result.model.save(save, overwrite=kw["overwrite"])
    exported = False
    if batch_size is not None and kw.get("output") is not None:
        exported = _write_in_batches(ctx, result, batch_size, kw, options)
    _deliver(ctx, result, kw, options, exported=exported)


def _write_in_batches(
    ctx: Context,
    result: Any,
    batch_size: int,
    kw: Mapping[str, Any],
    source_options: Mapping[str, Any],
) -> bool:
    """Write ``result`` to ``--output`` ``batch_size`` rows at a time, if its format streams
    (the same file as at once); ``False`` if it does not."""
    from pynomaly.detection.stream import batches_of
    from pynomaly.services.outputs import open_output

    pm = ctx.manager()
    fmt = _output_format(kw["output"], kw.get("fmt"), pm)
    writer = open_output(pm, kw["output"], fmt, _output_options(kw, source_options))
    if writer is None:
        return False
    try:
        for batch in batches_of(result, batch_size):
            writer.write(batch)
        writer.close(result)
    except BaseException:
        writer.abort()
        raise
    return True


@click.command()
@click.argument("source")
@source_options
@model_options
@click.option("--save", metavar="PATH", required=True, help="Where to save the model (pickle).")
@click.option("--overwrite", is_flag=True, help="Replace an existing model file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@jobs_option
@click.pass_obj
@handles_errors
def fit(ctx: Context, source: str, save: str, overwrite: bool, as_json: bool, **kw: Any) -> None:
    """Fit a detector on SOURCE and save the model, to score other data with `pynomaly score`.

    \b
    Examples:
      pynomaly fit train.csv -d pyod:ecod --impute median --save model.pkl
      pynomaly score model.pkl new.csv -o scores.csv
    """
    from pynomaly.detection import api

    _check_destinations({"overwrite": overwrite}, save)
    with status(f"Fitting on {mask_uri(source)} ..."):
        model = api.fit(
            source,
            source_options=collect_source_options(kw),
            manager=ctx.manager(),
            **_fit_arguments(kw),
        )
    model.save(save, overwrite=overwrite)
    info = {
        "model": save,
        "detector": model.detector,
        "features": len(model.feature_names),
        "threshold": model.threshold,
    }
    click.echo(
        json.dumps(info)
        if as_json
        else f"Saved {model.detector} model ({len(model.feature_names)} features, "
        f"threshold {model.threshold:.6g}) to {save}"
    )


@click.command()
@click.argument("model_path", metavar="MODEL")
@click.argument("source")
@source_options
@output_options
@click.option(
    "--batch-size",
    type=int,
    default=50_000,
    show_default=True,
    help="Rows read and scored at a time.",
)
@jobs_option
@click.pass_obj
@handles_errors
def score(
    ctx: Context, model_path: str, source: str, batch_size: int, jobs: int, **kw: Any
) -> None:
    """Score SOURCE with a saved MODEL, batch by batch (the data need not fit in memory).

    Each batch is written to --output (CSV, JSON, JSON Lines, Parquet) as soon as it is scored,
    while the next one is read; only the top rows and the counts are kept (and, with the
    model's label column in SOURCE, the scores for ROC AUC). MODEL is a pickle written by
    `pynomaly fit --save`: load only model files you trust.

    \b
    Examples:
      pynomaly score model.pkl big.csv -o scores.csv --batch-size 100000 --jobs -1
      pynomaly score model.pkl sqlite:///shop.db --table today --json
    """
    from pynomaly.detection.persistence import load_model
    from pynomaly.detection.results import combine_results
    from pynomaly.detection.stream import stream

    _check_destinations(kw, pm=ctx.manager())
    _jobs(jobs)
    ctx.manager().load_all()  # plugins first: a model may hold objects of a local plugin
    model = load_model(model_path, manager=ctx.manager())
    options = collect_source_options(kw)
    streamed, writer = _stream_writer(ctx, kw, options)
    with status(f"Scoring {mask_uri(source)} ..."):
        batches = model.score_source(
            source, batch_size=batch_size, source_options=options, manager=ctx.manager(), jobs=jobs
        )
        result: Any
        if streamed:  # each batch written as it is scored; summaries and the top rows kept
            result = stream(batches, writer, keep=max(kw["top"], 10))
        else:  # an output (SQL, a report …) written at the end from every row's score
            result = combine_results(batches)
    _deliver(ctx, result, kw, options, exported=streamed)
