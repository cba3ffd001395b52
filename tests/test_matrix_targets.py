"""Issue 21, conditions a course states: targets whose rows sum to 1 (the row convention, one
example per row) and label-smoothed targets simplify to (softmax − T)/B like one-hot columns; a
target that does not sum to 1 keeps the general rule.  Gradients are compared with backward
passes written by hand in NumPy."""

import re

import numpy as np
import pytest

from derive.errors import ProblemError
from derive.matrix.evaluate import NumpyBackend, run_backward, run_forward
from derive.matrix.solve import solve_matrix
from derive.problems import problem_from_toml
from derive.render.matrix import TextPrinter

ROWS = """
[dims]
B = 3
N = 2
K = 4
[variables]
X = "B x N"
W = "N x K"
T = {target}
[equations]
Z = "X @ W"
P = "softmax(Z, axis={axis})"
L = "-sum(T * log(P)) / B"
[derive]
loss = "L"
wrt = ["W"]
"""

SMOOTHED = """
[dims]
B = 3
N = 2
K = 4
[variables]
X = "N x B"
W = "K x N"
Y = {{ shape = "K x B", kind = "onehot" }}
eps = "1"
[equations]
T = "{smoothing}"
Z = "W @ X"
P = "softmax(Z)"
L = "-sum(T * log(P)) / B"
[derive]
loss = "L"
wrt = ["W"]
"""


def _adjoint(solution, name: str) -> str:
    (adjoint,) = [a for a in solution.derivation.adjoints if a.name == name]
    return TextPrinter()(adjoint.simplified)


def _gradient(solution, values):
    model, backend = solution.model, NumpyBackend(solution.model.concrete)
    dims = solution.problem.dims
    return run_backward(solution.derivation, run_forward(model, values, backend, dims), backend, dims)["W"]


def softmax(Z, axis):
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("target", ['{ shape = "B x K", kind = "distribution", axis = 1 }',
                                    '{ shape = "B x K", kind = "onehot", axis = 1 }',
                                    '{ shape = "B x K", kind = "distribution_rows" }'])
def test_row_stochastic_targets_give_p_minus_t(target):
    solution = solve_matrix(problem_from_toml(ROWS.format(target=target, axis=1), "rows"))
    assert _adjoint(solution, "Z") == "(P − T) / B"
    assert solution.checks.exact == "pass"
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    T = rng.uniform(0.1, 1, (3, 4))
    T /= T.sum(axis=1, keepdims=True)  # each row one example's distribution
    # by hand: L = −Σ T log softmax_rows(X W) / B, ∂L/∂W = Xᵀ (P − T) / B
    assert np.allclose(_gradient(solution, {"X": X, "W": W, "T": T}), X.T @ (softmax(X @ W, 1) - T) / 3,
                       rtol=1e-12)


@pytest.mark.parametrize("kind, what", [("distribution_rows", "sums to 1"), ("onehot_rows", "is one-hot")])
def test_the_sheet_states_the_row_condition_it_relies_on(kind, what):
    """The sheet names the rows of a row-stochastic T, never its columns (which need not sum to 1)."""
    from derive.render.matrix import fact_note

    fused = solve_matrix(problem_from_toml(ROWS.format(target=f'{{ shape = "B x K", kind = "{kind}" }}', axis=1), "r"))
    (note,) = [fact_note(f, fused.model, TextPrinter()) for f in fused.derivation.facts if f.rewrite == "fused"]
    assert note.endswith(f"as each row of T {what})"), note
    direct = ROWS.format(target=f'{{ shape = "B x K", kind = "{kind}" }}', axis=1).replace(
        'P = "softmax(Z, axis=1)"\nL = "-sum(T * log(P)) / B"', 'L = "-sum(T * log_softmax(Z, axis=1)) / B"')
    solution = solve_matrix(problem_from_toml(direct, "r"))  # written with log_softmax: fused as well
    (note,) = [fact_note(f, solution.model, TextPrinter()) for f in solution.derivation.facts if f.rewrite == "fused"]
    assert note == f"Z̄ = (row-wise softmax(Z) − T) / B (softmax followed by cross-entropy, as each row of T {what})", note


