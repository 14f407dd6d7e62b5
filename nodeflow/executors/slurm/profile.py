"""Slurm profiles: one ``[slurm.NAME]`` table of the config, validated into a ``SlurmProfile``.

Used as executor ``slurm:NAME``. Every key but ``host`` (for SSH) is optional::

    [slurm.cluster]
    host = "login.cluster.org"        # transport "ssh" (default): the login node
    port = 22
    user = "me"                       # default: your local user name
    key_file = "~/.ssh/id_ed25519"    # or use_agent = true (the default when no key_file)
    known_hosts = "~/.ssh/known_hosts"   # host keys are checked here; add one: nodeflow slurm trust cluster
    jump_host = "me@gateway.org:22"   # optional: reached through a direct-tcpip channel
    workdir = "nodeflow-runs"         # job folders <workdir>/<run id>/<node>/; relative = under the home
    python = "python3"                # runs Python nodes (python -m nodeflow.worker); may be several words
    partition = "batch"               # default job resources (a node's "resources" setting overrides):
    account = "proj42"                #   partition account qos time_limit cpus memory gres extra_sbatch
    qos = "normal"
    time_limit = "1:00:00"            # minutes, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]
    cpus = 4                          # --cpus-per-task
    memory = "8G"                     # --mem
    gres = "gpu:1"
    extra_sbatch = ["--constraint=avx2"]
    setup = ["module load python/3.11"]   # shell lines run before each node, verbatim
    transport = "ssh"                 # "local" on a login node (subprocesses), "pyslurm" (optional extra)
    max_in_flight = 500               # jobs queued or running at once (default: no limit)
    poll_min_s = 1.0                  # status back-off: 1, 2, 4, 8 … s, at most poll_cap_s,
    poll_cap_s = 30.0                 #   back to poll_min_s whenever something changes
    connect_timeout_s = 15.0
    keepalive_s = 15.0
    command_timeout_s = 120.0
    reconnect_give_up_s = 600.0       # after that long without the cluster the live nodes fail
    status_grace_s = 15.0             # how long a status file may lag behind Slurm on a shared FS

Unknown keys are kept (a newer nodeflow's settings survive) and reported by
``nodeflow slurm profiles``. ``JobResources.of(profile, node_resources)``
merges a node's own ``resources`` over the profile's defaults and validates
every value, so that what reaches an ``#SBATCH`` line is one plain token (no
blanks, quotes or shell characters) and never needs quoting.
"""
from __future__ import annotations

import getpass
import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from ..factory import ExecutorConfigError

TRANSPORTS = ("ssh", "local", "pyslurm")

#: what an #SBATCH value may hold: Slurm names, lists, gres specs, memory sizes
_TOKEN = re.compile(r"[A-Za-z0-9_.,:=/+@%\-]+")
# minutes | MM:SS | HH:MM:SS | D-HH | D-HH:MM | D-HH:MM:SS | "infinite"/"UNLIMITED"
_TIME = re.compile(r"\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|(?i:infinite|unlimited)")
_MEMORY = re.compile(r"\d+[KMGT]?B?", re.IGNORECASE)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ProfileError(ExecutorConfigError):
    """A Slurm profile or a node's resources are not usable (the message says which key and why)."""


def _fail(where: str, key: str, msg: str) -> ProfileError:
    return ProfileError(f"{where}: {key!r} {msg}")


def _token(where: str, key: str, v: Any) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise _fail(where, key, f"must be text, got {type(v).__name__}")
    s = str(v)
    if not _TOKEN.fullmatch(s):
        raise _fail(where, key, f"must be one Slurm word (letters, digits and _.,:=/+@%-), got {s!r}")
    return s


def _time(where: str, key: str, v: Any) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise _fail(where, key, f"must be a Slurm time such as \"30\", \"1:00:00\" or \"2-00:00:00\", got {v!r}")
    s = str(v).strip()
    if not _TIME.fullmatch(s):
        raise _fail(where, key, f"must be a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]), got {s!r}")
    return s


def _memory(where: str, key: str, v: Any) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise _fail(where, key, "must be a size such as \"4G\" or a number of megabytes")
    s = str(v).strip()
    if not _MEMORY.fullmatch(s):
        raise _fail(where, key, f"must be a size such as \"4G\", \"500M\" or a number of megabytes, got {s!r}")
    return s


def _positive_int(where: str, key: str, v: Any, *, optional: bool = True) -> int | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _fail(where, key, f"must be a whole number of at least 1, got {v!r}")
    return v


