"""Built-in output plugin ``webhook``: notifications POSTed as JSON to a URL.

``send_notification(message, result, options)`` does nothing unless ``options["webhook"]``
holds an ``http://`` or ``https://`` URL. Then it POSTs (``Content-Type: application/json``)::

    {"message": "...", "summary": {...} | null,
     "top": [{"index", "anomaly_score", "is_anomaly", "contributions"?}, ...]}

Options: ``webhook`` (URL), ``timeout`` (seconds per attempt, 5), ``retries`` (attempts after
the first, 3), ``backoff`` (seconds before the first retry, doubled each time, 0.2), ``top``
(rows in ``top``, 10), ``features`` (contributing features per row, 3; 0 for none),
``headers`` (extra request headers, e.g. an authorization token).

Connection errors, timeouts and 5xx answers are retried; 4xx answers and redirects are not.
The final failure raises a :class:`~pynomaly.errors.PluginError` with a one-line reason
(the URL shown without its path, which often holds a secret); the manager's broadcast reports
it and the detection is not affected. The standard proxy variables are honoured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from pynomaly._log import get_logger
from pynomaly._version import __version__
from pynomaly.errors import InputError, PluginError
from pynomaly.markers import hookimpl
from pynomaly.types import PluginMetadata, PluginType

log = get_logger("pynomaly.notify")

HOOK = "pynomaly_send_notification"


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="webhook",
        version=__version__,
        plugin_types=[PluginType.OUTPUT],
        author="pynomaly",
        description="notifications POSTed as JSON to a webhook URL (options['webhook'])",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_send_notification(message: str, result: Any, options: Mapping[str, Any]) -> None:
    url = options.get("webhook")
    if not url:
        return
    url = str(url)
    timeout = _number(options, "timeout", 5.0, minimum=0.001)
    retries = int(_number(options, "retries", 3, minimum=0))
    backoff = _number(options, "backoff", 0.2, minimum=0.0)
    extra = options.get("headers") or {}
    if not isinstance(extra, Mapping):
        raise InputError(f"webhook option 'headers': expected a mapping, got {extra!r}")
    headers = {str(k): str(v) for k, v in extra.items()}
    post_json(
        url,
        payload(message, result, int(options.get("top", 10)), int(options.get("features", 3))),
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        headers=headers,
    )


def payload(message: str, result: Any, top: int = 10, features: int = 3) -> dict[str, Any]:
    """The JSON document sent: message, the result's summary and its top rows."""
    if result is None:
        return {"message": message, "summary": None, "top": []}
    from pynomaly.builtin.outputs import top_records

    return {
        "message": message,
        "summary": result.summary(),
        "top": top_records(result, top, features),
    }


def post_json(
    url: str,
    document: Any,
    *,
    timeout: float = 5.0,
    retries: int = 3,
    backoff: float = 0.2,
    headers: Mapping[str, str] | None = None,
) -> int:
    """POST ``document`` as JSON to ``url``; returns the HTTP status of the success.

    Up to ``1 + retries`` attempts, sleeping ``backoff``, ``2 × backoff`` … in between.
    Raises :class:`PluginError` (one line) when every attempt failed or the server refused.
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    where = _redacted(url)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"webhook {where}: expected an http:// or https:// URL")
    body = json.dumps(document, default=str, allow_nan=False).encode("utf-8")
    request_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"pynomaly/{__version__}",
        **dict(headers or {}),
    }
    opener = _opener()
    attempts = 1 + max(0, retries)
    reason = ""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, headers=request_headers, method="POST")
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(65536)  # let the server finish; the answer itself is unused
                log.debug("webhook %s: HTTP %s (attempt %d)", where, response.status, attempt)
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            reason = f"HTTP {exc.code} {exc.reason}".strip()
            if not 500 <= exc.code < 600:
                if 300 <= exc.code < 400:
                    reason += " (redirects are not followed)"
                raise PluginError("webhook", HOOK, f"POST {where}: {reason}") from None
        except urllib.error.URLError as exc:
            reason = _oneline(exc.reason)
        except OSError as exc:  # timeouts while reading, connection resets
            reason = _oneline(exc)
        except Exception as exc:  # http.client.HTTPException and the like
            reason = f"{type(exc).__name__}: {_oneline(exc)}"
        if attempt < attempts:
            delay = backoff * 2 ** (attempt - 1)
            log.debug("webhook %s: %s; retrying in %.2f s", where, reason, delay)
            time.sleep(delay)
    raise PluginError(
        "webhook",
        HOOK,
        f"POST {where}: {reason} (gave up after {attempts} attempt{'s' * (attempts > 1)})",
    )


def _number(options: Mapping[str, Any], name: str, default: float, *, minimum: float) -> float:
    raw = options.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InputError(f"webhook option {name!r}: expected a number, got {raw!r}") from None
    if value != value or value < minimum:
        raise InputError(f"webhook option {name!r}: must be at least {minimum:g}, got {raw!r}")
    return value


def _redacted(url: str) -> str:
    """``scheme://host:port/…``: paths and queries of webhook URLs often hold secrets."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}" if parts.scheme else "<invalid URL>"


def _oneline(value: object) -> str:
    text = str(value) if not isinstance(value, str) else value
    return " ".join(text.split()) or type(value).__name__


def _opener() -> Any:
    """An opener that does not follow redirects (urllib would turn the POST into a GET)."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # urllib then raises HTTPError with the 3xx status

    return urllib.request.build_opener(NoRedirect)
