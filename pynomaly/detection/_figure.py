"""The figure the library's plots return (imported with matplotlib, only when plotting)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class PlotFigure(Figure):
    """A matplotlib :class:`~matplotlib.figure.Figure` on the Agg canvas that shows itself in
    a notebook: IPython only registers its own display of figures once pyplot has been
    imported, and pynomaly never imports pyplot (it would change global state)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        FigureCanvasAgg(self)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", facecolor="white", metadata={"Software": None})
        return buffer.getvalue()
