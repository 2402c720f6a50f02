"""Generate the hook reference of docs/hooks.md from the hookspec docstrings.

The docstring of each hook in pynomaly/hookspecs.py is its contract; this script renders the
reference part of docs/hooks.md from them, so that there is one contract text::

    python scripts/hooks_doc.py           # rewrite docs/hooks.md
    python scripts/hooks_doc.py --check   # exit 1, with a diff, if it is not up to date

The reference part starts at ``## Metadata and lifecycle hooks``. Generated there: the group
headings and, for every hook in hookspecs order, its ``### name`` heading, its signature, a
``**Kind:**`` line (from :data:`pynomaly.hookspecs.CALLS`, the ``firstresult`` flag and
:data:`pynomaly.hookspecs.PLUGIN_TYPES`) and its docstring converted to Markdown. Written by
hand and kept as they are: everything before the reference part, each group's introduction
(between its ``## `` heading and its first hook) and each hook's ``#### Example`` subsection
(from that heading to the next hook). tests/test_docs.py fails when the file differs from
what this script makes of it.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the checkout's pynomaly, even when run as a script
    sys.path.insert(0, str(ROOT))

from pynomaly import hookspecs  # noqa: E402
from pynomaly.markers import PROJECT_NAME  # noqa: E402

DOC = ROOT / "docs" / "hooks.md"
COMMAND = "python scripts/hooks_doc.py"

#: (heading, first hook) of each group of the reference, in hookspecs order
GROUPS = [
    ("Metadata and lifecycle hooks", "pynomaly_plugin_metadata"),
    ("Algorithm hooks", "pynomaly_detectors"),
    ("Data source hooks", "pynomaly_data_sources"),
    ("Processing hooks", "pynomaly_validate"),
    ("Output hooks", "pynomaly_outputs"),
]
EXAMPLE = "#### Example"
NO_EXAMPLE = "*No example yet: write an `@hookimpl` of this hook here.*"
KINDS_ANCHOR = "#how-hooks-are-called"

HOOKS: dict[str, Callable[..., Any]] = {
    name: obj
    for name, obj in vars(hookspecs).items()
    if name.startswith(f"{PROJECT_NAME}_") and inspect.isfunction(obj) and name in hookspecs.CALLS
}


# --------------------------------------------------------------------------------------------
# One hook's generated section
# --------------------------------------------------------------------------------------------


def groups() -> list[tuple[str, list[str]]]:
    """The reference's groups with their hooks: each group runs from its first hook to the
    next group's."""
    names = list(HOOKS)
    starts = [names.index(first) for _, first in GROUPS]
    if starts != sorted(starts) or starts[0] != 0:
        raise ValueError(f"GROUPS of {__file__} do not follow the order of the hookspecs")
    ends = [*starts[1:], len(names)]
    return [(h, names[a:b]) for (h, _), a, b in zip(GROUPS, starts, ends, strict=True)]


def _annotation(value: Any) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def signature(name: str) -> str:
    """``def name(arg: type, ...) -> type``, one parameter per line when it is too long."""
    sig = inspect.signature(HOOKS[name])
    params = [
        p.name if p.annotation is p.empty else f"{p.name}: {_annotation(p.annotation)}"
        for p in sig.parameters.values()
    ]
    ret = sig.return_annotation
    returns = "" if ret is sig.empty else f" -> {_annotation(ret)}"
    line = f"def {name}({', '.join(params)}){returns}"
    if len(line) <= 100:
        return line
    return f"def {name}(\n" + "".join(f"    {p},\n" for p in params) + f"){returns}"


def kind_line(name: str) -> str:
    """The hook's kind (its ``call``), ``firstresult`` if set, and its plugin type if any."""
    opts = getattr(HOOKS[name], f"{PROJECT_NAME}_spec")
    line = f"**Kind:** [{hookspecs.CALLS[name]}]({KINDS_ANCHOR})"
    if opts.get("firstresult"):
        line += ", `firstresult`"
    plugin_type = hookspecs.PLUGIN_TYPES.get(name)
    if plugin_type is not None:
        line += f" · **Plugin type:** `{plugin_type}`"
    return line


def section(name: str) -> str:
    """The generated part of a hook's section: heading, signature, kind, contract."""
    return (
        f"### {name}\n\n```python\n{signature(name)}\n```\n\n{kind_line(name)}\n\n"
        + markdown(inspect.cleandoc(HOOKS[name].__doc__ or ""), name)
    )


# --------------------------------------------------------------------------------------------
# reST-ish docstrings to Markdown
# --------------------------------------------------------------------------------------------

WIDTH = 100
LITERAL = re.compile(r"``(.+?)``")
ROLE = re.compile(r":(?:func|meth|class|data|mod|attr|exc|obj):`(~?)([^`]+)`")
FIELD = re.compile(r":(param|returns?|raises?)(?: +([\w.]+))?: *(.*)$")
BULLET = re.compile(r"[*-] ")
WORD = re.compile(r"(?:[^\s`]|`[^`]*`|`)+")  # a code span is one word, spaces and all
LEFTOVER = re.compile(r"``|:\w+:`|^\.\. |::$", re.M)
# a word that would start a list, heading, quote or table if a line began with it
BLOCK_START = re.compile(r"[-+*]|[#>|].*|=+|-+|\d+[.)]")


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    shown = target.rsplit(".", 1)[-1] if short else target
    return f"[`{shown}`](#{target})" if target in HOOKS else f"`{shown}`"


def inline(text: str) -> str:
    """``code`` and :role:`target` as Markdown code (a hook's name links to its section)."""
    return ROLE.sub(_role, LITERAL.sub(r"`\1`", text))


