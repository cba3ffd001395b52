"""Issue 21: networks written inline as a course writes them.  The argument of an activation or
a softmax gets a node of its own (named as a textbook names it), the derivatives of σ and tanh
are written from their outputs, the fused p − t forms are recognised with their condition stated,
and every gradient equals a hand-written NumPy reference and central finite differences."""

import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from derive.matrix import expr as mx
from derive.matrix.backprop import derive
from derive.matrix.evaluate import NumpyBackend, evaluate, run_backward, run_forward
from derive.matrix.shapes import build_model
from derive.matrix.solve import solve_matrix
from derive.matrix.verify import random_values
from derive.problems import problem_from_toml
from derive.render.matrix import LatexPrinter, TextPrinter, derivative_notes

TANH = """
[dims]
N = 3
K = 2
[variables]
x = "N"
W = "K x N"
b = "K"
[equations]
h = "tanh(W @ x + b)"
L = "sum(h * h)"
[derive]
loss = "L"
wrt = ["W", "b", "x"]
"""

RNN = """
[dims]
N = 2
H = 3
M = 2
[variables]
x1 = "N"
x2 = "N"
x3 = "N"
h0 = "H"
t = { shape = "M", kind = "onehot" }
W = "H x H"
U = "H x N"
b = "H"
V = "M x H"
c = "M"
[equations]
h1 = "tanh(W @ h0 + U @ x1 + b)"
h2 = "tanh(W @ h1 + U @ x2 + b)"
h3 = "tanh(W @ h2 + U @ x3 + b)"
p = "softmax(V @ h3 + c)"
L = "-sum(t * log(p))"
[derive]
loss = "L"
wrt = ["W", "U", "b", "V", "c", "h0"]
"""

MLP = """
[dims]
N = 3
H = 4
G = 3
B = 2
[variables]
X = "N x B"
t = { shape = "1 x B", kind = "binary" }
W1 = "H x N"
b1 = "H"
W2 = "G x H"
b2 = "G"
W3 = "1 x G"
b3 = "1"
[equations]
H1 = "relu(W1 @ X + b1)"
H2 = "tanh(W2 @ H1 + b2)"
p = "sigmoid(W3 @ H2 + b3)"
L = "-mean(t * log(p) + (1 - t) * log(1 - p))"
[derive]
loss = "L"
wrt = ["W1", "b1", "W2", "b2", "W3", "b3"]
"""

LOGISTIC = """
[dims]
N = 3
[variables]
x = "N"
t = { shape = "1", kind = "binary" }
w = "N"
b = "1"
[equations]
p = "sigmoid(w.T @ x + b)"
L = "-(t * log(p) + (1 - t) * log(1 - p))"
[derive]
loss = "L"
wrt = ["w", "b"]
"""


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tanh_reference(x, W, b):
    h = np.tanh(W @ x + b)
    dz = 2 * h * (1 - h * h)
    return {"W": dz @ x.T, "b": dz, "x": W.T @ dz}


def rnn_reference(x1, x2, x3, h0, t, W, U, b, V, c):
    hs, xs = [h0], [x1, x2, x3]
    for x in xs:
        hs.append(np.tanh(W @ hs[-1] + U @ x + b))
    o = V @ hs[3] + c
    p = np.exp(o - o.max()) / np.exp(o - o.max()).sum()
    do = p - t
    grads = {"W": np.zeros_like(W), "U": np.zeros_like(U), "b": np.zeros_like(b), "V": do @ hs[3].T, "c": do}
    dh = V.T @ do
    for step in (2, 1, 0):  # backpropagation through time, by hand
        dz = (1 - hs[step + 1] ** 2) * dh
        grads["W"] += dz @ hs[step].T
        grads["U"] += dz @ xs[step].T
        grads["b"] += dz
        dh = W.T @ dz
    grads["h0"] = dh
    return grads


def mlp_reference(X, t, W1, b1, W2, b2, W3, b3):
    Z1 = W1 @ X + b1
    H1 = np.maximum(Z1, 0)
    H2 = np.tanh(W2 @ H1 + b2)
    p = _sigmoid(W3 @ H2 + b3)
    dZ3 = (p - t) / X.shape[1]
    dZ2 = (W3.T @ dZ3) * (1 - H2 ** 2)
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    return {"W3": dZ3 @ H2.T, "b3": dZ3.sum(1, keepdims=True), "W2": dZ2 @ H1.T, "b2": dZ2.sum(1, keepdims=True),
            "W1": dZ1 @ X.T, "b1": dZ1.sum(1, keepdims=True)}


def logistic_reference(x, t, w, b):
    dz = _sigmoid(w.T @ x + b) - t
    return {"w": x * dz, "b": dz}


def _derived(derivation, seed):
    """The variables at the checks' random values, and every gradient the derivation gives there."""
    model = derivation.model
    backend = NumpyBackend(model.concrete)
    values = random_values(derivation, seed)
    return values, run_backward(derivation, run_forward(model, values, backend, model.problem.dims), backend,
                                model.problem.dims)


def _loss(derivation, values):
    model = derivation.model
    backend = NumpyBackend(model.concrete)
    return float(run_forward(model, values, backend, model.problem.dims)[model.problem.loss].item())


def _finite_differences(derivation, values, name, h=1e-6):
    out = np.zeros_like(values[name])
    for index in np.ndindex(out.shape):
        up, down = dict(values), dict(values)
        up[name], down[name] = values[name].copy(), values[name].copy()
        up[name][index] += h
        down[name][index] -= h
        out[index] = (_loss(derivation, up) - _loss(derivation, down)) / (2 * h)
    return out


@pytest.mark.parametrize("text, reference", [(TANH, tanh_reference), (RNN, rnn_reference), (MLP, mlp_reference),
                                             (LOGISTIC, logistic_reference)], ids=["tanh", "rnn", "mlp", "logistic"])
