"""The built-in ``report`` plugin: one self-contained HTML file per detection result, parsed
with html.parser and rendered in a real headless Chromium when one is installed."""

from __future__ import annotations

import base64
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.builtin import outputs, report_page
from pynomaly.detection import plots
from pynomaly.errors import InputError, PluginError
from pynomaly.services import outputs as output_service

CHROMIUM = Path("/usr/bin/chromium")
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "screenshot_report.py"


def _screenshot_script():
    """scripts/screenshot_report.py as a module: the test and the manual check share it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("screenshot_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = {"summary", "scores", "top-anomalies", "feature-importance", "embedding", "roc"}


class Page(HTMLParser):
    """The parts of a report the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.top_rows: list[list[str]] = []
        self._in_top = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section":
            self.sections.append(attributes.get("id") or "")
        elif tag == "img":
            self.images.append(attributes)
        elif tag == "table" and "top" in (attributes.get("class") or "").split():
            self._in_top = True
        elif tag == "tr" and self._in_top:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.top_rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._in_top = False

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def decoded_images(page: Page) -> list[bytes]:
    out = []
    for img in page.images:
        src = img.get("src") or ""
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix), src[:60]
        out.append(base64.b64decode(src[len(prefix) :], validate=True))
    return out


@pytest.fixture(scope="module")
def labelled(labelled_wbc):
    return labelled_wbc


