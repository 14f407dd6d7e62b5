"""Published workflows: bytes in a git repository, an index in the database.

Every publish is a commit (dulwich, no git binary) on ``refs/heads/main`` of
the bare repository ``<data>/repo``, touching ``<owner>/<name>.nc``, authored
by the publishing user. The database keeps per workflow its numbered versions
(1, 2, … → commit id), its shares and its schedule, so listing never walks
git; the bytes of a version are always read from git, so a result can cite
the exact commit. Deleting a workflow is a commit removing the file (the git
history stays) and drops its rows.

Visibility: a user sees their own workflows and those shared with them;
anything else is "not found" (404), never "forbidden", so names don't leak.
"""
from __future__ import annotations

import difflib
import re
import threading
import time
from pathlib import Path

from dulwich.object_store import commit_tree_changes, tree_lookup_path
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .auth import Principal
from .db import Database, shares, timers, users, workflow_versions, workflows
from .errors import BadRequest, NotFound

BRANCH = b"refs/heads/main"
_HEX = re.compile(r"^[0-9a-f]{4,40}$")


class WorkflowStore:
    def __init__(self, db: Database, repo_path: str | Path):
        self.db = db
        self.path = Path(repo_path)
        self._lock = threading.Lock()  # the repository's objects and refs
        self._publish_lock = threading.Lock()  # commit + version row, so numbers follow commit order
        if (self.path / "HEAD").exists():
            self.repo = Repo(str(self.path))
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self.repo = Repo.init_bare(str(self.path))
            self.repo.refs.set_symbolic_ref(b"HEAD", BRANCH)

    def close(self) -> None:
        self.repo.close()

    # -- git --------------------------------------------------------------------------------
    def _head(self) -> bytes | None:
        try:
            return self.repo.refs[BRANCH]
        except KeyError:
            return None

    def _commit(self, path: str, content: bytes | None, author: str, message: str) -> str:
        """One commit setting (or, with None, removing) ``path``; returns the commit id."""
        store = self.repo.object_store
        with self._lock:
            head = self._head()
            tree = store[head].tree if head is not None else _empty_tree(store)
            if content is None:
                change = (path.encode(), None, None)
            else:
                blob = Blob.from_string(content)
                store.add_object(blob)
                change = (path.encode(), 0o100644, blob.id)
            c = Commit()
            c.tree = commit_tree_changes(store, tree, [change])
            c.parents = [head] if head is not None else []
            ident = f"{author} <{author}@nodeflow>".encode()
            c.author = c.committer = ident
            c.author_time = c.commit_time = int(time.time())
            c.author_timezone = c.commit_timezone = 0
            c.encoding = b"UTF-8"
            c.message = (message or "(no message)").encode("utf-8") + b"\n"
            store.add_object(c)
            if not self.repo.refs.set_if_equals(BRANCH, head, c.id):
                raise RuntimeError("the workflow repository changed under us")
            return c.id.decode()

    def _read(self, commit: str, path: str) -> bytes:
        store = self.repo.object_store
        with self._lock:
            tree = store[commit.encode()].tree
            _mode, sha = tree_lookup_path(store.__getitem__, tree, path.encode())
            return store[sha].data

    # -- lookups ----------------------------------------------------------------------------
    def find(self, p: Principal, name: str, owner: str | None = None) -> dict:
        """The workflow ``name`` of ``owner`` (default: yours, else the one shared with you)."""
        with self.db.read() as conn:
            q = (select(workflows, users.c.name.label("owner")).join(users, users.c.id == workflows.c.owner_id)
                 .where(workflows.c.name == name))
            if owner is not None:
                q = q.where(users.c.name == owner)
            rows = [dict(r._mapping) for r in conn.execute(q)]
            visible = []
            for r in rows:
                if r["owner_id"] == p.user_id or self._shared(conn, r["id"], p.user_id):
                    visible.append(r)
        if owner is None:
            mine = [r for r in visible if r["owner_id"] == p.user_id]
            visible = mine or visible
        if not visible:
            raise NotFound(f"no workflow {name!r}" + (f" of {owner!r}" if owner else "") + " that you can see")
        if len(visible) > 1:
            raise BadRequest(f"several workflows named {name!r} are shared with you: say whose with ?owner=")
        return visible[0]

    @staticmethod
    def _shared(conn, wid: int, uid: int) -> bool:
        return conn.execute(select(shares.c.user_id).where(shares.c.workflow_id == wid,
                                                           shares.c.user_id == uid)).first() is not None

    def list(self, p: Principal) -> list[dict]:
        with self.db.read() as conn:
            shared_ids = select(shares.c.workflow_id).where(shares.c.user_id == p.user_id)
            rows = conn.execute(
                select(workflows, users.c.name.label("owner")).join(users, users.c.id == workflows.c.owner_id)
                .where(or_(workflows.c.owner_id == p.user_id, workflows.c.id.in_(shared_ids)))
                .order_by(users.c.name, workflows.c.name)).all()
            out = []
            for r in rows:
                last = conn.execute(select(workflow_versions.c.number, workflow_versions.c.commit)
                                    .where(workflow_versions.c.workflow_id == r.id)
                                    .order_by(workflow_versions.c.number.desc()).limit(1)).first()
                with_ = [u for (u,) in conn.execute(select(users.c.name).join(shares, shares.c.user_id == users.c.id)
                                                    .where(shares.c.workflow_id == r.id).order_by(users.c.name))]
                out.append({"name": r.name, "owner": r.owner, "versions": last.number if last else 0,
                            "commit": last.commit if last else "", "updated_at": r.updated_at,
                            "shared_with": with_, "schedule": r.schedule})
        return out

    def versions(self, wf: dict) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(select(workflow_versions).where(workflow_versions.c.workflow_id == wf["id"])
                                .order_by(workflow_versions.c.number))
            return [{"version": r.number, "commit": r.commit, "author": r.author, "time": r.time,
                     "message": r.message} for r in rows]

    def version(self, wf: dict, version: str | int | None) -> dict:
        """A version by 1-based number or (a prefix of) its commit id; None: the latest."""
        vs = self.versions(wf)
        if not vs:
            raise NotFound(f"workflow {wf['name']!r} has no versions")
        if version is None or version == "" or version == "latest":
            return vs[-1]
        text = str(version).strip()
        if text.isdigit() and len(text) < 9:
            n = int(text)
            if 1 <= n <= len(vs):
                return vs[n - 1]
            raise NotFound(f"workflow {wf['name']!r} has versions 1 to {len(vs)}, not {n}")
        if _HEX.match(text.lower()):
            hits = [v for v in vs if v["commit"].startswith(text.lower())]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise BadRequest(f"commit prefix {text!r} is ambiguous")
        raise NotFound(f"workflow {wf['name']!r} has no version {text!r}")

    def content(self, wf: dict, v: dict) -> bytes:
        return self._read(v["commit"], f"{wf['owner']}/{wf['name']}.nc")

    def diff(self, wf: dict, a: str, b: str) -> tuple[int, int, str]:
        va, vb = self.version(wf, a), self.version(wf, b)
        ta = self.content(wf, va).decode("utf-8", "replace").splitlines(keepends=True)
        tb = self.content(wf, vb).decode("utf-8", "replace").splitlines(keepends=True)
        name = wf["name"]
        text = "".join(difflib.unified_diff(ta, tb, f"{name}@{va['version']}", f"{name}@{vb['version']}"))
        return va["version"], vb["version"], text

    # -- changes ----------------------------------------------------------------------------
    def publish(self, p: Principal, name: str, content: bytes, message: str, schedule: str | None) -> dict:
        with self._publish_lock:
            return self._publish(p, name, content, message, schedule)

    def _publish(self, p: Principal, name: str, content: bytes, message: str, schedule: str | None) -> dict:
        now = time.time()
        commit = self._commit(f"{p.name}/{name}.nc", content, p.name, message or f"publish {name}")
        with self.db.write() as conn:
            row = conn.execute(select(workflows.c.id).where(workflows.c.owner_id == p.user_id,
                                                            workflows.c.name == name)).first()
            if row is None:
                try:
                    wid = conn.execute(workflows.insert().values(owner_id=p.user_id, name=name, created_at=now,
                                                                 updated_at=now, schedule=schedule)
                                       ).inserted_primary_key[0]
                except IntegrityError:  # pragma: no cover - the write lock makes this unlikely
                    raise BadRequest(f"workflow {name!r} was created concurrently; publish again") from None
            else:
                wid = row.id
                conn.execute(update(workflows).where(workflows.c.id == wid).values(updated_at=now, schedule=schedule))
            n = conn.execute(select(func.max(workflow_versions.c.number))
                             .where(workflow_versions.c.workflow_id == wid)).scalar() or 0
            conn.execute(workflow_versions.insert().values(workflow_id=wid, number=n + 1, commit=commit,
                                                           author=p.name, time=now, message=message or ""))
        return {"id": wid, "name": name, "owner": p.name, "version": n + 1, "commit": commit}

    def delete(self, p: Principal, wf: dict) -> None:
        if wf["owner_id"] != p.user_id and not p.admin:
            raise NotFound(f"no workflow {wf['name']!r} of yours")
        with self._publish_lock:
            self._commit(f"{wf['owner']}/{wf['name']}.nc", None, p.name, f"delete {wf['name']}")
            self._drop_rows(wf["id"])

    def _drop_rows(self, wid: int) -> None:
        with self.db.write() as conn:
            for table, col in ((workflow_versions, workflow_versions.c.workflow_id), (shares, shares.c.workflow_id),
                               (timers, timers.c.workflow_id), (workflows, workflows.c.id)):
                conn.execute(delete(table).where(col == wid))

    def share(self, p: Principal, wf: dict, user_name: str, on: bool) -> None:
        if wf["owner_id"] != p.user_id:
            raise NotFound(f"no workflow {wf['name']!r} of yours")
        with self.db.write() as conn:
            u = conn.execute(select(users.c.id).where(users.c.name == user_name)).first()
            if u is None:
                raise NotFound(f"no user {user_name!r}")
            if u.id == p.user_id:
                raise BadRequest("a workflow is always visible to its owner")
            exists = conn.execute(select(shares).where(and_(shares.c.workflow_id == wf["id"],
                                                            shares.c.user_id == u.id))).first()
            if on and exists is None:
                conn.execute(shares.insert().values(workflow_id=wf["id"], user_id=u.id))
            elif not on:
                conn.execute(delete(shares).where(shares.c.workflow_id == wf["id"], shares.c.user_id == u.id))


def _empty_tree(store) -> bytes:
    t = Tree()
    store.add_object(t)
    return t.id
