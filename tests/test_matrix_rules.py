"""The matrix rule tables, tested over the tables themselves: every elementwise derivative
against SymPy's diff, and every VJP rule through a small network checked exactly and numerically."""

import math

import numpy as np
import pytest
import sympy

from derive.matrix.rules import ELEMENTWISE, VJPS
from derive.matrix.solve import solve_matrix
from derive.problems import problem_from_toml

X = sympy.Symbol("x", real=True)
POINTS = [0.3, 0.7, 1.3, 2.1]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_derivative_is_sympys(name):
    kind = ELEMENTWISE[name]
    for p in POINTS:
        expected = float(sympy.diff(kind.sympy_f(X), X).subs(X, p).evalf(30))
        assert float(kind.sympy_df(X).subs(X, p).evalf(30)) == pytest.approx(expected, rel=1e-12)
        assert float(kind.numpy_f(np.array([p]))[0]) == pytest.approx(float(kind.sympy_f(X).subs(X, p).evalf(30)),
                                                                      rel=1e-12)
        assert float(kind.numpy_df(np.array([p]))[0]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_generated_source_matches_the_numpy_callables(name):
    kind = ELEMENTWISE[name]
    x = np.array(POINTS)
    namespace = {"np": np, "x": x, "math": math}
    # The sources are the project's own table entries (the package never evaluates text).
    assert np.allclose(eval(kind.source_f, namespace), kind.numpy_f(x), rtol=1e-12)  # noqa: S307
    assert np.allclose(eval(kind.source_df, namespace), kind.numpy_df(x), rtol=1e-12)  # noqa: S307


#: One small network per VJP rule of the table (and per elementwise function).
CASES = {
    "matmul": "L = 'sum(tanh(A @ u))'",
    "T": "L = 'sum(tanh(A.T @ u))'",
    "neg": "L = 'sum(tanh(-(A @ u)))'",
    "scale": "L = 'c * sum(tanh(A @ u))'",
    "div": "L = 'sum(tanh(A @ u)) / c'",
    "trace": "L = 'trace(A @ A)'",
    "had": "L = 'sum(tanh(u * v))'",
    "pow": "L = 'sum(tanh(u)**3)'",
    "fn": "L = 'sum(softplus(A @ u))'",
    "sum": "L = 'sum(u * v)'",
    "norm": "L = 'norm(A @ u)'",
    "dot": "L = 'dot(u, A @ v)'",
    "softmax": "L = 'dot(v, softmax(A @ u))'",
    "logsumexp": "L = 'logsumexp(A @ u)'",
    "log_softmax": "L = 'dot(v, log_softmax(u))'",
    "sce": "L = 'softmax_cross_entropy(A @ u, t)'",
}
BASE = """[dims]
N = 3
[variables]
A = "N x N"
u = "N"
v = "N"
t = "N"
c = "1"
[equations]
{equation}
[derive]
loss = "L"
wrt = [{wrt}]
"""


def test_every_vjp_rule_has_a_case():
    assert set(CASES) == set(VJPS)


@pytest.mark.parametrize("op", sorted(CASES))
def test_each_vjp_rule_is_proved(op):
    equation = CASES[op]
    wrt = ", ".join(f'"{v}"' for v in ("A", "u", "v", "c") if v in equation.split("=", 1)[1])
    solution = solve_matrix(problem_from_toml(BASE.format(equation=equation, wrt=wrt), op))
    assert solution.checks.exact == "pass", solution.checks
    assert solution.checks.numeric_max_relative_error < 1e-6


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_each_elementwise_function_through_a_network(name):
    text = BASE.format(equation=f"L = 'sum({name}(A @ u))'", wrt='"A", "u"').replace(
        "[equations]", f"[functions]\nf = \"{name}\"\n[equations]")
    if name == "log":  # keep the argument positive
        text = text.replace("sum(log(A @ u))", "sum(log(softmax(A @ u)))")
    solution = solve_matrix(problem_from_toml(text, name))
    assert solution.checks.numeric_max_relative_error < 1e-6
