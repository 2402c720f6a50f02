"""Conformance checks of data source, output and processing plugins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynomaly.errors import DataError, InputError
from pynomaly.services import data as data_service
from pynomaly.testing._core import (
    SEED,
    SuiteBase,
    _describe,
    _expect,
    _importable,
    _Problem,
    _raiser,
    _skip,
)
from pynomaly.types import OutputInfo, SourceInfo, StepInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# sample URIs of the built-in plugins that cannot be derived from their SourceInfo
_KNOWN_SAMPLE_URIS: dict[str, tuple[str, ...]] = {"samples": ("sample:wbc",)}
SAMPLE_URIS_ATTRIBUTE = "PYNOMALY_SAMPLE_URIS"


class DataSourceChecks(SuiteBase):
    """Checks of plugins that read data."""

    def data_source_checks(self) -> Iterator[tuple[str, str, Callable[[], str | None]]]:
        yield "data_sources", "", self.check_data_sources
        try:
            sources = [
                s for s in (self.hook("pynomaly_data_sources") or []) if isinstance(s, SourceInfo)
            ]
        except Exception:
            sources = []
        self.sample_uris = self.make_samples(sources)
        if not self.sample_uris:
            yield (
                "connect",
                "",
                _raiser(
                    _skip(
                        "no sample URI: the sources declare no extension the kit can write "
                        f"({', '.join(_WRITERS)}) and the plugin lists no {SAMPLE_URIS_ATTRIBUTE}"
                    )
                ),
            )
        for target, uri, frame in self.sample_uris:
            yield "connect", target, partial(self.check_connect, uri)
            yield "read_data", target, partial(self.check_read_data, uri, frame)
            yield "get_schema", target, partial(self.check_get_schema, uri)
            yield "test_connection", target, partial(self.check_test_connection, uri)
        yield "unknown_uri", "", self.check_unknown_uri
        for target, uri in self.missing_uris(sources):
            yield "missing_source", target, partial(self.check_missing, uri)

    def check_data_sources(self) -> str:
        fix = "return [SourceInfo('csv', 'description', extensions=('.csv',)), ...]"
        infos = list(self.hook("pynomaly_data_sources") or [])
        _expect(bool(infos), "at least one SourceInfo", "an empty list", fix)
        wrong = [type(i).__name__ for i in infos if not isinstance(i, SourceInfo)]
        _expect(not wrong, "SourceInfo objects", ", ".join(wrong), fix)
        bad = [e for i in infos for e in i.extensions if not e.startswith(".")] + [
            s for i in infos for s in i.schemes if not s or ":" in s
        ]
        _expect(
            not bad,
            "extensions starting with '.' and schemes without ':'",
            ", ".join(map(repr, bad)),
            fix,
        )
        return ", ".join(i.name for i in infos)

    def make_samples(self, sources: list[SourceInfo]) -> list[tuple[str, str, pd.DataFrame | None]]:
        samples: list[tuple[str, str, pd.DataFrame | None]] = []
        extensions = sorted({e.lower() for s in sources for e in s.extensions})
        if any(e in _WRITERS for e in extensions):
            import numpy as np
            import pandas as pd

            rng = np.random.default_rng(SEED)
            frame = pd.DataFrame(rng.standard_normal((8, 3)).round(6), columns=["a", "b", "c"])
            for ext in extensions:
                writer = _WRITERS.get(ext)
                if writer is None or (ext == ".xlsx" and not _importable("openpyxl")):
                    continue
                path = self.tmp() / "samples" / f"sample{ext}"
                path.parent.mkdir(exist_ok=True)
                writer(frame, path)
                samples.append((path.name, str(path), frame))
        declared = getattr(self.plugin_object(), SAMPLE_URIS_ATTRIBUTE, None)
        for uri in [*(declared or ()), *_KNOWN_SAMPLE_URIS.get(self.name, ())]:
            if all(uri != u for _, u, _ in samples):
                samples.append((uri, uri, None))
        return samples

    def missing_uris(self, sources: list[SourceInfo]) -> list[tuple[str, str]]:
        found = []
        for ext in sorted({e.lower() for s in sources for e in s.extensions}):
            found.append((f"missing{ext}", str(self.tmp() / "missing" / f"missing{ext}")))
        schemes = {s.lower() for src in sources for s in src.schemes}
        for _, uri, _ in self.sample_uris:
            scheme = uri.split(":", 1)[0].lower()
            if ":" in uri and scheme in schemes:
                found.append((f"{scheme}:missing", f"{scheme}:pynomaly-check-missing"))
                schemes.discard(scheme)
        return found

    def connection(self, uri: str) -> Any:
        from pynomaly.types import Connection

        def open_() -> Any:
            handle = self.hook("pynomaly_connect", uri=uri, options={})
            if handle is None:
                raise _Problem(
                    f"pynomaly_connect to accept its sample URI {uri}",
                    "None",
                    "return a handle for URIs of your schemes/extensions",
                )
            return Connection(uri=uri, plugin=self.name, handle=handle, options={})

        return self.memo.get("connection-" + uri, open_)

    def read(self, uri: str) -> pd.DataFrame:
        return data_service.read_data(self.pm, self.connection(uri))

    def check_connect(self, uri: str) -> str:
        try:
            conn = self.connection(uri)
        except _Problem:
            raise
        except Exception as exc:
            raise _Problem(
                f"pynomaly_connect to open {uri}",
                _describe(exc),
                "raise DataError only when the source is yours but unusable",
            ) from exc
        return f"handle {type(conn.handle).__name__}"

    def check_read_data(self, uri: str, expected: pd.DataFrame | None) -> str:
        import numpy as np
        import pandas as pd

        try:
            frame = self.read(uri)
        except _Problem:
            raise
        except Exception as exc:
            raise _Problem(
                f"read_data of {uri} to work", _describe(exc), "see the traceback"
            ) from exc
        _expect(
            isinstance(frame, pd.DataFrame),
            "a pandas DataFrame",
            type(frame).__name__,
            "return pd.DataFrame from pynomaly_read_data",
        )
        _expect(
            frame.shape[0] > 0 and frame.shape[1] > 0,
            "a non-empty frame",
            f"shape {frame.shape}",
            "read the rows",
        )
        if expected is not None:
            _expect(
                [str(c) for c in frame.columns] == list(expected.columns)
                and frame.shape == expected.shape
                and np.allclose(frame.to_numpy(dtype=np.float64), expected.to_numpy()),
                f"the {expected.shape[0]}×{expected.shape[1]} frame written to {Path(uri).name}",
                f"shape {frame.shape}, columns {list(frame.columns)}",
                "read the header as column names and do not add an index column",
            )
        return f"{frame.shape[0]}×{frame.shape[1]}"

    def check_get_schema(self, uri: str) -> str:
        try:
            schema = data_service.get_schema(self.pm, self.connection(uri))
            frame = self.read(uri)
        except _Problem:
            raise
        except Exception as exc:
            raise _Problem(
                f"get_schema of {uri} to work", _describe(exc), "see the traceback"
            ) from exc
        columns = [str(c) for c in frame.columns]
        _expect(
            list(schema) == columns,
            f"the frame's columns {columns}",
            f"{list(schema)}",
            "return {column: type name} for exactly the columns read_data returns, in order",
        )
        wrong = [k for k, v in schema.items() if not isinstance(v, str)]
        _expect(not wrong, "type names as strings", f"non-strings for {wrong}", "use str(dtype)")
        return f"{len(schema)} columns"

    def check_test_connection(self, uri: str) -> str:
        try:
            ok = data_service.test_connection(self.pm, self.connection(uri))
        except _Problem:
            raise
        except Exception as exc:
            raise _Problem(
                f"test_connection of {uri} to return True", _describe(exc), "see the traceback"
            ) from exc
        _expect(ok is True, "True", repr(ok), "return True when the source can be read")
        return "True"

    def check_unknown_uri(self) -> str:
        stray = self.tmp() / "unknown" / "data.pynomaly-check-unknown"
        stray.parent.mkdir(exist_ok=True)
        stray.write_text("not for you\n")
        for uri in ("pynomaly-check-unknown://nothing/here", str(stray)):
            self.expect_none(
                "pynomaly_connect",
                f"pynomaly_connect to return None for a URI it does not handle ({uri})",
                "return None for schemes and extensions that are not yours, so that other "
                "plugins get their turn",
                uri=uri,
                options={},
            )
        return "None for unknown URIs"

    def check_missing(self, uri: str) -> str:
        fix = f"raise pynomaly.errors.DataError('{uri}: no such file') — one line naming it"
        error: BaseException | None = None
        try:
            handle = self.hook("pynomaly_connect", uri=uri, options={})
            if handle is None:
                raise _Problem(
                    f"DataError for a missing source of its own kind ({uri})",
                    "None (the URI was left to other plugins)",
                    fix,
                )
            from pynomaly.types import Connection

            conn = Connection(uri=uri, plugin=self.name, handle=handle, options={})
            self.hook("pynomaly_read_data", connection=conn, query={})
        except _Problem:
            raise
        except Exception as exc:
            error = exc
        _expect(error is not None, f"DataError for a missing source ({uri})", "data", fix)
        assert error is not None
        _expect(isinstance(error, DataError), "DataError", _describe(error), fix)
        text = str(error)
        _expect("\n" not in text.strip(), "a one-line message", repr(text)[:200], fix)
        name = uri.rsplit("/", 1)[-1]
        _expect(name in text, f"a message naming {name}", repr(text), fix)
        return text


class OutputChecks(SuiteBase):
    """Checks of plugins that render and export results."""

    def output_checks(self) -> Iterator[tuple[str, str, Callable[[], str | None]]]:
        yield "outputs", "", self.check_outputs
        try:
            outputs = [
                o for o in (self.hook("pynomaly_outputs") or []) if isinstance(o, OutputInfo)
            ]
        except Exception:
            outputs = []
        if self.implements("pynomaly_format_output") or self.implements("pynomaly_export_data"):
            yield "unknown_format", "", self.check_unknown_format
        for out in outputs:
            yield "format_output", out.name, partial(self.check_format_output, out)
            if out.extensions:
                yield "export_data", out.name, partial(self.check_export, out)
        if self.implements("pynomaly_send_notification"):
            yield "send_notification", "", self.check_notification

    def check_outputs(self) -> str:
        fix = "return [OutputInfo('json', 'description', extensions=('.json',)), ...]"
        if not self.implements("pynomaly_outputs"):
            raise _skip("no pynomaly_outputs hook")
        infos = list(self.hook("pynomaly_outputs") or [])
        _expect(bool(infos), "at least one OutputInfo", "an empty list", fix)
        wrong = [type(i).__name__ for i in infos if not isinstance(i, OutputInfo)]
        _expect(not wrong, "OutputInfo objects", ", ".join(wrong), fix)
        names = [i.name for i in infos]
        dupes = sorted({n for n in names if names.count(n) > 1})
        _expect(not dupes, "unique format names", ", ".join(dupes), fix)
        bad = [e for i in infos for e in i.extensions if not e.startswith(".")]
        _expect(not bad, "extensions starting with '.'", ", ".join(map(repr, bad)), fix)
        return ", ".join(names)

    def check_unknown_format(self) -> str:
        result = self.detection_result()
        fmt = "pynomaly-check-unknown"
        if self.implements("pynomaly_format_output"):
            text = self.hook("pynomaly_format_output", result=result, fmt=fmt, options={})
            _expect(
                text is None,
                f"format_output to return None for a format it does not offer ({fmt!r})",
                repr(text)[:80],
                "return None unless fmt is one of your formats",
            )
        if self.implements("pynomaly_export_data"):
            dest = self.tmp() / "unknown-format" / "result.pynomaly-check"
            dest.parent.mkdir(exist_ok=True)
            done = self.hook(
                "pynomaly_export_data", result=result, destination=str(dest), fmt=fmt, options={}
            )
            _expect(
                done is None and not dest.exists(),
                f"export_data to return None and write nothing for {fmt!r}",
                f"{done!r}, file written: {dest.exists()}",
                "return None unless fmt is one of your formats",
            )
        return "None for unknown formats"

    def check_format_output(self, out: OutputInfo) -> str:
        text = None
        if self.implements("pynomaly_format_output"):
            text = self.hook(
                "pynomaly_format_output", result=self.detection_result(), fmt=out.name, options={}
            )
        if text is None and out.extensions:
            raise _skip(f"{out.name!r} is a file format ({', '.join(out.extensions)}) only")
        if text is None and self.implements("pynomaly_export_data"):
            raise _skip(
                f"{out.name!r} renders no text and has no file extension: a destination format "
                "(database, service) the kit cannot create"
            )
        _expect(
            isinstance(text, str) and bool(text.strip()),
            f"format_output to render {out.name!r} as non-empty text",
            repr(text)[:80],
            "return a str for each format listed without extensions",
        )
        assert isinstance(text, str)
        return f"{len(text)} characters"

    def check_export(self, out: OutputInfo) -> str:
        result = self.detection_result()
        fix_atomic = (
            "write to a temporary file in the same directory, then rename it "
            "(pynomaly.builtin.atomic.atomic_write does this)"
        )
        for ext in out.extensions:
            folder = self.tmp() / "export" / f"{out.name}{ext}".replace("/", "_")
            folder.mkdir(parents=True, exist_ok=True)
            dest = folder / f"result{ext}"

            def export(options: dict[str, Any], dest: Path = dest) -> Any:
                return self.hook(
                    "pynomaly_export_data",
                    result=result,
                    destination=str(dest),
                    fmt=out.name,
                    options=options,
                )

            done = export({})
            _expect(
                done is True and dest.is_file() and dest.stat().st_size > 0,
                f"export_data({dest.name!r}, {out.name!r}) to write the file and return True",
                f"{done!r}, file written: {dest.is_file()}",
                "return True after writing; None only for formats that are not yours",
            )
            left = sorted(p.name for p in folder.iterdir())
            _expect(left == [dest.name], f"only {dest.name} in the folder", str(left), fix_atomic)
            before = dest.read_bytes()
            try:
                export({})
            except InputError:
                pass
            except Exception as exc:
                raise _Problem(
                    f"InputError when {dest.name} exists and overwrite is not set",
                    _describe(exc),
                    "raise pynomaly.errors.InputError naming the file",
                ) from exc
            else:
                raise _Problem(
                    f"InputError when {dest.name} exists and overwrite is not set",
                    "no error (the file was replaced)"
                    if dest.read_bytes() != before
                    else "no error",
                    "refuse to replace an existing file unless options['overwrite'] is true",
                )
            _expect(
                dest.read_bytes() == before, "the existing file untouched", "it changed", fix_atomic
            )
            left = sorted(p.name for p in folder.iterdir())
            _expect(left == [dest.name], f"only {dest.name} in the folder", str(left), fix_atomic)
            done = export({"overwrite": True})
            left = sorted(p.name for p in folder.iterdir())
            _expect(
                done is True and left == [dest.name],
                f"overwrite=True to replace {dest.name} and return True",
                f"{done!r}, folder holds {left}",
                fix_atomic,
            )
        return f"wrote {', '.join('result' + e for e in out.extensions)}"

    def check_notification(self) -> str:
        for result in (self.detection_result(), None):
            try:
                self.hook(
                    "pynomaly_send_notification",
                    message="pynomaly conformance check",
                    result=result,
                    options={},
                )
            except Exception as exc:
                raise _Problem(
                    "send_notification to deliver without raising"
                    + (" (result=None)" if result is None else ""),
                    _describe(exc),
                    "handle result=None and report delivery problems in the log",
                ) from exc
        return "sent"


class ProcessingChecks(SuiteBase):
    """Checks of plugins that validate and transform data."""

    def processing_checks(self) -> Iterator[tuple[str, str, Callable[[], str | None]]]:
        if self.implements("pynomaly_validate"):
            yield "validate_accepts_good", "", self.check_validate_good
            yield "validate_empty", "", lambda: self.check_validate_bad("empty")
            yield "validate_nan", "", lambda: self.check_validate_bad("nan")
        if self.implements("pynomaly_preprocess"):
            yield "preprocess_pure", "", self.check_preprocess
        if self.implements("pynomaly_postprocess"):
            yield "postprocess", "", self.check_postprocess
        if self.implements("pynomaly_processing_steps"):
            yield "processing_steps", "", self.check_step_list
            for info in self.own_steps():
                yield "step_input_unchanged", info.name, partial(self.check_step_pure, info)
                yield "step_fitted_on_training", info.name, partial(self.check_step_state, info)
                yield "step_pickle", info.name, partial(self.check_step_pickle, info)
        if self.implements("pynomaly_create_step"):
            yield "unknown_step", "", self.check_unknown_step

    # --- processing steps -------------------------------------------------------------------

    def own_steps(self) -> list[StepInfo]:
        try:
            infos = list(self.hook("pynomaly_processing_steps") or [])
        except Exception:  # check_step_list reports it
            return []
        return [i for i in infos if isinstance(i, StepInfo)]

    def check_step_list(self) -> str:
        fix = "return [StepInfo('name', 'description', options={...}), ...]"
        infos = list(self.hook("pynomaly_processing_steps") or [])
        wrong = [type(i).__name__ for i in infos if not isinstance(i, StepInfo)]
        _expect(not wrong, "StepInfo objects", ", ".join(wrong), fix)
        names = [i.name for i in infos]
        dupes = sorted({n for n in names if names.count(n) > 1})
        _expect(not dupes, "unique step names", ", ".join(dupes), fix)
        return ", ".join(names) or "no steps"

    def check_unknown_step(self) -> str:
        name = "conformance_no_such_step"
        self.expect_none(
            "pynomaly_create_step",
            f"None for a step that is not its own ({name!r})",
            "return None for step names that are not yours, so that other plugins get "
            "their turn",
            name=name,
            options={},
        )
        return "None for unknown steps"

    def fitted_step(self, info: StepInfo) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
        """The step created with its default options and fitted on breast-cancer training rows;
        the training rows and new rows (copies the step may not change)."""

        def make() -> tuple[Any, pd.DataFrame, pd.DataFrame]:
            train, test = self.breast_cancer()
            fitted = self.new_step(info).fit(train.copy())
            _expect(
                fitted is not None and hasattr(fitted, "transform"),
                "fit to return the fitted step (self)",
                type(fitted).__name__,
                "end fit with `return self`",
            )
            return fitted, train.copy(), test.copy()

        result: tuple[Any, pd.DataFrame, pd.DataFrame] = self.memo.get(
            "step-" + info.name, make
        )
        return result

    def new_step(self, info: StepInfo) -> Any:
        """The unfitted step with its default options (skipped if it needs others)."""
        from pynomaly.types import ProcessingStep

        try:
            step = self.hook("pynomaly_create_step", name=info.name, options={})
        except InputError as exc:
            raise _skip(f"step {info.name!r} needs options the kit cannot guess: {exc}") from exc
        _expect(
            isinstance(step, ProcessingStep),
            f"pynomaly_create_step({info.name!r}) to return a step with fit and transform",
            type(step).__name__,
            "return an object with fit(frame) -> self and transform(frame) -> frame",
        )
        return step

    def check_step_pure(self, info: StepInfo) -> str:
        train, test = (f.copy() for f in self.breast_cancer())
        step = self.new_step(info)
        before_train, before_test = train.copy(deep=True), test.copy(deep=True)
        fitted = step.fit(train)
        fitted.transform(test)
        _expect(
            train.equals(before_train) and test.equals(before_test),
            "fit and transform to leave their input unchanged",
            "the input DataFrame was modified in place",
            "work on a copy in transform (frame = frame.copy()) and never assign into the "
            "frame fit receives",
        )
        return "inputs unchanged"

    def check_step_state(self, info: StepInfo) -> str:
        import numpy as np
        import pandas as pd

        fitted, _, test = self.fitted_step(info)
        batch = fitted.transform(test.copy())  # copies: purity is another check's concern
        alone = pd.concat([fitted.transform(test.iloc[[i]].copy()) for i in range(5)])
        same = (
            list(alone.columns) == list(batch.columns)
            and np.allclose(
                alone.to_numpy(dtype=float), batch.iloc[:5].to_numpy(dtype=float), equal_nan=True
            )
        )
        _expect(
            same,
            "each new row transformed the same alone as within its batch",
            "rows that change with the batch they are in",
            "learn every statistic (medians, quantiles, scales, categories) in fit from the "
            "training data and only apply it in transform; never compute it from the frame "
            "transform receives",
        )
        return f"{batch.shape[1]} columns out, batch-independent"

    def check_step_pickle(self, info: StepInfo) -> str:
        import pickle

        import numpy as np

        fitted, _, test = self.fitted_step(info)
        test = test.copy()
        try:
            restored = pickle.loads(pickle.dumps(fitted))
        except Exception as exc:
            raise _Problem(
                "the fitted step to pickle (it is saved in the model)",
                _describe(exc),
                "keep only picklable state on the step (no lambdas, open files or locks); "
                "define its class at module level",
            ) from exc
        a, b = fitted.transform(test.copy()), restored.transform(test.copy())
        _expect(
            list(a.columns) == list(b.columns)
            and np.allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), equal_nan=True),
            "the unpickled step to transform like the original",
            "different output",
            "keep everything transform needs on the step object",
        )
        return "pickles"

    def good_frame(self) -> pd.DataFrame:
        return self.breast_cancer()[0].copy()

    def check_validate_good(self) -> str:
        frame = self.good_frame()
        try:
            self.hook("pynomaly_validate", data=frame, source="<conformance>")
        except Exception as exc:
            raise _Problem(
                f"validate to accept {frame.shape[0]}×{frame.shape[1]} numeric breast-cancer data",
                _describe(exc),
                "reject only data detectors cannot use",
            ) from exc
        return "accepted"

    def check_validate_bad(self, kind: str) -> str:
        """A validator may let data it has no opinion on pass (another validator, such as the
        built-in one, rejects it), but when it rejects, it raises a one-line DataError."""
        import numpy as np

        frame = self.good_frame()
        if kind == "empty":
            frame, what = frame.iloc[:0], "data without rows"
        else:
            frame.iloc[3, 2] = np.nan
            what = "data with a NaN"
        expected = f"DataError (or no error) for {what}"
        fix = "raise pynomaly.errors.DataError with a one-line message naming the problem"
        try:
            self.hook("pynomaly_validate", data=frame, source="<conformance>")
        except DataError as exc:
            _expect("\n" not in str(exc), f"a one-line DataError for {what}", repr(str(exc)), fix)
            return f"rejected: {exc}"
        except Exception as exc:
            raise _Problem(expected, _describe(exc), fix) from exc
        return "passed on (left to other validators)"

    def check_preprocess(self) -> str:
        import pandas as pd

        frame = self.good_frame()
        before = frame.copy(deep=True)
        try:
            out = self.hook("pynomaly_preprocess", data=frame, source="<conformance>")
        except Exception as exc:
            raise _Problem(
                "preprocess to accept numeric data", _describe(exc), "see the traceback"
            ) from exc
        _expect(
            out is None or isinstance(out, pd.DataFrame),
            "None or a DataFrame",
            type(out).__name__,
            "return a new DataFrame, or None to leave the data as it is",
        )
        _expect(
            frame.equals(before) and list(frame.columns) == list(before.columns),
            "the input DataFrame unchanged",
            "it was modified in place",
            "work on a copy: data = data.copy() (or data.assign(...)) and return it",
        )
        return "unchanged input" + ("" if out is None else f"; returned {out.shape}")

    def check_postprocess(self) -> str:
        import numpy as np

        from pynomaly.detection.results import DetectionResult

        result = self.detection_result()
        scores, labels = result.scores.copy(), result.labels.copy()
        try:
            out = self.hook("pynomaly_postprocess", result=result)
        except Exception as exc:
            raise _Problem(
                "postprocess to accept a result", _describe(exc), "see the traceback"
            ) from exc
        _expect(
            out is None or isinstance(out, DetectionResult),
            "None or a DetectionResult",
            type(out).__name__,
            "return a new DetectionResult (attrs.evolve(result, ...)) or None",
        )
        _expect(
            np.array_equal(result.scores, scores) and np.array_equal(result.labels, labels),
            "the input result unchanged",
            "its scores or labels were modified in place",
            "return attrs.evolve(result, labels=new_labels) instead of changing it",
        )
        return "ok"


def _write_table(frame: Any, path: Path, sep: str) -> None:
    frame.to_csv(
        path, index=False, sep=sep, compression="gzip" if path.name.endswith(".gz") else None
    )


def _write_jsonl(frame: Any, path: Path) -> None:
    compression = "gzip" if path.name.endswith(".gz") else None
    frame.to_json(path, orient="records", lines=True, compression=compression)


def _write_excel(frame: Any, path: Path) -> None:
    frame.to_excel(path, index=False)


# the file types the kit can write a sample of, by extension
_WRITERS: dict[str, Callable[[Any, Path], None]] = {
    ".csv": lambda f, p: _write_table(f, p, ","),
    ".csv.gz": lambda f, p: _write_table(f, p, ","),
    ".tsv": lambda f, p: _write_table(f, p, "\t"),
    ".tsv.gz": lambda f, p: _write_table(f, p, "\t"),
    ".parquet": lambda f, p: f.to_parquet(p, index=False),
    ".pq": lambda f, p: f.to_parquet(p, index=False),
    ".jsonl": _write_jsonl,
    ".jsonl.gz": _write_jsonl,
    ".ndjson": _write_jsonl,
    ".ndjson.gz": _write_jsonl,
    ".xlsx": _write_excel,
}
