"""math/* and types/* through their functions: numbers, arrays, multiinput lists, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nodeflow.library import NodeError


def test_constants_pass_their_value(call):
    assert call(("types", "Integer"), int=7) == {"int": 7}
    assert call(("types", "Float"), float=2.5) == {"float": 2.5}
    assert call(("types", "String"), string="hi") == {"string": "hi"}
    assert call(("types", "Boolean"), bool=True) == {"bool": True}


def test_power_multiply_root_subtract_chain(call):
    p = call(("math", "Power"), base=5.0, exponent=5.0)["result"]
    assert p == 3125.0
    m = call(("math", "Multiply"), input=[p, 87.0])["result"]
    assert m == 271875.0
    r = call(("math", "Root"), radicand=p, degree=5.0)["result"]
    assert r == pytest.approx(5.0)
    s = call(("math", "Subtract"), minuend=m, subtrahend=r)["result"]
    assert s == pytest.approx(271870.0)


def test_multiinput_lists(call):
    assert call(("math", "Add"), input=[1, 2, 3.5])["result"] == 6.5
    assert call(("math", "Add"), input=[4.0])["result"] == 4.0
    assert call(("math", "Add"), input=[])["result"] == 0
    assert call(("math", "Multiply"), input=[2, 3, 4])["result"] == 24
    assert call(("math", "Multiply"), input=[])["result"] == 1
    assert call(("math", "Minimum"), input=[3, -1, 2])["result"] == -1
    assert call(("math", "Maximum"), input=[3, -1, 2])["result"] == 3
    # lenient: a bare value is one input
    assert call(("math", "Multiply"), input=6.0)["result"] == 6.0


def test_binary_and_unary(call):
    assert call(("math", "Divide"), dividend=7, divisor=2)["result"] == 3.5
    assert call(("math", "Modulo"), dividend=7, divisor=3)["result"] == 1
    assert call(("math", "Absolute"), input=-4.5)["result"] == 4.5
    assert call(("math", "Negate"), input=3)["result"] == -3
    assert call(("math", "Power"), base=2, exponent=-1)["result"] == 0.5
    assert call(("math", "Root"), radicand=-8, degree=3)["result"] == pytest.approx(-2.0)
    assert call(("math", "Root"), radicand=16.0, degree=4)["result"] == pytest.approx(2.0)
    assert call(("math", "Compare"), a=2, b=3, operation="<")["result"] is True
    assert call(("math", "Compare"), a=2, b=3, operation="==")["result"] is False


def test_numeric_text_is_read_as_a_number(call):
    assert call(("math", "Subtract"), minuend="10", subtrahend="2.5")["result"] == 7.5


def test_arrays_element_wise(call):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    np.testing.assert_allclose(call(("math", "Add"), input=[a, b, 1.0])["result"], a + b + 1)
    np.testing.assert_allclose(call(("math", "Multiply"), input=[a, b])["result"], a * b)
    np.testing.assert_allclose(call(("math", "Subtract"), minuend=b, subtrahend=a)["result"], b - a)
    np.testing.assert_allclose(call(("math", "Divide"), dividend=b, divisor=a)["result"], b / a)
    np.testing.assert_allclose(call(("math", "Power"), base=a, exponent=2)["result"], a ** 2)
    np.testing.assert_allclose(call(("math", "Root"), radicand=b, degree=2)["result"], np.sqrt(b))
    np.testing.assert_allclose(call(("math", "Root"), radicand=-a, degree=3)["result"], -np.cbrt(a))
    np.testing.assert_allclose(call(("math", "Minimum"), input=[a, np.array([2.0, 2.0, 2.0])])["result"],
                               [1.0, 2.0, 2.0])
    np.testing.assert_allclose(call(("math", "Maximum"), input=[a, np.array([2.0, 2.0, 2.0])])["result"],
                               [2.0, 2.0, 3.0])
    np.testing.assert_allclose(call(("math", "Absolute"), input=-a)["result"], a)
    np.testing.assert_allclose(call(("math", "Negate"), input=a)["result"], -a)
    np.testing.assert_allclose(call(("math", "Power"), base=np.array([2, 4]), exponent=-1)["result"], [0.5, 0.25])
    # arrays saved into a file come back as lists
    np.testing.assert_allclose(call(("math", "Multiply"), input=[[1, 2], 3])["result"], [3, 6])


def test_numpy_scalars_come_out_as_python_numbers(call):
    r = call(("math", "Add"), input=[np.float64(1.5), np.float64(2.0)])["result"]
    assert type(r) is float and r == 3.5


@pytest.mark.parametrize("path, inputs, words", [
    (("math", "Divide"), dict(dividend=1.0, divisor=0), "division by zero"),
    (("math", "Divide"), dict(dividend=1, divisor=0.0), "division by zero"),
    (("math", "Divide"), dict(dividend=np.array([1.0, 2.0]), divisor=np.array([1.0, 0.0])), "division by zero"),
    (("math", "Divide"), dict(dividend=np.array([1.0, 2.0]), divisor=0), "division by zero"),
    (("math", "Modulo"), dict(dividend=5, divisor=0), "division by zero"),
    (("math", "Power"), dict(base=0.0, exponent=-1.0), "division by zero"),
    (("math", "Power"), dict(base=-8.0, exponent=0.5), "not a real number"),
    (("math", "Power"), dict(base=10.0, exponent=400.0), "too large"),
    (("math", "Power"), dict(base=10, exponent=10 ** 9), "too large"),
    (("math", "Root"), dict(radicand=-4.0, degree=2), "not real"),
    (("math", "Root"), dict(radicand=8.0, degree=0), "must not be 0"),
    (("math", "Root"), dict(radicand=np.array([-4.0, 4.0]), degree=2), "not real"),
    (("math", "Add"), dict(input=[1, "abc"]), "must be a number"),
    (("math", "Multiply"), dict(input=[1, {"a": 1}]), "must be a number"),
    (("math", "Subtract"), dict(minuend=None, subtrahend=1), "has no value"),
    (("math", "Minimum"), dict(input=[]), "no input"),
    (("math", "Compare"), dict(a=1, b=2, operation="<>"), "unknown operation"),
    # plain Python numbers take the short path of calculate(): the same messages
    (("math", "Multiply"), dict(input=[10 ** 400, 1.5]), "too large"),
    (("math", "Add"), dict(input=[10 ** 400, 0.5]), "too large"),
    (("math", "Subtract"), dict(minuend=10 ** 400, subtrahend=0.5), "too large"),
])
def test_bad_inputs_raise_node_error(call, path, inputs, words):
    with pytest.raises(NodeError, match=words) as info:
        call(path, **inputs)
    assert info.value.args[0].startswith(path[1])  # names the node type for the user


def test_results_are_finite_numbers(call):
    r = call(("math", "Power"), base=2.0, exponent=0.5)["result"]
    assert math.isclose(r, math.sqrt(2))


def test_mixed_plain_and_numpy_operands_use_numpy_error_checks(call):
    # one numpy operand among plain numbers: numpy's warnings are raised as errors
    with pytest.raises(NodeError, match="division by zero|invalid|overflow"):
        call(("math", "Multiply"), input=[2.0, np.array([np.inf]), 0.0])
    assert call(("math", "Add"), input=[1, np.int64(2), 3.5])["result"] == 6.5
