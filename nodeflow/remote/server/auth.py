"""Users, tokens and who may do what.

A token is ``nf_`` + 32 random bytes (urlsafe base64), shown once; the server
stores only its sha256 (the token is random, so a plain hash is enough) and
compares digests with ``hmac.compare_digest``. Two kinds:

* ``user`` tokens act as their user: workflows, tasks, runs, timers; admin
  routes need a user whose ``admin`` flag is set.
* ``runner`` tokens belong to a user too, but can only register runners,
  lease tasks and report on them (everything else answers 403).

Runners registered by an admin serve everyone's tasks; a non-admin's runners
serve only that user's tasks (nobody runs code on someone else's machine
without that machine's owner being an admin who said so).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database, tokens, users
from .errors import Conflict

TOKEN_PREFIX = "nf_"
_CACHE_TTL_S = 30.0


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    name: str
    admin: bool
    kind: str  # "user" | "runner"
    token_id: int


class Auth:
    """Token checks (cached briefly) and user/token management."""

    def __init__(self, db: Database):
        self.db = db
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    # -- checking ----------------------------------------------------------------------
    def authenticate(self, token: str) -> Principal | None:
        if not token or len(token) > 200:
            return None
        h = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
        if hit is not None and now - hit[0] < _CACHE_TTL_S:
            return hit[1]
        with self.db.read() as conn:
            row = conn.execute(
                select(tokens.c.id, tokens.c.hash, tokens.c.kind, users.c.id.label("uid"), users.c.name,
                       users.c.admin).join(users, users.c.id == tokens.c.user_id).where(tokens.c.hash == h)
            ).first()
        if row is None or not hmac.compare_digest(row.hash, h):
            return None
        p = Principal(row.uid, row.name, bool(row.admin), row.kind, row.id)
        with self.db.write() as conn:
            conn.execute(update(tokens).where(tokens.c.id == row.id).values(last_used_at=time.time()))
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[h] = (now, p)
        return p

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- managing ----------------------------------------------------------------------
    def create_user(self, name: str, admin: bool = False) -> tuple[dict, str]:
        now = time.time()
        try:
            with self.db.write() as conn:
                uid = conn.execute(users.insert().values(name=name, admin=admin, created_at=now)).inserted_primary_key[0]
                token = new_token()
                conn.execute(tokens.insert().values(user_id=uid, hash=hash_token(token), kind="user",
                                                    label="first token", created_at=now))
        except IntegrityError:
            raise Conflict(f"a user named {name!r} exists already") from None
        return {"name": name, "admin": admin, "created_at": now}, token

    def user_by_name(self, name: str) -> dict | None:
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return dict(row._mapping) if row else None

    def users(self) -> list[dict]:
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(users).order_by(users.c.name))]

    def create_token(self, user_id: int, kind: str, label: str = "") -> tuple[dict, str]:
        token = new_token()
        now = time.time()
        with self.db.write() as conn:
            tid = conn.execute(tokens.insert().values(user_id=user_id, hash=hash_token(token), kind=kind,
                                                      label=label, created_at=now)).inserted_primary_key[0]
        return {"id": tid, "label": label, "kind": kind, "created_at": now, "last_used_at": None}, token

    def tokens(self, user_id: int) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(select(tokens.c.id, tokens.c.label, tokens.c.kind, tokens.c.created_at,
                                       tokens.c.last_used_at).where(tokens.c.user_id == user_id)
                                .order_by(tokens.c.id))
            return [dict(r._mapping) for r in rows]

    def revoke(self, user_id: int, token_id: int) -> bool:
        with self.db.write() as conn:
            n = conn.execute(delete(tokens).where(tokens.c.id == token_id, tokens.c.user_id == user_id)).rowcount
        self._forget()
        return bool(n)


# -- FastAPI dependencies ---------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="a nodeflow token: `Authorization: Bearer nf_…`")


# The dependencies are ``async``: FastAPI runs plain functions in its thread pool, and a thread hop
# per dependency per request costs more than the (cached) token check itself.

async def principal(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    """Any valid token (user or runner)."""
    if cred is None or not cred.credentials:
        raise HTTPException(401, "missing token: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    p = request.app.state.auth.authenticate(cred.credentials)
    if p is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return p


async def user(p: Principal = Depends(principal)) -> Principal:
    """A user token: runner tokens may only lease and report tasks."""
    if p.kind != "user":
        raise HTTPException(403, "a runner token can only register runners, lease tasks and report on them")
    return p


async def admin(p: Principal = Depends(user)) -> Principal:
    if not p.admin:
        raise HTTPException(403, "this needs an admin account")
    return p
