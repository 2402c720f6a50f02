"""``pynomaly detect``, ``fit`` and ``score``: the commands that run detectors.

Processing-step flags are applied in a fixed order whatever their order on the command line:
drop → datetime → impute → encode → drop-constant → scale, then each ``--step`` as given, then
what ``--prepare auto`` adds.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from pynomaly.cli.common import EXIT_ANOMALIES, Context, handles_errors, parse_param
from pynomaly.cli.completion import complete_detector, complete_source, complete_step
from pynomaly.cli.progress import Reporter, progress_option
from pynomaly.errors import InputError
from pynomaly.redact import mask_uri

F = TypeVar("F", bound=Callable[..., Any])


class RowsType(click.ParamType):
    """A number of rows (at least ``minimum``), or ``all`` (``None``)."""

    name = "N|all"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or (isinstance(value, int) and value >= self.minimum):
            return value
        text = str(value).strip().lower()
        if text == "all":
            return None
        try:
            number = int(text)
        except ValueError:
            number = self.minimum - 1
        if number < self.minimum:
            self.fail(f"{value!r} is not a number of rows >= {self.minimum} or 'all'", param, ctx)
        return number


class SeedType(click.ParamType):
    """An int in [0, 2**32), or ``random`` (``None``: a fresh seed each run)."""

    name = "SEED"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, int):
            return value  # an int is checked by pynomaly.fit, which names the parameter
        text = str(value).strip()
        if text.lower() in ("random", "none"):
            return None
        try:
            return int(text)
        except ValueError:
            self.fail(f"{value!r} is not an integer or 'random'", param, ctx)



def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


class _Contamination(click.ParamType):
    """A share in (0, 0.5] (checked by the API) or ``auto``."""

    name = "FLOAT|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> float | str:
        if isinstance(value, float) or value == "auto":
            return value
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            return float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number or auto", param, ctx)


CONTAMINATION = _Contamination()

source_options = _options(
    click.option("--table", metavar="NAME", help="Database table to read (SQL sources)."),
    click.option("--query", metavar="SQL", help="SQL query to read (SQL sources)."),
    click.option("--delimiter", metavar="CHAR", help="CSV field delimiter [, or tab for .tsv]."),
    click.option("--encoding", metavar="NAME", help="Text encoding of CSV files [utf-8]."),
    click.option("--index-col", metavar="COL", help="Column to use as the row index."),
    click.option(
        "--input-format",
        type=click.Choice(["csv", "jsonl", "parquet"]),
        help="Format of SOURCE when it cannot be told from its name or its first bytes "
        "(SOURCE - is standard input).",
    ),
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
        shell_complete=complete_detector,
        help="Detector id (sklearn:iforest, pyod:ecod, or an unambiguous short id), or auto "
        "to let the data choose.  [default: sklearn:iforest]",
    ),
    click.option(
        "-c",
        "--contamination",
        type=CONTAMINATION,
        default="0.1",
        show_default=True,
        help="Expected share of anomalies, in (0, 0.5], or auto when unknown (the threshold "
        "is then chosen from the scores).",
    ),
    click.option(
        "--random-state",
        "--seed",
        "random_state",
        type=SeedType(),
        default=0,
        show_default=True,
        help="Seed of the detector (results are reproducible); 'random' for a fresh one.",
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
        "--prepare",
        type=click.Choice(["auto", "none"]),
        default=None,
        help="auto: infer column kinds and add the steps the data needs (impute, encode, "
        "dates, drop constant and id-like columns, scale), after the explicit ones.",
    ),
    click.option(
        "--step",
        "extra_steps",
        multiple=True,
        metavar="NAME[:K=V;K=V]",
        shell_complete=complete_step,
        help="Any processing step by name, with options; repeatable.",
    ),
    click.option(
        "--label-column",
        metavar="COL",
        help="Ground-truth column (1 = anomaly): excluded, scored with ROC AUC / AP.",
    ),
    click.option(
        "--threshold",
        metavar="RULE",
        help="Label threshold rule: contamination, percentile:P, fixed:S, mad[:K], iqr[:K], "
        "zscore[:K], auto, or a plugin's NS:NAME (pythresh:karch).  [default: contamination]",
    ),
    click.option(
        "--threshold-percentile",
        type=float,
        metavar="P",
        help="Same as --threshold percentile:P.",
    ),
    click.option(
        "--threshold-score", type=float, metavar="S", help="Same as --threshold fixed:S."
    ),
)

output_options = _options(
    click.option(
        "-o",
        "--output",
        metavar="PATH|URL",
        help="Write index, anomaly_score, is_anomaly (CSV, JSON, JSONL, Parquet, SQL); "
        "- writes every row to stdout (CSV, or --format jsonl/json).",
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
        type=RowsType(0),
        default=10,
        show_default=True,
        help="Rows in the table or JSON, highest scores first; 'all' for every row (without "
        "contributions).",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table."),
    click.option(
        "--nl",
        "as_jsonl",
        is_flag=True,
        help="Print JSON Lines: one object per --top row, no summary (it goes to stderr).",
    ),
    click.option(
        "--fail-on-anomaly",
        is_flag=True,
        help="Exit with code 3 when at least one anomaly is found (for cron and CI).",
    ),
    click.option(
        "--notify-optional",
        is_flag=True,
        help="A failed --notify is a warning, not an error (exit code 1).",
    ),
    progress_option,
)


engine_option = click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="dask: SOURCE is partitioned (a directory or glob of files, one partition each), "
    "scored on a Dask cluster; -o DIR writes one file per partition.",
)
scheduler_option = click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Dask scheduler to use with --engine dask (tcp://host:8786) [a local cluster, "
    "started and stopped].",
)
fit_rows_option = click.option(
    "--fit-rows",
    type=RowsType(2),
    default=100_000,
    show_default=True,
    help="With --engine dask: fit on a uniform sample of this many rows, drawn with the "
    "seed; 'all' for every row (they must fit in memory here).",
)
cache_option = click.option(
    "--cache/--no-cache",
    default=False,
    help="Reuse the model fitted by an earlier run on the same prepared data, detector, "
    "parameters and seed (kept in the user cache directory; PYNOMALY_CACHE_DIR).",
)


jobs_option = click.option(
    "-j",
    "--jobs",
    type=int,
    default=1,
    show_default=True,
    metavar="N",
    help="Cores to use (-1: every one): the detector's n_jobs where it has one; scoring a "
    "batch-independent detector adds N-1 threads, or worker processes where they pay.",
)


def collect_source_options(kw: dict[str, Any]) -> dict[str, Any]:
    """Take the source flags out of ``kw``: the ones given become source options."""
    keys = (
        "table",
        "query",
        "delimiter",
        "encoding",
        "index_col",
        "credentials_file",
        "input_format",
    )
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
    "prepare": "--prepare",
    "threshold": "--threshold",
    "threshold_percentile": "--threshold-percentile",
    "threshold_score": "--threshold-score",
    "source_options": "the source flags",
    "manager": "-p and --config",
    "jobs": "-j/--jobs",
    "cache": "--cache",
    "engine": "--engine",
    "scheduler": "--scheduler",
    "fit_rows": "--fit-rows",
}


def _detector_params(items: tuple[str, ...]) -> dict[str, Any]:
    params = dict(parse_param(p) for p in items)
    for name in params:
        if name in _RESERVED:
            raise InputError(f"--param {name}: not a detector parameter; use {_RESERVED[name]}")
    return params


_STEP_FLAGS = ("drop_columns", "datetime_mode", "impute", "encode", "drop_constant", "scale",
               "extra_steps")
_THRESHOLD_FLAGS = ("contamination", "threshold_percentile", "threshold_score")


def _from_command_line(name: str) -> bool:
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) is ParameterSource.COMMANDLINE


def _fit_arguments(kw: Mapping[str, Any]) -> dict[str, Any]:
    from pynomaly.detection import api

    kw = dict(kw)
    if any(_from_command_line(flag) for flag in _THRESHOLD_FLAGS):
        # the label rule is one choice: a flag replaces the configuration's rule entirely
        for flag in _THRESHOLD_FLAGS[1:]:
            if not _from_command_line(flag):
                kw[flag] = None
    steps = _steps(kw)
    if not any(_from_command_line(flag) for flag in _STEP_FLAGS):
        config_steps = click.get_current_context().find_object(Context)
        if config_steps is not None:
            from pynomaly.configuration import step_specs

            steps = step_specs(config_steps.configuration().detect.get("steps", []))
    return {
        "detector": kw["detector"] or api.DEFAULT_DETECTOR,
        "contamination": kw["contamination"],
        "random_state": kw["random_state"],
        "steps": steps,
        "label_column": kw["label_column"],
        "threshold": kw["threshold"],
        "threshold_percentile": kw["threshold_percentile"],
        "threshold_score": kw["threshold_score"],
        "jobs": _jobs(kw.get("jobs")),
        "prepare": kw.get("prepare"),
        "cache": bool(kw.get("cache")),
        **_detector_params(kw["params"]),
    }


def _jobs(jobs: int | None) -> int:
    from pynomaly.detection.parallel import resolve_jobs

    resolve_jobs(jobs, "--jobs")  # a bad value is an error before anything is read
    return 1 if jobs is None else jobs


def _echo_preparation(preparation: Any) -> None:
    """What --prepare auto did, on stderr: stdout stays the results' (it may be piped)."""
    if preparation is not None:
        click.echo("\n".join(preparation.lines()), err=True)


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


