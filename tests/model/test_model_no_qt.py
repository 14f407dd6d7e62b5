"""Importing nodeflow, its model and its library never imports Qt (checked in a fresh interpreter)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from model_helpers import fixture

BLOCKER = textwrap.dedent("""
    import importlib.abc, json, sys

    BLOCKED = {"PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "NodeGraphQt", "qtpy",
               "pytestqt"}
    attempts = []

    class NoQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                attempts.append(name)
                raise ImportError(f"{name} is blocked: nodeflow must not import Qt here")
            return None

    sys.meta_path.insert(0, NoQt())

    def report(**more):
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print(json.dumps({"loaded": loaded, "attempts": attempts, **more}))
""")


def run_blocked(body: str) -> dict:
    code = BLOCKER + textwrap.dedent(body)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_blocker_works():
    out = run_blocked("""
        try:
            import PySide6
        except ImportError:
            pass
        report()
    """)
    assert out["attempts"] == ["PySide6"] and out["loaded"] == []


def test_importing_nodeflow_model_and_library_does_not_import_qt():
    out = run_blocked("""
        import nodeflow
        import nodeflow.model
        import nodeflow.library
        reg = nodeflow.library.default_registry()
        report(paths=len(reg.known_paths()))
    """)
    assert "PySide6" not in out["loaded"]
    assert out["loaded"] == []
    assert out["paths"] > 0


def test_load_validate_save_without_qt(tmp_path):
    out = run_blocked(f"""
        import nodeflow
        from nodeflow.model import topological_order
        wf = nodeflow.load({str(fixture("basic.nc"))!r})
        problems = nodeflow.validate(wf)
        nodeflow.save(wf, {str(tmp_path / "out.nc")!r})
        report(problems=[str(p) for p in problems], order=topological_order(wf))
    """)
    assert out["loaded"] == []
    assert out["problems"] == []
    assert out["order"] == ["float", "integer", "multiply", "power"]


def test_validate_command_without_qt():
    out = run_blocked(f"""
        import contextlib, io
        from nodeflow.cli import main
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["validate", "--order", {str(fixture("basic.nc"))!r}])
        report(code=code, stdout=buf.getvalue())
    """)
    assert out["loaded"] == []
    assert out["code"] == 0
    assert out["stdout"].split() == ["float", "integer", "multiply", "power"]
