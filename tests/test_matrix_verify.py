"""The matrix checks pass on correct rules and catch a wrong one, exactly and numerically."""

import dataclasses

import pytest

from derive.errors import VerificationError
from derive.matrix import expr as mx
from derive.matrix import rules
from derive.matrix.backprop import derive
from derive.matrix.shapes import build_model
from derive.matrix.solve import solve_matrix
from derive.matrix.verify import exact_check, numeric_check
from derive.problems import load_problem

NETWORKS = ["problem2", "tests/networks/tanh_ce.toml", "tests/networks/relu3.toml",
            "tests/networks/norm_trace_dot.toml"]


@pytest.mark.parametrize("spec", NETWORKS)
def test_exact_and_numeric_checks_pass(spec):
    solution = solve_matrix(load_problem(spec))
    assert solution.checks.exact == "pass"
    for g in solution.checks.gradients:
        assert g.exact == "pass"
        assert g.numeric_max_relative_error < 1e-6
        assert g.numeric_method == "every entry"


def test_a_wrong_vjp_rule_is_caught_by_both_checks(monkeypatch):
    monkeypatch.setitem(rules.OPS, "fn", dataclasses.replace(rules.OPS["fn"], vjps=(lambda e, u: u,)))  # forgets f′(a)
    derivation = derive(build_model(load_problem("problem2")))
    with pytest.raises(VerificationError, match="disagrees with finite differences"):
        numeric_check(derivation)
    with pytest.raises(VerificationError, match="differs from SymPy's entry-wise derivative"):
        exact_check(derivation)


def test_a_missing_transpose_is_caught(monkeypatch):
    # W @ a: the adjoint of a is Wᵀ ū; a rule giving (W ū)-shaped nonsense must not pass.
    square = "[dims]\nN = 3\n[variables]\nW = 'N x N'\nx = 'N'\n[equations]\nz = 'W @ x'\nL = 'sum(tanh(z))'\n" \
             "[derive]\nloss = 'L'\nwrt = ['x']\n"
    from derive.problems import problem_from_toml

    monkeypatch.setitem(rules.OPS, "matmul", dataclasses.replace(
        rules.OPS["matmul"], vjps=(rules.OPS["matmul"].vjps[0], lambda e, u: mx.matmul(e.args[0], u))))
    derivation = derive(build_model(problem_from_toml(square, "square")))
    with pytest.raises(VerificationError):
        numeric_check(derivation)


def test_exact_check_is_skipped_with_a_note_for_large_sizes():
    solution = solve_matrix(load_problem("problem2"), exact_limit=10)
    assert solution.checks.exact.startswith("skipped (35 entries > 10")  # 3 + 12 + 4 + 8 + 2 + 4 + 2
    assert all(g.numeric_max_relative_error < 1e-6 for g in solution.checks.gradients)


def test_large_variables_are_checked_along_random_directions():
    from derive.problems import problem_from_toml

    text = "[dims]\nN = 30\nK = 40\n[variables]\nW = 'K x N'\nx = 'N'\n[equations]\nL = 'sum(tanh(W @ x))'\n" \
           "[derive]\nloss = 'L'\nwrt = ['W', 'x']\n"
    solution = solve_matrix(problem_from_toml(text, "wide"), exact=False)
    methods = {g.name: g.numeric_method for g in solution.checks.gradients}
    assert methods == {"W": "8 random directions", "x": "every entry"}


def test_a_loss_undefined_everywhere_is_a_domain_error():
    from derive.errors import DomainError
    from derive.problems import problem_from_toml

    text = "[dims]\nN = 2\n[variables]\nx = 'N'\n[equations]\nL = 'sum(log(-(x * x)))'\n[derive]\nloss = 'L'\nwrt = ['x']\n"
    with pytest.raises(DomainError, match="not finite at random values"):
        solve_matrix(problem_from_toml(text, "bad"))


def test_library_result_shows_latex():
    import derive

    result = derive.solve("problem2")
    assert result.checks.exact == "pass"
    assert r"\bar{h} &= r + W_{2}^\top" in result._repr_latex_()


ABS_PENALTY = """[dims]
N = 2
K = 2
[variables]
x = "N"
W1 = "K x N"
[equations]
z = "W1 @ x"
L = "sum(tanh(z)) + sum((W1*W1)**0.5)"
[derive]
loss = "L"
wrt = ["W1"]
"""


def test_a_right_derivation_that_simplify_cannot_decide_verifies():
    # issue 9 #7: W1/|W1| against SymPy's sign(W1): decided at random rational points
    from derive.problems import problem_from_toml

    solution = solve_matrix(problem_from_toml(ABS_PENALTY, "abs"))
    assert solution.checks.exact == "pass"


def test_equal_exactly_decides_at_random_points_and_sees_a_difference():
    import sympy

    from derive.matrix.verify import equal_exactly

    x, y = sympy.symbols("x y", real=True)
    f = sympy.Function("f_prime")
    assert equal_exactly(x / sympy.Abs(x) + y * f(x * y), sympy.sign(x) + y * f(x * y))
    assert not equal_exactly(x / sympy.Abs(x) + y * f(x * y), sympy.sign(x) + y * f(x))
    assert not equal_exactly(x / sympy.Abs(x), -sympy.sign(x))


def test_a_verification_error_is_one_short_line_naming_the_entry(monkeypatch):
    from derive.problems import problem_from_toml

    monkeypatch.setitem(rules.OPS, "pow", dataclasses.replace(
        rules.OPS["pow"], vjps=(lambda e, u: mx.had(mx.power(e.args[0], e.data - 1), u),)))
    derivation = derive(build_model(problem_from_toml(ABS_PENALTY, "abs")))
    with pytest.raises(VerificationError) as caught:
        exact_check(derivation)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    assert "gradient of W1" in message and "entry W1[0,0]" in message


def test_symbolic_timeout_applies_to_matrix_problems():
    # issue 10: --symbolic-timeout reached only the scalar engine
    import derive

    checks = derive.solve("problem2", symbolic_timeout=0.001)._solved.checks
    assert checks.exact.startswith("skipped (took longer than 0.001 s; raise --symbolic-timeout)")


def test_a_positive_symbol_is_compared_at_positive_points():
    # issue 10: kind = "positive" variables are positive symbols; SymPy may use it (|x| = x)
    import sympy

    from derive.matrix.verify import equal_exactly

    x = sympy.Symbol("x", positive=True)
    y = sympy.Symbol("y", real=True)
    assert all(equal_exactly(sympy.Abs(x, evaluate=False) * y, x * y, seed=seed) for seed in range(5))
