"""``nodeflow slurm …``: Slurm profiles from the command line.

* ``nodeflow slurm profiles`` – the ``[slurm.NAME]`` tables of the config, validated.
* ``nodeflow slurm test PROFILE`` – connect as the executor would and run ``sinfo``.
* ``nodeflow slurm trust PROFILE`` – show the host key of the login node (and
  of the jump host, if any) with its SHA256 fingerprint, ask y/N, and append
  it to the profile's known_hosts. ``--fingerprint SHA256:…`` trusts without
  asking, but only a key with exactly that fingerprint. A key that differs
  from the one already trusted is never replaced here.
Exit 0 on success, 1 when the cluster refused or the user said no, 2 for a
bad profile name or profile.
"""
from __future__ import annotations

import sys
import time


def add_parser(sub) -> None:
    p = sub.add_parser("slurm", help="Slurm profiles: list them, test a connection, trust a host key")
    actions = p.add_subparsers(dest="slurm_action", metavar="ACTION")
    actions.add_parser("profiles", help="list the Slurm profiles of the config")
    t = actions.add_parser("test", help="connect with a profile and run sinfo")
    t.add_argument("profile", metavar="PROFILE")
    tr = actions.add_parser("trust", help="show a profile's host key fingerprint and add it to known_hosts")
    tr.add_argument("profile", metavar="PROFILE")
    tr.add_argument("--fingerprint", metavar="SHA256:…", help="trust without asking if the key has this fingerprint")
    p.set_defaults(handler=run, _parser=p)


def run(args) -> int:
    action = getattr(args, "slurm_action", None)
    if action is None:
        args._parser.print_help()
        return 2
    from ..config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    if action == "profiles":
        return _profiles(config)
    profile = _profile(config, args.profile)
    if profile is None:
        return 2
    return _test(profile) if action == "test" else _trust(profile, args.fingerprint)


def _profile(config, name: str):
    from ..executors.slurm.profile import ProfileError, SlurmProfile

    if name not in config.slurm:
        known = ", ".join(sorted(config.slurm)) or "none configured"
        print(f"no Slurm profile {name!r} in {config.path} (profiles: {known})", file=sys.stderr)
        return None
    try:
        return SlurmProfile.from_dict(name, config.slurm[name])
    except ProfileError as e:
        print(f"{config.path}: {e}", file=sys.stderr)
        return None


def _profiles(config) -> int:
    from ..executors.slurm.profile import ProfileError, SlurmProfile

    if not config.slurm:
        print(f"no Slurm profiles in {config.path} (add a [slurm.NAME] table)")
        return 0
    bad = 0
    for name in sorted(config.slurm):
        try:
            p = SlurmProfile.from_dict(name, config.slurm[name])
        except ProfileError as e:
            print(f"{name}: INVALID: {e}")
            bad += 1
            continue
        bits = [p.where, f"workdir {p.workdir}"]
        if p.partition:
            bits.append(f"partition {p.partition}")
        print(f"slurm:{name}  " + ", ".join(bits))
        if p.unknown_keys:
            print(f"  warning: keys not understood (kept): {', '.join(p.unknown_keys)}")
    return 2 if bad else 0


def _test(profile) -> int:
    from ..executors.slurm.transport import TransportError, make_transport

    transport = make_transport(profile)
    try:
        t0 = time.perf_counter()
        transport.connect()
        t1 = time.perf_counter()
        res = transport.run("sinfo\n")
        t2 = time.perf_counter()
    except TransportError as e:
        print(f"slurm:{profile.name}: {e}", file=sys.stderr)
        return 1
    finally:
        transport.close()
    sys.stdout.write(res.stdout)
    if res.rc != 0:
        print(f"sinfo failed (exit {res.rc}): {res.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"slurm:{profile.name}: {profile.where} OK (connect {1000 * (t1 - t0):.0f} ms, "
          f"sinfo {1000 * (t2 - t1):.0f} ms)", file=sys.stderr)
    return 0


def _trust(profile, expected: str | None) -> int:
    from ..executors.slurm.hostkeys import TrustRefused, trust_host_keys

    if profile.transport != "ssh":
        print(f"slurm:{profile.name} uses transport {profile.transport!r}: there is no host key to trust")
        return 0
    try:
        notes = trust_host_keys(profile, lambda what, entry, key, fp, known_hosts:
                                _accept(what, entry, key, fp, known_hosts, expected))
    except TrustRefused as e:
        if not e.declined:  # _accept has said why already
            print(e, file=sys.stderr)
        return 1
    for line in notes:
        print(line)
    return 0


def _accept(what, entry, key, fp, known_hosts, expected) -> bool:
    print(f"The {what} {entry} presents this {key.get_name()} host key:\n    {fp}")
    if expected is not None:
        if expected.strip() == fp:
            return True
        print(f"it does not match the expected fingerprint {expected}: not trusted", file=sys.stderr)
        return False
    print("Compare it with the fingerprint your cluster's admins publish before you accept it.")
    try:
        answer = input(f"Trust it and add it to {known_hosts}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("not trusted")
    return False
