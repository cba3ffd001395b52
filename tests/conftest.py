"""Shared fixtures and independent references.

The Problem 1 references are written here by hand from the assignment's definitions
(y1 = e^{2 x2} + x1 sin(3 x2^2), y2 = x1 x2 + σ(x2)) and computed with the math module and
SymPy's own diff: never with the code under test and never copied from the worked solution.
"""

from __future__ import annotations

import math

import pytest
import sympy

import derive
from derive.problems import load_problem
from derive.scalar.solve import solve_scalar

X = (2.0, 1.0)


def problem1_graph(v0, v1, exp=sympy.exp, sin=sympy.sin):
    """The seed's Wengert list v0 ... v11 as a function of the two inputs (or symbols)."""
    v = {0: v0, 1: v1}
    steps = {
        2: lambda v: 2 * v[1],
        3: lambda v: exp(v[2]),
        4: lambda v: v[1] ** 2,
        5: lambda v: 3 * v[4],
        6: lambda v: sin(v[5]),
        7: lambda v: v[0] * v[6],
        8: lambda v: v[3] + v[7],
        9: lambda v: v[0] * v[1],
        10: lambda v: 1 / (1 + exp(-v[1])),
        11: lambda v: v[9] + v[10],
    }
    return v, steps


def problem1_values() -> dict[str, float]:
    v, steps = problem1_graph(*X, exp=math.exp, sin=math.sin)
    for k, step in steps.items():
        v[k] = step(v)
    return {f"v{k}": float(val) for k, val in v.items()}


def problem1_tangents() -> dict[str, dict[str, float]]:
    """d v_k / d x_j by SymPy diff of each node written as a function of x."""
    x1, x2 = sympy.symbols("x1 x2")
    v, steps = problem1_graph(x1, x2)
    for k, step in steps.items():
        v[k] = step(v)
    at = {x1: 2, x2: 1}
    return {name: {f"v{k}": float(sympy.diff(expr, sym).subs(at).evalf(30)) for k, expr in v.items()}
            for name, sym in (("x1", x1), ("x2", x2))}


def problem1_adjoints() -> dict[str, dict[str, float]]:
    """d y / d v_k: node k is replaced by a free symbol t downstream, then y is differentiated in t."""
    values = problem1_values()
    t = sympy.Symbol("t")
    out = {"y1": {}, "y2": {}}
    for k in range(12):
        v, steps = problem1_graph(sympy.Integer(2), sympy.Integer(1))
        if k in v:
            v[k] = t
        for j, step in steps.items():
            v[j] = t if j == k else step(v)
        at = {t: sympy.Float(values[f"v{k}"], 30)}
        for name, node in (("y1", 8), ("y2", 11)):
            out[name][f"v{k}"] = float(sympy.diff(v[node], t).subs(at).evalf(30))
    return out


@pytest.fixture(scope="session")
def problem1():
    return solve_scalar(load_problem("problem1"))


@pytest.fixture(scope="session")
def problem1_api():
    return derive.solve("problem1")