def _check_destinations(
    kw: Mapping[str, Any],
    save: str | None = None,
    pm: Any = None,
    inputs: Sequence[tuple[str, str | None]] = (),
) -> None:
    """Fail on an unusable destination before spending time on detection (and before any
    output is written: a bad --report must not leave a lone --output behind). ``inputs`` are
    ``(what, path or URL)`` of the files the command reads: no output may replace one."""
    notify = kw.get("notify")
    if notify is not None and not notify.lower().startswith(("http://", "https://")):
        raise InputError(f"--notify {notify}: expected an http:// or https:// URL")
    if kw.get("output") == "-" and (kw.get("as_json") or kw.get("as_jsonl")):
        flag = "--json" if kw.get("as_json") else "--nl"
        raise InputError(f"-o - and {flag} both print to stdout: give one of them")
    for flag, path in (
        ("--output", kw.get("output")),
        ("--report", kw.get("report")),
        ("--save", save),
    ):
        if path is None or (flag == "--output" and ("://" in path or path == "-")):
            continue
        if flag == "--output":
            _output_format(path, kw.get("fmt"), pm)
        if Path(path).exists() and not kw.get("overwrite"):
            raise InputError(f"{flag} {path}: already exists (use --overwrite to replace it)")
        parent = Path(path).parent
        if not parent.is_dir():
            raise InputError(f"{flag} {path}: directory {parent} does not exist")
    _refuse_replacing_inputs(kw, save, inputs)


