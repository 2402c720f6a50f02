"""The per-user key that signs model files (HMAC-SHA256), so that loading can tell the user's
own files from anyone else's before anything in them is unpickled.

The key is 32 random bytes, created on the first save in the user's data directory
(``platformdirs.user_data_dir("pynomaly")``: ``~/.local/share/pynomaly/model-signing.key`` on
Linux), the directory with mode 0700 and the file with mode 0600. ``PYNOMALY_KEY_FILE`` names
another file (shared by a team's service accounts, or a secret mounted in a container). A key
file that other users can read or write is refused, as ssh refuses such private keys: whoever
can read it can sign files this user will load.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from pynomaly.errors import InputError

ENV_KEY_FILE = "PYNOMALY_KEY_FILE"
KEY_FILE_NAME = "model-signing.key"
_KEY_BYTES = 32
ALGORITHM = "hmac-sha256"


def key_path() -> Path:
    """Where the signing key is: ``PYNOMALY_KEY_FILE``, else the user's data directory."""
    named = os.environ.get(ENV_KEY_FILE)
    if named:
        return Path(named).expanduser()
    return _data_dir() / KEY_FILE_NAME


def _data_dir() -> Path:
    try:
        import platformdirs
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(
            os.path.expanduser("~"), ".local", "share"
        )
        return Path(base) / "pynomaly"
    return Path(platformdirs.user_data_dir("pynomaly", appauthor=False))


def key_id(key: bytes) -> str:
    """A short public name of a key (it tells keys apart; it reveals nothing of the key)."""
    return hashlib.sha256(b"pynomaly key id\0" + key).hexdigest()[:16]


def sign(key: bytes, data: bytes) -> str:
    """The hex HMAC-SHA256 of ``data`` under ``key``."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def verify(key: bytes, data: bytes, mac: str) -> bool:
    """Whether ``mac`` is ``data``'s HMAC under ``key`` (compared in constant time)."""
    return hmac.compare_digest(sign(key, data), mac)


def read_key() -> bytes | None:
    """The signing key, or ``None`` when there is none yet (loading never creates one)."""
    path = key_path()
    try:
        fd = os.open(path, os.O_RDONLY)  # a link is fine (mounted secrets are links)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(
            f"signing key {path} ({ENV_KEY_FILE}): cannot read: {exc.strerror}"
        ) from None
    try:
        info = os.fstat(fd)
        _check_private(path, info)
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    key = _parse(data)
    if key is None:
        raise InputError(
            f"signing key {path} ({ENV_KEY_FILE}): not a pynomaly key "
            f"(expected {_KEY_BYTES * 2} hex digits); delete it to have a new one made"
        )
    return key


def get_or_create_key() -> bytes:
    """The signing key, created (mode 0600, its directory 0700) if there is none yet."""
    existing = read_key()
    if existing is not None:
        return existing
    path = key_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"signing key {path}: cannot create its directory: {exc.strerror}"
        ) from None
    key = secrets.token_bytes(_KEY_BYTES)
    # written whole under a temporary name, then linked: a concurrent first save sees either
    # no key or a complete one, and the first link wins
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key.hex().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made one meanwhile: use that
        except OSError:  # no hard links on this file system
            if not path.exists():
                os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"signing key {path}: cannot create: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    from pynomaly import audit

    audit.record("key.create", path=str(path), key_id=key_id(key))
    found = read_key()
    assert found is not None
    return found


def _check_private(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"signing key {path}: not a regular file")
    if os.name != "nt" and info.st_mode & 0o077:
        raise InputError(
            f"signing key {path}: other users can access it "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
        )
    if hasattr(os, "geteuid") and info.st_uid not in (os.geteuid(), 0):
        raise InputError(f"signing key {path}: owned by another user (uid {info.st_uid})")


def _parse(data: bytes) -> bytes | None:
    text = data.strip()
    if len(text) != _KEY_BYTES * 2:
        return None
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
