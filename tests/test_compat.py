"""The fast version-compatibility check agrees with packaging's SpecifierSet."""

from __future__ import annotations

import itertools

import pytest
from packaging.specifiers import SpecifierSet

from pynomaly.errors import PynomalyError
from pynomaly.plugin.compat import is_compatible

VERSIONS = [
    "0.9",
    "1.0",
    "1.0.0",
    "1.0.1",
    "1.2",
    "2",
    "2.0.0",
    "10.0",
    "1.0.0rc1",
    "1.0.0.post2",
    "1.0.0+local",
    "2.0.0.dev3",
]
SPECIFIERS = [
    ">=1.0",
    ">=1.0,<2",
    "<2",
    "<=1.0",
    ">1.0",
    "==1.0",
    "!=1.0",
    "==1.0.0",
    ">= 1.0 , < 2.0",
    "~=1.0",
    "==1.*",
    ">=1.0rc1",
    "<1.0",
    ">1.0.post1",
    "",
]


@pytest.mark.parametrize(("version", "spec"), list(itertools.product(VERSIONS, SPECIFIERS)))
def test_fast_path_agrees_with_specifierset(version, spec):
    assert is_compatible(version, spec) == SpecifierSet(spec).contains(version, prereleases=True)


def test_invalid_specifier_is_reported():
    with pytest.raises(PynomalyError, match="invalid pynomaly_compat specifier 'version one'"):
        is_compatible("1.0.0", "version one")
