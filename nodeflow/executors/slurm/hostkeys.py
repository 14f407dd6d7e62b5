"""SSH host keys: fingerprints, known_hosts look-ups and trusting a key (appending it).

Host keys are always verified (DESIGN rule 7): ``verified_client`` (what
the SSH transport connects with) refuses a host whose key is not in the
profile's known_hosts — or differs from it — with a message saying how to
trust it, and ``trust_host_keys`` — the walk over a profile's hops behind
both ``nodeflow slurm trust`` and the GUI's dialog — shows the fingerprint
computed here and, once the user says yes, appends the key with
``append_known_host``. Nothing here accepts a
key silently.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
from pathlib import Path

from .errors import AuthError, ConnectionLost, HostKeyError, TransportError


def fingerprint(key) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint of a paramiko key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def host_entry(host: str, port: int) -> str:
    """How known_hosts names a host: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def describe(key) -> str:
    return f"{key.get_name()} {fingerprint(key)}"


def known_keys(known_hosts: str | os.PathLike, host: str, port: int) -> dict:
    """``{key type: key}`` that known_hosts holds for host:port (empty when none or no file)."""
    import paramiko

    path = Path(known_hosts).expanduser()
    if not path.exists():
        return {}
    hk = paramiko.HostKeys()
    try:
        hk.load(str(path))
    except (OSError, UnicodeDecodeError):
        return {}
    entry = hk.lookup(host_entry(host, port))
    return dict(entry) if entry else {}


def fetch_host_key(host: str, port: int, *, timeout: float = 15.0, sock=None):
    """The key a server presents (key exchange only, no authentication)."""
    import paramiko

    if sock is None:
        sock = socket.create_connection((host, port), timeout=timeout)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=timeout)
        return t.get_remote_server_key()
    finally:
        t.close()


def append_known_host(known_hosts: str | os.PathLike, host: str, port: int, key) -> Path:
    """Append ``key`` for host:port to known_hosts (created with its folder, private, if needed)."""
    path = Path(known_hosts).expanduser()
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    line = f"{host_entry(host, port)} {key.get_name()} {key.get_base64()}\n"
    needs_newline = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as f:
        if needs_newline:
            f.write("\n")
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return path


class _RefuseUnknown:
    """A RejectPolicy that remembers the key it refused, for the message."""

    def __init__(self):
        self.refused = None

    def missing_host_key(self, client, hostname, key):
        self.refused = (hostname, key)
        import paramiko

        raise paramiko.SSHException(f"Server {hostname!r} not found in known_hosts")


def verified_client(p, host: str, port: int, user: str, sock=None):
    """A connected paramiko SSHClient for profile ``p``; the host key must be in ``p.known_hosts``
    (a RejectPolicy, never AutoAdd). Raises HostKeyError, AuthError or ConnectionLost."""
    import paramiko

    client = paramiko.SSHClient()
    known = os.path.expanduser(p.known_hosts)
    if os.path.exists(known):
        try:
            client.load_host_keys(known)
        except (OSError, UnicodeDecodeError, paramiko.SSHException) as e:
            raise TransportError(f"cannot read known_hosts {known}: {e}") from None
    policy = _RefuseUnknown()
    client.set_missing_host_key_policy(policy)
    key_file = os.path.expanduser(p.key_file) if p.key_file else None
    if key_file and not os.path.exists(key_file):
        raise AuthError(f"[slurm.{p.name}] key_file {key_file} does not exist")
    try:
        client.connect(host, port=port, username=user, key_filename=key_file, allow_agent=p.use_agent,
                       look_for_keys=False, timeout=p.connect_timeout_s, banner_timeout=p.connect_timeout_s,
                       auth_timeout=p.connect_timeout_s, sock=sock)
    except paramiko.BadHostKeyException as e:
        client.close()
        raise HostKeyError(
            f"HOST KEY MISMATCH for {host_entry(host, port)}: it presents {describe(e.key)} but {known} "
            f"holds {describe(e.expected_key)}. This may be an attack. If the key really changed, remove the "
            f"old entry (ssh-keygen -R '{host_entry(host, port)}' -f {known}) and run: "
            f"nodeflow slurm trust {p.name}") from None
    except paramiko.AuthenticationException as e:
        client.close()
        raise AuthError(f"{user}@{host_entry(host, port)} refused the login: {e}") from None
    except paramiko.SSHException as e:
        client.close()
        if policy.refused is not None:
            _, key = policy.refused
            raise HostKeyError(
                f"the host key of {host_entry(host, port)} ({describe(key)}) is not in {known}: nodeflow does "
                f"not accept unknown host keys. Check the fingerprint with the cluster's admins, then trust it "
                f"with: nodeflow slurm trust {p.name}") from None
        raise ConnectionLost(f"cannot connect to {host_entry(host, port)}: {e}") from None
    except (OSError, EOFError) as e:
        client.close()
        raise ConnectionLost(f"cannot connect to {host_entry(host, port)}: {e}") from None
    transport = client.get_transport()
    if p.keepalive_s:
        transport.set_keepalive(max(1, int(p.keepalive_s)))
    try:  # no Nagle: small request/answer exchanges otherwise wait ~40 ms for delayed ACKs (52 -> 13 ms an exec)
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):  # a silently dead network drops the connection (keepalives
            # go unanswered) within about a minute instead of TCP's ~15, so we reconnect
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 60_000)
    except (AttributeError, OSError):
        pass  # through a jump host the "socket" is a channel; the jump connection has it set
    return client


