"""Property tests (Hypothesis): the parser never fails unexpectedly, and for random expressions
forward mode == reverse mode == SymPy's diff of the same expression built independently.

Examples per run: a few thousand in CI; set HYPOTHESIS_PROFILE=long for many more.
"""

import os

import pytest
import sympy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from derive.errors import DeriveError, DomainError, LimitError, ParseError, ProblemError, VerificationError
from derive.parse import parse_expression
from derive.scalar.rules import ALIASES, FOLD, FUNCTIONS
from derive.scalar.solve import solve_scalar
from derive.problems import Problem

settings.register_profile("ci", max_examples=1500, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=50_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

X, Y = sympy.symbols("x y", real=True)

# -- random expressions, as text and as the SymPy expression they mean ------------------------
_UNARY = {
    "exp": sympy.exp, "sin": sympy.sin, "cos": sympy.cos, "tanh": sympy.tanh,
    "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)), "tan": sympy.tan,
    "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "relu": lambda a: _relu(a),
}
def _relu(a):
    """max(0, a) as the reference; a constant pole such as tan(pi/2) = zoo (which derive refuses
    as a constant that is not a real number) gives nan rather than SymPy's ValueError."""
    try:
        return sympy.Max(0, a)
    except ValueError:
        return sympy.nan


_BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
           "/": lambda a, b: a / b}

leaves = st.one_of(
    st.just(("x", X)), st.just(("y", Y)),
    st.integers(1, 5).map(lambda n: (str(n), sympy.Integer(n))),
    st.sampled_from([("3/2", sympy.Rational(3, 2)), ("0.5", sympy.Rational(1, 2)), ("pi", sympy.pi)]),
)


def _extend(children):
    unary = st.tuples(st.sampled_from(sorted(_UNARY)), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", _UNARY[t[0]](t[1][1])))
    binary = st.tuples(st.sampled_from(sorted(_BINARY)), children, children).map(
        lambda t: (f"({t[1][0]}) {t[0]} ({t[2][0]})", _BINARY[t[0]](t[1][1], t[2][1])))
    power = st.tuples(children, st.integers(2, 3)).map(
        lambda t: (f"({t[0][0]})^{t[1]}", t[0][1] ** t[1]))
    return st.one_of(unary, binary, power)


expressions = st.recursive(leaves, _extend, max_leaves=10)
points = st.tuples(st.sampled_from([-1.5, -0.7, 0.3, 0.9, 1.7, 2.2]),
                   st.sampled_from([-1.2, -0.4, 0.6, 1.1, 1.9]))


@given(st.lists(expressions, min_size=1, max_size=2), points)
@example([("tan((x) * (pi))", sympy.tan(X * sympy.pi))], (-1.5, -1.2))  # a pole the floats step over
@example([("(y) / (sin((x) * (pi)))", Y / sympy.sin(X * sympy.pi))], (-1.5, -1.2))  # sin(-3pi/2) = 1: fine
@example([("log(cos((x) * (pi)))", sympy.log(sympy.cos(X * sympy.pi)))], (-1.5, -1.2))  # log(0)
@example([("cos((x) * (exp((3)^3)))", sympy.cos(X * sympy.exp(27)))], (-1.5, -1.2))  # ill-conditioned
def test_forward_equals_reverse_equals_sympy(outputs, point):
    if not all(expr.free_symbols for _, expr in outputs):
        return  # a constant output is refused with a clear error: tested in test_trace.py
    inputs = {"x": sympy.Rational(point[0]).limit_denominator(100),
              "y": sympy.Rational(point[1]).limit_denominator(100)}
    problem = Problem("random", inputs, {f"y{i}": text for i, (text, _) in enumerate(outputs)})
    try:
        solution = solve_scalar(problem)
    except DomainError as exc:
        assert exc.message and "v" in exc.message  # names the node
        return
    except ParseError as exc:  # e.g. a constant sub-expression such as log(1 - 1)
        assert "constant" in exc.message or "division by zero" in exc.message
        return
    except (LimitError, ProblemError):  # e.g. x - x written as a constant
        return
    except VerificationError:
        # Only where floats cannot carry the digits: cos(x·e^27) has a float argument of 10^11
        # with ~1e-5 absolute error, so AD (in floats) and SymPy (exact) disagree and derive says
        # so (exit 1) rather than print wrong digits. Anywhere else a disagreement is a bug.
        from derive.scalar.trace import build_trace

        trace = build_trace(problem.inputs, problem.outputs)
        assert max(abs(node.value) for node in trace.nodes) > 1e6
        return
    at = {X: inputs["x"], Y: inputs["y"]}
    for i, (_, expr) in enumerate(outputs):
        for j, sym in enumerate((X, Y)):
            expected = complex(sympy.diff(expr, sym).subs(at).evalf(30))
            if not expr.has(sym):
                expected = 0
            assert abs(expected.imag if isinstance(expected, complex) else 0) < 1e-12
            expected = expected.real if isinstance(expected, complex) else expected
            for jac in (solution.jacobian_forward, solution.jacobian_reverse):
                assert jac[i][j] == pytest.approx(expected, rel=1e-7, abs=1e-9)


PYTHONISH = st.text(alphabet="xy0123456789.+-*/^()e ,_[]{}:=<>!@%&|'\"\\abcdefghijklmnopqrstuvwzσ", max_size=60)


@given(st.one_of(st.text(max_size=80), PYTHONISH))
def test_parser_parses_or_raises_its_own_error(text):
    try:
        parse_expression(text, frozenset({"x", "y"}), FUNCTIONS, ALIASES, FOLD)
    except DeriveError as exc:
        assert isinstance(exc, (ParseError, LimitError))
        assert exc.message
