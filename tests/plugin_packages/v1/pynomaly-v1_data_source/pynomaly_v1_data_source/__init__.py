"""The pynomaly plugin ``v1_data_source``: reads ARFF files.

ARFF (``*.arff``, Weka's Attribute-Relation File Format) is how many outlier-detection
benchmarks are distributed. ``pynomaly detect data.arff`` (or ``arff:data.txt`` for any other
file name) reads the dense form: numeric attributes become float columns, nominal, string and
date attributes text columns, ``?`` a missing value; a bad line is reported with its number.

Adapt it to your own source: ``pynomaly_connect`` claims the URIs that are yours and returns a
handle, the other hooks get that handle back in ``connection.handle``. pandas is imported
inside the hooks, never at module level, so that listing plugins stays fast.
"""

from __future__ import annotations

import csv
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynomaly import hookimpl
from pynomaly.errors import DataError
from pynomaly.types import Connection, PluginMetadata, PluginType, SourceInfo

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"

SCHEME = "arff:"
EXTENSIONS = (".arff",)
NUMERIC = ("numeric", "real", "integer")
SAMPLE = Path(__file__).with_name("sample.arff")  # a small file shipped with the package
# what pynomaly's test kit reads to check this plugin (check_plugin, pytest --pynomaly-check)
PYNOMALY_SAMPLE_URIS = [str(SAMPLE), f"{SCHEME}{SAMPLE}"]


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="v1_data_source",
        version=__version__,
        plugin_types=[PluginType.DATA_SOURCE],
        description="ARFF files",
        pynomaly_compat=">=1.0,<2",  # the pynomaly versions this plugin works with
        config_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )


@hookimpl
def pynomaly_data_sources() -> list[SourceInfo]:
    return [
        SourceInfo(
            "arff",
            "ARFF (Weka) files, dense form",
            schemes=(SCHEME.rstrip(":"),),
            extensions=EXTENSIONS,
        )
    ]


@hookimpl
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> Path | None:
    if uri.startswith(SCHEME):
        path = Path(uri[len(SCHEME) :])
    elif uri.lower().endswith(EXTENSIONS):
        path = Path(uri)
    else:
        return None  # not ours: pynomaly asks the next data source plugin
    if not path.is_file():
        raise DataError(f"{uri}: no such file")
    return path


@hookimpl
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

    path: Path = connection.handle
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it: {exc}") from None
    attributes, rows = _parse(path, text)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(attributes)
    frame = pd.DataFrame(
        {name: list(values) for (name, _), values in zip(attributes, columns, strict=True)}
    )
    for name, kind in attributes:
        if kind == "numeric":
            try:
                frame[name] = pd.to_numeric(frame[name]).astype("float64")
            except ValueError as exc:
                raise DataError(f"{path}: numeric attribute {name!r}: {exc}") from None
    return frame


def _parse(path: Path, text: str) -> tuple[list[tuple[str, str]], list[list[Any]]]:
    """The attributes ``[(name, "numeric" | "text")]`` and the rows of an ARFF text."""
    attributes: list[tuple[str, str]] = []
    rows: list[list[Any]] = []
    in_data = False
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        if in_data:
            if line.startswith("{"):
                raise DataError(f"{path}: line {number}: sparse ARFF is not supported")
            values = next(csv.reader([line], quotechar="'", skipinitialspace=True))
            if len(values) != len(attributes):
                raise DataError(
                    f"{path}: line {number}: {len(values)} values for {len(attributes)} attributes"
                )
            rows.append([None if v.strip() == "?" else v.strip() for v in values])
            continue
        keyword = line.split(None, 1)[0].lower()
        if keyword == "@attribute":
            try:
                _, name, *kind = shlex.split(line)
            except ValueError as exc:
                raise DataError(f"{path}: line {number}: {exc}") from None
            if not kind:
                raise DataError(f"{path}: line {number}: attribute {name!r} has no type")
            numeric = kind[0].lower() in NUMERIC
            attributes.append((name, "numeric" if numeric else "text"))
        elif keyword == "@data":
            in_data = True
        elif keyword != "@relation":
            raise DataError(f"{path}: line {number}: unexpected {keyword!r}")
    if not in_data:
        raise DataError(f"{path}: not an ARFF file (no @data section)")
    if not attributes:
        raise DataError(f"{path}: no @attribute declared")
    return attributes, rows


@hookimpl
def pynomaly_get_schema(connection: Connection) -> dict[str, str]:
    frame = pynomaly_read_data(connection, {})
    return {str(column): str(dtype) for column, dtype in frame.dtypes.items()}


@hookimpl
def pynomaly_test_connection(connection: Connection) -> bool:
    path: Path = connection.handle
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataError(f"{path}: cannot read it: {exc.strerror}") from None
    return True


@hookimpl
def pynomaly_health_check() -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        return {"status": "unhealthy", "reason": "pandas is not installed"}
    return {"status": "healthy"}
