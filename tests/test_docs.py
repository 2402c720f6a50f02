"""docs/hooks.md checked against the hook specifications (after datasette's tests/test_docs.py).

Every hookspec has a ``### <name>`` section whose first python block is its signature; no
section documents a hook that does not exist; every python block compiles, and the example
hookimpls in it are named after real hooks and accept only arguments the hook provides.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from pynomaly import hookspecs
from pynomaly.markers import PROJECT_NAME

DOCS = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
TEXT = DOCS.read_text(encoding="utf-8")

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


def test_hookspecs_found() -> None:
    assert len(HOOKS) > 20
    for name in HOOKS:
        assert hasattr(HOOKS[name], f"{PROJECT_NAME}_spec"), f"{name} is not marked @hookspec"


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
def test_hookspec_docstring_says_when_called(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    assert any(word in doc for word in ("Called", "Broadcast", "Event")), (
        f"the docstring of hookspec {name} must say when it is called"
    )


@pytest.mark.parametrize("name", list(HOOKS))
def test_section_describes_call_and_arguments(name: str) -> None:
    if name not in SECTIONS:
        pytest.skip("no section (test_hook_is_documented fails)")
    section = SECTIONS[name]
    prose = PYTHON_BLOCK.sub("", section)
    assert "**Pattern:**" in prose and "**Called**" in prose, name
    firstresult = bool(_spec_opts(name).get("firstresult"))
    assert ("firstresult" in prose) == firstresult, (
        f"section {name} must say `firstresult` exactly when the hookspec is firstresult "
        f"({firstresult})"
    )
    missing = [p for p in _spec_params(name) if f"`{p}`" not in prose]
    assert not missing, f"section {name} does not describe the arguments {missing}"


@pytest.mark.parametrize("name", list(HOOKS))
def test_every_hook_has_an_example(name: str) -> None:
    if name not in SECTIONS:
        pytest.skip("no section (test_hook_is_documented fails)")
    examples = PYTHON_BLOCK.findall(SECTIONS[name])[1:]  # the first one is the signature
    impls = [
        fn.name for src in examples for fn, _ in _functions(_parse(1, src)) if _is_hookimpl(fn)
    ]
    assert name in impls, f"section {name} has no example @hookimpl def {name}(...)"


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