def _local_file(where: str | None) -> Path | None:
    """The file a path or a ``sqlite:///`` URL names; ``None`` for other URLs, samples and
    ``-`` (standard input or output)."""
    if not where or where == "-":
        return None
    match = re.match(r"sqlite(?:\+\w+)?:///(?P<path>[^?]+)", where)
    if match:
        return Path(match["path"])
    if "://" in where or (":" in where and not Path(where).exists()):  # sample:wbc
        return None
    return Path(where)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two names are one file: the same device and inode, so also through symbolic
    and hard links; names of files that do not exist yet are compared resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _refuse_replacing_inputs(
    kw: Mapping[str, Any], save: str | None, inputs: Sequence[tuple[str, str | None]]
) -> None:
    """No output replaces a file the command reads — not even with --overwrite, not even
    through a link — and no two outputs are the same file."""
    output = kw.get("output")
    outputs = [("--output", output), ("--report", kw.get("report")), ("--save", save)]
    read = [(what, where, _local_file(where)) for what, where in inputs]
    seen: list[tuple[str, Path]] = []
    for flag, where in outputs:
        target = _local_file(where)
        if target is None:
            continue
        for what, source, path in read:
            if path is None or not _same_file(target, path):
                continue
            if flag == "--output" and where and "://" in where and source and "://" in source:
                # the documented case: scores written into the database read from, in
                # another table; only the table read itself is protected
                table = kw.get("output_table") or "anomaly_scores"
                if kw.get("table") != table:
                    continue
                raise InputError(
                    f"--output {mask_uri(where)} --output-table {table}: is the table read "
                    "(--table); refusing to replace an input, even with --overwrite"
                )
            raise InputError(
                f"{flag} {mask_uri(where or '')}: is the {what} {mask_uri(source or '')}"
                f"{_linked(target, path)}; refusing to replace an input, even with --overwrite"
            )
        for other, path in seen:
            if _same_file(target, path):
                raise InputError(f"{flag} {mask_uri(where or '')}: is also the {other} file")
        seen.append((flag, target))


