"""Keeping credentials out of messages, results, traces and logs.

Two maskers, one for each kind of text:

* :func:`mask_uri` — a path or URI that pynomaly shows back (a result's ``source``, the
  "Wrote ... to" line, messages about a data source): its password and credential-like query
  parameters are masked; the rest stays readable.
* :func:`mask_text` — free text that may quote anything: hook-call traces
  (``PYNOMALY_TRACE=1``), error messages, log and audit records. On top of :func:`mask_uri`'s
  rules it masks credential-like keys in reprs and JSON (``'password': '...'``,
  ``"api_key": "..."``, ``token=...``), bearer tokens, and the path and query of every
  ``http(s)://`` URL — a webhook URL's path *is* its secret (``https://hooks.slack.com/…``).

Both are conservative: masking too much of a message is harmless, masking too little leaks.
"""

from __future__ import annotations

import re
from typing import Any


class _Pattern:
    """A regular expression compiled on first use: this module is imported by every command
    (``pynomaly plugins list`` included), and most never mask anything."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def _get(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return self._compiled

    def sub(self, repl: Any, text: str) -> str:
        return self._get().sub(repl, text)

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self._get().fullmatch(text)


# names of parameters and keys whose values are secrets, any case: any name holding one of the
# long words (db_password, client_secret, access_token, X-Amz-Signature ...) or exactly one
# of the short ones (?key= for API keys, ?sig= for Azure SAS)
_SECRET = (
    r"(?:[\w.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|signature|authorization|credential)[\w.-]*|key|sig|auth|pass)"
)

# user:password@ up to the last "@" before whitespace or a quote: passwords may hold "/" or "@"
_USERINFO_PASSWORD = _Pattern(r"""(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s'"]*):[^\s'"]*@""")
_QUERY_SECRET = _Pattern(rf"(?P<head>[?&;]{_SECRET}=)[^&#\s'\"]*", re.IGNORECASE)
# 'password': 'x'  "token": "x"  (reprs of dicts, JSON)
_QUOTED_PAIR = _Pattern(
    rf"""(?P<head>(?P<q>['"]){_SECRET}(?P=q)\s*:\s*)"""
    r"""(?P<vq>['"])(?:\\.|(?!(?P=vq)).)*(?P=vq)""",
    re.IGNORECASE,
)
# password=x  password='x'  token: x  (keyword reprs, DSNs, trace lines "    key: value")
_BARE_PAIR = _Pattern(
    rf"""(?P<head>(?<![\w.-]){_SECRET}\s*[=:]\s*)(?P<value>'[^']*'|"[^"]*"|[^\s,;&)}}'"]+)""",
    re.IGNORECASE,
)
_BEARER = _Pattern(r"\b(?P<head>(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
# an http(s) URL's path and query: for webhooks they are the credential
_HTTP_PATH = _Pattern(r"""(?P<head>\bhttps?://[^/\s?#'"\\]+)[/?#][^\s'"\\<>]*""", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a parameter or key called ``name`` holds a secret (``password``, ``api_key``,
    ``client_secret``, ``sig`` ...)."""
    return _SECRET_NAME.fullmatch(name) is not None


_SECRET_NAME = _Pattern(_SECRET, re.IGNORECASE)


def mask_uri(uri: str) -> str:
    """``uri`` with its password — in the user-info part or a credential-like query
    parameter (``password=``, ``token=``, ``sig=``, ``api_key=`` ...) — replaced by ``***``.

    >>> mask_uri("postgresql://ann:s3cret@db:5432/sales")
    'postgresql://ann:***@db:5432/sales'
    >>> mask_uri("postgresql://ann:pa/ss@w@db/sales?sslmode=require&password=x")
    'postgresql://ann:***@db/sales?sslmode=require&password=***'
    >>> mask_uri("https://files.example.com/d.csv?sv=2024&sig=abc%2F")
    'https://files.example.com/d.csv?sv=2024&sig=***'
    >>> mask_uri("data.csv")
    'data.csv'
    """
    masked = _USERINFO_PASSWORD.sub(r"\g<head>:***@", uri)
    return _QUERY_SECRET.sub(r"\g<head>***", masked)


def mask_text(text: str) -> str:
    """``text`` with every credential pynomaly can recognize replaced by ``***`` (and the
    path of every http(s) URL by ``…``): for traces, errors, logs and audit records.

    >>> mask_text("uri: postgresql://ann:s3cret@db/sales")
    'uri: postgresql://ann:***@db/sales'
    >>> mask_text("options: {'webhook': 'https://hooks.example.com/T0/B0/xyz', 'timeout': 5}")
    "options: {'webhook': 'https://hooks.example.com/…', 'timeout': 5}"
    >>> mask_text('{"headers": {"Authorization": "Bearer abc.def"}, "top": 3}')
    '{"headers": {"Authorization": "***"}, "top": 3}'
    >>> mask_text("connect(host=db password=s3cret user=ann)")
    'connect(host=db password=*** user=ann)'
    >>> mask_text("Authorization: Bearer abc.def.ghi")
    'Authorization: Bearer ***'
    """
    masked = _HTTP_PATH.sub(r"\g<head>/…", mask_uri(text))
    masked = _QUOTED_PAIR.sub(lambda m: f"{m['head']}{m['vq']}***{m['vq']}", masked)
    masked = _BEARER.sub(r"\g<head>***", masked)
    return _BARE_PAIR.sub(_bare, masked)


_SCHEMES = ("bearer", "basic", "token")


def _bare(match: re.Match[str]) -> str:
    value = match["value"]
    if value.endswith("***") or value[:1] in "{[" or value.lower() in _SCHEMES:
        return match[0]  # masked already, a structure whose keys are masked, "Bearer ***"
    quote = value[0] if value[:1] in "'\"" else ""
    return f"{match['head']}{quote}***{quote}"