@pytest.fixture(scope="module")
def written(manager, labelled, tmp_path_factory):
    """The report of sample:wbc with ground truth."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    output_service.export_data(manager, labelled, str(out), "html", {"top": 12})
    return out


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


def test_report_has_every_section(written):
    out = written
    page = Page(out.read_text(encoding="utf-8"))
    assert set(page.sections) == SECTIONS
    assert page.sections[0] == "summary"
    text = " ".join(" ".join(page.text).split())
    assert "378" in text and "38" in text
    assert "sklearn:iforest" in text and "sample:wbc" in text
    assert "ROC AUC" in text and "Average precision" in text


def test_report_images_are_inline_pngs(written):
    out = written
    page = Page(out.read_text(encoding="utf-8"))
    images = decoded_images(page)
    assert len(images) == 4  # histogram, feature importance, embedding, ROC/PR curves
    for data, img in zip(images, page.images, strict=True):
        width, height = png_size(data)
        assert width >= 400 and height >= 200
        assert img.get("alt")


def test_report_has_no_external_reference(written):
    out = written
    html = out.read_text(encoding="utf-8")
    lowered = html.lower()
    for needle in ("http://", "https://", 'src="//', "href=", "url(", "@import", "<script"):
        assert needle not in lowered, needle
    page = Page(html)
    for tag, attributes in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "srcset", "action"):
            value = attributes.get(name)
            assert value is None or value.startswith("data:"), (tag, name, value[:40])
    assert "default-src 'none'" in html  # and the browser is told so


def test_top_table_lists_the_top_rows_with_contributions(written, labelled):
    out = written
    page = Page(out.read_text(encoding="utf-8"))
    assert len(page.top_rows) == 12
    top = labelled.top(12)
    contributors, _ = outputs.top_contributors(labelled, 12, 3)
    for rank, (row, idx) in enumerate(zip(page.top_rows, top.index, strict=True), start=1):
        assert row[0] == str(rank)
        assert row[1] == str(idx)
        assert float(row[2]) == pytest.approx(top.loc[idx, "anomaly_score"], rel=1e-4)
        assert row[3] == "anomaly"
        assert row[4] == str(int(labelled.y_true[idx]))
        names = [name for name, _ in contributors[rank - 1]]
        assert names, idx
        positions = [row[5].index(name) for name in names]
        assert positions == sorted(positions)  # largest contribution first


def test_roc_section_states_the_results_auc(manager, labelled, tmp_path):
    out = tmp_path / "r.html"
    output_service.export_data(manager, labelled, str(out), "html")
    assert f"ROC curve (AUC {labelled.metrics['roc_auc']:.3f})" in out.read_text(encoding="utf-8")


def test_report_maps_the_rows_in_two_dimensions(manager, labelled, tmp_path):
    """The embedding section: the rows the detector saw, anomalies highlighted, a sample of
    them (every anomaly kept) on big data; off with embedding=none; a bad method is an
    input error."""
    out = tmp_path / "e.html"
    output_service.export_data(manager, labelled, str(out), "html", {"sample": 100})
    page = Page(out.read_text(encoding="utf-8"))
    assert page.sections.index("embedding") == page.sections.index("feature-importance") + 1
    alts = [img.get("alt") for img in page.images]
    assert "scatter plot of the rows by principal component analysis, anomalies highlighted" in alts
    text = " ".join(" ".join(page.text).split())
    assert "anomalies in red. 100 of 378 rows: every anomaly and a random sample." in text
    coords, labels, _, total = plots.embedding(labelled, "pca", 100)
    assert (len(coords), int(labels.sum()), total) == (100, labelled.n_anomalies, 378)

    off = tmp_path / "off.html"
    output_service.export_data(manager, labelled, str(off), "html", {"embedding": "none"})
    assert set(Page(off.read_text(encoding="utf-8")).sections) == SECTIONS - {"embedding"}
    with pytest.raises(InputError, match="embedding='umap': expected pca, tsne or none"):
        output_service.export_data(manager, labelled, str(tmp_path / "x.html"), "html",
                                   {"embedding": "umap"})  # fmt: skip
    assert not (tmp_path / "x.html").exists()


def test_histogram_bins_put_the_threshold_on_an_edge(labelled):
    scores, threshold = labelled.scores, labelled.threshold
    edges = plots.bin_edges(scores, threshold)
    assert edges[0] <= scores.min() and edges[-1] >= scores.max()
    assert np.min(np.abs(edges - threshold)) < 1e-12
    assert 10 <= len(edges) - 1 <= 62
    outside = plots.bin_edges(scores, scores.max() + 1.0)  # a threshold above every score
    assert outside[0] == scores.min() and outside[-1] == scores.max()


# --------------------------------------------------------------------------------------------
# Variants: no ground truth, no data, hostile text, big data
# --------------------------------------------------------------------------------------------


def test_report_without_ground_truth_has_no_roc(manager, tmp_path):
    res = pynomaly.detect("sample:wbc", "sklearn:iforest", random_state=0, manager=manager)
    out = tmp_path / "plain.html"
    output_service.export_data(manager, res, str(out), "html")
    page = Page(out.read_text(encoding="utf-8"))
    assert set(page.sections) == SECTIONS - {"roc"}
    assert len(decoded_images(page)) == 3
    assert len(page.top_rows) == 20  # the default
    assert all(len(row) == 5 for row in page.top_rows)  # no label column


def test_report_without_input_data_still_renders(manager, labelled, tmp_path):
    bare = attrs.evolve(labelled, data=None)
    out = tmp_path / "bare.html"
    output_service.export_data(manager, bare, str(out), "html", {"top": 5})
    page = Page(out.read_text(encoding="utf-8"))
    assert set(page.sections) == SECTIONS
    assert len(decoded_images(page)) == 2  # histogram and ROC; no importance without data
    text = " ".join(page.text)
    assert "Feature importance is unavailable: the result holds no input data" in text
    assert "The embedding is unavailable: the result holds no input data" in text
    assert len(page.top_rows) == 5 and all(len(row) == 5 for row in page.top_rows)


def test_user_text_is_escaped(manager, tmp_path):
    rng = np.random.default_rng(3)
    hostile = ["<script>alert(1)</script>", "a&b", '"quoted"', "$x^2$"]
    frame = pd.DataFrame(rng.standard_normal((80, 4)), columns=hostile)
    frame.index = [f"<i>{i}</i>" for i in range(80)]
    frame.iloc[5] = [8.0, -8.0, 8.0, -8.0]
    res = pynomaly.detect(frame, "sklearn:iforest", random_state=0, manager=manager)
    res = attrs.evolve(res, source="<img src=x onerror=alert(1)>.csv")
    out = tmp_path / "hostile.html"
    output_service.export_data(manager, res, str(out), "html", {"title": "<b>Q3</b> & more"})
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "<img src=x" not in html and "<i>" not in html
    assert "<b>Q3</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Q3&lt;/b&gt; &amp; more" in html
    page = Page(html)
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "p",
        "code", "section", "h2", "div", "table", "thead", "tbody", "tr", "th", "td", "span",
        "figure", "img", "figcaption", "footer",
    }  # fmt: skip
    text = " ".join(page.text)
    assert "<script>alert(1)</script>" in text  # shown as text, intact
    assert page.top_rows[0][1] == "<i>5</i>"
    assert len(decoded_images(page)) == 3  # "$x^2$" did not break matplotlib


def test_script_ampersand_and_quotes_are_escaped_everywhere(manager, tmp_path, monkeypatch):
    """Column names, index values, the index name, the source, the title and an error
    message each hold ``<script>``, ``&`` and both quotes: the template escapes every one
    (autoescaping, nothing marked safe) and each still reads back intact as text."""
    assert report_page._template().environment.autoescape is True
    script = "<script>alert('x')</script>"
    columns = [f"{script} col", 'a & "b"', "it's", "plain"]
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.standard_normal((60, 4)), columns=columns)
    frame.index = pd.Index([f'{script}&"{i}"' for i in range(60)], name=f"{script} id")
    frame.iloc[7] = [9.0, -9.0, 9.0, -9.0]
    res = pynomaly.detect(frame, "sklearn:iforest", random_state=0, manager=manager)
    source = f"{script} & \"q\" 's'.csv"
    res = attrs.evolve(res, source=source)
    title = f'{script} & "T"'

    def broken_importance(*args, **kwargs):
        raise ValueError(f"{script} & 'why'")

    monkeypatch.setattr(pynomaly.detection.explain, "importance", broken_importance)
    out = tmp_path / "escaped.html"
    output_service.export_data(manager, res, str(out), "html", {"title": title})
    html = out.read_text(encoding="utf-8")

    assert "<script" not in html.lower()  # no raw script tag survives, anywhere
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "a &amp; &#34;b&#34;" in html and "it&#39;s" in html
    for raw in ('"q"', "'s'", '"b"', '"T"', "'why'"):
        assert raw not in html, raw  # quotes are entities too: no attribute can be closed
    page = Page(html)
    assert "script" not in {tag for tag, _ in page.tags}
    text = " ".join(" ".join(page.text).split())
    for shown in (
        title,  # <title> and <h1>
        f"sklearn:iforest on {source}",  # subtitle
        f"{script} id",  # the index name heads the index column
        ", ".join(columns),  # the summary's feature list
        f"Feature importance is unavailable: ValueError: {script} & 'why'",
    ):
        assert shown in text, shown
    assert page.top_rows[0][1] == f'{script}&"7"'
    assert any(name in page.top_rows[0][4] for name in columns)  # contributing features
    assert len(decoded_images(page)) == 2  # the histogram and the embedding; importance failed


def test_jinja2_is_imported_only_to_render(tmp_path):
    """Plugin modules are imported by every command that loads plugins: loading ``report``
    and calling its hooks must not pay for jinja2 (nor markupsafe); rendering does."""
    code = f"""