def _linked(a: Path, b: Path) -> str:
    return "" if a.absolute() == b.absolute() else " (the same file under another name)"


def _inputs(ctx: Context, source: str, kw: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """The files a command reads, for :func:`_refuse_replacing_inputs`."""
    return [
        ("input file", source),
        ("--credentials-file", kw.get("credentials_file")),
        ("--config file", ctx.config_file),
    ]


def _output_options(kw: Mapping[str, Any], source_options: Mapping[str, Any]) -> dict[str, Any]:
    options = {
        "overwrite": kw["overwrite"],
        "table": kw.get("output_table") or "anomaly_scores",
    }
    for same in ("credentials_file", "busy_timeout"):  # the database's, read and written
        if source_options.get(same) is not None:
            options[same] = source_options[same]
    return options


def _console_format(kw: Mapping[str, Any]) -> str | None:
    """The console format (``None`` with ``-o -``: stdout holds the rows); --format without
    --output picks it (any plugin's)."""
    output = kw.get("output")
    if output == "-":
        return None
    if kw.get("as_jsonl"):
        return "jsonl"
    if kw["as_json"]:
        return "json"
    return (kw.get("fmt") if output is None else None) or "table"


def _configured_format(kw: dict[str, Any]) -> None:
    """The configuration's ``format`` is the console format (and that of ``-o -``): a file
    given to ``--output`` keeps the format its extension implies unless ``--format`` is
    given on the command line."""
    output = kw.get("output")
    if output not in (None, "-") and not _from_command_line("fmt"):
        kw["fmt"] = None


def _deliver(
    ctx: Context,
    result: Any,
    kw: Mapping[str, Any],
    source_options: Mapping[str, Any],
    reporter: Reporter | None = None,
    *,
    exported: bool = False,
) -> None:
    """Write the outputs, print the console output, notify; exit 3 with --fail-on-anomaly
    when anomalies were found. ``exported``: --output was written already, batch by batch."""
    from pynomaly.services.outputs import export_data, format_output, send_notification

    pm = ctx.manager()
    reporter = reporter or Reporter(False, True)
    tracker = reporter.tracker
    output = kw.get("output")
    to_stdout = output == "-"
    rows = int(result.summary()["rows"])  # a streamed result keeps no per-row scores
    if output is not None and not exported:
        options = _output_options(kw, source_options)
        fmt = _output_format(output, kw.get("fmt"), pm) if not to_stdout else kw.get("fmt")
        if to_stdout:
            reporter.stop()  # stdout is the rows' alone
        with tracker.phase("write", rows=rows, detail="<stdout>" if to_stdout else output):
            export_data(pm, result, output, fmt or "csv", options)
    if kw.get("report"):
        with tracker.phase("write", rows=rows, detail=kw["report"]):
            export_data(pm, result, kw["report"], "html", {"overwrite": kw["overwrite"]})
    text = None
    console = _console_format(kw)
    if console is not None:
        top = rows if kw["top"] is None else kw["top"]
        options = {"top": top, **({"features": 0} if kw["top"] is None else {})}
        with tracker.phase("explain", rows=min(top, rows)):
            text = format_output(pm, result, console, options)
    reporter.stop()
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))
    if console == "table" and not ctx.quiet:
        for line in str(getattr(result, "explanation", "") or "").splitlines():
            click.echo(f"Chosen: {line}")  # what auto picked, and why
    quiet = ctx.quiet or kw["as_json"] or kw.get("as_jsonl")
    if (kw.get("as_jsonl") or to_stdout) and not ctx.quiet:  # stdout holds the rows alone
        from pynomaly.builtin.outputs import summary_line

        click.echo(summary_line(result), err=True)
    if not quiet:
        if output is not None and not to_stdout:
            click.echo(f"Wrote {rows} rows to {mask_uri(output)}")
        if kw.get("report"):
            click.echo(f"Wrote report to {kw['report']}", err=to_stdout)
    if kw.get("notify"):
        summary = result.summary()
        message = (
            f"pynomaly: {summary['anomalies']} anomalies in {summary['rows']} rows "
            f"of {summary['source']}"
        )
        options = {"webhook": kw["notify"], "timeout": kw["notify_timeout"]}
        failures = send_notification(pm, message, result, options)
        if failures:  # the results are delivered; say the notification was not
            label = "Warning" if kw.get("notify_optional") else "Error"
            for plugin, error in failures:
                click.echo(f"{label}: notification by plugin {plugin} failed: {error}", err=True)
            if not kw.get("notify_optional"):
                raise SystemExit(1)
    if kw.get("fail_on_anomaly") and result.n_anomalies:
        raise SystemExit(EXIT_ANOMALIES)


