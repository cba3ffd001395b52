"""Issue 10: the built-in catalogue of networks.  Each network's gradients are compared with
gradients written out by hand in NumPy here (the textbook backward passes, not derive's
output), at values drawn as each variable's kind; its key adjoints are pinned in textbook form.
The proofs (exact and numeric, ≤ 20 s each) run in bench/catalogue.py and in CI through it."""

import unicodedata

import numpy as np
import pytest

from derive.matrix.backprop import derive
from derive.matrix.evaluate import NumpyBackend, run_backward, run_forward
from derive.matrix.shapes import build_model
from derive.matrix.verify import random_values
from derive.problems import load_problem
from derive.render.matrix import TextPrinter

CATALOGUE = ["mlp_batch", "logistic", "rnn", "layernorm", "batchnorm", "attention", "residual", "autoencoder"]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mlp_batch(X, T, W1, b1, W2, b2, λ):
    Z1 = W1 @ X + b1
    H = np.maximum(Z1, 0)
    Z2 = W2 @ H + b2
    P = np.exp(Z2 - Z2.max(0)) / np.exp(Z2 - Z2.max(0)).sum(0)
    B = X.shape[1]
    dZ2 = (P - T) / B
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    return {"W1": dZ1 @ X.T + λ * W1, "b1": dZ1.sum(1, keepdims=True),
            "W2": dZ2 @ H.T + λ * W2, "b2": dZ2.sum(1, keepdims=True)}


def logistic(X, t, w, b):
    p = sigmoid(w.T @ X + b)
    dz = (p - t) / X.shape[1]
    return {"w": X @ dz.T, "b": dz.sum(keepdims=True)}


def rnn(x1, x2, x3, h0, y, W, U, b, V, c):
    xs, hs = [x1, x2, x3], [h0]
    for x in xs:
        hs.append(np.tanh(W @ x + U @ hs[-1] + b))
    z = V @ hs[3] + c
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    dz = p - y
    grads = {"V": dz @ hs[3].T, "c": dz, "W": 0, "U": 0, "b": 0}
    dh = V.T @ dz
    for k in (3, 2, 1):  # backpropagation through time
        da = dh * (1 - hs[k] ** 2)
        grads["W"] = grads["W"] + da @ xs[k - 1].T
        grads["U"] = grads["U"] + da @ hs[k - 1].T
        grads["b"] = grads["b"] + da
        dh = U.T @ da
    return grads


def _norm_backward(X, γ, β, ε, dY, axis):
    """The textbook backward pass of a standardisation along ``axis``:
    dX = (dX̂ − mean(dX̂) − X̂ mean(dX̂ ⊙ X̂)) / s."""
    mu = X.mean(axis, keepdims=True)
    s = np.sqrt(X.var(axis, keepdims=True) + ε)
    Xh = (X - mu) / s
    dXh = dY * γ
    dX = (dXh - dXh.mean(axis, keepdims=True) - Xh * (dXh * Xh).mean(axis, keepdims=True)) / s
    return dX, {"γ": (dY * Xh).sum(1, keepdims=True), "β": dY.sum(1, keepdims=True)}, γ * Xh + β


def layernorm(X, S, γ, β, ε, W):
    mu, s = X.mean(0, keepdims=True), np.sqrt(X.var(0, keepdims=True) + ε)
    Y = γ * (X - mu) / s + β
    dZ = (W @ Y - S) / X.shape[1]
    dX, grads, _ = _norm_backward(X, γ, β, ε, W.T @ dZ, 0)
    return {"X": dX, **grads, "W": dZ @ Y.T}


def batchnorm(X, S, γ, β, ε):
    mu, s = X.mean(1, keepdims=True), np.sqrt(X.var(1, keepdims=True) + ε)
    Y = γ * (X - mu) / s + β
    dX, grads, _ = _norm_backward(X, γ, β, ε, (Y - S) / X.shape[1], 1)
    return {"X": dX, **grads}


def attention(X, S, Wq, Wk, Wv):
    d = X.shape[1]
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    Z = Q @ K.T / np.sqrt(d)
    A = np.exp(Z - Z.max(1, keepdims=True))
    A /= A.sum(1, keepdims=True)
    dY = A @ V - S
    dA = dY @ V.T
    dZ = A * (dA - (dA * A).sum(1, keepdims=True))
    dQ, dK, dV = dZ @ K / np.sqrt(d), dZ.T @ Q / np.sqrt(d), A.T @ dY
    return {"X": dQ @ Wq.T + dK @ Wk.T + dV @ Wv.T, "Wq": X.T @ dQ, "Wk": X.T @ dK, "Wv": X.T @ dV}


