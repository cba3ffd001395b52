"""Shapes: inferred from named sizes; a mismatch names the equation, operator and shapes."""

import pytest

from derive.errors import ParseError, ProblemError, ShapeError
from derive.matrix.shapes import build_model
from derive.problems import problem_from_toml

BASE = """
[dims]
N = 3
K = 4
M = 2
[variables]
x = "N"
W1 = "K x N"
W2 = "M x K"
r = "K"
[equations]
{equations}
[derive]
loss = "L"
wrt = ["x"]
"""


def model(equations: str):
    return build_model(problem_from_toml(BASE.format(equations=equations), "net"))


def test_shapes_are_inferred():
    m = model('z = "W1 @ x"\nh = "tanh(z)"\nL = "r.T @ h"')
    assert m.shapes["z"] == ("K", 1) and m.shapes["L"] == (1, 1)


@pytest.mark.parametrize("equations, error, message", [
    ('z = "W1 @ x"\ny = "W2 @ x"\nL = "sum(y)"', ShapeError,
     'y = "W2 @ x": W2 @ x: (M×K) @ (K×1) expected, got (M×K) @ (N×1)'),
    ('z = "W1 @ x"\nL = "r @ z"', ShapeError, 'L = "r @ z": r @ z: (K×1) @ (1×1) expected, got (K×1) @ (K×1)'),
    ('L = "W1 @ x"', ShapeError, "the loss L must be a scalar, but it is (K×1)"),
    ('z = "W1 @ x"\nL = "sum(z + x)"', ShapeError, "z + x: (K×1) and (N×1) do not broadcast"),
    ('z = "W1 * W2"\nL = "sum(z)"', ShapeError, "W1 * W2: (K×N) and (M×K) do not broadcast (elementwise *)"),
    ('L = "sum(W1 + W1.T)"', ShapeError, "W1 + W1.T: (K×N) and (N×K) do not broadcast"),
    ('L = "sum(x, axis=2)"', ParseError, "unknown axis 2 at column 13"),
    ('L = "sum(x, axes=1)"', ParseError, "keyword arguments at column 8 not allowed"),
    ('L = "norm(x, axis=1)"', ShapeError, "norm() takes no axis"),
    ('L = "sum(foo(x))"', ParseError, "unknown function 'foo'"),
    ('L = "sum(x // 2)"', ParseError, "operator '//'"),
    ('L = "sum(x.shape)"', ParseError, "attribute access"),
    ('L = "trace(W1)"', ShapeError, "trace of a (K×N) matrix, which is not square"),
])
def test_shape_and_grammar_errors(equations, error, message):
    with pytest.raises(error) as info:
        model(equations)
    assert message in str(info.value)


def test_broadcasts_and_sizes_as_numbers_are_typed():
    m = model('z = "W1 @ x + r.T @ W1 @ x"\nh = "r.T + sum(z) / K"\nL = "sum(mean(h, axis=0))"')
    assert m.shapes["z"] == ("K", 1) and m.shapes["h"] == (1, "K") and m.shapes["L"] == (1, 1)


def test_missing_transpose_hint():
    with pytest.raises(ShapeError) as info:
        model('z = "W1 @ x"\nL = "r @ z"')
    assert info.value.hint == "a transpose (.T) may be missing"


@pytest.mark.parametrize("patch, message", [
    (('x = "N"', 'x = "Q"'), "unknown size 'Q'"),
    (('x = "N"', 'x = "N by K"'), "is not understood"),
    (("loss = \"L\"", "loss = \"Q\""), "derive.loss must name an equation"),
    (('wrt = ["x"]', 'wrt = ["q"]'), "derive.wrt names 'q'"),
    (("N = 3", "N = 0"), "must be a positive integer"),
])
def test_problem_file_errors(patch, message):
    text = BASE.format(equations='L = "sum(x)"').replace(*patch)
    with pytest.raises(ProblemError, match=message):
        build_model(problem_from_toml(text, "net"))