def test_the_sheet_states_the_rows_of_a_row_smoothed_target():
    """T = (1 − ε) Y + ε / K built from one-hot rows sums to 1 along its rows (no declared kind)."""
    from derive.render.matrix import fact_note

    text = ROWS.format(target='{ shape = "B x K", kind = "onehot_rows" }', axis=1).replace(
        'T = { shape = "B x K", kind = "onehot_rows" }',
        'Y = { shape = "B x K", kind = "onehot_rows" }\neps = "1"').replace(
        '[equations]\n', '[equations]\nT = "(1 - eps) * Y + eps / K"\n')
    solution = solve_matrix(problem_from_toml(text, "smoothed rows"))
    assert _adjoint(solution, "Z") == "(P − T) / B"
    (note,) = [fact_note(f, solution.model, TextPrinter()) for f in solution.derivation.facts]
    assert note.endswith("as each row of T sums to 1)"), note


def test_row_targets_with_a_softmax_down_the_columns_keep_the_general_rule():
    """The rows of T sum to 1, the softmax normalises columns: P − T would be wrong."""
    text = ROWS.format(target='{ shape = "B x K", kind = "distribution", axis = 1 }', axis=0)
    solution = solve_matrix(problem_from_toml(text, "mixed"))
    assert "(P − T) / B" not in _adjoint(solution, "Z")
    assert solution.checks.exact == "pass"


def test_label_smoothing_gives_p_minus_t():
    solution = solve_matrix(problem_from_toml(SMOOTHED.format(smoothing="(1 - eps) * Y + eps / K"), "smooth"))
    assert _adjoint(solution, "Z") == "(P − T) / B"
    assert solution.checks.exact == "pass"
    rng = np.random.default_rng(1)
    X, W = rng.standard_normal((2, 3)), rng.standard_normal((4, 2))
    Y = np.eye(4)[:, [2, 0, 3]]
    eps = np.array([[0.1]])
    T = (1 - eps) * Y + eps / 4
    got = _gradient(solution, {"X": X, "W": W, "Y": Y, "eps": eps})
    assert np.allclose(got, (softmax(W @ X, 0) - T) @ X.T / 3, rtol=1e-12)


def test_smoothing_that_does_not_sum_to_one_keeps_the_general_rule():
    """(1 − ε) Y + ε sums to 1 + (K − 1) ε per column: the gradient is (P 𝟏ᵀT − T) / B, not P − T."""
    solution = solve_matrix(problem_from_toml(SMOOTHED.format(smoothing="(1 - eps) * Y + eps"), "wrong"))
    assert "(P − T) / B" not in _adjoint(solution, "Z")
    assert solution.checks.exact == "pass"
    rng = np.random.default_rng(2)
    X, W = rng.standard_normal((2, 3)), rng.standard_normal((4, 2))
    Y, eps = np.eye(4)[:, [1, 1, 0]], np.array([[0.2]])
    T = (1 - eps) * Y + eps
    P = softmax(W @ X, 0)
    got = _gradient(solution, {"X": X, "W": W, "Y": Y, "eps": eps})
    assert np.allclose(got, (P * T.sum(axis=0, keepdims=True) - T) @ X.T / 3, rtol=1e-12)


@pytest.mark.parametrize("target, message", [
    ('{ shape = "B x K", kind = "distribution", axis = 2 }', "is 0 (each column) or 1 (each row)"),
    ('{ shape = "B x K", kind = "binary", axis = 1 }', "applies to a onehot or distribution kind"),
    ('{ shape = "B x K", kind = "distribution", axes = 1 }', "unknown key 'axes'"),
])
def test_a_misused_axis_is_one_line(target, message):
    with pytest.raises(ProblemError, match=re.escape(message)):
        problem_from_toml(ROWS.format(target=target, axis=1), "bad")
