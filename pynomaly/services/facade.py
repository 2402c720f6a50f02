"""The service methods :class:`~pynomaly.PluginManager` had in pynomaly 1.0, deprecated.

In 1.0 the manager was also a facade over every hook (``pm.fit(...)``, ``pm.connect(...)``,
``pm.format_output(...)``). Those services now live in :mod:`pynomaly.services`; the methods
below keep code written for 1.0 (plugin test suites among it) working and say what to use
instead. They will be removed in pynomaly 2.0.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from pynomaly.detection.results import DetectionResult
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import (
        Connection,
        DetectorInfo,
        FitResult,
        OutputInfo,
        ProcessingStep,
        SourceInfo,
        StepInfo,
    )


def _deprecated(method: str, module: str, function: str | None = None) -> None:
    warnings.warn(
        f"PluginManager.{method}() is deprecated since pynomaly 1.1 and will be removed in 2.0; "
        f"use pynomaly.services.{module}.{function or method}(pm, ...) instead",
        DeprecationWarning,
        stacklevel=3,
    )


def _pm(obj: object) -> PluginManager:
    return cast("PluginManager", obj)


class ServiceMethods:
    """Deprecated 1.0 methods of :class:`~pynomaly.PluginManager` (see the module docstring)."""

    # --- detectors ---------------------------------------------------------------------------

    def detectors(self) -> list[DetectorInfo]:
        from pynomaly.services import detectors

        _deprecated("detectors", "detectors")
        return detectors.detectors(_pm(self))

    def resolve_detector(self, detector_id: str) -> DetectorInfo:
        from pynomaly.services import detectors

        _deprecated("resolve_detector", "detectors", "resolve")
        return detectors.resolve(_pm(self), detector_id)

    def validate_parameters(
        self, detector_id: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pynomaly.services import detectors

        _deprecated("validate_parameters", "detectors")
        return detectors.validate_parameters(_pm(self), detector_id, params)

    def fit(
        self,
        detector_id: str,
        X: np.ndarray,
        params: Mapping[str, Any],
        contamination: float,
        random_state: int | None,
    ) -> FitResult:
        from pynomaly.services import detectors

        _deprecated("fit", "detectors")
        return detectors.fit(_pm(self), detector_id, X, params, contamination, random_state)

    def score(self, detector_id: str, state: Any, X: np.ndarray) -> np.ndarray:
        from pynomaly.services import detectors

        _deprecated("score", "detectors")
        return detectors.score(_pm(self), detector_id, state, X)

    def explain(self, detector_id: str, state: Any, X: np.ndarray) -> np.ndarray:
        from pynomaly.services import detectors

        _deprecated("explain", "detectors")
        return detectors.explain(_pm(self), detector_id, state, X)

    # --- data --------------------------------------------------------------------------------

    def data_sources(self) -> list[SourceInfo]:
        from pynomaly.services import data

        _deprecated("data_sources", "data")
        return data.data_sources(_pm(self))

    def connect(
        self, uri: str, options: Mapping[str, Any] | None = None
    ) -> Connection:
        from pynomaly.services import data

        _deprecated("connect", "data")
        return data.connect(_pm(self), uri, options)

    def read_data(
        self, connection: Connection, query: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        from pynomaly.services import data

        _deprecated("read_data", "data")
        return data.read_data(_pm(self), connection, query)

    def read_batches(
        self,
        connection: Connection,
        batch_size: int,
        query: Mapping[str, Any] | None = None,
    ) -> Iterator[pd.DataFrame]:
        from pynomaly.services import data

        _deprecated("read_batches", "data")
        return data.read_batches(_pm(self), connection, batch_size, query)

    def write_data(
        self,
        connection: Connection,
        data: pd.DataFrame,
        destination: str,
        options: Mapping[str, Any] | None = None,
    ) -> bool:
        from pynomaly.services import data as service

        _deprecated("write_data", "data")
        return service.write_data(_pm(self), connection, data, destination, options)

    def get_schema(self, connection: Connection) -> dict[str, str]:
        from pynomaly.services import data

        _deprecated("get_schema", "data")
        return data.get_schema(_pm(self), connection)

    def test_connection(self, connection: Connection) -> bool:
        from pynomaly.services import data

        _deprecated("test_connection", "data")
        return data.test_connection(_pm(self), connection)

    # --- processing --------------------------------------------------------------------------

    def preprocess(self, data: pd.DataFrame, source: str) -> pd.DataFrame:
        from pynomaly.services import processing

        _deprecated("preprocess", "processing")
        return processing.preprocess(_pm(self), data, source)

    def validate(self, data: pd.DataFrame, source: str) -> None:
        from pynomaly.services import processing

        _deprecated("validate", "processing")
        processing.validate(_pm(self), data, source)

    def processing_steps(self) -> list[StepInfo]:
        from pynomaly.services import processing

        _deprecated("processing_steps", "processing")
        return processing.processing_steps(_pm(self))

    def create_step(
        self, name: str, options: Mapping[str, Any] | None = None
    ) -> ProcessingStep:
        from pynomaly.services import processing

        _deprecated("create_step", "processing")
        return processing.create_step(_pm(self), name, options)

    def postprocess(self, result: DetectionResult) -> DetectionResult:
        from pynomaly.services import processing

        _deprecated("postprocess", "processing")
        return processing.postprocess(_pm(self), result)

    # --- outputs -----------------------------------------------------------------------------

    def outputs(self) -> list[OutputInfo]:
        from pynomaly.services import outputs

        _deprecated("outputs", "outputs")
        return outputs.outputs(_pm(self))

    def format_output(
        self,
        result: DetectionResult,
        fmt: str,
        options: Mapping[str, Any] | None = None,
    ) -> str:
        from pynomaly.services import outputs

        _deprecated("format_output", "outputs")
        return outputs.format_output(_pm(self), result, fmt, options)

    def export_data(
        self,
        result: DetectionResult,
        destination: str,
        fmt: str,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        from pynomaly.services import outputs

        _deprecated("export_data", "outputs")
        outputs.export_data(_pm(self), result, destination, fmt, options)

    def send_notification(
        self,
        message: str,
        result: DetectionResult | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, str]]:
        from pynomaly.services import outputs

        _deprecated("send_notification", "outputs")
        return outputs.send_notification(_pm(self), message, result, options)