def test_inline_networks_match_hand_written_numpy_and_finite_differences(text, reference):
    derivation = derive(build_model(problem_from_toml(text, "net")))
    model = derivation.model
    for seed in (0, 1):
        values, ours = _derived(derivation, seed)
        want = reference(*(values[v] for v in model.variables))
        assert set(want) == set(model.problem.wrt)
        for name, value in want.items():
            assert np.allclose(ours[name], value, rtol=1e-10, atol=1e-12), name
            assert np.allclose(ours[name], _finite_differences(derivation, values, name), rtol=1e-5, atol=1e-7), name


def _nfc(text: str) -> str:  # ō typed here is one character; derive writes o and a combining bar
    return unicodedata.normalize("NFC", text)


def _shown(derivation):
    text = TextPrinter()
    return ({a.name: _nfc(text(a.simplified)) for a in derivation.adjoints}
            | {f"∂{g.name}": _nfc(text(g.expr)) for g in derivation.gradients})


def test_a_tanh_layer_written_inline_has_a_named_pre_activation_with_its_own_row():
    derivation = derive(build_model(problem_from_toml(TANH, "net")))
    text = TextPrinter()
    assert derivation.model.introduced == ("z",)
    assert [(n, text(e)) for n, e in derivation.model.equations] == [("z", "W x + b"), ("h", "tanh(z)"),
                                                                     ("L", "sum(h ⊙ h)")]
    shown = _shown(derivation)
    assert shown["z"] == "2 ((1 − h ⊙ h) ⊙ h)"  # tanh′(z) written from h, never tanh′(W x + b)
    assert shown["∂W"] == "z̄ xᵀ" and shown["∂b"] == "z̄" and shown["∂x"] == "Wᵀ z̄"


def test_an_inline_rnn_names_each_step_as_a_textbook_and_proves():
    solution = solve_matrix(problem_from_toml(RNN, "rnn"))  # a form that differs raises
    assert solution.checks.exact.startswith("pass")  # (under load a gradient may be skipped by the time limit)
    derivation = solution.derivation
    assert solution.model.introduced == ("z1", "z2", "z3", "o")  # o: z would read as one of z1, z2, z3
    latex = dict((n, LatexPrinter()(e)) for n, e in solution.model.equations)
    assert latex["z1"] == r"W \, h_{0} + U \, x_{1} + b" and latex["h1"] == r"\tanh\left(z_{1}\right)"
    shown = _shown(derivation)
    assert shown["o"] == "p − t" and shown["z2"] == "(1 − h2 ⊙ h2) ⊙ h̄2" and shown["h1"] == "Wᵀ z̄2"
    assert shown["∂W"] == _nfc("z̄3 h2ᵀ + z̄2 h1ᵀ + z̄1 h0ᵀ") and shown["∂b"] == _nfc("z̄3 + z̄2 + z̄1")
    assert shown["∂V"] == _nfc("ō h3ᵀ")
    notes = [_nfc(note) for note in derivative_notes(solution, TextPrinter())]
    assert notes[0].startswith("z1, z2, z3, o name the arguments written inline")
    assert _nfc("ō = p − t (softmax followed by cross-entropy, as t is one-hot)") in notes
    # one note for the three steps; t is the target here, so the step is k
    assert "tanh′(z_k) = 1 − h_k ⊙ h_k, as h_k = tanh(z_k), for k = 1, 2, 3" in notes


def test_an_mlp_of_activations_around_affine_maps_numbers_its_layers_from_the_weights():
    derivation = derive(build_model(problem_from_toml(MLP, "mlp")))
    assert derivation.model.introduced == ("Z1", "Z2", "Z3")  # a batch: matrices, as H1 and H2 are
    shown = _shown(derivation)
    assert shown["Z3"] == "(p − t) / B"  # sigmoid and the mean binary cross-entropy
    assert shown["Z2"] == _nfc("(1 − H2 ⊙ H2) ⊙ H̄2") and shown["Z1"] == _nfc("relu′(Z1) ⊙ H̄1")
    assert shown["∂W1"] == _nfc("Z̄1 Xᵀ") and shown["∂W3"] == _nfc("Z̄3 H2ᵀ")


def test_logistic_regression_written_inline_prints_p_minus_t():
    solution = solve_matrix(problem_from_toml(LOGISTIC, "logistic"))
    shown = _shown(solution.derivation)
    assert solution.model.introduced == ("z",) and shown["z"] == "p − t"
    assert shown["∂w"] == _nfc("z̄ x") and shown["∂b"] == _nfc("z̄")
    assert "z̄ = p − t (sigmoid followed by binary cross-entropy, for any target)" in \
        derivative_notes(solution, TextPrinter())


def test_introduced_names_never_clash_with_the_users():
    text = TANH.replace('b = "K"', 'b = "K"\nz = "K"').replace('"sum(h * h)"', '"sum(h * h) + sum(z)"')
    derivation = derive(build_model(problem_from_toml(text, "net")))
    assert derivation.model.introduced == ("a",)  # z is the user's
    indexed = TANH.replace('b = "K"', 'b = "K"\nz1 = "K"').replace('"sum(h * h)"', '"sum(h * h) + sum(z1)"')
    assert derive(build_model(problem_from_toml(indexed, "net"))).model.introduced == ("a",)  # no z beside z1
    named = TANH.replace('h = "tanh(W @ x + b)"', 'u = "W @ x + b"\nh = "tanh(W @ x + b)"')
    derivation = derive(build_model(problem_from_toml(named, "net")))
    assert derivation.model.introduced == () and _shown(derivation)["∂W"] == _nfc("ū xᵀ")  # the user's u


