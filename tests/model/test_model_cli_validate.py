"""``nodeflow validate`` and the bare ``nodeflow`` command, run as a user would (a subprocess)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import nodeflow
from nodeflow.model import WorkflowFileError, load

from model_helpers import fixture


@pytest.fixture
def folder(tmp_path):
    """A working folder holding copies of the fixtures, with user folders of its own."""
    for name in ("basic.nc", "unknown_types.nc", "cycle.nc", "dtype_error.nc", "bad_json.nc", "latin1.nc",
                 "unicode.nc"):
        shutil.copy(fixture(name), tmp_path / name)
    return tmp_path


def run(folder, *args, timeout=60):
    env = dict(os.environ)
    home = folder / ".home"
    env.update(NODEFLOW_HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_STATE_HOME=str(home / "state"), PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", *args], cwd=folder, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=timeout)


def lines(s: str) -> list[str]:
    return s.splitlines()


def test_clean_file_exits_0_and_prints_nothing(folder):
    r = run(folder, "validate", "basic.nc")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_order(folder):
    r = run(folder, "validate", "--order", "basic.nc")
    assert r.returncode == 0, r.stderr
    assert lines(r.stdout) == ["float", "integer", "multiply", "power"]


def test_warnings_only_exit_0(folder):
    r = run(folder, "validate", "unknown_types.nc")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert len(out) == 2
    assert out[0].startswith("unknown_types.nc: my string node: unknown node type 'my custom nodes/my string node'")
    assert out[1].startswith("unknown_types.nc: frobnicate: unknown node type 'acme/deep/Frobnicate'")
    assert all(line.endswith(" (warning)") for line in out)


def test_warnings_then_order(folder):
    r = run(folder, "validate", "unknown_types.nc", "--order")
    assert r.returncode == 0
    out = lines(r.stdout)
    assert out[2:] == ["my string node", "frobnicate"]


def test_errors_exit_2(folder):
    r = run(folder, "validate", "dtype_error.nc")
    assert r.returncode == 2
    assert lines(r.stdout) == [
        "dtype_error.nc: connection: type mismatch: string.string gives str but power.base takes float"]


def test_cycle_exit_2_and_no_order(folder):
    r = run(folder, "validate", "--order", "cycle.nc")
    assert r.returncode == 2
    assert lines(r.stdout) == ["cycle.nc: alpha: cycle: alpha -> beta -> gamma -> alpha"]
    assert "cycle.nc: no execution order: cycle: alpha -> beta -> gamma -> alpha" in r.stderr


def test_unparseable_file_exit_1_with_the_loaders_message(folder):
    r = run(folder, "validate", "bad_json.nc")
    assert r.returncode == 1
    assert r.stdout == ""
    with pytest.raises(WorkflowFileError) as info:
        load(folder / "bad_json.nc")
    expected = str(info.value).replace(str(folder / "bad_json.nc"), "bad_json.nc")
    assert r.stderr.strip() == expected
    assert "bad_json.nc: line 3, column 20: not valid JSON" in r.stderr


def test_bad_field_exit_1_naming_the_place(folder):
    (folder / "bad_field.nc").write_text('{"a": {"type": "Node", "path": "math/Power", "terminals": {}}}',
                                         encoding="utf-8")
    r = run(folder, "validate", "bad_field.nc")
    assert r.returncode == 1
    assert r.stderr.strip() == "bad_field.nc: 'a': field 'path': must be a non-empty list of strings"


def test_non_utf8_exit_1(folder):
    r = run(folder, "validate", "latin1.nc")
    assert r.returncode == 1
    assert r.stderr.startswith("latin1.nc: not UTF-8 text")


def test_missing_file_exit_1(folder):
    r = run(folder, "validate", "nope.nc")
    assert r.returncode == 1
    assert r.stderr.strip() == "nope.nc: No such file or directory"


def test_several_files(folder):
    r = run(folder, "validate", "nope.nc", "basic.nc", "unknown_types.nc")
    assert r.returncode == 1  # unreadable, but no validation errors
    r = run(folder, "validate", "nope.nc", "dtype_error.nc", "basic.nc")
    assert r.returncode == 2  # validation errors win over unreadable files
    assert lines(r.stdout) == [
        "dtype_error.nc: connection: type mismatch: string.string gives str but power.base takes float"]
    r = run(folder, "validate", "--order", "basic.nc", "unknown_types.nc")
    assert r.returncode == 0
    assert lines(r.stdout)[:4] == ["float", "integer", "multiply", "power"]


def test_absolute_and_unicode_paths(folder):
    target = folder / "größe 节点.nc"
    shutil.copy(folder / "dtype_error.nc", target)
    r = run(folder, "validate", str(target))
    assert r.returncode == 2
    assert r.stdout.startswith(f"{target}: connection: type mismatch")


def test_unicode_uniquenames_in_output(folder):
    r = run(folder, "validate", "--order", "unicode.nc")
    assert r.returncode == 0
    out = lines(r.stdout)
    assert out[0].startswith("unicode.nc: 节点: unknown node type 'my custom nodes/节点'")
    assert out[0].endswith(" (warning)")
    assert out[-3:] == ["größe", "ünïcødé.0", "节点"]


def test_no_files_is_a_usage_error(folder):
    r = run(folder, "validate")
    assert r.returncode == 2
    assert "usage:" in r.stderr


def test_version(folder):
    r = run(folder, "--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"nodeflow {nodeflow.__version__}"


def test_help_lists_the_commands(folder):
    r = run(folder, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: nodeflow")
    assert "validate" in r.stdout


def test_bare_command_opens_the_editor(monkeypatch):
    from nodeflow import cli
    from nodeflow.commands import gui_cmd

    opened = []
    monkeypatch.setattr(gui_cmd, "run", lambda args: opened.append(args.file) or 0)
    assert cli.main([]) == 0
    assert opened == [None]


def test_in_process_main_matches(folder, capsys, monkeypatch):
    from nodeflow.cli import main

    monkeypatch.chdir(folder)
    monkeypatch.setenv("NODEFLOW_HOME", str(folder / ".home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / ".home" / "data"))
    assert main(["validate", "--order", "basic.nc"]) == 0
    assert capsys.readouterr().out.splitlines() == ["float", "integer", "multiply", "power"]
    assert main(["validate", "cycle.nc"]) == 2
    assert main(["validate", "bad_json.nc"]) == 1
