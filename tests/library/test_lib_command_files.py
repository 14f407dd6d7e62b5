"""shell/Command (argument lists, never a shell) and files/* nodes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from nodeflow.library import CommandLine, CommandResult, NodeError

needs_posix = pytest.mark.skipif(shutil.which("printf") is None, reason="needs printf")


@pytest.fixture
def command(registry):
    t = registry.get(("shell", "Command"))
    assert t.kind == "command" and t.isolate is False
    return t


def test_injection_text_is_one_argument(command):
    cl = command.command({"command": "echo", "args": ["; rm -rf x"], "environment": {}, "directory": ""})
    assert isinstance(cl, CommandLine)
    assert cl.argv == ("echo", "; rm -rf x")
    assert cl.cwd is None and dict(cl.env) == {}


def test_text_args_is_one_argument_and_lists_stay_separate(command):
    assert command.command({"command": "echo", "args": "a b c"}).argv == ("echo", "a b c")
    assert command.command({"command": "echo", "args": ["a b", "$HOME", "`x`", "c"]}).argv == \
        ("echo", "a b", "$HOME", "`x`", "c")
    # multiinput: a format string from one connection, a list from another
    assert command.command({"command": "printf", "args": ["%s|", ["x y", "z"]]}).argv == \
        ("printf", "%s|", "x y", "z")
    assert command.command({"command": "seq", "args": [1, 2.5, True]}).argv == ("seq", "1", "2.5", "True")
    assert command.command({"command": "true", "args": []}).argv == ("true",)
    assert command.command({"command": "true"}).argv == ("true",)


def test_environment_and_directory(command, tmp_path):
    cl = command.command({"command": "env", "args": [], "environment": {"A": "1 2", "B": 3},
                          "directory": str(tmp_path)})
    assert dict(cl.env) == {"A": "1 2", "B": "3"} and cl.cwd == str(tmp_path)
    assert dict(command.command({"command": "env", "environment": ["X=a=b"]}).env) == {"X": "a=b"}
    assert command.command({"command": "ls", "directory": "~"}).cwd == os.path.expanduser("~")


@pytest.mark.parametrize("inputs, words", [
    ({"command": ""}, "'command' is empty"),
    ({"command": None}, "'command' is empty"),
    ({"command": "echo", "args": [None]}, "has no value"),
    ({"command": "echo", "args": [{"a": 1}]}, "must be text or a number"),
    ({"command": "echo", "args": ["a\0b"]}, "NUL"),
    ({"command": "echo", "environment": {"A=B": "1"}}, "not a valid environment variable name"),
    ({"command": "echo", "environment": 5}, "must be a mapping"),
    ({"command": "echo", "directory": 5}, "folder path"),
])
def test_bad_command_inputs(command, inputs, words):
    with pytest.raises(NodeError, match=words):
        command.command(inputs)


def _run(cl: CommandLine, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(list(cl.argv), env={**os.environ, **cl.env}, cwd=cl.cwd or cwd, capture_output=True,
                          text=True, timeout=30)


@needs_posix
def test_running_the_argv_involves_no_shell(command, tmp_path):
    cl = command.command({"command": "printf", "args": ["%s", "a b; echo hacked"]})
    p = _run(cl)
    assert p.returncode == 0 and p.stdout == "a b; echo hacked"

    victim = tmp_path / "x"
    victim.mkdir()
    p = _run(command.command({"command": "printf", "args": ["%s\n", "; rm -rf x", "$(rm -rf x)"]}), tmp_path)
    assert p.stdout == "; rm -rf x\n$(rm -rf x)\n" and victim.is_dir()


def test_environment_reaches_the_program(command, tmp_path):
    cl = command.command({"command": sys.executable,
                          "args": ["-c", "import os, sys; sys.stdout.write(os.environ['NF_TEST'] + os.getcwd())"],
                          "environment": {"NF_TEST": "v;$x "}, "directory": str(tmp_path)})
    assert _run(cl).stdout == "v;$x " + str(tmp_path)


def test_collect_outputs_and_failure(command):
    assert command.collect(CommandResult(0, "out\n", "err\n"), {}) == \
        {"stdout": "out\n", "stderr": "err\n", "exitcode": 0}
    with pytest.raises(NodeError, match="status 3: boom"):
        command.collect(CommandResult(3, "", "warming up\nboom\n"), {})


# -- files ------------------------------------------------------------------
def test_write_then_read_text(call, tmp_path):
    out = call(("files", "Write Text"), path="sub/dir/a.txt", text="héllo\n")
    target = tmp_path / "sub" / "dir" / "a.txt"
    assert out == {"file": str(target)}
    assert target.read_text("utf-8") == "héllo\n"
    assert call(("files", "Read Text"), path=str(target)) == {"text": "héllo\n"}
    assert call(("files", "Read Text"), path="sub/dir/a.txt") == {"text": "héllo\n"}  # relative to base_dir
    call(("files", "Write Text"), path=str(target), text=42.5)
    assert target.read_text() == "42.5"
    assert not [p for p in target.parent.iterdir() if p.name != "a.txt"]  # no temp files left behind


@pytest.mark.parametrize("path, inputs, words", [
    (("files", "Read Text"), dict(path="missing.txt"), "no such file"),
    (("files", "Read Text"), dict(path=""), "'path' is empty"),
    (("files", "Read Text"), dict(path="."), "is a folder"),
    (("files", "Write Text"), dict(path="a.txt", text=None), "has no value"),
    (("files", "Write Text"), dict(path="a.txt", text=[1, 2]), "must be text"),
    (("files", "Write Text"), dict(path=3, text="x"), "must be text"),
    (("files", "Glob"), dict(directory="nope", pattern="*"), "no such folder"),
    (("files", "Glob"), dict(directory="", pattern=""), "'pattern' is empty"),
])
def test_file_errors(call, path, inputs, words):
    with pytest.raises(NodeError, match=words):
        call(path, **inputs)


def test_read_text_not_utf8(call, tmp_path):
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(NodeError, match="not UTF-8"):
        call(("files", "Read Text"), path="bin.dat")


def test_glob_sorted(call, tmp_path):
    d = tmp_path / "data"
    (d / "deep").mkdir(parents=True)
    for name in ("b.csv", "a.csv", "c.txt", "deep/z.csv"):
        (d / name).write_text("x")
    assert call(("files", "Glob"), directory=str(d), pattern="*.csv") == \
        {"files": [str(d / "a.csv"), str(d / "b.csv")]}
    assert call(("files", "Glob"), directory="data", pattern="**/*.csv")["files"] == \
        sorted(str(p) for p in (d / "a.csv", d / "b.csv", d / "deep" / "z.csv"))
    assert call(("files", "Glob"), directory="data", pattern="*.none") == {"files": []}
