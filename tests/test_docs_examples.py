"""The ```python blocks of the documentation run, like doctests: the docs must not rot.

Documents: docs/writing-plugins.md, docs/plugins.md, docs/data.md and README.md. Conventions:

* Every ```python block is executed, in a temporary working directory, unless an HTML comment
  ``<!-- no-exec: reason -->`` stands right before it.
* A block whose first line is a comment naming a file (``# pynomaly_maxz/__init__.py``) is a
  piece of that file; the pieces of one file in one document are joined, in order, into one
  module (named after the path: ``pynomaly_maxz``). When the path is under ``examples/``, the
  pieces must be that file, verbatim and complete: the guide shows the example's real code.
* A module with ``@hookimpl`` functions defines a plugin: it is registered with an isolated
  ``PluginManager(autoload=False, plugins_dir="")`` and exercised — its health check, a detect,
  a fit, scores of new rows and explain for each of its detectors, each of its output formats.
* Other blocks use pynomaly. They find ``df``, ``train_df`` and ``new_df`` predefined
  (scikit-learn's breast-cancer data: all rows, the first 400, the rest), the document's
  plugin modules importable, and a default manager with the installed plugins (the adapters)
  and the document's plugins.
"""

from __future__ import annotations
import __future__

import ast
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly import hookimpl
from pynomaly.detection import api
from pynomaly.services import detectors as detector_service
from pynomaly.services import outputs as output_service
from pynomaly.types import DetectorInfo, FitResult

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("docs/writing-plugins.md", "docs/plugins.md", "docs/data.md", "README.md")

FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
NO_EXEC = re.compile(r"<!--\s*no-exec:\s*(.*?)\s*-->\s*\Z", re.S)
FILE_HEADER = re.compile(r"#\s*([\w./-]+\.\w+)\s*$")


@dataclass
class Block:
    document: str
    line: int  # of the first line of code
    language: str
    code: str
    no_exec: str | None  # the reason, if opted out
    path: str | None  # the file it is a piece of, from its first line

    @property
    def body(self) -> str:
        """The code without the file-name comment."""
        return self.code.split("\n", 1)[1] if self.path else self.code


