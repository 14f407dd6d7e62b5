"""Typed edges: command terminals declare kinds of file; mismatches are caught before running."""
from __future__ import annotations

import subprocess
import sys

import nodeflow
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow
from nodeflow.model.validate import declare_dtype, dtypes_compatible


def test_file_kinds_compatibility():
    assert dtypes_compatible("file:csv", "file:csv")
    assert dtypes_compatible("file:csv", "<class 'str'>") and dtypes_compatible("<class 'str'>", "file:csv")
    assert dtypes_compatible("file:csv", "None")
    assert not dtypes_compatible("file:csv", "file:json")
    assert not dtypes_compatible("file:csv", "<class 'float'>")


def test_mismatched_file_kinds_fail_validation_and_nothing_runs(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    a = reg.create_node(("shell", "Command"), wf)
    wf.add_node(a)
    a.terminals["command"].value = "touch"
    a.terminals["args"].value = [str(tmp_path / "ran")]
    declare_dtype(a, "stdout", "file:csv")
    b = reg.create_node(("shell", "Command"), wf)
    wf.add_node(b)
    b.terminals["command"].value = "cat"
    declare_dtype(b, "args", "file:json")
    wf.connect((a.uniquename, "stdout"), (b.uniquename, "args"))
    problems = nodeflow.validate(wf, registry=reg)
    assert any(p.code == "dtype" and "file:csv" in p.message and "file:json" in p.message for p in problems)
    path = tmp_path / "typed.nc"
    nodeflow.save(wf, path)
    # the declaration survives the file
    assert nodeflow.load(path).nodes[a.uniquename].terminals["stdout"].dtype == "file:csv"
    p = subprocess.run([sys.executable, "-m", "nodeflow.cli", "run", str(path), "--no-history"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "type mismatch" in p.stderr
    assert not (tmp_path / "ran").exists()
    declare_dtype(b, "args", "file:csv")
    assert not [p for p in nodeflow.validate(wf, registry=reg) if p.is_error]
