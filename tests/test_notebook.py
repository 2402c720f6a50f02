"""Results and models in a notebook: a short ``repr``, an escaped, self-contained
``_repr_html_`` (rendered in headless Chromium when installed), and the plots
``result.plot()``, ``result.plot_contributions(row)`` and ``pynomaly.plot_embedding``."""

from __future__ import annotations

import pickle
import subprocess
import sys
from html.parser import HTMLParser

import attrs
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import pynomaly
from pynomaly.errors import DataError, InputError
from tests.test_report import CHROMIUM, PNG_MAGIC, _screenshot_script

HOSTILE = ["<script>alert(1)</script>", "a&b", '"quoted"', "$x^2$"]


class Tags(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def planted_result(manager):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((300, 4)), columns=list("abcd"))
    frame.loc[5] = [9.0, 0.0, 0.0, 0.0]  # an anomaly because of a alone
    return pynomaly.detect(frame, "sklearn:iforest", random_state=0, manager=manager)


@pytest.fixture(scope="module")
def hostile_result(manager):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.standard_normal((80, 4)), columns=HOSTILE)
    frame.index = pd.Index([f"<i>{i}</i>" for i in range(80)], name="<b>id</b>")
    frame.iloc[5] = [8.0, -8.0, 8.0, -8.0]
    res = pynomaly.detect(frame, "sklearn:iforest", random_state=0, manager=manager)
    return attrs.evolve(res, source="<img src=x onerror=alert(1)>.csv")


# --------------------------------------------------------------------------------------------
# repr
# --------------------------------------------------------------------------------------------


def test_repr_is_short_on_a_million_rows(planted_result):
    n = 1_000_000
    rng = np.random.default_rng(1)
    data = pd.DataFrame(rng.standard_normal((n, 4)), columns=list("abcd"))
    scores = rng.random(n)
    big = attrs.evolve(
        planted_result,
        scores=scores,
        labels=(scores > 0.9).astype(np.int8),
        index=pd.RangeIndex(n),
        data=data,
        source="/data/" + "x" * 500 + ".csv",
    )
    text = repr(big)
    assert len(text) < 250, text
    assert text.startswith("DetectionResult(detector='sklearn:iforest', rows=1000000, ")
    assert f"anomalies={big.n_anomalies}" in text and "array" not in text
    html = big._repr_html_()
    assert len(html) < 12_000
    assert "1,000,000" in html
    model = repr(big.model)
    assert model == (
        f"Model(detector='sklearn:iforest', features=4, threshold={big.model.threshold:.6g}, "
        "steps=[])"
    )


def test_model_repr_names_the_steps(manager):
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0, 2.0], "c": list("xyxyx")})
    model = pynomaly.fit(frame, steps=["impute", "encode"], manager=manager)
    expected = f"features=3, threshold={model.threshold:.6g}, steps=[impute, encode])"
    assert repr(model).endswith(expected)
    html = model._repr_html_()
    assert "Impute(strategy=&#39;median&#39;)" in html and "sklearn_adapter" in html


def test_models_saved_before_a_field_existed_load_with_its_default(planted_result):
    state = planted_result.model.__getstate__()
    del state["preparation"], state["text_columns"]
    old = type(planted_result.model).__new__(type(planted_result.model))
    old.__setstate__(state)
    assert old.preparation is None and old.text_columns == ()
    clone = pickle.loads(pickle.dumps(planted_result.model))
    assert repr(clone) == repr(planted_result.model)


# --------------------------------------------------------------------------------------------
# _repr_html_
# --------------------------------------------------------------------------------------------


def test_repr_html_shows_summary_top_rows_and_contributions(planted_result):
    html = planted_result._repr_html_()
    page = Tags(html)
    text = " ".join(" ".join(page.text).split())
    assert "Rows 300" in text and f"Anomalies {planted_result.n_anomalies} (10.0%)" in text
    assert "Top 5 anomalies" in text
    table = text[text.index("Top 5 anomalies") :].split()
    start = table.index("features") + 1  # after the headers: rank 1 is row 5 ...
    assert table[start : start + 4] == ["1", "5", f"{planted_result.scores[5]:.5g}", "yes"]
    assert table[start + 4] == "a"  # ... because of a
    assert "Parameters" in text and "contamination = 0.1" in text