class TrustRefused(Exception):
    """A hop's host key could not be checked or was not trusted.

    ``title`` heads a dialog; ``declined`` is True when the user said no (the
    asking side has already told them, so there is nothing more to show)."""

    def __init__(self, title: str, message: str, *, declined: bool = False):
        super().__init__(message)
        self.title = title
        self.declined = declined


def trust_host_keys(p, accept) -> list[str]:
    """Check the host keys of profile ``p``'s SSH hops — the jump host if any, then the login node.

    A key already in known_hosts passes; a changed key is refused as a possible
    attack; an unknown key is appended only when ``accept(what, entry, key,
    fingerprint, known_hosts)`` says yes (``nodeflow slurm trust`` asks on the
    terminal, the editor in a dialog). Returns a line per hop saying what
    happened; raises ``TrustRefused``."""
    from .profile import parse_jump_host

    known_hosts = os.path.expanduser(p.known_hosts)
    hops = []
    jump_user = None
    if p.jump_host:
        jump_user, jhost, jport = parse_jump_host(p.jump_host, p.user)
        hops.append(("jump host", jhost, jport))
    hops.append(("login node", p.host, p.port))
    notes: list[str] = []
    jump_client = None
    try:
        for what, host, port in hops:
            entry = host_entry(host, port)
            try:
                sock = None
                if jump_client is not None:
                    sock = jump_client.get_transport().open_channel("direct-tcpip", (host, port), ("127.0.0.1", 0),
                                                                    timeout=p.connect_timeout_s)
                key = fetch_host_key(host, port, timeout=p.connect_timeout_s, sock=sock)
            except Exception as e:
                raise TrustRefused("Cannot reach the host", f"cannot reach the {what} {entry}: {e}") from None
            have = known_keys(known_hosts, host, port)
            fp = fingerprint(key)
            if have.get(key.get_name()) == key:
                notes.append(f"the {what} {entry} is trusted already ({key.get_name()} {fp})")
            elif key.get_name() in have:
                raise TrustRefused(
                    "Host key changed",
                    f"WARNING: the {what} {entry} now presents {key.get_name()} {fp}, but {known_hosts} holds "
                    f"{fingerprint(have[key.get_name()])} for it. This may be an attack. If the key really changed, "
                    f"remove the old entry (ssh-keygen -R '{entry}' -f {known_hosts}) and try again.")
            elif not accept(what, entry, key, fp, known_hosts):
                raise TrustRefused("Not trusted", f"the {what} {entry} was not trusted", declined=True)
            else:
                append_known_host(known_hosts, host, port, key)
                notes.append(f"added {entry} to {known_hosts}")
            if what == "jump host":
                try:
                    jump_client = verified_client(p, host, port, jump_user)
                except TransportError as e:
                    raise TrustRefused("Cannot log in", f"cannot log in to the jump host: {e}") from None
    finally:
        if jump_client is not None:
            jump_client.close()
    return notes
