"""Plots of a detection result with matplotlib: ``result.plot()``,
``result.plot_contributions(row)`` and :func:`plot_embedding`.

Each returns a matplotlib :class:`~matplotlib.figure.Figure`; with ``ax=`` it draws into that
Axes and returns its figure. matplotlib is imported when a plot is drawn, never with this
module, and only through its object API on the Agg canvas: pyplot and the global backend are
left alone (a plotting library must not change its host's backend). The HTML report draws its
score histogram and embedding with the same functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pynomaly.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pynomaly.detection.results import DetectionResult

NORMAL = "#4c78a8"
ANOMALY = "#e45756"
INK = "#1f2933"
EMBEDDINGS = ("pca", "tsne")

__all__ = ["plot_embedding"]


# --------------------------------------------------------------------------------------------
# Public
# --------------------------------------------------------------------------------------------


def scores(result: DetectionResult, *, ax: Axes | None = None, bins: int | None = None) -> Figure:
    """See :meth:`DetectionResult.plot`."""
    import numpy as np

    fig, ax = _canvas(ax, 8.0, 3.6)
    values = np.asarray(result.scores, dtype=np.float64)
    y = None if result.y_true is None else np.asarray(result.y_true, dtype=np.int64)
    draw_scores(ax, values, float(result.threshold), y, bins=bins)
    return fig


def contributions(
    result: DetectionResult, row: Any = None, *, ax: Axes | None = None, features: int = 15
) -> Figure:
    """See :meth:`DetectionResult.plot_contributions`."""
    position = _position(result, row)
    values = result._contributions_at([position]).iloc[0]
    shown = values.reindex(values.abs().sort_values(ascending=False, kind="stable").index)
    shown = shown.head(max(int(features), 1))[::-1]  # largest at the top
    fig, ax = _canvas(ax, 7.0, 0.32 * len(shown) + 1.4)
    style(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e3e7ec", linewidth=0.8)
    colors = [ANOMALY if v > 0 else NORMAL for v in shown.to_numpy()]
    ax.barh([mpl_text(str(n)) for n in shown.index], shown.to_numpy(), color=colors, height=0.7)
    ax.axvline(0.0, color=INK, linewidth=0.8)
    label = "anomaly" if result.labels[position] else "normal"
    name = mpl_text(str(result.index[position]))
    ax.set_title(
        f"row {name}: score {result.scores[position]:.4g} ({label})", color=INK, fontsize=11
    )
    ax.set_xlabel("score contribution (red raises the score, blue lowers it)", color=INK)
    ax.margins(y=0.02)
    return fig


def plot_embedding(
    result: DetectionResult,
    method: str = "pca",
    *,
    ax: Axes | None = None,
    sample: int = 3000,
    random_state: int = 0,
) -> Figure:
    """A 2-D map of the rows with the anomalies highlighted: the detector's input (the
    model's processing steps applied), standardized, then projected by scikit-learn's
    ``PCA`` (``method="pca"``) or embedded by ``TSNE`` (``"tsne"``; slower, keeps
    neighbourhoods rather than distances).

    At most ``sample`` rows are drawn: every anomaly, and normal rows picked at random with
    ``random_state``. Drawn into ``ax`` when given, else into a new figure; returns the
    figure. The result must hold its input data (a result of ``pynomaly.detect``, not one
    combined from batches).
    """
    coords, labels, axes_names, total = embedding(result, method, sample, random_state)
    fig, ax = _canvas(ax, 6.4, 5.2)
    draw_embedding(ax, coords, labels, axes_names, total)
    return fig


# --------------------------------------------------------------------------------------------
# Computing
# --------------------------------------------------------------------------------------------


def embedding(
    result: DetectionResult, method: str, sample: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray, tuple[str, str], int]:
    """The 2-D coordinates of the sampled rows, their 0/1 labels, the axis names and the
    number of rows in all."""
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    method = str(method).lower()
    if method not in EMBEDDINGS:
        raise InputError(f"embedding method {method!r}: expected one of {', '.join(EMBEDDINGS)}")
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 2:
        raise InputError(f"embedding sample must be an int >= 2, got {sample!r}")
    data = result._data()
    labels = np.asarray(result.labels)
    positions = _sample(labels, sample, random_state)
    X = result._scoring().matrix(data.iloc[positions])
    X = StandardScaler().fit_transform(X)  # features in their own units would dominate
    dims = min(2, X.shape[1], X.shape[0])
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=dims, random_state=random_state).fit(X)
        coords = pca.transform(X)
        share = pca.explained_variance_ratio_
        names = tuple(f"PCA {i + 1} ({share[i]:.0%} of variance)" for i in range(dims))
    else:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(1.0, (X.shape[0] - 1) / 3)))
        coords = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=random_state
        ).fit_transform(X)
        dims, names = 2, ("t-SNE 1", "t-SNE 2")
    if dims < 2:  # one feature: a line
        coords = np.column_stack([coords[:, :1], np.zeros(len(coords))])
        names = (names[0], "")
    return coords, labels[positions], (names[0], names[1]), len(labels)


def _sample(labels: np.ndarray, sample: int, random_state: int) -> np.ndarray:
    """Every row when there are at most ``sample``; else every anomaly (at most ``sample``)
    and random normal rows up to ``sample``, in row order."""
    import numpy as np

    n = len(labels)
    if n <= sample:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    anomalies = np.flatnonzero(labels)
    if len(anomalies) > sample:
        anomalies = rng.choice(anomalies, size=sample, replace=False)
    normal = np.flatnonzero(labels == 0)
    rest = rng.choice(normal, size=min(len(normal), sample - len(anomalies)), replace=False)
    return np.sort(np.concatenate([anomalies, rest]))


def _position(result: DetectionResult, row: Any) -> int:
    """The position of index label ``row`` (its first row), or of the top-scoring row."""
    import numpy as np

    if row is None:
        return int(np.argmax(result.scores))
    try:
        found = result.index.get_loc(row)
    except (KeyError, TypeError):
        raise InputError(f"row {row!r} is not in the result's index") from None
    if isinstance(found, slice):
        return int(found.start or 0)
    if isinstance(found, np.ndarray):  # a duplicated label: its first row
        return int(np.flatnonzero(found)[0])
    return int(found)


# --------------------------------------------------------------------------------------------
# Drawing (shared with the HTML report)
# --------------------------------------------------------------------------------------------


def _canvas(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.figure
        while fig.figure is not fig:  # a subfigure's root figure
            fig = fig.figure
        return fig, ax
    from pynomaly.detection._figure import PlotFigure

    fig = PlotFigure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def style(ax: Axes) -> None:
    """The report's look: no top and right spines, light grid behind the data."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#9aa5b1")
    ax.tick_params(colors=INK, labelsize=10)
    ax.grid(axis="y", color="#e3e7ec", linewidth=0.8)
    ax.set_axisbelow(True)