@dataclass
class Unit:
    """What is executed as one: a standalone block, or the pieces of one file."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def first(self) -> Block:
        return self.blocks[0]

    @property
    def id(self) -> str:
        return f"{self.first.document}:{self.first.line}"

    @property
    def module_name(self) -> str:
        path = self.first.path
        if path is None:
            return f"docs_block_{self.first.line}"
        parts = path.removesuffix(".py").split("/")
        while len(parts) > 1 and not all(p.isidentifier() for p in parts):
            parts = parts[1:]  # examples/pynomaly-robustz/pynomaly_robustz -> pynomaly_robustz
        if parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join(parts)

    def tree(self) -> ast.Module:
        return ast.parse("\n".join(b.body for b in self.blocks))

    def defines_plugin(self) -> bool:
        for node in self.tree().body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    if getattr(target, "id", getattr(target, "attr", "")) == "hookimpl":
                        return True
        return False


def _blocks(document: str) -> list[Block]:
    text = (ROOT / document).read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        opt_out = NO_EXEC.search(text[: match.start()])
        first_line = match.group(2).split("\n", 1)[0]
        header = FILE_HEADER.fullmatch(first_line)
        found.append(
            Block(
                document=document,
                line=text.count("\n", 0, match.start(2)) + 1,
                language=match.group(1),
                code=match.group(2),
                no_exec=opt_out.group(1) if opt_out else None,
                path=header.group(1) if header else None,
            )
        )
    return found


def _units(document: str) -> list[Unit]:
    """The executable units of a document, in order (a file's unit where its first piece is)."""
    units: list[Unit] = []
    by_path: dict[str, Unit] = {}
    for block in _blocks(document):
        if block.language != "python" or block.no_exec is not None:
            continue
        if block.path is None:
            units.append(Unit([block]))
        elif block.path in by_path:
            by_path[block.path].blocks.append(block)
        else:
            by_path[block.path] = Unit([block])
            units.append(by_path[block.path])
    return units


BLOCKS = [b for doc in DOCUMENTS for b in _blocks(doc)]
UNITS = {doc: _units(doc) for doc in DOCUMENTS}
ALL_UNITS = [u for doc in DOCUMENTS for u in UNITS[doc]]
EXCERPTS = [b for b in BLOCKS if b.path and b.path.startswith("examples/")]


# --------------------------------------------------------------------------------------------
# Executing
# --------------------------------------------------------------------------------------------


def _module(unit: Unit) -> types.ModuleType:
    """Execute a unit's pieces into a fresh module; line numbers in errors are the document's."""
    module = types.ModuleType(unit.module_name)
    module.__file__ = f"{unit.first.document} ({unit.first.path or 'block'})"
    flags = 0
    for block in unit.blocks:
        offset = block.line if block.path else block.line - 1  # the header line is dropped
        source = "\n" * offset + block.body
        code = compile(source, block.document, "exec", flags=flags, dont_inherit=True)
        flags |= code.co_flags & __future__.annotations.compiler_flag  # for the next pieces
        exec(code, module.__dict__)
    return module


def _plugin_name(module: types.ModuleType) -> str:
    metadata = getattr(module, "pynomaly_plugin_metadata", None)
    if metadata is not None:
        meta = metadata()
        return meta["name"] if isinstance(meta, dict) else meta.name
    return module.__name__


class MeanDistance:
    """A helper detector, so that output plugins of the docs have results to format."""

    @hookimpl
    def pynomaly_detectors(self):
        return [DetectorInfo("docshelper:distance", "distance to the column means")]

    @hookimpl
    def pynomaly_fit(self, detector_id, X):
        if detector_id != "docshelper:distance":
            return None
        mean = X.mean(axis=0)
        return FitResult(state=mean, training_scores=self.pynomaly_score(detector_id, mean, X))

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id != "docshelper:distance":
            return None
        return np.sqrt(((X - state) ** 2).sum(axis=1))


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).data
    return {"df": df, "train_df": df.iloc[:400], "new_df": df.iloc[400:]}


def _exercise(module: types.ModuleType, frames: dict[str, pd.DataFrame], where: Path) -> None:
    """Register a plugin defined by the docs in an isolated manager and use all it offers."""
    df, train_df, new_df = frames["df"], frames["train_df"], frames["new_df"]
    before = df.copy()
    pm = pynomaly.PluginManager(autoload=False, plugins_dir="")
    name = pm.register(module, _plugin_name(module))
    pm.register(MeanDistance(), "docshelper")
    assert pm.health_check(name)["status"] == "healthy"

    ours = [d for d in detector_service.detectors(pm) if d.plugin == name]
    results = []
    for info in ours:
        assert info.available, f"{info.id}: {info.reason}"
        result = pynomaly.detect(df, info.id, manager=pm)
        assert result.scores.shape == (len(df),) and np.isfinite(result.scores).all()
        assert 0 < result.labels.sum() < len(df)
        model = pynomaly.fit(train_df, info.id, manager=pm)
        assert model.score(new_df, manager=pm).shape == (len(new_df),)
        importance = pynomaly.explain(model, new_df, manager=pm)
        assert importance.shape == (df.shape[1],) and (importance >= 0).all()
        for param, spec in info.params.items():  # every default is a valid parameter
            pynomaly.validate_parameters(info.id, {param: spec.default}, manager=pm)
        results.append(result)
    results = results or [pynomaly.detect(df, "docshelper:distance", manager=pm)]

    for out in [o for o in output_service.outputs(pm) if o.plugin == name]:
        text = output_service.format_output(pm, results[0], out.name, {"top": 5})
        assert isinstance(text, str) and text
        for extension in out.extensions:
            destination = where / f"result{extension}"
            output_service.export_data(pm, results[0], str(destination), out.name)
            assert destination.stat().st_size > 0
            assert sorted(p.name for p in where.iterdir()) == [destination.name]  # no temp file
            destination.unlink()
    pd.testing.assert_frame_equal(df, before)  # the plugin left the data alone
    pm.shutdown()