def test_repr_html_escapes_hostile_text(hostile_result):
    for html in (hostile_result._repr_html_(), hostile_result.model._repr_html_()):
        assert "<script" not in html.lower() and "<img" not in html and "<i>" not in html
        page = Tags(html)
        assert {tag for tag, _ in page.tags} <= {
            "div", "style", "table", "tr", "th", "td", "span", "details", "summary", "ul",
            "li",
        }  # fmt: skip
        for _, attributes in page.tags:
            assert set(attributes) <= {"class", "style", "open"}
        lowered = html.lower()
        for needle in ("http://", "https://", "url(", "@import"):
            assert needle not in lowered, needle
    html = hostile_result._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = " ".join(Tags(html).text)
    assert "<img src=x onerror=alert(1)>.csv" in text  # shown intact, as text
    assert "<i>5</i>" in text and "<b>id</b>" in text  # the index name heads its column


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium (apt-get install chromium)")
def test_repr_html_renders_in_headless_chromium(hostile_result, planted_result, tmp_path):
    from PIL import Image

    page = tmp_path / "notebook.html"
    body = hostile_result._repr_html_() + planted_result.model._repr_html_()
    page.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>',
        encoding="utf-8",
    )
    png = tmp_path / "notebook.png"
    _screenshot_script().screenshot(page, png, width=900, height=700)
    with Image.open(png) as image:
        small = image.convert("RGB").resize((225, 175))
    colours = small.getcolors(maxcolors=225 * 175)
    assert colours is not None and len(colours) > 20  # text and bars, not a blank page
    rgb = {colour for _, colour in colours}
    assert [c for c in rgb if c[0] > 180 and c[1] < 150 and c[2] < 150]  # red bars painted


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def test_plot_draws_the_threshold_and_colours_by_label(planted_result, labelled_wbc):
    fig = planted_result.plot()
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    (line,) = ax.lines
    assert line.get_xdata()[0] == pytest.approx(planted_result.threshold)
    assert line.get_linestyle() == "--"
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == len(planted_result.scores)  # every row in a bar
    assert fig._repr_png_()[:8] == PNG_MAGIC  # shows in a notebook without pyplot

    fig = labelled_wbc.plot(bins=20)
    (ax,) = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "label 0 (normal)", "label 1 (anomaly)", f"threshold {labelled_wbc.threshold:.4g}"
    ]
    assert sum(p.get_height() for p in ax.patches if p.get_facecolor()[0] > 0.8) <= 21


def test_plot_contributions_shows_one_rows_contributions(planted_result):
    fig = planted_result.plot_contributions()  # the top row: 5
    (ax,) = fig.axes
    assert ax.get_title().startswith("row 5: score")
    values = planted_result.contributions(1).iloc[0]
    bars = {t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches,
                                                        strict=True)}  # fmt: skip
    assert bars == pytest.approx(values.to_dict())
    assert max(bars, key=bars.get) == "a"
    fig = planted_result.plot_contributions(17, features=2)
    assert len(fig.axes[0].patches) == 2
    with pytest.raises(InputError, match="row 'nope' is not in the result's index"):
        planted_result.plot_contributions("nope")


def test_plots_draw_into_a_given_axes(planted_result):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    mine = Figure()
    FigureCanvasAgg(mine)
    left, right = mine.subplots(1, 2)
    assert planted_result.plot(ax=left) is mine
    assert pynomaly.plot_embedding(planted_result, ax=right) is mine
    assert len(mine.axes) == 2 and left.lines and right.collections


def test_plot_embedding_highlights_every_anomaly(planted_result, manager):
    for method in ("pca", "tsne"):
        fig = pynomaly.plot_embedding(planted_result, method)
        (ax,) = fig.axes
        normal, anomaly = ax.collections
        assert len(anomaly.get_offsets()) == planted_result.n_anomalies
        assert len(normal.get_offsets()) == 300 - planted_result.n_anomalies
    assert ax.get_xlabel() == "t-SNE 1"
    fig = pynomaly.plot_embedding(planted_result, sample=100)
    normal, anomaly = fig.axes[0].collections
    assert len(anomaly.get_offsets()) == planted_result.n_anomalies  # all kept
    assert len(normal.get_offsets()) + len(anomaly.get_offsets()) == 100
    assert fig.axes[0].get_xlabel().startswith("PCA 1 (")
    with pytest.raises(InputError, match="embedding method 'umap'"):
        pynomaly.plot_embedding(planted_result, "umap")
    with pytest.raises(DataError, match="lacks"):
        pynomaly.plot_embedding(attrs.evolve(planted_result, data=None))


def test_plotting_leaves_pyplot_and_the_backend_alone(tmp_path):
    code = """
import sys, matplotlib
backend = dict.__getitem__(matplotlib.rcParams, "backend")  # unresolved: no pyplot import
import numpy as np, pynomaly
res = pynomaly.detect(np.random.default_rng(0).standard_normal((60, 3)), random_state=0)
figs = [res.plot(), res.plot_contributions(), pynomaly.plot_embedding(res)]
assert dict.__getitem__(matplotlib.rcParams, "backend") == backend
print("matplotlib.pyplot" in sys.modules, [type(f).__mro__[1].__name__ for f in figs])
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False ['Figure', 'Figure', 'Figure']"


def test_top_rows_of_many_scores_equal_a_full_stable_sort(planted_result):
    """The top rows of a big result are found without sorting every score: the same rows,
    ties in row order."""
    rng = np.random.default_rng(2)
    for scores in (rng.random(100_000), rng.integers(0, 50, 100_000).astype(float)):
        big = attrs.evolve(planted_result, scores=scores, data=None)
        for n in (1, 10, 999):
            expected = np.argsort(-scores, kind="stable")[:n]
            np.testing.assert_array_equal(big._top_positions(n), expected)
