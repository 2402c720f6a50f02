"""docs/hooks.md checked against the hook specifications (after datasette's tests/test_docs.py).

The hookspec docstrings are the contract: the reference part of docs/hooks.md is generated from
them by scripts/hooks_doc.py and must be exactly what that script makes of the page. Beyond
that: every hookspec docstring says when the hook is called and documents each argument and the
return value; every hookspec has a ``### <name>`` section whose first python block is its
signature and whose ``#### Example`` has a hookimpl of it; no section documents a hook that does
not exist; the table of hook kinds matches the hookspecs; every python block compiles, and the
example hookimpls in it are named after real hooks and accept only arguments the hook provides.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pynomaly import hookspecs
from pynomaly.markers import PROJECT_NAME

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "hooks.md"
TEXT = DOCS.read_text(encoding="utf-8")
GENERATOR = ROOT / "scripts" / "hooks_doc.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hooks_doc", GENERATOR)
    assert spec is not None and spec.loader is not None, GENERATOR
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks_doc = _load_generator()

# name -> hookspec function, in the order of pynomaly/hookspecs.py
HOOKS: dict[str, Any] = {
    name: obj
    for name, obj in vars(hookspecs).items()
    if name.startswith("pynomaly_") and inspect.isfunction(obj)
}

HOOK_HEADING = re.compile(r"^### (\S+)[ \t]*$", re.M)
ANY_HEADING = re.compile(r"^#{1,3} ", re.M)
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
CODE_SPANS = [m.span() for m in FENCE.finditer(TEXT)]


def _in_code(pos: int) -> bool:
    return any(start <= pos < end for start, end in CODE_SPANS)


def _line(offset: int) -> int:
    return TEXT.count("\n", 0, offset) + 1


# (first line of the code, code) of every ```python block of the page
BLOCKS: list[tuple[int, str]] = [
    (_line(m.start(1)), m.group(1)) for m in PYTHON_BLOCK.finditer(TEXT)
]


def _sections() -> dict[str, str]:
    """``### name`` heading -> its text, up to the next heading of level 1 to 3."""
    headings = [m for m in ANY_HEADING.finditer(TEXT) if not _in_code(m.start())]
    sections: dict[str, str] = {}
    for match in HOOK_HEADING.finditer(TEXT):
        if _in_code(match.start()):
            continue
        end = min((h.start() for h in headings if h.start() > match.start()), default=len(TEXT))
        sections[match.group(1)] = TEXT[match.end() : end]
    return sections


SECTIONS = _sections()


def _spec_params(name: str) -> list[str]:
    return list(inspect.signature(HOOKS[name]).parameters)


def _spec_opts(name: str) -> dict[str, Any]:
    return dict(getattr(HOOKS[name], f"{PROJECT_NAME}_spec"))


def _split(name: str) -> list[str]:
    """A hook's section: [generated contract, hand-written example] (no example: one part)."""
    return SECTIONS[name].split(f"\n{hooks_doc.EXAMPLE}\n", 1)


def _parse(line: int, src: str) -> ast.Module:
    """Parse a block as the module it is; a lone ``def ...`` signature line gets ``: ...``.

    Leading newlines keep line numbers in errors equal to those of docs/hooks.md.
    """
    padded = "\n" * (line - 1) + src
    try:
        return ast.parse(padded, filename=str(DOCS))
    except SyntaxError:
        if not src.lstrip().startswith("def "):
            raise
        return ast.parse(padded.rstrip() + ": ...\n", filename=str(DOCS))


def _signature(name: str) -> ast.FunctionDef:
    """The ``def`` of the first python block of the hook's section."""
    section = SECTIONS[name]
    block = PYTHON_BLOCK.search(section)
    assert block is not None, f"docs/hooks.md: section {name} has no python block"
    line = _line(TEXT.index(section) + block.start(1))
    tree = _parse(line, block.group(1))
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef), (
        f"docs/hooks.md:{line}: the first python block of {name} must be its signature, "
        f"a single `def {name}(...) -> ...` line"
    )
    return tree.body[0]


def _arg_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    return [arg.arg for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs)]


