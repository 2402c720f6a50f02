"""Processing: the preprocess chain, validation, processing steps, the postprocess chain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly.errors import InputError, PluginError
from pynomaly.services import listed
from pynomaly.types import ProcessingStep, StepInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.detection.results import DetectionResult
    from pynomaly.plugin.manager import PluginManager


def preprocess(pm: PluginManager, data: pd.DataFrame, source: str) -> pd.DataFrame:
    """``data`` through every plugin's ``pynomaly_preprocess``, each getting the previous
    plugin's output."""
    outputs = pm.call("pynomaly_preprocess", data=data, source=source)
    return outputs[-1] if outputs else data


def validate(pm: PluginManager, data: pd.DataFrame, source: str) -> None:
    """Every plugin's ``pynomaly_validate``; the first that raises rejects the data."""
    pm.call("pynomaly_validate", data=data, source=source)


def processing_steps(pm: PluginManager) -> list[StepInfo]:
    """Every processing step of every loaded plugin, with the plugin's name filled in."""
    return listed(pm, "pynomaly_processing_steps")


def create_step(
    pm: PluginManager, name: str, options: Mapping[str, Any] | None = None
) -> ProcessingStep:
    """An unfitted processing step from the first plugin that knows ``name``."""
    plugin, step = pm.answer("pynomaly_create_step", name=name, options=dict(options or {}))
    if step is None:
        import difflib

        known = sorted({i.name for i in processing_steps(pm)})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"unknown processing step {name!r}{hint} (known: {', '.join(known) or 'none'})"
        )
    if not isinstance(step, ProcessingStep):
        raise PluginError(
            plugin or "?", "pynomaly_create_step", "returned an object without fit/transform"
        )
    return step


def postprocess(pm: PluginManager, result: DetectionResult) -> DetectionResult:
    """``result`` through every plugin's ``pynomaly_postprocess``, chained."""
    outputs = pm.call("pynomaly_postprocess", result=result)
    return outputs[-1] if outputs else result
