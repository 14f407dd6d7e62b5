"""Server tokens on this machine: the OS keyring when it has a usable
backend, else a file readable only by you (0600) under
``appdirs.config_dir()/tokens/``.

Keyring entries use the service ``nodeflow`` and the server's name as the
user name. The config's ``[server.NAME]`` table holds the URL (and may hold
``token`` directly, for CI); the token itself normally lives here.
``NODEFLOW_NO_KEYRING=1`` forces the file store (tests, headless boxes).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .. import appdirs
from ..model.fileio import atomic_write_text

SERVICE = "nodeflow"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _check(name: str) -> str:
    if not _SAFE.match(name):
        raise ValueError(f"server name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def _keyring():
    """The keyring module when it has a real backend, else None."""
    if os.environ.get("NODEFLOW_NO_KEYRING"):
        return None
    try:
        import keyring
        from keyring.backends import fail
    except Exception:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def tokens_dir() -> Path:
    return appdirs.config_dir() / "tokens"


def _token_file(name: str) -> Path:
    return tokens_dir() / _check(name)


def store_token(name: str, token: str) -> str:
    """Keep ``token`` for server ``name``; returns where ("keyring" or the file path)."""
    kr = _keyring()
    if kr is not None:
        try:
            kr.set_password(SERVICE, _check(name), token)
            _token_file(name).unlink(missing_ok=True)
            return "keyring"
        except Exception:
            pass
    d = tokens_dir()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    path = _token_file(name)
    atomic_write_text(path, token + "\n", mode=0o600)
    return str(path)


def load_token(name: str) -> str | None:
    kr = _keyring()
    if kr is not None:
        try:
            t = kr.get_password(SERVICE, _check(name))
        except Exception:
            t = None
        if t:
            return t
    path = _token_file(name)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others; run: chmod 600 {path}")
    return path.read_text("utf-8").strip() or None


def delete_token(name: str) -> None:
    kr = _keyring()
    if kr is not None:
        try:
            kr.delete_password(SERVICE, _check(name))
        except Exception:
            pass
    _token_file(name).unlink(missing_ok=True)


def server_token(name: str, cfg: dict) -> str | None:
    """The token for configured server ``name``: ``cfg["token"]``, else the stored one."""
    return cfg.get("token") or load_token(name)
