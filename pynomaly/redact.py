"""Keeping credentials out of messages, results and logs."""

from __future__ import annotations

import re

# user:password@ up to the last "@": passwords may hold "/" or "@", and masking too much of
# a URL is harmless while masking too little leaks a secret
_USERINFO_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):\S*@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd|pwd)=)[^&#\s]*", re.IGNORECASE)


def mask_uri(uri: str) -> str:
    """``uri`` with its password, in the user-info part or a ``password=`` query parameter,
    replaced by ``***``.

    >>> mask_uri("postgresql://ann:s3cret@db:5432/sales")
    'postgresql://ann:***@db:5432/sales'
    >>> mask_uri("postgresql://ann:pa/ss@w@db/sales?sslmode=require&password=x")
    'postgresql://ann:***@db/sales?sslmode=require&password=***'
    >>> mask_uri("data.csv")
    'data.csv'
    """
    masked = _USERINFO_PASSWORD.sub(r"\g<head>:***@", uri)
    return _QUERY_PASSWORD.sub(r"\g<head>***", masked)
