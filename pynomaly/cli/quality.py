"""``pynomaly compare``, ``benchmark`` and ``tune``: detection quality, measured.

Imports only click at module level; the work is in :mod:`pynomaly.quality`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from pynomaly.cli.common import Context, handles_errors, print_table
from pynomaly.cli.detection import _steps, collect_source_options, source_options
from pynomaly.errors import InputError


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _check_report(path: str | None, overwrite: bool) -> None:
    if path is None:
        return
    if Path(path).exists() and not overwrite:
        raise InputError(f"--report {path}: already exists (use --overwrite to replace it)")
    if not Path(path).parent.is_dir():
        raise InputError(f"--report {path}: directory {Path(path).parent} does not exist")


step_flags = [
    click.option("--impute", metavar="STRATEGY", help="Fill missing values first."),
    click.option("--encode", metavar="METHOD", help="Encode text columns: onehot, ordinal."),
    click.option("--scale", metavar="METHOD", help="Scale features: standard, robust, minmax."),
]


def _step_kw(kw: dict[str, Any]) -> list[Any]:
    return _steps(
        {
            "drop_columns": (), "datetime_mode": None, "impute": kw.pop("impute"),
            "encode": kw.pop("encode"), "drop_constant": False, "scale": kw.pop("scale"),
            "extra_steps": (),
        }
    )


def _with(options: list[Any]) -> Any:
    def apply(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


@click.command()
@click.argument("source")
@source_options
@click.option(
    "--detectors",
    metavar="A,B,...|all",
    help="Detectors to compare (auto counts as one); all: every available detector. "
    "[default: a set of fast detectors of different families, and auto]",
)
@click.option("--label-column", metavar="COL", help="Ground truth (1 = anomaly): rank by ROC AUC.")
@click.option("-c", "--contamination", default="0.1", show_default=True,
              help="Expected share of anomalies in (0, 0.5], or auto.")
@click.option("--threshold", metavar="RULE", help="Threshold rule, as for detect.")
@click.option("--random-state", type=int, default=0, show_default=True, help="Seed.")
@_with(step_flags)
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Consensus rows shown (without a label column).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--report", metavar="PATH", help="Also write an HTML page with a plot here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --report.")
@click.pass_obj
@handles_errors
def compare(ctx: Context, source: str, **kw: Any) -> None:
    """Run many detectors on SOURCE and compare them.

    With --label-column: ROC AUC, average precision, F1 at the threshold and rank of each.
    Without: how much the detectors agree (Spearman rank correlation) and the rows they agree
    are the most anomalous. Time and peak memory of each detector either way.

    \b
    Examples:
      pynomaly compare data.csv --label-column y
      pynomaly compare data.csv --detectors pyod:iforest,pyod:knn,auto --json
      pynomaly compare sample:wbc --source-option labels=true --label-column is_malignant \\
          --detectors all --report compare.html
    """
    from pynomaly.quality.compare import compare as run_compare

    _check_report(kw["report"], kw["overwrite"])
    contamination = _contamination(kw["contamination"])
    options = collect_source_options(kw)
    steps = _step_kw(kw)
    with _working(ctx, "compare", source):
        result = run_compare(
            source,
            kw["detectors"],
            label_column=kw["label_column"],
            contamination=contamination,
            threshold=kw["threshold"],
            random_state=kw["random_state"],
            steps=steps,
            source_options=options,
            top=kw["top"],
            manager=ctx.manager(),
        )
    if kw["report"]:
        from pynomaly.builtin.atomic import atomic_write
        from pynomaly.quality.compare_page import render

        page = render(result, top=kw["top"])
        atomic_write(
            kw["report"], lambda tmp: tmp.write_text(page, encoding="utf-8"),
            overwrite=kw["overwrite"],
        )
    if kw["as_json"]:
        click.echo(json.dumps(result.to_dict(kw["top"]), indent=2))
        return
    _print_comparison(result, kw["top"])
    if kw["report"]:
        click.echo(f"Wrote report to {kw['report']}")


def _contamination(text: str) -> float | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise InputError(
            f"--contamination {text!r}: expected a number in (0, 0.5] or auto"
        ) from None


def _print_comparison(result: Any, top: int) -> None:
    from pynomaly.quality.metrics import human_bytes

    click.echo(f"{result.source}: {result.rows} rows × {result.features} features")
    agreement = result.mean_agreement()
    rows = []
    for run in result.ranked():
        if result.labelled:
            values = [_num(run.roc_auc), _num(run.average_precision), _num(run.f1)]
        else:
            values = [_num(agreement.get(run.detector))]
        note = run.error or (f"chose {run.chosen}" if run.chosen else "")
        rows.append(
            [
                run.detector, *values, str(run.anomalies) if run.ok else "-",
                _num(run.seconds, 2), human_bytes(run.peak_bytes) if run.ok else "-", note,
            ]
        )
    metric_heads = ["roc_auc", "avg_prec", "f1"] if result.labelled else ["agreement"]
    print_table(["detector", *metric_heads, "anomalies", "seconds", "peak_mem", "note"], rows)
    if not result.labelled and result.consensus is not None and top:
        click.echo(f"\nConsensus top {top} (mean rank over {len(result.ok)} detectors):")
        head = result.consensus.head(top)
        print_table(
            ["row", "consensus", "flagged_by"],
            [
                [str(i), f"{r['consensus']:.3f}", f"{r['flagged_by']}/{r['of']}"]
                for i, r in zip(head.index, head.to_dict("records"), strict=True)
            ],
        )


@click.command()
@click.option("--suite", type=click.Choice(["builtin"]), default="builtin", show_default=True,
              help="The task suite (builtin: made from scikit-learn's bundled data sets).")
@click.option("--detectors", metavar="A,B,...|all",
              help="Single detectors to run beside auto and ADEngine [a default set].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of tasks and detectors.")
@click.option("--tasks", metavar="NAME,...", help="Only these tasks (names as in --list-tasks).")
@click.option("--quick", is_flag=True, help="Four small tasks only.")
@click.option("--list-tasks", is_flag=True, help="List the suite's tasks and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every cell too).")
@click.option("--output", metavar="PATH", help="Also write the JSON here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
@click.pass_obj
@handles_errors
def benchmark(ctx: Context, **kw: Any) -> None:
    """Run detectors, auto and PyOD's ADEngine on the built-in suite of labelled tasks.

    Reports mean ROC AUC, mean rank, time against IForest's, and threshold rules by F1.

    \b
    Examples:
      pynomaly benchmark --suite builtin --seed 0
      pynomaly benchmark --quick --detectors pyod:iforest,pyod:knn --json
    """
    import sys

    from pynomaly.quality import benchmark as bench
    from pynomaly.quality.suite import task_names

    if kw["list_tasks"]:
        click.echo("\n".join(task_names()))
        return
    if kw["output"]:
        _check_report(kw["output"], kw["overwrite"])
    tasks = [t.strip() for t in kw["tasks"].split(",")] if kw["tasks"] else None
    progress = None
    if not kw["as_json"] and sys.stderr.isatty():
        def progress(method: str, task: str, cell: Any) -> None:
            click.echo(f"  {task:<26} {method:<22} {_num(cell.roc_auc)}", err=True)

    result = bench.benchmark(
        detectors=kw["detectors"], seed=kw["seed"], tasks=tasks, quick=kw["quick"],
        manager=ctx.manager(), progress=progress,
    )
    result.command = "pynomaly benchmark " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""
    doc = result.to_dict()
    if kw["output"]:
        from pynomaly.builtin.atomic import atomic_write

        text = json.dumps(doc, indent=2)
        atomic_write(
            kw["output"], lambda tmp: tmp.write_text(text, encoding="utf-8"),
            overwrite=kw["overwrite"],
        )
    if kw["as_json"]:
        click.echo(json.dumps(doc, indent=2))
        return
    _print_benchmark(result)


def _print_benchmark(result: Any) -> None:
    kinds = sorted({t.kind for t in result.tasks})
    click.echo(
        f"Suite builtin, seed {result.seed}: {len(result.tasks)} tasks ({', '.join(kinds)})"
    )
    rows = [
        [
            r["method"], _num(r["mean_roc_auc"]), _num(r["mean_average_precision"]),
            _num(r["mean_rank"], 2), str(r["wins"]), _num(r["seconds"], 1),
            _num(r["time_vs_iforest"], 2), str(r["failures"]) if r["failures"] else "",
        ]
        for r in result.summary()
    ]
    print_table(
        ["method", "roc_auc", "avg_prec", "mean_rank", "wins", "seconds", "x_iforest", "failed"],
        rows,
    )
    chosen = sorted({result.cells["auto", t.name].chosen for t in result.tasks} - {""})
    if chosen:
        click.echo(f"auto chose: {', '.join(chosen)}")
    for scored, rules in result.f1_summary().items():
        click.echo(f"\nThreshold rules on {scored}'s scores, mean F1:")
        print_table(["rule", "f1"], [[rule, _num(v)] for rule, v in rules.items()])
    failed = [(m, t.name, result.cells[m, t.name].error) for m in result.methods
              for t in result.tasks if result.cells[m, t.name].error]
    for method, task, error in failed[:10]:
        click.echo(f"failed: {method} on {task}: {error}", err=True)


@click.command()
@click.argument("source")
@source_options
@click.option("-d", "--detector", required=True, metavar="ID", help="The detector to tune.")
@click.option("--label-column", metavar="COL",
              help="Ground truth (1 = anomaly); without it the criterion is agreement.")
@click.option("--trials", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--metric", type=click.Choice(["roc_auc", "average_precision"]),
              default="roc_auc", show_default=True)
@click.option("--holdout", type=float, default=0.3, show_default=True,
              help="Share of labelled rows no trial is scored on.")
@click.option("-c", "--contamination", type=float, default=0.1, show_default=True)
@click.option("--random-state", type=int, default=0, show_default=True)
@click.option("--timeout", type=float, metavar="SECONDS", help="Stop searching after this.")
@_with(step_flags)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every trial too).")
@click.pass_obj
@handles_errors
def tune(ctx: Context, source: str, **kw: Any) -> None:
    """Search a detector's hyperparameters on SOURCE (needs optuna).

    \b
    Examples:
      pynomaly tune data.csv --detector pyod:knn --label-column y --trials 50
      pynomaly tune data.csv -d pyod:iforest --trials 20   # no labels: agreement criterion
    """
    from pynomaly.quality.tune import tune as run_tune

    options = collect_source_options(kw)
    with _working(ctx, "tune", f"{kw['detector']} on {source}"):
        result = run_tune(
            source,
            kw["detector"],
            label_column=kw["label_column"],
            trials=kw["trials"],
            metric=kw["metric"],
            holdout=kw["holdout"],
            contamination=kw["contamination"],
            random_state=kw["random_state"],
            steps=_step_kw(kw),
            source_options=options,
            timeout=kw["timeout"],
            manager=ctx.manager(),
        )
    if kw["as_json"]:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    done = sum(1 for t in result.trials if not t.error)
    click.echo(f"{result.detector}: {done} of {len(result.trials)} trials; {result.criterion}")
    click.echo(f"  defaults: {_num(result.default_value)}   best: {_num(result.best_value)}")
    if result.holdout_rows:
        click.echo(
            f"  on the {result.holdout_rows} held-out rows: defaults "
            f"{_num(result.holdout_default)}, best {_num(result.holdout_best)}"
        )
    params = " ".join(f"-P {k}={json.dumps(v)}" for k, v in result.best_params.items())
    click.echo(f"  best parameters: {params or '(the defaults)'}")


@contextmanager
def _working(ctx: Context, phase: str, detail: str) -> Iterator[None]:
    """The command's one long phase, shown as progress on a terminal (quiet when piped)."""
    from pynomaly.cli.progress import Reporter

    with Reporter(None, ctx.quiet) as reporter, reporter.tracker.phase(phase, detail=detail):
        yield