def wrap(text: str, first: str = "", rest: str = "") -> str:
    """``text`` filled to :data:`WIDTH` columns after the prefix ``first`` (``rest`` on the
    lines after): never breaking a code span, never starting a line with a word that Markdown
    would read as the start of a block."""
    lines: list[str] = []
    line = ""
    for word in WORD.findall(text):
        if not line:
            line = first + word
        elif len(line) + 1 + len(word) > WIDTH and not BLOCK_START.fullmatch(word):
            lines.append(line)
            line = rest + word
        else:
            line += " " + word
    return "\n".join([*lines, line])


def markdown(doc: str, name: str = "docstring") -> str:
    """A cleaned docstring as Markdown: paragraphs and bullet lists, ``:param x:`` fields as
    a **Parameters:** list, ``:returns:`` and ``:raises E:`` as paragraphs; refilled."""
    blocks: list[str] = []
    params: list[str] = []

    def end_params() -> None:
        if params:
            blocks.append("**Parameters:**\n\n" + "\n".join(params))
            params.clear()

    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        field = FIELD.match(lines[i])
        if not lines[i].strip():
            i += 1
        elif field is None:  # a paragraph or a bullet list, up to a blank line or a field
            end_params()
            items: list[list[str]] = []
            while i < len(lines) and lines[i].strip() and not FIELD.match(lines[i]):
                if BULLET.match(lines[i]) or not items:
                    items.append([])
                items[-1].append(lines[i].strip())
                i += 1
            if BULLET.match(items[0][0]):
                blocks.append(
                    "\n".join(wrap(inline(" ".join(it)[2:]), "- ", "  ") for it in items)
                )
            else:
                blocks.append(wrap(inline(" ".join(items[0]))))  # one item: no bullets
        else:
            kind, arg, text = field.groups()
            i += 1
            while i < len(lines) and lines[i][:1].isspace() and lines[i].strip():
                text += " " + lines[i].strip()
                i += 1
            if kind == "param":
                params.append(wrap(inline(f"`{arg}`: {text}"), "- ", "  "))
                continue
            end_params()
            label = "**Returns:**" if kind.startswith("return") else f"**Raises:** `{arg}`"
            blocks.append(wrap(inline(f"{label} {text}")))
    end_params()
    result = "\n\n".join(blocks)
    leftover = LEFTOVER.search(result)
    if leftover is not None:
        raise ValueError(
            f"{name}: the docstring uses reST that {COMMAND} does not convert: "
            f"{result[max(0, leftover.start() - 30) : leftover.end() + 30]!r}"
        )
    return result


# --------------------------------------------------------------------------------------------
# The page: hand-written parts kept, the rest generated
# --------------------------------------------------------------------------------------------


def hand_written(text: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The hand-written parts of the page: the text before the reference, each group's
    introduction and each hook's example (the text after its ``#### Example`` heading)."""
    first = f"## {GROUPS[0][0]}"
    headings = {heading for heading, _ in GROUPS}
    lines = text.splitlines()
    fenced = False
    start = None
    for i, line in enumerate(lines):
        fenced ^= line.startswith("```")
        if not fenced and line.rstrip() == first:
            start = i
            break
    if start is None:
        raise ValueError(f"{DOC.name}: no '{first}' heading: where does the reference start?")
    intros: dict[str, str] = {}
    examples: dict[str, str] = {}
    part: dict[str, str] | None = None  # where the current lines go (None: generated)
    key = ""
    buffer: list[str] = []

    def keep() -> None:
        if part is not None:
            if key in part:
                raise ValueError(f"{DOC.name}: '{key}' has two sections or examples")
            part[key] = "\n".join(buffer).strip()
        elif sum(line.startswith("```") for line in buffer) > 2:  # more than the signature
            raise ValueError(
                f"{DOC.name}: section {key} has code before its '{EXAMPLE}' heading, which "
                f"{COMMAND} would replace; move the example under '{EXAMPLE}'"
            )
        buffer.clear()

    fenced = False
    for line in lines[start:]:
        if not fenced:
            group = re.fullmatch(r"## (.+?)\s*", line)
            hook = re.fullmatch(r"### (\S+)\s*", line)
            if group is not None:
                keep()
                if group[1] not in headings:
                    raise ValueError(
                        f"{DOC.name}: '{line}' is in the generated reference; put hand-written "
                        f"sections before '{first}'"
                    )
                part, key = intros, group[1]
                continue
            if hook is not None:
                keep()
                if hook[1] not in HOOKS:
                    raise ValueError(
                        f"{DOC.name}: '{line}' documents no hook of pynomaly/hookspecs.py; "
                        "remove the section (or rename it after the hook)"
                    )
                part, key = None, hook[1]
                continue
            if line.rstrip() == EXAMPLE and part is None:
                keep()
                part = examples
                continue
        fenced ^= line.startswith("```")
        buffer.append(line)
    keep()
    return "\n".join(lines[:start]).rstrip(), intros, examples


def render(text: str) -> str:
    """``text`` (docs/hooks.md) with its reference generated from the hookspecs."""
    before, intros, examples = hand_written(text)
    out = [before]
    for heading, names in groups():
        out.append(f"## {heading}")
        if intros.get(heading):
            out.append(intros[heading])
        for name in names:
            out += [section(name), EXAMPLE, examples.get(name) or NO_EXAMPLE]
    return "\n\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true", help="only check: exit 1 with a diff if out of date"
    )
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = render(text)
    if new == text:
        return 0
    if args.check:
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(keepends=True),
                new.splitlines(keepends=True),
                "docs/hooks.md",
                "docs/hooks.md (generated)",
            )
        )
        print(f"docs/hooks.md is out of date: run {COMMAND}", file=sys.stderr)
        return 1
    DOC.write_text(new, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