def residual(x, s, W1, b1, W2):
    z = W1 @ x + b1
    h = np.maximum(z, 0)
    dy = x + W2 @ h - s
    dz = (W2.T @ dy) * (z > 0)
    return {"x": dy + W1.T @ dz, "W1": dz @ x.T, "b1": dz, "W2": dy @ h.T}


def autoencoder(X, W, b, c):
    H = sigmoid(W @ X + b)
    dR = (W.T @ H + c - X) / X.shape[1]
    dZ = (W @ dR) * H * (1 - H)
    return {"W": H @ dR.T + dZ @ X.T, "b": dZ.sum(1, keepdims=True), "c": dR.sum(1, keepdims=True)}


#: Key adjoints and gradients, as a textbook prints them.
TEXTBOOK = {
    "mlp_batch": {"Z2": "(P − T) / B", "Z1": "relu′(Z1) ⊙ H̄", "b1": "Z̄1 𝟏", "W1": "λ W1 + Z̄1 Xᵀ"},
    "logistic": {"z": "(p − t) / B", "w": "X z̄ᵀ"},
    "rnn": {"z": "softmax(z) − y", "a3": "(1 − h3 ⊙ h3) ⊙ h̄3", "h2": "Uᵀ ā3", "W": "ā3 x3ᵀ + ā2 x2ᵀ + ā1 x1ᵀ"},
    "layernorm": {"Z": "(Z − S) / B", "C": "X̂̄ ⊘ (𝟏 s)", "v": "s̄ ⊘ (2 s)", "mu": "−𝟏ᵀ C̄",
                  "γ": "(X̂ ⊙ Ȳ) 𝟏"},
    "batchnorm": {"Y": "(Y − S) / B", "mu": "−C̄ 𝟏", "β": "Ȳ 𝟏"},
    "attention": {"Z": "A ⊙ (Ā − (A ⊙ Ā) 𝟏 𝟏ᵀ)", "V": "Aᵀ (Y − S)", "Wq": "Xᵀ Q̄"},
    "residual": {"y": "y − s", "x": "ȳ + W1ᵀ z̄"},
    "autoencoder": {"R": "(R − X) / B", "W": "H R̄ᵀ + Z̄ Xᵀ"},
}


@pytest.mark.parametrize("name", CATALOGUE)
def test_catalogue_network_matches_hand_written_gradients(name):
    problem = load_problem(name)
    derivation = derive(build_model(problem))
    backend = NumpyBackend(derivation.model.concrete)
    for seed in (0, 1):
        values = random_values(derivation, seed)
        ours = run_backward(derivation, run_forward(derivation.model, values, backend, problem.dims), backend,
                            problem.dims)
        reference = globals()[name](*(values[v] for v in derivation.model.variables))
        assert set(reference) == set(problem.wrt)
        for g, want in reference.items():
            assert np.allclose(ours[g], want, rtol=1e-10, atol=1e-12), (name, g)


@pytest.mark.parametrize("name", CATALOGUE)
def test_catalogue_network_is_in_textbook_form(name):
    derivation = derive(build_model(load_problem(name)))
    text = TextPrinter()
    shown = {a.name: text(a.simplified) for a in derivation.adjoints} | {g.name: text(g.expr)
                                                                         for g in derivation.gradients}
    for node, form in TEXTBOOK[name].items():  # NFC: ȳ typed here is one character, derive writes y + ̄
        assert unicodedata.normalize("NFC", shown[node]) == unicodedata.normalize("NFC", form), (node, shown[node])
    assert not any("softmax" in shown[n] for n in shown if name in ("mlp_batch", "attention"))


@pytest.mark.parametrize("name", CATALOGUE)
def test_catalogue_network_is_proved_and_its_code_runs(name, builtin):
    from derive.matrix.codegen import generate, self_check

    solution = builtin(name)
    assert solution.checks.exact == "pass", solution.checks  # finished, not skipped
    assert solution.checks.numeric_max_relative_error < 1e-6
    assert self_check(solution.derivation, generate(solution.derivation)).max_relative_difference < 1e-8
