"""numpy/* and matplotlib/Plot through their functions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nodeflow.library import NodeContext, NodeError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_range_like_arange(call):
    r = call(("numpy", "Range"), start=0.0, stop=6.28, step=0.1, type="float")["range"]
    np.testing.assert_array_equal(r, np.arange(0.0, 6.28, 0.1, dtype=float))
    assert r.dtype == np.float64 and len(r) == 63


@pytest.mark.parametrize("type_name", ["int", "int8", "int16", "int32", "int64", "float", "float16", "float32",
                                       "float64"])
def test_range_types(call, type_name):
    r = call(("numpy", "Range"), start=1, stop=10, step=2, type=type_name)["range"]
    np.testing.assert_array_equal(r, np.arange(1, 10, 2, dtype=type_name))
    assert r.dtype == np.dtype(type_name)


def test_range_counts_down(call):
    np.testing.assert_array_equal(call(("numpy", "Range"), start=5, stop=0, step=-1, type="int")["range"],
                                  [5, 4, 3, 2, 1])


@pytest.mark.parametrize("inputs, words", [
    (dict(start=0, stop=1, step=0, type="float"), "step must not be 0"),
    (dict(start=0, stop=1, step=0.1, type="int"), "whole-number step"),
    (dict(start=0, stop=300, step=1, type="int8"), "do not fit in int8"),
    (dict(start=0, stop=1, step=1, type="complex"), "unknown type"),
    (dict(start=0, stop=1e12, step=1e-3, type="float"), "too many"),
    (dict(start="a", stop=1, step=1, type="float"), "must be a number"),
])
def test_range_errors(call, inputs, words):
    with pytest.raises(NodeError, match=words):
        call(("numpy", "Range"), **inputs)


@pytest.mark.parametrize("op", ["sin", "sinh", "cos", "cosh", "tan", "tanh"])
def test_range_into_trig(call, op):
    r = call(("numpy", "Range"), start=0.0, stop=3.0, step=0.25, type="float")["range"]
    out = call(("numpy", "Trig"), input=r, operation=op)["array"]
    np.testing.assert_allclose(out, getattr(np, op)(np.arange(0.0, 3.0, 0.25)))


def test_trig_scalar_and_errors(call):
    assert float(call(("numpy", "Trig"), input=0.0, operation="cos")["array"]) == 1.0
    with pytest.raises(NodeError, match="unknown operation"):
        call(("numpy", "Trig"), input=1.0, operation="arcsin")
    with pytest.raises(NodeError, match="must be a number"):
        call(("numpy", "Trig"), input="x", operation="sin")


def test_linspace(call):
    np.testing.assert_allclose(call(("numpy", "Linspace"), start=0.0, stop=1.0, num=5)["array"],
                               np.linspace(0.0, 1.0, 5))
    assert len(call(("numpy", "Linspace"), start=0, stop=1, num=0)["array"]) == 0
    with pytest.raises(NodeError, match="whole number"):
        call(("numpy", "Linspace"), start=0, stop=1, num=2.5)
    with pytest.raises(NodeError, match="at least 0"):
        call(("numpy", "Linspace"), start=0, stop=1, num=-1)


def test_sum_and_mean(call):
    a = np.arange(1.0, 5.0)
    s, m = call(("numpy", "Sum"), input=a)["result"], call(("numpy", "Mean"), input=a)["result"]
    assert s == 10.0 and m == 2.5 and type(s) is float and type(m) is float
    assert call(("numpy", "Sum"), input=[1, 2, 3])["result"] == 6
    with pytest.raises(NodeError, match="empty"):
        call(("numpy", "Mean"), input=np.array([]))
    with pytest.raises(NodeError):
        call(("numpy", "Sum"), input=np.array(["a", "b"]))


def _png(path) -> bytes:
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC
    return data


def test_plot_writes_a_png(call, ctx, tmp_path):
    x = np.arange(0.0, 6.28, 0.1)
    out = call(("matplotlib", "Plot"), x=[x], y=[np.sin(x), np.cos(x)], title="waves")
    assert Path(out["figure"]) == tmp_path / "out" / "plot.png"
    assert len(_png(out["figure"])) > 1000


def test_plot_one_x_per_y_and_no_x(call):
    a, b = np.arange(3.0), np.arange(5.0)
    _png(call(("matplotlib", "Plot"), x=[a, b], y=[a * 2, b * 3])["figure"])
    _png(call(("matplotlib", "Plot"), x=[], y=[[1.0, 4.0, 9.0]])["figure"])
    _png(call(("matplotlib", "Plot"), x=[1, 2, 3], y=[4, 5, 6])["figure"])  # unconnected plain lists


@pytest.mark.parametrize("inputs, words", [
    (dict(x=[], y=[]), "nothing to plot"),
    (dict(x=[np.arange(3.0)], y=[np.arange(4.0)]), "x has 3 values but y has 4"),
    (dict(x=[np.arange(2.0)] * 2, y=[np.arange(2.0)] * 3), "2 x inputs for 3 y inputs"),
    (dict(x=[], y=[["a", "b"]]), "must be numbers"),
    (dict(x=[], y=[np.zeros((2, 2))]), "one-dimensional"),
])
def test_plot_errors(call, inputs, words):
    with pytest.raises(NodeError, match=words):
        call(("matplotlib", "Plot"), **inputs)


def test_plot_needs_an_output_folder(registry):
    with pytest.raises(NodeError, match="no output folder"):
        registry.get(("matplotlib", "Plot")).function({"x": [], "y": [[1.0, 2.0]]}, NodeContext("r", "n", None))


def test_plot_leaves_pyplot_alone(call):
    import matplotlib

    backend = matplotlib.get_backend()
    call(("matplotlib", "Plot"), x=[], y=[[1.0, 2.0]])
    assert matplotlib.get_backend() == backend