def _is_hookimpl(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "hookimpl":
            return True
    return False


def _functions(tree: ast.Module) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """Every function of a block and whether it is a method (defined in a class body)."""
    methods = {
        id(node)
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        for node in cls.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    return [
        (node, id(node) in methods)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def _normalized(annotation: str | ast.expr | None) -> str | None:
    if annotation is None or annotation is inspect.Signature.empty:
        return None
    if isinstance(annotation, str):
        annotation = ast.parse(annotation, mode="eval").body
    return ast.unparse(annotation)


# --------------------------------------------------------------------------------------------
# The contract: the hookspec docstrings, and the reference generated from them
# --------------------------------------------------------------------------------------------


def test_hookspecs_found() -> None:
    assert len(HOOKS) > 20
    for name in HOOKS:
        assert hasattr(HOOKS[name], f"{PROJECT_NAME}_spec"), f"{name} is not marked @hookspec"


def test_reference_is_generated_from_the_hookspecs() -> None:
    expected = hooks_doc.render(TEXT)
    if expected != TEXT:
        diff = "".join(
            difflib.unified_diff(
                TEXT.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/hooks.md",
                "generated from pynomaly/hookspecs.py",
                n=1,
            )
        )
        pytest.fail(
            "the reference of docs/hooks.md differs from the hookspec docstrings: change the "
            f"docstrings, not the generated text, and regenerate it with `{hooks_doc.COMMAND}`"
            f"\n{diff[:6000]}"
        )


@pytest.mark.parametrize("name", list(HOOKS))
def test_hookspec_docstring_says_when_called(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    assert "Called" in doc, f"the docstring of hookspec {name} must say when it is called"


@pytest.mark.parametrize("name", list(HOOKS))
def test_hookspec_docstring_documents_arguments_and_return(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    params = _spec_params(name)
    documented = re.findall(r"^:param (\w+):", doc, re.M)
    assert documented == params, (
        f"the docstring of hookspec {name} must have a `:param name:` field per argument, in "
        f"order: {params} (it has {documented})"
    )
    returns = _normalized(inspect.signature(HOOKS[name]).return_annotation) != "None"
    assert (":returns:" in doc) == returns, (
        f"the docstring of hookspec {name} must have a `:returns:` field exactly when the hook "
        f"returns something ({returns})"
    )


def test_docstring_to_markdown() -> None:
    doc = inspect.cleandoc(
        """Do it with ``x``.

        Called by :func:`pynomaly.explain` and :func:`pynomaly_fit`, with a
        :class:`~pynomaly.types.FitResult`.

        * one
          item
        * two

        :param x: the
            thing.
        :param y: other.
        :returns: ``True``.
        :raises pynomaly.errors.DataError: when bad.
        """
    )
    assert hooks_doc.markdown(doc) == (
        "Do it with `x`.\n\n"
        "Called by `pynomaly.explain` and [`pynomaly_fit`](#pynomaly_fit), with a "
        "`FitResult`.\n\n"
        "- one item\n- two\n\n"
        "**Parameters:**\n\n- `x`: the thing.\n- `y`: other.\n\n"
        "**Returns:** `True`.\n\n"
        "**Raises:** `pynomaly.errors.DataError` when bad."
    )
    with pytest.raises(ValueError, match="does not convert"):
        hooks_doc.markdown("See :ref:`elsewhere`.")


def test_the_generator_keeps_hand_written_text_only() -> None:
    render = hooks_doc.render
    page = render(TEXT)  # as it should be, even if docs/hooks.md is out of date
    summary = "Fit a detector on a batch of training rows."
    assert summary in page
    assert render(page.replace(summary, "A hand edit of generated text.")) == page
    example = page.split("\n### pynomaly_fit\n")[1].split(f"\n{hooks_doc.EXAMPLE}\n")[1]
    example = example.split("\n### ")[0]
    edited = page.replace(example, "\nA hand edit of the example.\n" + example)
    assert edited != page and render(edited) == edited
    intro = "A data source turns a path or URI into a DataFrame."
    edited = page.replace(intro, intro + " A hand edit of an introduction.")
    assert edited != page and render(edited) == edited
    with pytest.raises(ValueError, match="documents no hook"):
        render(page + "\n### pynomaly_no_such_hook\n")
    without_marker = page.replace(f"{hooks_doc.EXAMPLE}\n", "", 1)
    with pytest.raises(ValueError, match="has code before its"):
        render(without_marker)  # rather than drop the example


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HOOKS))
def test_hook_is_documented(name: str) -> None:
    assert name in SECTIONS, f"docs/hooks.md has no '### {name}' section"
    sig = _signature(name)
    assert sig.name == name, f"section {name} shows the signature of {sig.name}"
    assert _arg_names(sig) == _spec_params(name), (
        f"docs/hooks.md: {name}{tuple(_arg_names(sig))} != hookspec {tuple(_spec_params(name))}"
    )


@pytest.mark.parametrize("name", list(HOOKS))
def test_signature_annotations_match(name: str) -> None:
    """The signature line shows the hookspec's annotations and return annotation."""
    if name not in SECTIONS:
        pytest.skip("no section (test_hook_is_documented fails)")
    sig = _signature(name)
    spec = inspect.signature(HOOKS[name])
    documented = {a.arg: _normalized(a.annotation) for a in (*sig.args.args, *sig.args.kwonlyargs)}
    for param in spec.parameters.values():
        assert documented.get(param.name) == _normalized(param.annotation), (name, param.name)
    assert _normalized(sig.returns) == _normalized(spec.return_annotation), name


def test_no_stale_sections() -> None:
    headings = [
        m.group(1)
        for m in re.finditer(r"^#+ +`?(pynomaly_\w+)", TEXT, re.M)
        if not _in_code(m.start())
    ]
    assert headings, "docs/hooks.md documents no hook"
    unknown = [h for h in headings if h not in HOOKS]
    assert not unknown, f"docs/hooks.md documents hooks that do not exist: {unknown}"
    duplicated = sorted({h for h in headings if headings.count(h) > 1})
    assert not duplicated, f"hooks documented twice: {duplicated}"
    malformed = [h for h in headings if h not in SECTIONS]
    assert not malformed, f"use exactly '### name' headings for: {malformed}"


def test_sections_follow_hookspec_order() -> None:
    documented = [name for name in SECTIONS if name in HOOKS]
    assert documented == [name for name in HOOKS if name in SECTIONS]


@pytest.mark.parametrize("name", list(HOOKS))
def test_section_states_kind_and_arguments(name: str) -> None:
    if name not in SECTIONS:
        pytest.skip("no section (test_hook_is_documented fails)")
    prose = PYTHON_BLOCK.sub("", _split(name)[0])
    kinds = re.findall(r"^\*\*Kind:\*\* \[(\w+)\]", prose, re.M)
    assert kinds == [hookspecs.CALLS[name]], (
        f"section {name} must have one '**Kind:** [{hookspecs.CALLS[name]}](...)' line "
        f"before its example, found {kinds}"
    )
    firstresult = bool(_spec_opts(name).get("firstresult"))
    assert ("`firstresult`" in prose) == firstresult, (
        f"section {name} must say `firstresult` exactly when the hookspec is firstresult "
        f"({firstresult})"
    )
    missing = [p for p in _spec_params(name) if f"`{p}`" not in prose]
    assert not missing, f"section {name} does not describe the arguments {missing}"


def test_kinds_table_matches_the_hookspecs() -> None:
    start = TEXT.index("\n## How hooks are called\n")
    part = TEXT[start : TEXT.index("\n## ", start + 1)]
    table = {
        kind: {f"{PROJECT_NAME}_{hook}" for hook in re.findall(r"`(\w+)`", hooks)}
        for kind, hooks in re.findall(r"^\| *(\w+) *\|([^|]*)\|", part, re.M)
        if kind != "kind"  # the header row
    }
    expected: dict[str, set[str]] = {}
    for name, kind in hookspecs.CALLS.items():
        expected.setdefault(kind, set()).add(name)
    assert table == expected, (
        "the table of 'How hooks are called' in docs/hooks.md must list every hook under its "
        f"kind (pynomaly.hookspecs.CALLS): {expected}"
    )


def test_no_rest_markup_outside_code() -> None:
    prose = FENCE.sub("", TEXT)
    rest = r"``|:(?:func|meth|class|data|mod|attr|exc|obj):`|^:(?:param|returns?|raises?)\b"
    found = re.findall(rest, prose, re.M)
    assert not found, f"docs/hooks.md has reST markup that is not Markdown: {found}"


@pytest.mark.parametrize("name", list(HOOKS))
def test_every_hook_has_an_example(name: str) -> None:
    if name not in SECTIONS:
        pytest.skip("no section (test_hook_is_documented fails)")
    parts = _split(name)
    assert len(parts) == 2, f"section {name} has no '{hooks_doc.EXAMPLE}' subsection"
    impls = [
        fn.name
        for src in PYTHON_BLOCK.findall(parts[1])
        for fn, _ in _functions(_parse(1, src))
        if _is_hookimpl(fn)
    ]
    assert name in impls, f"the example of {name} has no @hookimpl def {name}(...)"


@pytest.mark.parametrize(("line", "src"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_python_block_compiles(line: int, src: str) -> None:
    padded = "\n" * (line - 1) + src
    try:
        compile(padded, "docs/hooks.md", "exec")
    except SyntaxError:
        if not src.lstrip().startswith("def "):
            raise
        compile(padded.rstrip() + ": ...\n", "docs/hooks.md", "exec")  # a signature line


@pytest.mark.parametrize(("line", "src"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_example_hookimpls_match_hookspecs(line: int, src: str) -> None:
    """pluggy's rule: a hookimpl is named after a hook and takes a subset of its arguments."""
    for fn, is_method in _functions(_parse(line, src)):
        if not (_is_hookimpl(fn) or fn.name.startswith("pynomaly_")):
            continue  # a helper
        assert fn.name in HOOKS, f"docs/hooks.md:{fn.lineno}: {fn.name} is not a pynomaly hook"
        args = _arg_names(fn)
        if is_method and args and args[0] in ("self", "cls"):
            args = args[1:]
        unknown = [a for a in args if a not in _spec_params(fn.name)]
        assert not unknown, (
            f"docs/hooks.md:{fn.lineno}: {fn.name} takes {unknown}, which the hook does not "
            f"provide (it provides {_spec_params(fn.name)})"
        )


def test_blocks_were_found() -> None:
    assert len(BLOCKS) >= 2 * len(HOOKS)  # a signature and an example per hook