def _number(where: str, key: str, v: Any, minimum: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < minimum:
        raise _fail(where, key, f"must be a number of at least {minimum:g}, got {v!r}")
    return float(v)


def _lines(where: str, key: str, v: Any) -> tuple[str, ...]:
    if v is None or v == "":
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise _fail(where, key, "must be a list of text lines")
    for line in v:
        if "\n" in line or "\r" in line or "\0" in line:
            raise _fail(where, key, f"lines must be single lines, got {line!r}")
    return tuple(v)


def _sbatch_lines(where: str, key: str, v: Any) -> tuple[str, ...]:
    out = []
    for line in _lines(where, key, v):
        s = line.strip()
        if s.startswith("#SBATCH"):
            s = s[len("#SBATCH"):].strip()
        if not s.startswith("-"):
            raise _fail(where, key, f"lines must be sbatch options such as \"--constraint=avx2\", got {line!r}")
        out.append(s)
    return tuple(out)


def parse_jump_host(text: str, default_user: str) -> tuple[str, str, int]:
    """``[user@]host[:port]`` → (user, host, port)."""
    user, _, rest = text.rpartition("@")
    host, port = rest, 22
    if rest.startswith("["):  # [ipv6]:port
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif rest.count(":") == 1:
        host, p = rest.split(":")
        port = int(p)
    if not host or not 0 < port < 65536:
        raise ValueError(text)
    return user or default_user, host, port


@dataclass(frozen=True)
class SlurmProfile:
    name: str
    host: str | None = None
    port: int = 22
    user: str = ""
    key_file: str | None = None
    use_agent: bool = False
    known_hosts: str = "~/.ssh/known_hosts"
    jump_host: str | None = None  # "user@host:port"
    workdir: str = "nodeflow-runs"  # relative paths are relative to the remote home
    python: str = "python3"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_limit: str | None = None
    cpus: int | None = None
    memory: str | None = None
    gres: str | None = None
    extra_sbatch: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    transport: str = "ssh"
    max_in_flight: int | None = None
    poll_min_s: float = 1.0
    poll_cap_s: float = 30.0
    connect_timeout_s: float = 15.0
    keepalive_s: float = 15.0
    command_timeout_s: float = 120.0
    #: give up on a lost connection after this long (the jobs keep running; ``run --attach`` later)
    reconnect_give_up_s: float = 600.0
    #: how long a finished job's status file may lag behind Slurm (shared file systems cache)
    status_grace_s: float = 15.0
    #: keys of the table this version does not know (kept, reported by ``nodeflow slurm profiles``)
    unknown_keys: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> "SlurmProfile":
        where = f"[slurm.{name}]"
        if not isinstance(d, Mapping):
            raise ProfileError(f"{where} must be a table")
        known = {f.name for f in fields(cls)} - {"name", "unknown_keys"}
        g = d.get
        transport = g("transport", "ssh")
        if transport not in TRANSPORTS:
            raise _fail(where, "transport", f"must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        host = g("host")
        if transport == "ssh":
            if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host.strip()):
                raise _fail(where, "host", "is needed (the login node's name or address) for transport \"ssh\"")
            host = host.strip()
        port = g("port", 22)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise _fail(where, "port", f"must be a port number, got {port!r}")
        user = g("user") or getpass.getuser()
        if not isinstance(user, str) or not _TOKEN.fullmatch(user):
            raise _fail(where, "user", f"must be a user name, got {user!r}")
        key_file = g("key_file")
        if key_file is not None and (not isinstance(key_file, str) or not key_file):
            raise _fail(where, "key_file", "must be the path of a private key file")
        use_agent = g("use_agent", key_file is None)
        if not isinstance(use_agent, bool):
            raise _fail(where, "use_agent", "must be true or false")
        if transport == "ssh" and key_file is None and not use_agent:
            raise ProfileError(f"{where}: give 'key_file' or set 'use_agent = true' (password logins are not used)")
        jump = g("jump_host")
        if jump:
            try:
                parse_jump_host(str(jump), user)
            except ValueError:
                raise _fail(where, "jump_host", f"must look like user@host:port, got {jump!r}") from None
        for key in ("known_hosts", "workdir", "python"):
            v = g(key)
            if v is not None and (not isinstance(v, str) or not v.strip() or "\n" in v or "\0" in v):
                raise _fail(where, key, "must be non-empty text on one line")
        workdir = str(g("workdir", cls.workdir)).strip()
        poll_min = _number(where, "poll_min_s", g("poll_min_s", cls.poll_min_s), 0.05)
        poll_cap = _number(where, "poll_cap_s", g("poll_cap_s", cls.poll_cap_s), poll_min)
        p = cls(
            name=name, host=host, port=port, user=user, key_file=key_file, use_agent=use_agent,
            known_hosts=g("known_hosts") or cls.known_hosts, jump_host=str(jump) if jump else None,
            workdir=workdir.rstrip("/") or "/", python=(g("python") or cls.python).strip(),
            partition=_token(where, "partition", g("partition")), account=_token(where, "account", g("account")),
            qos=_token(where, "qos", g("qos")), time_limit=_time(where, "time_limit", g("time_limit")),
            cpus=_positive_int(where, "cpus", g("cpus")), memory=_memory(where, "memory", g("memory")),
            gres=_token(where, "gres", g("gres")),
            extra_sbatch=_sbatch_lines(where, "extra_sbatch", g("extra_sbatch")),
            setup=_lines(where, "setup", g("setup")), transport=transport,
            max_in_flight=_positive_int(where, "max_in_flight", g("max_in_flight")),
            poll_min_s=poll_min, poll_cap_s=poll_cap,
            connect_timeout_s=_number(where, "connect_timeout_s", g("connect_timeout_s", cls.connect_timeout_s), 1),
            keepalive_s=_number(where, "keepalive_s", g("keepalive_s", cls.keepalive_s), 0),
            command_timeout_s=_number(where, "command_timeout_s", g("command_timeout_s", cls.command_timeout_s), 1),
            reconnect_give_up_s=_number(where, "reconnect_give_up_s",
                                        g("reconnect_give_up_s", cls.reconnect_give_up_s), 0),
            status_grace_s=_number(where, "status_grace_s", g("status_grace_s", cls.status_grace_s), 0),
            unknown_keys=tuple(sorted(k for k in d if k not in known)))
        import shlex

        try:
            if not shlex.split(p.python):
                raise ValueError
        except ValueError:
            raise _fail(where, "python", f"must be a command such as \"python3\", got {p.python!r}") from None
        return p

    @property
    def where(self) -> str:
        if self.transport == "ssh":
            port = f":{self.port}" if self.port != 22 else ""
            via = f" via {self.jump_host}" if self.jump_host else ""
            return f"{self.user}@{self.host}{port}{via}"
        return f"{self.transport} (this machine)"


#: node ``resources`` keys the Slurm executor understands (others are left to other executors)
RESOURCE_KEYS = ("partition", "account", "qos", "time_limit", "cpus", "memory", "gres", "extra_sbatch")


@dataclass(frozen=True)
class JobResources:
    """What one job asks Slurm for: the profile's defaults with the node's overrides."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_limit: str | None = None
    cpus: int | None = None
    memory: str | None = None
    gres: str | None = None
    extra_sbatch: tuple[str, ...] = ()

    @classmethod
    def of(cls, profile: SlurmProfile, resources: Mapping[str, Any] | None, node: str = "node") -> "JobResources":
        r = resources or {}
        where = f"node {node!r} resources"

        def pick(key):
            return r[key] if r.get(key) not in (None, "") else getattr(profile, key)

        extra = profile.extra_sbatch + _sbatch_lines(where, "extra_sbatch", r.get("extra_sbatch"))
        return cls(partition=_token(where, "partition", pick("partition")),
                   account=_token(where, "account", pick("account")), qos=_token(where, "qos", pick("qos")),
                   time_limit=_time(where, "time_limit", pick("time_limit")),
                   cpus=_positive_int(where, "cpus", pick("cpus")), memory=_memory(where, "memory", pick("memory")),
                   gres=_token(where, "gres", pick("gres")), extra_sbatch=extra)

    def sbatch_options(self) -> list[str]:
        """``--key=value`` options, every value a plain token (validated above)."""
        opts = []
        for key, opt in (("partition", "partition"), ("account", "account"), ("qos", "qos"),
                         ("time_limit", "time"), ("cpus", "cpus-per-task"), ("memory", "mem"), ("gres", "gres")):
            v = getattr(self, key)
            if v is not None:
                opts.append(f"--{opt}={v}")
        opts.extend(self.extra_sbatch)
        return opts


def env_name_ok(name: str) -> bool:
    return bool(_ENV_NAME.fullmatch(name))