@pytest.fixture
def doc_world(request, frames, monkeypatch, tmp_path):
    """Run in a temporary directory, with the document's plugin modules importable and
    registered in pynomaly's default manager, and df / train_df / new_df at hand."""
    document = request.param
    monkeypatch.chdir(tmp_path)
    pm = pynomaly.PluginManager(plugins_dir="")
    for unit in UNITS[document]:
        if unit.first.path and unit.defines_plugin():
            module = _module(unit)
            monkeypatch.setitem(sys.modules, unit.module_name, module)
            pm.register(module, _plugin_name(module))
    api.set_default_manager(pm)
    return {name: frame.copy() for name, frame in frames.items()}


def _params(kind: str) -> list[Any]:
    params = []
    for doc in DOCUMENTS:
        for unit in UNITS[doc]:
            is_plugin = unit.defines_plugin()
            if (kind == "plugin") == is_plugin:
                params.append(pytest.param(doc, unit, id=unit.id))
    return params


@pytest.mark.parametrize(("document", "unit"), _params("plugin"))
def test_plugin_defined_in_the_docs_works(document, unit, frames, tmp_path):
    module = _module(unit)
    where = tmp_path / "out"
    where.mkdir()
    _exercise(module, frames, where)


@pytest.mark.parametrize(("doc_world", "unit"), _params("usage"), indirect=["doc_world"])
def test_usage_block_runs(doc_world, unit):
    namespace = {"__name__": "__docs__", **doc_world}
    block = unit.first
    source = "\n" * (block.line - 1) + block.code
    exec(compile(source, block.document, "exec", dont_inherit=True), namespace)


# --------------------------------------------------------------------------------------------
# The guide shows the example's real code
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", EXCERPTS, ids=[f"{b.document}:{b.line}" for b in EXCERPTS])
def test_excerpt_is_the_example_verbatim(block):
    path = ROOT / block.path
    assert path.is_file(), f"{block.document}:{block.line}: {block.path} does not exist"
    assert block.body in path.read_text(encoding="utf-8"), (
        f"{block.document}:{block.line}: this block differs from {block.path}; copy it again"
    )


def test_excerpts_cover_the_example_files_in_order():
    by_file: dict[tuple[str, str], list[Block]] = {}
    for block in EXCERPTS:
        by_file.setdefault((block.document, block.path or ""), []).append(block)
    assert by_file, "docs/writing-plugins.md shows no code of examples/"
    for (document, path), blocks in by_file.items():
        lines = [line for b in blocks for line in b.body.splitlines() if line.strip()]
        text = (ROOT / path).read_text(encoding="utf-8")
        expected = [line for line in text.splitlines() if line.strip()]
        assert lines == expected, f"{document}: the blocks of {path} are not the whole file"


# --------------------------------------------------------------------------------------------
# The collection itself
# --------------------------------------------------------------------------------------------


def test_blocks_were_found():
    python = [b for b in BLOCKS if b.language == "python"]
    for doc in DOCUMENTS:
        assert [b for b in python if b.document == doc], f"{doc} has no python block"
    assert sum(1 for u in ALL_UNITS if u.defines_plugin()) >= 2
    guide = UNITS["docs/writing-plugins.md"]
    assert any(u.module_name == "pynomaly_robustz" and len(u.blocks) > 5 for u in guide)


def test_opting_out_is_rare_and_explained():
    skipped = [b for b in BLOCKS if b.language == "python" and b.no_exec is not None]
    for block in skipped:
        assert len(block.no_exec or "") >= 10, f"{block.document}:{block.line}: say why"
    assert len(skipped) <= 2, [f"{b.document}:{b.line}" for b in skipped]


def test_every_python_block_compiles():
    for block in BLOCKS:
        if block.language == "python":
            compile("\n" * (block.line - 1) + block.code, block.document, "exec")