def test_algebra_and_plain_names_are_not_named():
    text = LOGISTIC.replace('p = "sigmoid(w.T @ x + b)"', 'z = "w.T @ x + b"\np = "sigmoid(z)"')
    derivation = derive(build_model(problem_from_toml(text, "net")))
    assert derivation.model.introduced == ()  # log(1 − p) is algebra, not a layer


def test_a_sigmoid_output_writes_its_derivative_from_the_output_outside_cross_entropy():
    text = TANH.replace("tanh(W @ x + b)", "sigmoid(W @ x + b)")
    solution = solve_matrix(problem_from_toml(text, "net"))
    assert _shown(solution.derivation)["z"] == "2 h ⊙ (1 − h) ⊙ h"
    assert "σ′(z) = h ⊙ (1 − h), as h = σ(z)" in derivative_notes(solution, TextPrinter())


def test_a_function_given_a_name_is_explained_on_the_sheet():
    text = TANH.replace("[equations]", '[functions]\nsigma = "tanh"\n[equations]').replace("tanh(W", "sigma(W")
    solution = solve_matrix(problem_from_toml(text, "net"))
    assert "σ = tanh" in derivative_notes(solution, TextPrinter())
    assert r"\sigma = \tanh" in derivative_notes(solution, LatexPrinter())


SOFTMAX = """
[dims]
N = 3
M = 3
B = 2
[variables]
X = "N x B"
T = {target}
W = "M x N"
b = "M"
lam = "1"
[equations]
P = "softmax(W @ X + b)"
L = "{loss}"
[derive]
loss = "L"
wrt = ["W", "b"]
"""
ONEHOT = '{ shape = "M x B", kind = "onehot" }'
SOFT = '{ shape = "M x B", kind = "distribution" }'


def softmax_reference(X, T, W, b, lam, scale, decay):
    Z = W @ X + b
    P = np.exp(Z - Z.max(0)) / np.exp(Z - Z.max(0)).sum(0)
    dZ = (P * T.sum(0) - T) * scale  # the general rule: (P 𝟏ᵀT − T), P − T only when columns sum to 1
    return {"W": dZ @ X.T + decay * 2 * lam * W, "b": dZ.sum(1, keepdims=True)}


@pytest.mark.parametrize("target, condition", [(ONEHOT, "each column of T is one-hot"),
                                               (SOFT, "each column of T sums to 1")], ids=["onehot", "soft"])
