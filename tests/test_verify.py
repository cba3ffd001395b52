"""The checks: they pass on correct rules and fail loudly on a wrong one."""

import dataclasses

import pytest
import sympy

from derive.errors import VerificationError
from derive.problems import load_problem
from derive.scalar import rules
from derive.scalar.solve import solve_scalar
from derive.scalar.verify import check_jacobian, finite_difference_jacobian, symbolic_jacobian


def test_problem1_checks_pass(problem1):
    checks = problem1.checks
    assert checks.symbolic == "pass" and checks.finite_difference == "pass"
    assert checks.symbolic_max_error < 1e-12
    assert checks.finite_difference_max_error < 1e-8


def test_symbolic_and_fd_jacobians_are_independent_of_the_engine(problem1):
    exact = symbolic_jacobian(problem1.trace)
    fd, err = finite_difference_jacobian(problem1.trace)
    x1, x2 = sympy.symbols("x1 x2")
    y1 = sympy.exp(2 * x2) + x1 * sympy.sin(3 * x2**2)
    y2 = x1 * x2 + 1 / (1 + sympy.exp(-x2))
    hand = [[float(sympy.diff(y, x).subs({x1: 2, x2: 1})) for x in (x1, x2)] for y in (y1, y2)]
    flat = [x for row in hand for x in row]
    assert [x for row in exact for x in row] == pytest.approx(flat, rel=1e-14)
    assert [x for row in fd for x in row] == pytest.approx(flat, rel=1e-8)


def test_a_wrong_rule_is_caught(monkeypatch):
    wrong = dataclasses.replace(rules.PRIMITIVES["sin"], partials=(sympy.sin(rules.a),))
    monkeypatch.setitem(rules.PRIMITIVES, "sin", wrong)
    with pytest.raises(VerificationError, match="disagree"):
        solve_scalar(load_problem("problem1"))


def test_forward_reverse_mismatch_is_an_error(problem1):
    bad = [row[:] for row in problem1.jacobian_reverse]
    bad[0][1] += 1e-3
    with pytest.raises(VerificationError, match="forward and reverse mode disagree at ∂y1/∂x2"):
        check_jacobian(problem1.trace, problem1.jacobian_forward, bad)


def test_symbolic_check_is_skipped_above_the_limit():
    sol = solve_scalar(load_problem("problem1"), symbolic_limit=5)
    assert sol.checks.symbolic.startswith("skipped (12 nodes > 5")
    assert sol.checks.finite_difference == "pass"


def test_a_slow_symbolic_check_is_skipped_with_a_note(monkeypatch):
    import time

    from derive.scalar import verify

    def slow(trace):
        time.sleep(5)

    monkeypatch.setattr(verify, "symbolic_jacobian", slow)
    start = time.perf_counter()
    sol = solve_scalar(load_problem("problem1"), symbolic_timeout=0.2)
    assert time.perf_counter() - start < 3
    assert sol.checks.symbolic == "skipped (SymPy took longer than 0.2 s; raise --symbolic-timeout)"
    assert sol.checks.finite_difference == "pass"


def test_an_ill_conditioned_point_is_said_to_be_one():
    """cos(x e^27) at x = 1: the argument is 5e11, where a float keeps ~4 digits of it; AD in
    floats cannot match the exact derivative, and the message says why (exit 2: pick another point)."""
    from derive.errors import DomainError
    from derive.problems import inline_problem

    with pytest.raises(DomainError, match="ill-conditioned in floating point: changing the inputs in their last bit"):
        solve_scalar(inline_problem(["cos(x*exp(27))"], [("x", "1")]))


def test_a_wrong_rule_is_still_caught_where_the_point_is_ill_conditioned_only_mildly(monkeypatch):
    """The ill-conditioning excuse needs the inputs' last-bit spread to explain the gap: a wrong
    rule at an ordinary point (and at a moderately large argument) stays a VerificationError."""
    from derive.problems import inline_problem

    wrong = dataclasses.replace(rules.PRIMITIVES["cos"], partials=(sympy.sin(rules.a),))
    monkeypatch.setitem(rules.PRIMITIVES, "cos", wrong)
    for expression in ("cos(x)", "cos(x*exp(10))"):
        with pytest.raises(VerificationError, match="disagree"):
            solve_scalar(inline_problem([expression], [("x", "1")]))
