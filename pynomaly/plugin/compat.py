"""Is this pynomaly within the versions a plugin declares (a PEP 440 specifier)?

``packaging.specifiers`` is the authority, but importing it costs 7–12 ms (it pulls in
``packaging.tags``), a tenth of ``pynomaly plugins list``. For the common case — this pynomaly
is a final release and the specifier only uses ``>=, <=, >, <, ==, !=`` on plain release
numbers — PEP 440's rules reduce to comparing ``packaging.version.Version`` objects, which is
cheap; everything else goes to :class:`packaging.specifiers.SpecifierSet`.
``tests/test_compat.py`` checks that both paths agree.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from pynomaly.errors import PynomalyError

_SIMPLE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+)*)\s*$")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def is_compatible(version: str, specifier: str) -> bool:
    """Whether ``version`` satisfies ``specifier`` (pre-releases allowed, as for a host).

    Raises :class:`PynomalyError` for a malformed specifier.
    """
    from packaging.version import Version

    current = Version(version)
    clauses = [c for c in specifier.split(",") if c.strip()]
    matches = [_SIMPLE.match(c) for c in clauses]
    if not (current.is_prerelease or current.is_postrelease or current.local) and all(matches):
        return all(_OPS[m[1]](current, Version(m[2])) for m in matches if m is not None)
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(specifier).contains(current, prereleases=True)
    except InvalidSpecifier:
        raise PynomalyError(
            f"invalid pynomaly_compat specifier {specifier!r} (expected e.g. '>=1.0,<2')"
        ) from None


def check_compat(version: str, specifier: str) -> None:
    """Raise :class:`PynomalyError` unless ``version`` satisfies a plugin's ``specifier``."""
    if specifier and not is_compatible(version, specifier):
        raise PynomalyError(
            f"incompatible: requires pynomaly{specifier}, this is pynomaly {version}"
        )