@pytest.mark.parametrize("loss, shown, scale, decay", [
    ("-sum(T * log(P))", "P − T", 1, 0),
    ("-sum(T * log(P)) / B", "(P − T) / B", 1 / 2, 0),
    ("-mean(T * log(P))", "(P − T) / (M B)", 1 / 6, 0),
    ("lam * sum(W * W) - sum(T * log(P)) / B", "(P − T) / B", 1 / 2, 1),
], ids=["sum", "mean-over-examples", "mean-over-entries", "with-weight-decay"])
def test_softmax_and_cross_entropy_fuse_to_p_minus_t_with_the_condition_stated(target, condition, loss, shown, scale,
                                                                                decay):
    solution = solve_matrix(problem_from_toml(SOFTMAX.format(target=target, loss=loss), "net"))
    derivation = solution.derivation
    assert solution.model.introduced == ("Z",) and _shown(derivation)["Z"] == shown
    notes = derivative_notes(solution, TextPrinter())
    assert any(note.startswith("Z̄ = ") and note.endswith(f"(softmax followed by cross-entropy, as {condition})")
               for note in notes), notes
    values, ours = _derived(derivation, 0)
    want = softmax_reference(*(values[v] for v in solution.model.variables), scale, decay)
    for name in ("W", "b"):
        assert np.allclose(ours[name], want[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("target", ['"M x B"', '{ shape = "M x B", kind = "binary" }'], ids=["general", "binary"])
def test_a_target_whose_columns_need_not_sum_to_one_gets_no_fused_form(target):
    solution = solve_matrix(problem_from_toml(SOFTMAX.format(target=target, loss="-sum(T * log(P))"), "net"))
    shown = _shown(solution.derivation)["Z"]
    assert "P − T" not in shown and shown == "P ⊙ (P̄ − 𝟏 𝟏ᵀ (P ⊙ P̄))"
    assert not any("cross-entropy" in note for note in derivative_notes(solution, TextPrinter()))
    values, ours = _derived(solution.derivation, 0)  # and the general form is right where P − T is not
    want = softmax_reference(*(values[v] for v in solution.model.variables), 1, 0)
    assert np.allclose(ours["W"], want["W"], rtol=1e-10, atol=1e-12)


def test_a_softmax_cross_entropy_call_states_the_column_sums_it_uses():
    text = SOFTMAX.format(target=ONEHOT, loss="softmax_cross_entropy(W @ X + b, T) / B").replace(
        'P = "softmax(W @ X + b)"\n', "")
    solution = solve_matrix(problem_from_toml(text, "net"))
    assert _shown(solution.derivation)["Z"] == "(softmax(Z) − T) / B"
    assert "𝟏ᵀ T = 𝟏ᵀ, as each column of T is one-hot" in derivative_notes(solution, TextPrinter())


def test_binary_cross_entropy_weighted_unevenly_is_not_p_minus_t():
    text = LOGISTIC.replace("(1 - t) * log(1 - p)", "2 * (1 - t) * log(1 - p)")
    solution = solve_matrix(problem_from_toml(text, "logistic"))
    shown = _shown(solution.derivation)["z"]
    assert "p − t" not in shown and "p (1 − p)" in shown  # σ′ from the output, times p̄
    values, ours = _derived(solution.derivation, 0)
    x, t, w, b = (values[v] for v in solution.model.variables)
    p = _sigmoid(w.T @ x + b)
    assert np.allclose(ours["w"], x * (-t * (1 - p) + 2 * (1 - t) * p), rtol=1e-10)  # by hand


def test_sigma_cannot_stand_for_tanh_and_the_sigmoid_on_one_sheet():
    from derive.errors import ProblemError

    text = TANH.replace("[equations]", '[functions]\nsigma = "tanh"\n[equations]').replace(
        '"sum(h * h)"', '"sum(h * sigmoid(x.T @ x))"').replace("tanh(W", "sigma(W")
    with pytest.raises(ProblemError, match="also call sigmoid"):
        problem_from_toml(text, "net")


@pytest.mark.parametrize("functions, message", [('exp = "tanh"', "reserved"), ('W = "tanh"', "both a function"),
                                                ('N = "tanh"', "both a function and a dim")])
def test_function_names_are_checked_like_other_names(functions, message):
    from derive.errors import ProblemError

    with pytest.raises(ProblemError, match=message):
        problem_from_toml(TANH.replace("[equations]", f"[functions]\n{functions}\n[equations]"), "net")


def test_a_named_or_abstract_sigma_keeps_its_derivative_as_sigma_prime():
    # the exact check keeps a function the problem names abstract: p ⊙ (1 − p) would not be proved for it
    for functions in ("", '[functions]\nsigma = "sigmoid"\n'):
        text = TANH.replace("[equations]", functions + "[equations]").replace("tanh(W", "sigma(W")
        assert _shown(derive(build_model(problem_from_toml(text, "net"))))["z"] == "2 σ′(z) ⊙ h"


def test_the_sheet_states_the_introduced_node_and_the_derivative_from_the_output():
    from derive import api
    from derive.report import render_sheet

    tex = render_sheet(api.solve(problem_from_toml(TANH, "net")), "tex")
    assert r"z &= W \, x + b" in tex and r"h &= \tanh\left(z\right)" in tex
    here = next(line for line in tex.splitlines() if line.startswith("Here"))
    assert r"$z\ \allowbreak \text{names}\ \allowbreak \text{the}" in here  # prose breaks at its spaces
    assert r"$\tanh'(z) = 1 - h \odot h\text{,}\ \allowbreak \text{as}\ \allowbreak h = \tanh(z)$" in here


# -- fused forms written inline: no named p, the activation wrapped straight in the loss ------------------
INLINE_BCE = LOGISTIC.replace('p = "sigmoid(w.T @ x + b)"\n', "").replace(
    '"-(t * log(p) + (1 - t) * log(1 - p))"', '"-(t * log(sigmoid(w.T @ x + b)) + (1 - t) * log(1 - sigmoid(w.T @ x + b)))"')
INLINE_BCE_BATCH = """
[dims]
N = 3
B = 4
[variables]
X = "N x B"
t = { shape = "1 x B", kind = "binary" }
w = "N"
b = "1"
[equations]
L = "-mean(t * log(sigmoid(w.T @ X + b)) + (1 - t) * log(1 - sigmoid(w.T @ X + b)))"
[derive]
loss = "L"
wrt = ["w", "b"]
"""
INLINE_SOFTMAX = SOFTMAX.replace('P = "softmax(W @ X + b)"\n', "")


def bce_reference(X, t, w, b):
    dz = (_sigmoid(w.T @ X + b) - t) / X.shape[1]
    return {"w": X @ dz.T, "b": dz.sum(1, keepdims=True)}


def inline_softmax_reference(X, T, W, b, lam=None, scale=1):
    return softmax_reference(X, T, W, b, lam, scale, 0)


def _read_back(text: str, model, values: dict) -> np.ndarray:
    """The value of a printed form, read back by derive's own matrix parser as an equation of a
    fresh problem whose variables are the names it uses, at the values the forward pass gives."""
    forward = run_forward(model, values, NumpyBackend(model.concrete), model.problem.dims)
    code = _nfc(text).replace("−", "-").replace("⊙", "*").replace("⊘", "/")
    used = [n for n in model.shapes if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", code)]

    def shape(n):
        rows, cols = model.shapes[n]
        return f"{rows} x {cols}" if cols != 1 else str(rows)
    toml = "[dims]\n" + "".join(f"{d} = {v}\n" for d, v in model.problem.dims.items()) + "[variables]\n" \
        + "".join(f'{n} = "{shape(n)}"\n' for n in used) + f'[equations]\nG = "{code}"\nL = "sum(G)"\n' \
        + f'[derive]\nloss = "L"\nwrt = ["{used[0]}"]\n'
    back = build_model(problem_from_toml(toml, "readback"))
    given = {n: forward[n] if n in forward else values[n] for n in used}
    return run_forward(back, given, NumpyBackend(back.concrete), back.problem.dims)["G"]


@pytest.mark.parametrize("text, introduced, node, shown, reference", [
    (INLINE_BCE, ("z", "p"), "z", "p − t", logistic_reference),
    (INLINE_BCE_BATCH, ("z", "p"), "z", "(p − t) / B", bce_reference),  # a row, as t is
    (INLINE_SOFTMAX.format(target=ONEHOT, loss="-sum(T * log(softmax(W @ X + b)))"), ("Z", "P"), "Z", "P − T",
     inline_softmax_reference),
    (INLINE_SOFTMAX.format(target=SOFT, loss="-sum(T * log(softmax(W @ X + b))) / B"), ("Z", "P"), "Z",
     "(P − T) / B", lambda *a: inline_softmax_reference(*a, scale=1 / 2)),
    (INLINE_SOFTMAX.format(target=ONEHOT, loss="mean(-sum(T * log_softmax(W @ X + b), axis=0))"), ("Z", "S"), "Z",
     "(softmax(Z) − T) / B", lambda *a: inline_softmax_reference(*a, scale=1 / 2)),
    (INLINE_SOFTMAX.format(target=SOFT, loss="-sum(T * log_softmax(W @ X + b))"), ("Z", "S"), "Z",
     "softmax(Z) − T", inline_softmax_reference),
], ids=["bce", "bce-batch-mean", "softmax-log", "softmax-log-soft-mean", "log-softmax-mean", "log-softmax-soft"])
def test_fused_forms_written_inline_are_the_textbooks_p_minus_t(text, introduced, node, shown, reference):
    solution = solve_matrix(problem_from_toml(text, "net"))  # the proof of every gradient: a form that differs raises
    derivation, model = solution.derivation, solution.model
    assert model.introduced == introduced and _shown(derivation)[node] == shown
    assert any(note.startswith(_nfc(f"{node}̄ = ")) and "cross-entropy" in note
               for note in map(_nfc, derivative_notes(solution, TextPrinter())))
    for seed in (0, 1):
        values, ours = _derived(derivation, seed)
        want = reference(*(values[v] for v in model.variables))
        for name in model.problem.wrt:
            assert np.allclose(ours[name], want[name], rtol=1e-10, atol=1e-12), name
            assert np.allclose(ours[name], _finite_differences(derivation, values, name), rtol=1e-5, atol=1e-7), name
        inputs = {n: values[n] for n in model.variables}
        x_name = "x" if "x" in inputs else "X"
        by_hand = want["b"] if "W" not in want else None  # z̄ itself: ∂b summed over the batch is z̄ 𝟏
        printed = _read_back(_shown(derivation)[node], model, inputs)
        assert np.allclose(printed.sum(1, keepdims=True), want["b"] if by_hand is None else by_hand, rtol=1e-10)
        assert np.allclose(printed @ inputs[x_name].T if "W" in want else inputs[x_name] @ printed.T,
                           want["W" if "W" in want else "w"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", ["-sum(T * log(softmax(W @ X + b)))", "-sum(T * log_softmax(W @ X + b))"],
                         ids=["softmax-log", "log-softmax"])
def test_inline_cross_entropy_with_a_target_that_need_not_sum_to_one_keeps_the_general_rule(loss):
    solution = solve_matrix(problem_from_toml(INLINE_SOFTMAX.format(target='"M x B"', loss=loss), "net"))
    shown = _shown(solution.derivation)["Z"]
    # the general rule: the column sums stay (broadcast over the rows, 𝟏 𝟏ᵀ, as every broadcast is written)
    assert shown in ("P ⊙ (P̄ − 𝟏 𝟏ᵀ (P ⊙ P̄))", "−T + softmax(Z) ⊙ (𝟏 𝟏ᵀ T)")
    assert not any("cross-entropy" in note for note in derivative_notes(solution, TextPrinter()))
    values, ours = _derived(solution.derivation, 0)
    want = inline_softmax_reference(*(values[v] for v in solution.model.variables))
    assert np.allclose(ours["W"], want["W"], rtol=1e-10, atol=1e-12)


# -- introduced names beside the user's own families --------------------------------------------------------
FAMILY = """
[dims]
N = 3
H = 2
[variables]
x = "N"
{variables}
W2 = "H x N"
b = "H"
[equations]
{equations}
h2 = "tanh(W2 @ {input} + b)"
L = "sum(h2 * h2)"
[derive]
loss = "L"
wrt = ["W2", "b"]
"""


@pytest.mark.parametrize("variables, equations, input, introduced", [
    ('z1 = "N"', "", "z1", "a2"),  # the user's z1 is an input: z2 would read as its sibling
    ("", 'z1 = "2 * x"', "z1", "a2"),  # a scaled input, not a pre-activation
    ('Z1 = "N"', "", "Z1", "a2"),  # in either case
    ("", 'z1 = "2 * x"\nh1 = "relu(z1)"', "h1", "z2"),  # the user's z1 is a pre-activation: continue it
], ids=["input-z1", "other-meaning-z1", "capital-Z1", "same-meaning-z1"])
def test_an_introduced_name_is_never_mistaken_for_one_of_the_users_family(variables, equations, input, introduced):
    text = FAMILY.format(variables=variables, equations=equations, input=input)
    derivation = derive(build_model(problem_from_toml(text, "net")))
    assert derivation.model.introduced == (introduced,)
    values, ours = _derived(derivation, 0)
    model = derivation.model
    forward = run_forward(model, values, NumpyBackend(model.concrete), model.problem.dims)
    pre = values["W2"] @ (values[input] if input in values else 2 * np.maximum(values["x"], 0) if input == "h1"
                          else 2 * values["x"]) + values["b"]  # by hand: z1 = 2 x, h1 = relu(z1)
    assert np.allclose(forward["h2"], np.tanh(pre))
    dz = 2 * np.tanh(pre) * (1 - np.tanh(pre) ** 2)
    assert np.allclose(ours["b"], dz, rtol=1e-10)


def test_an_introduced_output_continues_no_family_of_the_users():
    text = INLINE_BCE.replace('w = "N"', 'w = "N"\np1 = "1"').replace("(1 - t) * log", "p1 * (1 - t) * log")
    assert derive(build_model(problem_from_toml(text, "net"))).model.introduced == ("z", "q")


# -- norms: the argument a norm measures is named like any inline argument ---------------------------------
NORM = """
[dims]
N = 3
H = 2
[variables]
x = "N"
W1 = "H x N"
b = "H"
lam = "1"
[equations]
h1 = "tanh(W1 @ x + b)"
L = "sum(h1) + lam * norm(W2 @ x + b)**2 + lam * norm(W1 - W2)"
[derive]
loss = "L"
wrt = ["W1", "W2", "b"]
"""


def test_the_argument_of_a_norm_is_named_and_its_gradient_is_right():
    text = NORM.replace('b = "H"', 'b = "H"\nW2 = "H x N"')
    solution = solve_matrix(problem_from_toml(text, "net"))
    model, derivation = solution.model, solution.derivation
    assert model.introduced == ("z1", "r2")  # the pre-activation, the vector of layer 2 the norm measures
    equations = dict((n, TextPrinter()(e)) for n, e in model.equations)
    assert equations["r2"] == "W2 x + b" and "‖W1 − W2‖" in equations["L"]  # algebra stays as written
    assert "‖r2‖^2" in equations["L"] and _shown(derivation)["r2"] == "2 lam r2"
    values, ours = _derived(derivation, 0)
    x, W1, b, lam, W2 = (values[v] for v in ("x", "W1", "b", "lam", "W2"))
    h = np.tanh(W1 @ x + b)
    r2, R = W2 @ x + b, W1 - W2  # by hand
    dR = lam * R / np.linalg.norm(R)
    want = {"W1": (1 - h * h) @ x.T + dR, "W2": 2 * lam * r2 @ x.T - dR, "b": (1 - h * h) + 2 * lam * r2}
    for name, value in want.items():
        assert np.allclose(ours[name], value, rtol=1e-10), name


@pytest.mark.parametrize("text, note", [
    (INLINE_BCE, "z names the argument written inline in the equations, p the output written inline in the loss "
                 "(p = σ(z)), each a node with its own adjoint"),
    (INLINE_SOFTMAX.format(target=ONEHOT, loss="mean(-sum(T * log_softmax(W @ X + b), axis=0))"),
     "Z names the argument written inline in the equations, S the output written inline in the loss "
     "(S = log_softmax(Z)), each a node with its own adjoint"),
    (LOGISTIC.replace('p = "sigmoid(w.T @ x + b)"\n', 'z = "w.T @ x + b"\n').replace(
        '"-(t * log(p) + (1 - t) * log(1 - p))"', '"-(t * log(sigmoid(z)) + (1 - t) * log(1 - sigmoid(z)))"'),
     "p names the output written inline in the loss (p = σ(z)), a node with its own adjoint"),
], ids=["argument-and-output", "log-softmax", "output-only"])
def test_the_note_says_an_introduced_output_is_an_output_not_an_argument(text, note):
    """p = σ(z) and S = log_softmax(Z), named for a loss, are outputs: never "the arguments"."""
    solution = solve_matrix(problem_from_toml(text, "net"))
    notes = [_nfc(n) for n in derivative_notes(solution, TextPrinter())]
    assert _nfc(note) in notes


def _adjoint_read_back(text, node, hand):
    """The adjoint of ``node`` as printed, and read back at the checks' values equal to ``hand``
    (a function of those values) computed with NumPy."""
    solution = solve_matrix(problem_from_toml(text, "net"))
    derivation, model = solution.derivation, solution.model
    values, _ = _derived(derivation, 0)
    forward = run_forward(model, values, NumpyBackend(model.concrete), model.problem.dims)
    printed = _shown(derivation)[node]
    assert np.allclose(_read_back(printed, model, {n: values[n] for n in model.variables}), hand(values, forward),
                       rtol=1e-12)
    return printed


def test_the_adjoint_of_an_inline_log_softmax_over_a_batch_is_minus_t_over_b():
    """mean(−sum(T ⊙ S, axis=0)) gives S̄ = −T / B: a Hadamard product with 𝟏 (𝟏ᵀ / B), a scalar
    broadcast, is a scaling (never −(T ⊙ (𝟏 (𝟏ᵀ / B))))."""
    text = INLINE_SOFTMAX.format(target=ONEHOT, loss="mean(-sum(T * log_softmax(W @ X + b), axis=0))")
    shown = _adjoint_read_back(text, "S", lambda v, f: -v["T"] / v["X"].shape[1])
    assert shown == "−T / B"


def test_the_adjoint_of_p_in_binary_cross_entropy_reads_as_the_textbook():
    """∂/∂p of −(t log p + (1 − t) log(1 − p)) is −t / p + (1 − t) / (1 − p), never −((1 / p) t) + …
    (the value of the printed form is checked against NumPy)."""
    shown = _adjoint_read_back(INLINE_BCE, "p", lambda v, f: -v["t"] / f["p"] + (1 - v["t"]) / (1 - f["p"]))
    assert shown == "−t / p + (1 − t) / (1 − p)"


def test_a_hadamard_product_with_a_broadcast_scalar_is_a_scaling():
    t = mx.var("T", ("M", "B"))
    column, row = mx.ones(("M", 1)), mx.div(mx.ones((1, "B")), mx.dim("B"))
    assert mx.had(t, mx.matmul(column, row)) == mx.div(t, mx.dim("B"))
    assert mx.had(mx.neg(mx.ones(("M", "B"))), t) == mx.neg(t)
    assert mx.had(mx.ones(("M", 1)), mx.var("x", ("M", "B"))) == mx.var("x", ("M", "B"))
    assert mx.matmul(mx.ones((1, "D")), mx.ones(("D", 1))) == mx.dim("D")  # 𝟏ᵀ 𝟏 = D
    assert mx.matmul(mx.ones((2, 3)), mx.ones((3, 2))) == mx.scale(mx.const(3), mx.ones((2, 2)))


def test_a_gru_update_gate_adjoint_takes_the_common_factor_out():
    """h1 = (1 − z) ⊙ n + z ⊙ h0 gives z̄ = (h0 − n) ⊙ h̄1, never −(n ⊙ h̄1) + h0 ⊙ h̄1."""
    text = (Path(__file__).parent / "networks" / "gru_greek.toml").read_text(encoding="utf-8")
    derivation = derive(build_model(problem_from_toml(text, "gru")))
    assert _shown(derivation)["z"] == _nfc("(h0 − n) ⊙ h̄1")
    values, _ = _derived(derivation, 0)
    model = derivation.model
    backend = NumpyBackend(model.concrete)
    env = run_forward(model, values, backend, model.problem.dims)
    h1_bar = env["γ"] * (env["γ"] * env["h1"] + env["β"] - env["y"])  # by hand: ∂L/∂h1
    z_bar = next(a.simplified for a in derivation.adjoints if a.name == "z")
    assert np.allclose(evaluate(z_bar, {**env, "h1:bar": h1_bar}, backend, model.problem.dims),
                       (env["h0"] - env["n"]) * h1_bar, rtol=1e-12)


def test_terms_with_a_common_hadamard_factor_are_factored_and_others_are_not():
    a, b, c, u, w = (mx.var(n, ("H", 1)) for n in "abcuw")
    assert mx.add(mx.neg(mx.had(a, u)), mx.had(b, u)) == mx.had(mx.sub(b, a), u)
    assert mx.add(mx.had(a, u), mx.had(b, w)) == mx.M("add", (mx.had(a, u), mx.had(b, w)), ("H", 1))
    assert mx.add(mx.had(a, u), mx.scale(mx.const(2), mx.had(b, u)), c) == mx.add(
        mx.had(mx.add(a, mx.scale(mx.const(2), b)), u), c)


def test_an_output_named_for_a_batch_takes_the_case_of_its_pre_activation():
    """A sigmoid over a batch written inside the loss: P3 = σ(Z3), as Z3 and H1 are capital — never
    p3 = σ(Z3)."""
    text = MLP.replace('p = "sigmoid(W3 @ H2 + b3)"\n', "").replace(
        '"-mean(t * log(p) + (1 - t) * log(1 - p))"', '"-mean(t * log(sigmoid(W3 @ H2 + b3)) + (1 - t) * log(1 - '
                                                      'sigmoid(W3 @ H2 + b3)))"')
    solution = solve_matrix(problem_from_toml(text, "mlp"))
    assert solution.model.introduced == ("Z1", "Z2", "Z3", "P3")
    assert _shown(solution.derivation)["Z3"] == "(P3 − t) / B"
    row = INLINE_BCE_BATCH  # a row alone keeps its small letters: z = wᵀ X + b, p = σ(z)
    assert solve_matrix(problem_from_toml(row, "row")).model.introduced == ("z", "p")


def test_slices_alike_are_summed_as_the_slice_of_the_sum():
    """An LSTM cell's h̄0: the top rows of each gate's Wᵀ z̄ added once, (W_Cᵀ z̄4 + … + W_Fᵀ z̄1)[:H],
    never (W_Cᵀ z̄4)[:H] + … + (W_Fᵀ z̄1)[:H] (the values: tests/test_course_networks.py)."""
    text = (Path(__file__).parent / "networks" / "lstm_cell.toml").read_text(encoding="utf-8")
    shown = _shown(derive(build_model(problem_from_toml(text, "lstm"))))["∂h0"]
    assert shown.count("[:H]") == 1 and shown.endswith(")[:H]"), shown
    a, b, c = (mx.var(n, (5, 1)) for n in "abc")
    assert mx.add(mx.part(a, 0, 0, 2), mx.part(b, 0, 0, 2)) == mx.part(mx.add(a, b), 0, 0, 2)
    assert mx.add(mx.part(a, 0, 0, 2), mx.part(c, 0, 3, 5)).op == "add"  # other rows: two slices


# -- a hidden layer written fully inline: its output, taken by the next product, is named too --------------
HIDDEN = """
[dims]
N = 3
K = 4
M = 3
B = 2
[variables]
X = "N x B"
T = { shape = "M x B", kind = "onehot" }
W1 = "K x N"
b1 = "K"
W2 = "M x K"
b2 = "M"
[equations]
L = "-sum(T * log(softmax(W2 @ {act}(W1 @ X + b1) + b2))) / B"
[derive]
loss = "L"
wrt = ["W1", "b1", "W2", "b2"]
"""


def _hidden(act: str) -> str:
    return HIDDEN.replace("{act}", act)


def hidden_reference(act, slope):
    """A two-layer network's backward pass written by hand: Z1, H1 = f(Z1), Z2 = W2 H1 + b2."""
    def reference(X, T, W1, b1, W2, b2):
        Z1 = W1 @ X + b1
        H1 = act(Z1)
        Z2 = W2 @ H1 + b2
        P = np.exp(Z2 - Z2.max(0)) / np.exp(Z2 - Z2.max(0)).sum(0)
        dZ2 = (P - T) / X.shape[1]
        dH1 = W2.T @ dZ2
        dZ1 = slope(Z1, H1) * dH1
        return {"W2": dZ2 @ H1.T, "b2": dZ2.sum(1, keepdims=True), "W1": dZ1 @ X.T, "b1": dZ1.sum(1, keepdims=True)}
    return reference


@pytest.mark.parametrize("act, z1_bar, reference", [
    ("relu", "relu′(Z1) ⊙ H̄1", hidden_reference(lambda z: np.maximum(z, 0), lambda z, h: (z > 0) * 1.0)),
    ("tanh", "(1 − H1 ⊙ H1) ⊙ H̄1", hidden_reference(np.tanh, lambda z, h: 1 - h * h)),
    ("sigmoid", "H1 ⊙ (1 − H1) ⊙ H̄1", hidden_reference(_sigmoid, lambda z, h: h * (1 - h))),
], ids=["relu", "tanh", "sigmoid"])
def test_a_hidden_layer_written_inline_names_its_output_with_its_own_adjoint_row(act, z1_bar, reference):
    """``W2 @ relu(W1 @ X + b1) + b2`` is Z1 = W1 X + b1, H1 = relu(Z1), Z2 = W2 H1 + b2 as a textbook
    writes it: H̄1 has its row, W̄2 = Z̄2 H1ᵀ (never Z̄2 relu(Z1)ᵀ), tanh′ and σ′ read from H1."""
    solution = solve_matrix(problem_from_toml(_hidden(act), "net"))  # a form that differs raises
    derivation, model = solution.derivation, solution.model
    assert model.introduced == ("Z1", "Z2", "H1", "P2") and model.layers == ("H1",)
    equations = dict((n, _nfc(TextPrinter()(e))) for n, e in model.equations)
    assert equations["H1"] == f"{act}(Z1)".replace("sigmoid", "σ") and equations["Z2"] == "W2 H1 + b2 𝟏ᵀ"
    assert [n for n, _ in model.equations].index("H1") < [n for n, _ in model.equations].index("Z2")
    shown = _shown(derivation)
    assert shown["H1"] == _nfc("W2ᵀ Z̄2") and shown["Z1"] == _nfc(z1_bar)
    assert shown["∂W2"] == _nfc("Z̄2 H1ᵀ") and shown["∂W1"] == _nfc("Z̄1 Xᵀ")
    notes = [_nfc(n) for n in derivative_notes(solution, TextPrinter())]
    assert notes[0].startswith("Z1, Z2 name the arguments written inline in the equations, H1 the layer output "
                               "written inline in a product (H1 = "), notes[0]
    for seed in (0, 1):
        values, ours = _derived(derivation, seed)
        want = reference(*(values[v] for v in model.variables))
        for name, value in want.items():
            assert np.allclose(ours[name], value, rtol=1e-10, atol=1e-12), name
            assert np.allclose(ours[name], _finite_differences(derivation, values, name), rtol=1e-5, atol=1e-7), name


@pytest.mark.parametrize("variables, introduced", [
    ('h1 = "M"', "A1"),  # the user's h1 is an input: H1 would read as its sibling
    ('', "H1"),
], ids=["user-h1", "free"])
def test_a_named_layer_output_is_never_mistaken_for_one_of_the_users_family(variables, introduced):
    text = _hidden("tanh").replace('b2 = "M"', f'b2 = "M"\n{variables}')
    if variables:
        text = text.replace(") / B", ") / B + sum(h1)")
    model = derive(build_model(problem_from_toml(text, "net"))).model
    assert model.layers == (introduced,)


def test_a_size_named_h_leaves_the_layer_output_to_the_next_letter():
    """A size H beside a node H1 would read as one family: the layer output is A1, Ng's letter."""
    text = _hidden("tanh").replace("K", "H")
    model = derive(build_model(problem_from_toml(text, "net"))).model
    assert model.layers == ("A1",) and dict(model.equations)["Z2"].args[0].args[1] == mx.var("A1", ("H", "B"))


def test_an_activation_a_product_does_not_take_is_not_named_a_layer():
    """tanh(z) at the top of an equation is that node; tanh(z) under a sum stays as written."""
    text = TANH.replace('"sum(h * h)"', '"sum(h * h) + sum(tanh(W @ x))"')
    model = derive(build_model(problem_from_toml(text, "net"))).model
    assert model.layers == ()


def test_an_lstm_output_gate_product_leaves_tanh_of_the_cell_unnamed_with_a_textbook_derivative():
    """h1 = o ⊙ tanh(c1): tanh(c1) is an elementwise factor, not a layer a product takes, so it
    keeps no name; c̄1 reads (1 − tanh(c1)^2) ⊙ o ⊙ h̄1, never tanh′(c1) ⊙ o ⊙ h̄1, and its value
    read back equals the hand-written (1 − tanh(c1)²) o (h1 − y)."""
    text = (Path(__file__).parent / "networks" / "lstm_cell.toml").read_text(encoding="utf-8")
    solution = solve_matrix(problem_from_toml(text, "lstm"))
    assert solution.model.layers == () and "tanh(c1)" in TextPrinter()(dict(solution.model.equations)["h1"])
    shown = _shown(solution.derivation)["c1"]
    assert shown == "(1 − tanh(c1)^2) ⊙ o ⊙ (h1 − y)"
    values, _ = _derived(solution.derivation, 0)
    model = solution.model
    forward = run_forward(model, values, NumpyBackend(model.concrete), model.problem.dims)
    hand = (1 - np.tanh(forward["c1"]) ** 2) * forward["o"] * (forward["h1"] - values["y"])
    assert np.allclose(_read_back(shown.replace("^", "**"), model, {n: values[n] for n in model.variables}), hand,
                       rtol=1e-12)
    assert "tanh′(c1) = 1 − tanh(c1)^2" in derivative_notes(solution, TextPrinter())
    assert r"\tanh'(c_{1}) = 1 - \tanh\left(c_{1}\right)^{\circ 2}" in derivative_notes(solution, LatexPrinter())


CROWDED_NAMES = """
[dims]
H = 3
N = 2
B = 2
[variables]
X = "N x B"
T = { shape = "H x B", kind = "onehot" }
W1 = "H x N"
b1 = "H"
W2 = "H x H"
h1 = "H x B"
a1 = "H x B"
e = "1"
p = "1"
S = "1"
[equations]
z2 = "W2 @ tanh(W1 @ X + b1) + h1 * a1"
H1 = "softmax_cross_entropy(z2, T) * p"
P = "-sum(T * log(softmax(W2 @ sigmoid(W1 @ X + b1) + e, axis=0))) * S"
L = "H1 + P + sum(log(sigmoid(W2 @ relu(W1 @ X) + b1)))"
[derive]
loss = "L"
wrt = ["W1", "b1", "W2", "h1", "a1", "e", "p", "S"]
"""


def test_when_every_preferred_letter_is_taken_an_introduced_name_is_another_letter_not_an_underscore():
    """Beside a size H, nodes H1 and P and variables h1, a1, the hidden layer was named H1_ — printed
    next to the user's H1, which a reader takes for a typo."""
    model = derive(build_model(problem_from_toml(CROWDED_NAMES, "names"))).model
    introduced = [*model.layers, *model.introduced]
    assert introduced and not any(name.endswith("_") for name in introduced), introduced
