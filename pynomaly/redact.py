"""Keeping credentials out of messages, results and logs."""

from __future__ import annotations

import re

_USERINFO_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@")


def mask_uri(uri: str) -> str:
    """``uri`` with the password of its user-info part replaced by ``***``.

    >>> mask_uri("postgresql://ann:s3cret@db:5432/sales")
    'postgresql://ann:***@db:5432/sales'
    >>> mask_uri("data.csv")
    'data.csv'
    """
    return _USERINFO_PASSWORD.sub(r"\g<head>:***@", uri)