import sys
from pynomaly.plugin.manager import PluginManager
pm = PluginManager(autoload=False, plugins_dir={str(tmp_path / "none")!r})
assert "html" in {{o.name for o in pm.outputs()}}
assert "pynomaly.builtin.report" in sys.modules
print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"jinja2", "markupsafe"}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_template_ships_in_the_wheel(tmp_path):
    """A non-editable install has the template (package data): build the wheel from a copy
    of the sources (building writes into the tree) and render from the unpacked wheel."""
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(root / name, src / name)
    for name in ("pynomaly", "pynomaly_sklearn", "pynomaly_pyod"):
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(root / name, src / name, ignore=ignore)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist"),
         str(src)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("pynomaly-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert "pynomaly/builtin/templates/report.html.j2" in archive.namelist()
        assert "pynomaly/detection/templates/notebook.html.j2" in archive.namelist()
        archive.extractall(site)
    code = (
        "import pynomaly.builtin.report_page as r; print(r.__file__); "
        "print(r._template().filename)"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=site, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    module, template = proc.stdout.split()
    assert Path(module) == site / "pynomaly" / "builtin" / "report_page.py"
    assert Path(template) == site / "pynomaly" / "builtin" / "templates" / "report.html.j2"


def test_feature_importance_uses_a_sample_of_big_data(manager, tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.standard_normal((6000, 3)), columns=["a", "b", "c"])
    res = pynomaly.detect(
        frame, "sklearn:iforest", random_state=0, manager=manager, n_estimators=20
    )
    from pynomaly.detection import explain

    seen: list[int] = []
    real = explain.importance

    def spy(scorer, data):
        seen.append(len(data))
        return real(scorer, data)

    monkeypatch.setattr(explain, "importance", spy)
    out = tmp_path / "big.html"
    output_service.export_data(manager, res, str(out), "html")
    assert seen == [2000]
    assert "measured on 2,000 rows (a random sample)" in out.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def test_report_is_written_atomically_and_not_over_a_file(manager, labelled, tmp_path):
    out = tmp_path / "report.html"
    out.write_text("keep me")
    with pytest.raises(InputError, match="already exists"):
        output_service.export_data(manager, labelled, str(out), "html", {"top": 3})
    assert out.read_text() == "keep me"
    output_service.export_data(manager, labelled, str(out), "html", {"top": 3, "overwrite": True})
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_failing_report_leaves_nothing(manager, labelled, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(report_page, "_plot", boom)
    with pytest.raises(PluginError, match="renderer crashed"):
        output_service.export_data(manager, labelled, str(tmp_path / "r.html"), "html")
    assert list(tmp_path.iterdir()) == []


def test_html_is_listed_and_found_from_the_extension(manager):
    assert output_service.format_for(manager, "Report.HTML") == "html"
    infos = {o.name: o for o in output_service.outputs(manager)}
    assert infos["html"].plugin == "report"
    assert ".html" in infos["html"].extensions


# --------------------------------------------------------------------------------------------
# A real browser
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(written, tmp_path):
    from PIL import Image

    out = written
    png = tmp_path / "shot.png"
    _screenshot_script().screenshot(out, png, width=1200, height=2400)  # the documented check
    assert png.exists()
    with Image.open(png) as image:
        assert image.size == (1200, 2400)
        small = image.convert("RGB").resize((300, 600))
    colours = small.getcolors(maxcolors=300 * 600)
    assert colours is not None
    assert len(colours) > 50  # text, plots, badges: far from a blank page
    most = max(count for count, _ in colours)
    assert most < 0.9 * 300 * 600  # no single colour fills the page
    rgb = {colour for _, colour in colours}
    reds = [c for c in rgb if c[0] > 180 and c[1] < 120 and c[2] < 120]
    blues = [c for c in rgb if c[2] > 130 and c[0] < 110]
    assert reds and blues  # the anomaly and normal colours of the plots are painted
