"""Matrix-form backprop: Problem 2's equations as the seed has them (corrected), and the
simplifications a textbook makes."""

import pytest

from derive.matrix import expr as mx
from derive.matrix.backprop import derive
from derive.matrix.shapes import build_model
from derive.problems import load_problem
from derive.render.matrix import LatexPrinter, TextPrinter, chain_form


@pytest.fixture(scope="module")
def problem2():
    return derive(build_model(load_problem("problem2")))


def test_problem2_adjoints_match_the_seed(problem2):
    text = TextPrinter()
    adjoints = {a.name: text(a.simplified) for a in problem2.adjoints}
    assert [a.name for a in problem2.adjoints] == ["L", "R", "E", "y", "h", "z"]
    assert adjoints == {"L": "1", "R": "1", "E": "1", "y": "y − s",
                        "h": "r + W2ᵀ (y − s)",  # the seed prints (∂y/∂h) Ê here: a slip
                        "z": "σ′(z) ⊙ h̄"}


def test_problem2_gradients(problem2):
    text = TextPrinter()
    assert {g.name: text(g.expr) for g in problem2.gradients} == {
        "x": "W1ᵀ z̄", "W1": "z̄ xᵀ", "b1": "z̄", "W2": "ȳ hᵀ", "b2": "ȳ"}


def test_chain_rule_form_and_shapes(problem2):
    text = TextPrinter()
    by_name = {a.name: a for a in problem2.adjoints}
    shapes = problem2.model.shapes
    assert chain_form(by_name["h"], text, shapes) == "(∂R/∂h)ᵀ R̄ + (∂y/∂h)ᵀ ȳ"
    assert chain_form(by_name["R"], text, shapes) == "∂L/∂R L̄"
    assert by_name["h"].shape == ("K", 1) and by_name["z"].shape == ("K", 1)


def test_latex_and_diag_notation(problem2):
    by_name = {a.name: a for a in problem2.adjoints}
    assert LatexPrinter()(by_name["h"].simplified) == r"r + W_{2}^\top \, \left(y - s\right)"
    assert LatexPrinter()(by_name["z"].simplified) == r"\sigma'\left(z\right) \odot \bar{h}"
    assert LatexPrinter(diag=True)(by_name["z"].simplified) == \
        r"\operatorname{diag}\left(\sigma'\left(z\right)\right) \, \bar{h}"
    assert TextPrinter(diag=True)(by_name["z"].simplified) == "diag(σ′(z)) h̄"


def test_simplifying_constructors():
    x = mx.var("x", ("N", 1))
    half, two = mx.const(mx.sympy.Rational(1, 2)), mx.const(2)
    assert mx.scale(half, mx.scale(two, x)) == x  # no (1/2)·2
    assert mx.scale(mx.const(1), x) == x  # no 1·x
    assert mx.add(x, x) == mx.scale(two, x)  # like terms collected
    assert mx.add(x, mx.neg(x)) == mx.zero(("N", 1))
    assert mx.transpose(mx.transpose(x)) == x
    assert mx.had(mx.ones(("N", 1)), x) == x
    W = mx.var("W", ("K", "N"))
    C = mx.var("C", ("K", "K"))
    assert mx.transpose(mx.matmul(mx.transpose(W), C)) == mx.matmul(mx.transpose(C), W)


def test_softmax_cross_entropy_adjoint_is_total_target_times_p_minus_t():
    # −tᵀ log softmax(z) for any t: z̄ = (1ᵀt) p − t (p − t only when t sums to 1; issue 9 #3)
    d = derive(build_model(load_problem("tests/networks/tanh_ce.toml")))
    z = next(a for a in d.adjoints if a.name == "z")
    assert TextPrinter()(z.simplified) == "sum(t) softmax(z) − t"


def test_weight_decay_gradient():
    d = derive(build_model(load_problem("tests/networks/relu3.toml")))
    w1 = next(g for g in d.gradients if g.name == "W1")
    # relu(W1 @ x) is written inline: its argument is named z1 and used by name (issue 21)
    assert TextPrinter()(w1.expr) == "2 lam W1 + z̄1 xᵀ"