def mpl_text(text: str) -> str:
    return text.replace("$", r"\$")  # no mathtext from column names


def bin_edges(scores: Any, threshold: float, bins: int | None = None) -> Any:
    """Equal-width histogram bins over ``scores`` with the threshold on a bin edge (when it
    lies inside the range), so that no bar mixes normal rows and anomalies."""
    import numpy as np

    n = bins or int(min(60, max(10, np.sqrt(len(scores)))))
    lo, hi = float(np.min(scores)), float(np.max(scores))
    if not lo < threshold < hi:
        return np.histogram_bin_edges(scores, bins=n)
    width = (hi - lo) / n
    below = int(np.ceil((threshold - lo) / width))
    above = int(np.ceil((hi - threshold) / width))
    edges = threshold + width * np.arange(-below, above + 1)
    edges[-1] = max(edges[-1], hi)  # rounding must not leave the maximum out
    return edges


def draw_scores(
    ax: Axes, scores: Any, threshold: float, y: Any, *, bins: int | None = None
) -> None:
    """The score histogram, coloured by ground truth ``y`` (or by side of the threshold when
    ``y`` is ``None``), with the threshold as a dashed line."""
    import numpy as np

    style(ax)
    edges = bin_edges(scores, threshold, bins)
    if y is not None:
        ax.hist(
            [scores[y == 0], scores[y == 1]],
            bins=edges,
            stacked=True,
            color=[NORMAL, ANOMALY],
            label=["label 0 (normal)", "label 1 (anomaly)"],
            edgecolor="white",
            linewidth=0.4,
        )
    else:
        counts, edges = np.histogram(scores, bins=edges)
        centers = (edges[:-1] + edges[1:]) / 2
        colors = [ANOMALY if c > threshold else NORMAL for c in centers]
        ax.bar(
            edges[:-1],
            counts,
            width=np.diff(edges),
            align="edge",
            color=colors,
            edgecolor="white",
            linewidth=0.4,
        )
    line = ax.axvline(
        threshold, color=INK, linestyle="--", linewidth=1.4, label=f"threshold {threshold:.4g}"
    )
    ax.set_xlabel("anomaly score (higher = more anomalous)", color=INK)
    ax.set_ylabel("rows", color=INK)
    if y is None:
        from matplotlib.patches import Patch

        handles = [
            Patch(color=NORMAL, label="normal (at or below the threshold)"),
            Patch(color=ANOMALY, label="anomaly (above the threshold)"),
            line,
        ]
        ax.legend(handles=handles, frameon=False, fontsize=9)
    else:
        ax.legend(frameon=False, fontsize=9)


def draw_embedding(
    ax: Axes, coords: Any, labels: Any, names: tuple[str, str], total: int
) -> None:
    """Normal rows as small blue dots, anomalies as red dots on top."""
    style(ax)
    ax.grid(axis="x", color="#e3e7ec", linewidth=0.8)
    normal, anomaly = coords[labels == 0], coords[labels == 1]
    ax.scatter(
        normal[:, 0], normal[:, 1], s=9, color=NORMAL, alpha=0.55, linewidths=0,
        label=f"normal ({len(normal):,})",
    )  # fmt: skip
    ax.scatter(
        anomaly[:, 0], anomaly[:, 1], s=26, color=ANOMALY, edgecolors="white", linewidths=0.5,
        label=f"anomaly ({len(anomaly):,})", zorder=3,
    )  # fmt: skip
    ax.set_xlabel(names[0], color=INK)
    ax.set_ylabel(names[1], color=INK)
    shown = len(coords)
    if shown < total:
        ax.set_title(f"{shown:,} of {total:,} rows (every anomaly)", color=INK, fontsize=10)
    ax.legend(frameon=False, fontsize=9, loc="best")
