"""Issue 10, textbook form: adjoints reuse named nodes, simple algebra is done, and the kinds of
targets license the printed results of the textbooks ((P − T)/B); every form is still proved."""

import pytest
import sympy

from derive.matrix.solve import solve_matrix
from derive.problems import problem_from_toml
from derive.render.matrix import LatexPrinter, TextPrinter

NETWORK = """
[dims]
N = 3
K = 4
M = 3
B = 2
[variables]
X = "N x B"
T = {target}
W1 = "K x N"
b1 = "K"
W2 = "M x K"
[equations]
Z1 = "W1 @ X + b1"
H = "relu(Z1)"
Z2 = "W2 @ H"
P = "softmax(Z2, axis=0)"
L = "{loss}"
[derive]
loss = "L"
wrt = ["W1", "b1", "W2"]
"""


def adjoints(target, loss):
    solution = solve_matrix(problem_from_toml(NETWORK.format(target=target, loss=loss), "net"))
    assert solution.checks.exact == "pass" and solution.checks.numeric_max_relative_error < 1e-6
    text = TextPrinter()
    return ({a.name: text(a.simplified) for a in solution.derivation.adjoints}
            | {g.name: text(g.expr) for g in solution.derivation.gradients}), solution


ONEHOT = '{ shape = "M x B", kind = "onehot" }'
DISTRIBUTION = '{ shape = "M x B", kind = "distribution" }'


@pytest.mark.parametrize("target", [ONEHOT, DISTRIBUTION])
@pytest.mark.parametrize("loss", ["-sum(T * log(P)) / B", "softmax_cross_entropy(Z2, T) / B"])
def test_softmax_and_cross_entropy_give_p_minus_t_over_b(target, loss):
    shown, solution = adjoints(target, loss)
    assert shown["Z2"] == "(P − T) / B"
    assert shown["Z1"] == "relu′(Z1) ⊙ H̄" and shown["b1"] == "Z̄1 𝟏" and shown["W2"] == "Z̄2 Hᵀ"
    z2 = next(a for a in solution.derivation.adjoints if a.name == "Z2")
    assert LatexPrinter()(z2.simplified) == r"\frac{P - T}{B}"


def test_without_a_kind_there_is_no_p_minus_t_and_no_softmax_written_again():
    shown, _ = adjoints('"M x B"', "-sum(T * log(P)) / B")
    assert shown["P"] == "−(T ⊘ P / B)"  # log′(P) is 1 ⊘ P
    assert shown["Z2"] == "P ⊙ (P̄ − 𝟏 𝟏ᵀ (P ⊙ P̄))"  # P, never softmax(Z2) again
    assert "softmax" not in " ".join(shown.values())


def test_double_negation_and_a_negated_ones_fold():
    shown, _ = adjoints('"M x B"', "sum(T * (-(-(P * -1))))")
    assert shown["P"] == "−T"


LOGISTIC = """
[dims]
N = 3
B = 4
[variables]
X = "N x B"
t = { shape = "1 x B", kind = "binary" }
w = "N"
b = "1"
S = "1 x B"
[equations]
z = "w.T @ X + b"
p = "sigmoid(z)"
L = "-sum(t * log(p) + (1 - t) * log(1 - p)) / B + 0.5 * sum((z - S)**2) / B"
[derive]
loss = "L"
wrt = ["w", "b"]
"""


def test_sigmoid_and_binary_cross_entropy_give_p_minus_t_and_mse_gives_y_minus_s():
    solution = solve_matrix(problem_from_toml(LOGISTIC.replace(" + 0.5 * sum((z - S)**2) / B", ""), "logistic"))
    assert solution.checks.exact == "pass"
    shown = {a.name: TextPrinter()(a.simplified) for a in solution.derivation.adjoints}
    assert shown["p"] == "−(t ⊘ p / B) + (1 − t) ⊘ (1 − p) / B" and shown["z"] == "(p − t) / B"
    mse = solve_matrix(problem_from_toml(LOGISTIC.replace("-sum(t * log(p) + (1 - t) * log(1 - p)) / B + ", ""),
                                         "mse"))
    assert {a.name: TextPrinter()(a.simplified) for a in mse.derivation.adjoints}["z"] == "(z − S) / B"


def test_a_power_of_a_square_root_folds():
    from derive.matrix import expr as mx

    a = mx.var("a", (3, 1))
    assert mx.power(mx.power(a, sympy.Rational(1, 2)), 2) == a
    assert mx.power(mx.fn("sqrt", a), 2) == a
    assert mx.power(mx.power(a, 2), sympy.Rational(1, 2)).op == "pow"  # (a²)^½ = |a|: kept