def _stream_writer(
    ctx: Context, kw: Mapping[str, Any], source_options: Mapping[str, Any]
) -> tuple[bool, Any]:
    """Whether the results can be delivered batch by batch — an ``--output`` whose format a
    plugin streams (or none), no ``--report`` (it needs every score), the built-in console
    formats, not --top all — and the writer for ``--output``, opened before anything is scored."""
    from pynomaly.services.outputs import open_output

    if (
        kw.get("report")
        or kw.get("top") is None  # --top all: every row's score
        or _console_format(kw) not in ("table", "json")
    ):
        return False, None
    output = kw.get("output")
    if output is None:
        return True, None
    pm = ctx.manager()
    fmt = _output_format(output, kw.get("fmt"), pm)
    writer = open_output(pm, output, fmt, _output_options(kw, source_options))
    return writer is not None, writer


@click.command()
@click.argument("source", shell_complete=complete_source)
@source_options
@model_options
@output_options
@click.option(
    "--save", metavar="PATH", help="Also save the fitted model here (signed with your key)."
)
@jobs_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    metavar="N",
    help="Write --output N rows at a time, as the scores are delivered.",
)
@cache_option
@engine_option
@scheduler_option
@fit_rows_option
@click.pass_obj
@handles_errors
def detect(
    ctx: Context, source: str, save: str | None, batch_size: int | None, **kw: Any
) -> None:
    """Find anomalies in SOURCE: a file (CSV, Parquet, JSON Lines, Excel), a database URL,
    a sample such as sample:wbc, or - for standard input.

    \b
    Examples:
      pynomaly detect sample:wbc
      pynomaly detect data.csv -d pyod:ecod -c 0.05 -o scores.csv
      pynomaly detect data.csv --detector auto --contamination auto
      pynomaly detect data.parquet -d sklearn:lof -P n_neighbors=35 --json
      pynomaly detect data.csv --impute median --encode onehot --scale robust --label-column y
      pynomaly detect messy.csv --prepare auto
      pynomaly detect sqlite:///shop.db --table orders -o sqlite:///shop.db --output-table scores
      cat data.csv | pynomaly detect - -o - | grep ',1$'
      pynomaly detect today.csv --fail-on-anomaly -q || alert
      pynomaly detect data/ --engine dask --scheduler tcp://host:8786 -o scores/
    """
    from pynomaly.detection import api

    ctx.configuration()
    if _dask_engine(kw):
        _detect_dask(ctx, source, save, kw)
        return
    _configured_format(kw)
    _check_destinations(kw, save, ctx.manager(), _inputs(ctx, source, kw))
    options = collect_source_options(kw)
    with Reporter(kw.pop("progress"), ctx.quiet) as reporter:
        result = api.detect(
            source,
            source_options=options,
            manager=ctx.manager(),
            progress=reporter.tracker,
            **_fit_arguments(kw),
        )
        if save:
            with reporter.tracker.phase("write", detail=save):
                result.model.save(save, overwrite=kw["overwrite"])
        if not kw["as_json"]:  # --json has it in its summary
            _echo_preparation(result.preparation)
        exported = False
        if batch_size is not None and kw.get("output") not in (None, "-"):
            with reporter.tracker.phase("write", rows=len(result.scores), detail=kw["output"]):
                exported = _write_in_batches(ctx, result, batch_size, kw, options)
        _deliver(ctx, result, kw, options, reporter, exported=exported)


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
@click.argument("source", shell_complete=complete_source)
@source_options
@model_options
@click.option(
    "--save", metavar="PATH", required=True, help="Where to save the model (signed with your key)."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing model file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@jobs_option
@progress_option
@cache_option
@engine_option
@scheduler_option
@fit_rows_option
@click.pass_obj
@handles_errors
def fit(
    ctx: Context,
    source: str,
    save: str,
    overwrite: bool,
    as_json: bool,
    progress: bool | None,
    **kw: Any,
) -> None:
    """Fit a detector on SOURCE and save the model, to score other data with `pynomaly score`.

    \b
    Examples:
      pynomaly fit train.csv -d pyod:ecod --impute median --save model.pkl
      pynomaly score model.pkl new.csv -o scores.csv
    """
    from pynomaly.detection import api

    ctx.configuration()
    _check_destinations({"overwrite": overwrite}, save, inputs=_inputs(ctx, source, kw))
    with Reporter(progress, ctx.quiet) as reporter:
        model = api.fit(
            source,
            source_options=collect_source_options(kw),
            manager=ctx.manager(),
            progress=reporter.tracker,
            **_fit_arguments(kw),
            **_engine_arguments(kw),
        )
        with reporter.tracker.phase("write", detail=save):
            model.save(save, overwrite=overwrite)
    info = {
        "model": save,
        "detector": model.detector,
        "features": len(model.feature_names),
        "threshold": model.threshold,
        "timings": {k: round(v, 4) for k, v in reporter.tracker.timings.items()},
    }
    if model.preparation is not None:
        info["preparation"] = model.preparation.to_dict()
    if not as_json:
        _echo_preparation(model.preparation)
    click.echo(
        json.dumps(info)
        if as_json
        else f"Saved {model.detector} model ({len(model.feature_names)} features, "
        f"threshold {model.threshold:.6g}) to {save}"
    )


@click.command()
@click.argument("model_path", metavar="MODEL")
@click.argument("source", shell_complete=complete_source)
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
@engine_option
@scheduler_option
@click.option(
    "--trust",
    is_flag=True,
    help="Load MODEL even if not signed with your key (another user's or machine's, "
    "pynomaly 1.0's): it may run code. Only for files you trust.",
)
@click.pass_obj
@handles_errors
def score(
    ctx: Context,
    model_path: str,
    source: str,
    batch_size: int,
    jobs: int,
    trust: bool,
    **kw: Any,
) -> None:
    """Score SOURCE with a saved MODEL, batch by batch (the data need not fit in memory).
    SOURCE - reads standard input.

    Each batch is written to --output (CSV, JSON, JSON Lines, Parquet) as soon as it is scored,
    while the next one is read; only the top rows and the counts are kept (and, with the
    model's label column in SOURCE, the scores for ROC AUC). MODEL is a file written by
    `pynomaly fit --save` or `detect --save`, signed with your key: a file signed otherwise,
    or not at all, is refused unless --trust. A damaged or altered file is always refused.

    \b
    Examples:
      pynomaly score model.pkl big.csv -o scores.csv --batch-size 100000 --jobs -1
      pynomaly score model.pkl sqlite:///shop.db --table today --json
      zcat today.csv.gz | pynomaly score model.pkl - --nl --top all
      pynomaly score model.pkl 'logs/*.parquet' --engine dask -o scores/
    """
    import threading

    from pynomaly.builtin.files import estimate_rows
    from pynomaly.detection import parallel
    from pynomaly.detection.persistence import load_model
    from pynomaly.detection.results import combine_results
    from pynomaly.detection.stream import stream

    ctx.configuration()
    if _dask_engine(kw):
        _score_dask(ctx, model_path, source, kw, trust)
        return
    _configured_format(kw)
    inputs = [("model", model_path), *_inputs(ctx, source, kw)]
    _check_destinations(kw, pm=ctx.manager(), inputs=inputs)
    _jobs(jobs)
    ctx.manager().load_all()  # plugins first: a model may hold objects of a local plugin
    rows, processes = estimate_rows(source), parallel.resolve_jobs(jobs)
    model = load_model(model_path, trusted=trust, manager=ctx.manager())
    options = collect_source_options(kw)
    streamed, writer = _stream_writer(ctx, kw, options)
    with Reporter(kw.pop("progress"), ctx.quiet) as reporter:
        batches = model.score_source(
            source,
            batch_size=batch_size,
            source_options=options,
            manager=ctx.manager(),
            jobs=jobs,
            progress=reporter.tracker,
            total_rows=rows,
        )
        result: Any
        if streamed:  # each batch written as it is scored; summaries and the top rows kept
            result = stream(batches, writer, keep=max(kw["top"], 10))
        else:  # an output (SQL, -o -, a report …) written at the end from every row's score
            result = combine_results(batches)  # keeps scores only: batches' data is let go
        if processes > 1:
            # every row is scored: the workers kept for a next call stop now, while the
            # summary is written, not at exit (a command has no next call)
            threading.Thread(target=parallel.shutdown, name="pynomaly-jobs-stop").start()
        _deliver(ctx, result, kw, options, reporter, exported=streamed)


# --------------------------------------------------------------------------------------------
# --engine dask: partitioned data on a Dask cluster (pynomaly.detection.partitioned)
# --------------------------------------------------------------------------------------------


def _dask_engine(kw: dict[str, Any]) -> bool:
    """Whether the command runs on Dask; the engine options are taken out of ``kw``."""
    engine = kw.get("engine") or "local"
    if kw.get("scheduler") and engine != "dask":
        if _from_command_line("scheduler"):
            raise InputError("--scheduler needs --engine dask")
        kw["scheduler"] = None  # a configured scheduler waits for --engine dask
    return engine == "dask"


def _engine_arguments(kw: Mapping[str, Any]) -> dict[str, Any]:
    if not _dask_engine(dict(kw)):
        return {}
    return {"engine": "dask", "scheduler": kw.get("scheduler"), "fit_rows": kw.get("fit_rows")}


def _check_dask_outputs(kw: Mapping[str, Any]) -> None:
    """What --engine dask cannot do: each output needs every row in one place."""
    unsupported = [
        ("--report", kw.get("report")),
        ("--notify", kw.get("notify")),
        ("-o -", kw.get("output") == "-"),
    ]
    for flag, given in unsupported:
        if given:
            raise InputError(
                f"{flag} is not available with --engine dask (the scores are written per "
                "partition: -o DIR)"
            )


def _detect_dask(ctx: Context, source: str, save: str | None, kw: dict[str, Any]) -> None:
    from pynomaly.detection import partitioned

    _check_dask_outputs(kw)
    _configured_format(kw)
    inputs = _inputs(ctx, source, kw)
    _check_destinations({"overwrite": kw["overwrite"]}, save, inputs=inputs)
    _refuse_replacing_inputs(kw, save, inputs)  # the partitioned output directory too
    options = collect_source_options(kw)
    arguments = _fit_arguments(kw)
    with Reporter(kw.pop("progress"), ctx.quiet) as reporter:
        result = partitioned.detect(
            source,
            arguments.pop("detector"),
            scheduler=kw.get("scheduler"),
            fit_rows=kw.get("fit_rows"),
            output=kw.get("output"),
            output_format=kw.get("fmt"),
            overwrite=kw["overwrite"],
            top=kw["top"],
            manager=ctx.manager(),
            progress=reporter.tracker,
            source_options=options,
            **arguments,
        )
        if save:
            with reporter.tracker.phase("write", detail=save):
                result.model.save(save, overwrite=kw["overwrite"])
    _deliver_partitioned(ctx, result, kw)


def _score_dask(
    ctx: Context, model_path: str, source: str, kw: dict[str, Any], trust: bool = False
) -> None:
    from pynomaly.detection import partitioned
    from pynomaly.detection.persistence import load_model

    _check_dask_outputs(kw)
    _configured_format(kw)
    _refuse_replacing_inputs(kw, None, [("model", model_path), *_inputs(ctx, source, kw)])
    ctx.manager().load_all()  # plugins first: a model may hold objects of a local plugin
    model = load_model(model_path, trusted=trust, manager=ctx.manager())
    with Reporter(kw.pop("progress"), ctx.quiet) as reporter:
        result = partitioned.score(
            model,
            source,
            scheduler=kw.get("scheduler"),
            output=kw.get("output"),
            output_format=kw.get("fmt"),
            overwrite=kw["overwrite"],
            top=kw["top"],
            manager=ctx.manager(),
            progress=reporter.tracker,
            source_options=collect_source_options(kw),
        )
    _deliver_partitioned(ctx, result, kw)


def _deliver_partitioned(ctx: Context, result: Any, kw: Mapping[str, Any]) -> None:
    """Print what --engine dask did: the top rows and a summary (or JSON / JSON Lines)."""
    from pynomaly.cli.common import print_table

    top = result.top_rows
    rows = [
        {"index": _plain(i), "partition": p, "anomaly_score": float(s), "is_anomaly": int(a)}
        for i, p, s, a in zip(
            top.index, top["partition"], top["anomaly_score"], top["is_anomaly"], strict=True
        )
    ]
    if kw.get("as_json"):
        summary = result.summary()
        summary["files"] = [p.output for p in result.partitions if p.output]
        click.echo(json.dumps({"summary": summary, "top": rows}, indent=2, default=str))
    elif kw.get("as_jsonl"):
        for row in rows:
            click.echo(json.dumps(row, default=str))
    elif not ctx.quiet and rows:
        header = ["index", "partition", "anomaly_score", "is_anomaly"]
        print_table(
            header,
            [[str(r["index"]), str(r["partition"]), f"{r['anomaly_score']:.6g}",
              str(r["is_anomaly"])] for r in rows],
        )
    if not ctx.quiet and not kw.get("as_json"):
        fitted = f", fitted on {result.fit_rows} rows" if result.fit_rows is not None else ""
        click.echo(
            f"{result.detector} on {result.source}: {result.n_anomalies} anomalies in "
            f"{result.rows} rows, {len(result.partitions)} partitions (threshold "
            f"{result.threshold:.6g}{fitted}; {result.duration:.2f} s)",
            err=bool(kw.get("as_jsonl")),  # stdout holds the rows alone
        )
        if result.output is not None:
            click.echo(
                f"Wrote {len(result.partitions)} files to {result.output}",
                err=bool(kw.get("as_jsonl")),
            )
    if kw.get("fail_on_anomaly") and result.n_anomalies:
        raise SystemExit(EXIT_ANOMALIES)


def _plain(value: Any) -> Any:
    """An index value as JSON has it (numpy integers and floats as numbers)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
