"""Issue 21: small course networks written with the new matrix operations (a GRU cell with
concat, a SwiGLU block sliced into halves with a Huber loss written with where, max-pooled logits
with binary cross-entropy and a row penalty) and written inline as a course writes them (an
LSTM cell's four gates over concat(h0, x); a GRU step with Greek γ and β).  Each network's
gradients, from derive's generated NumPy module and from its own evaluation of the derived
equations, are compared with backward passes written out by hand in NumPy here and with HIPS
autograd, and every gradient is proved exactly."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from derive.matrix.codegen import generate
from derive.matrix.evaluate import NumpyBackend, run_backward, run_forward
from derive.matrix.expr import size_value
from derive.matrix.shapes import parse_shape
from derive.matrix.solve import solve_matrix
from derive.problems import load_problem

NETWORKS = Path(__file__).parent / "networks"


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gru_cell(x, h0, Wz, Wr, Wh, y):
    xh = np.vstack([x, h0])
    z, r = sigmoid(Wz @ xh), sigmoid(Wr @ xh)
    xrh = np.vstack([x, r * h0])
    c = np.tanh(Wh @ xrh)
    h1 = (1 - z) * h0 + z * c
    dh1 = h1 - y
    dz, dc = dh1 * (c - h0), dh1 * z
    da_c = dc * (1 - c ** 2)
    dxrh = Wh.T @ da_c
    D = x.shape[0]
    dr = dxrh[D:] * h0
    da_z, da_r = dz * z * (1 - z), dr * r * (1 - r)
    dxh = Wz.T @ da_z + Wr.T @ da_r
    return {"Wz": da_z @ xh.T, "Wr": da_r @ xh.T, "Wh": da_c @ xrh.T,
            "x": dxh[:D] + dxrh[:D], "h0": dh1 * (1 - z) + dxh[D:] + dxrh[D:] * r}


def swiglu_huber(x, W, V, y):
    a = W @ x
    H = a.shape[0] // 2
    u, v = a[:H], a[H:]
    silu = u * sigmoid(u)
    g = silu * v
    r = V @ g - y
    dr = np.where(np.abs(r) <= 1, r, np.sign(r))  # Huber with δ = 1
    dg = V.T @ dr
    du = dg * v * (sigmoid(u) + u * sigmoid(u) * (1 - sigmoid(u)))
    da = np.vstack([du, dg * silu])
    return {"W": da @ x.T, "V": dr @ g.T, "x": W.T @ da}


def maxpool_bce(X, W, t):
    Z = W @ X
    s = Z.max(axis=0, keepdims=True)
    ds = sigmoid(s) - t
    winners = (Z == s).astype(float)
    dZ = winners / winners.sum(axis=0, keepdims=True) * ds  # ties split evenly, as autograd does
    dW = dZ @ X.T
    dW[0] += 0.02 * W[0]
    return {"W": dW, "X": W.T @ dZ}


def lstm_cell(x, h0, c0, Wf, Wi, Wo, Wc, bf, bi, bo, bc, y):
    v = np.vstack([h0, x])
    f, i, o, g = sigmoid(Wf @ v + bf), sigmoid(Wi @ v + bi), sigmoid(Wo @ v + bo), np.tanh(Wc @ v + bc)
    c1 = f * c0 + i * g
    h1 = o * np.tanh(c1)
    dh1 = h1 - y
    dc1 = dh1 * o * (1 - np.tanh(c1) ** 2)
    da_f, da_i = dc1 * c0 * f * (1 - f), dc1 * g * i * (1 - i)
    da_o, da_c = dh1 * np.tanh(c1) * o * (1 - o), dc1 * i * (1 - g ** 2)
    dv = Wf.T @ da_f + Wi.T @ da_i + Wo.T @ da_o + Wc.T @ da_c
    return {"Wf": da_f @ v.T, "Wi": da_i @ v.T, "Wo": da_o @ v.T, "Wc": da_c @ v.T, "bf": da_f, "bc": da_c,
            "h0": dv[:h0.shape[0]], "c0": dc1 * f}


def gru_greek(x, h0, Wz, Uz, Wr, Ur, Wh, Uh, γ, β, y):
    z, r = sigmoid(Wz @ x + Uz @ h0), sigmoid(Wr @ x + Ur @ h0)
    n = np.tanh(Wh @ x + Uh @ (r * h0))
    h1 = (1 - z) * n + z * h0
    e = γ * h1 + β - y
    dh1 = γ * e
    da_n = (1 - n ** 2) * (1 - z) * dh1
    da_r = r * (1 - r) * h0 * (Uh.T @ da_n)
    da_z = z * (1 - z) * (h0 - n) * dh1
    return {"Wz": da_z @ x.T, "Uz": da_z @ h0.T, "Wr": da_r @ x.T, "Ur": da_r @ h0.T, "Wh": da_n @ x.T,
            "Uh": da_n @ (r * h0).T, "γ": h1 * e, "β": e,
            "h0": z * dh1 + r * (Uh.T @ da_n) + Ur.T @ da_r + Uz.T @ da_z}


CASES = {"gru_cell": gru_cell, "swiglu_huber": swiglu_huber, "maxpool_bce": maxpool_bce, "lstm_cell": lstm_cell,
         "gru_greek": gru_greek}


def _values(problem, rng):
    """Random values of the variables (a binary target as 0s and 1s)."""
    values = {}
    for name, spec in problem.variables.items():
        shape = parse_shape(spec if isinstance(spec, str) else spec["shape"], problem.dims, name)
        values[name] = rng.standard_normal(tuple(size_value(d, problem.dims) for d in shape))
    if "t" in values:
        values["t"] = (values["t"] > 0).astype(float)
    return values


@pytest.fixture(scope="module")
def solutions():
    return {name: solve_matrix(load_problem(str(NETWORKS / f"{name}.toml"))) for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_gradient_is_proved(solutions, name):
    checks = solutions[name].checks
    assert checks.exact == "pass", checks
    assert checks.numeric_max_relative_error < 1e-6


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_equal_the_hand_written_backward_pass(solutions, name, tmp_path):
    solution = solutions[name]
    problem = solution.problem
    rng = np.random.default_rng(21)
    values = _values(problem, rng)
    expected = CASES[name](**values)
    # the generated module
    path = tmp_path / f"{name}.py"
    path.write_text(generate(solution.derivation))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.gradients(*(values[v] for v in problem.variables))
    # derive's own evaluation of the derived equations
    model = solution.model
    backend = NumpyBackend(model.concrete)
    evaluated = run_backward(solution.derivation, run_forward(model, values, backend, problem.dims), backend,
                             problem.dims)
    for g in problem.wrt:
        assert np.allclose(generated[g], expected[g], rtol=1e-10, atol=1e-12), g
        assert np.allclose(evaluated[g], expected[g], rtol=1e-10, atol=1e-12), g


def test_max_splits_ties_like_autograd(solutions):
    """Two equal maxima in a column share its adjoint: each gets half (autograd's grad_chooser)."""
    solution = solutions["maxpool_bce"]
    problem = solution.problem
    values = _values(problem, np.random.default_rng(3))
    W, X = values["W"], np.abs(values["X"]) + 0.1
    W[2] = W[1]                      # rows 1 and 2 of W X tie in every column (X > 0),
    W[0] = -10 * np.abs(W[1]) - 5    # and row 0 is far below them
    values["X"] = X
    Z = W @ X
    assert np.all(Z[1] == Z[2]) and np.all(Z[1] > Z[0])
    expected = maxpool_bce(**values)
    backend = NumpyBackend(solution.model.concrete)
    got = run_backward(solution.derivation, run_forward(solution.model, values, backend, problem.dims), backend,
                       problem.dims)
    assert np.allclose(got["X"], expected["X"], rtol=1e-12)
    assert np.allclose(got["W"], expected["W"], rtol=1e-12)
    assert np.allclose(got["W"][1], got["W"][2]) and not np.allclose(got["W"][1], 0)


# -- HIPS autograd as a second, independent reference (its grad_chooser splits ties) ----------------
def _autograd_losses():
    anp = pytest.importorskip("autograd.numpy")

    def sig(x):
        return 1 / (1 + anp.exp(-x))

    def gru_cell(x, h0, Wz, Wr, Wh, y):
        xh = anp.concatenate([x, h0])
        z, r = sig(Wz @ xh), sig(Wr @ xh)
        c = anp.tanh(Wh @ anp.concatenate([x, r * h0]))
        h1 = (1 - z) * h0 + z * c
        return 0.5 * anp.sum((h1 - y) ** 2)

    def swiglu_huber(x, W, V, y):
        a = W @ x
        H = a.shape[0] // 2
        r = V @ (a[:H] * sig(a[:H]) * a[H:]) - y
        return anp.sum(anp.where(anp.abs(r) <= 1, 0.5 * r ** 2, anp.abs(r) - 0.5))

    def maxpool_bce(X, W, t):
        s = anp.max(W @ X, axis=0, keepdims=True)
        return anp.sum(anp.logaddexp(0, s) - t * s) + 0.01 * anp.sum(W[0] ** 2)

    def lstm_cell(x, h0, c0, Wf, Wi, Wo, Wc, bf, bi, bo, bc, y):
        v = anp.concatenate([h0, x])
        c1 = sig(Wf @ v + bf) * c0 + sig(Wi @ v + bi) * anp.tanh(Wc @ v + bc)
        return 0.5 * anp.sum((sig(Wo @ v + bo) * anp.tanh(c1) - y) ** 2)

    def gru_greek(x, h0, Wz, Uz, Wr, Ur, Wh, Uh, γ, β, y):
        z, r = sig(Wz @ x + Uz @ h0), sig(Wr @ x + Ur @ h0)
        h1 = (1 - z) * anp.tanh(Wh @ x + Uh @ (r * h0)) + z * h0
        return 0.5 * anp.sum((γ * h1 + β - y) ** 2)

    return {"gru_cell": gru_cell, "swiglu_huber": swiglu_huber, "maxpool_bce": maxpool_bce, "lstm_cell": lstm_cell,
            "gru_greek": gru_greek}


@pytest.mark.parametrize("name, ties", [(name, False) for name in sorted(CASES)] + [("maxpool_bce", True)])
def test_gradients_equal_autograds(solutions, name, ties):
    from autograd import grad

    loss = _autograd_losses()[name]
    solution = solutions[name]
    problem = solution.problem
    values = _values(problem, np.random.default_rng(5))
    if ties:  # rows 1 and 2 of W X tie in every column
        values["X"] = np.abs(values["X"]) + 0.1
        values["W"][2] = values["W"][1]
        values["W"][0] = -10 * np.abs(values["W"][1]) - 5
    backend = NumpyBackend(solution.model.concrete)
    got = run_backward(solution.derivation, run_forward(solution.model, values, backend, problem.dims), backend,
                       problem.dims)
    order = list(problem.variables)
    for g in problem.wrt:
        expected = grad(loss, order.index(g))(*(values[v] for v in order))
        assert np.allclose(got[g], expected, rtol=1e-10, atol=1e-12), g
