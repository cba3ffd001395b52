"""Exact strings a reader sees: numbers, LaTeX of partials, user text escaping."""

import pytest
import sympy

from derive.parse import latex_variable
from derive.render.latex import escape as latex_escape
from derive.render.markdown import cell, escape as markdown_escape
from derive.render.notation import LatexNotation, TextNotation, format_number
from derive.scalar.rules import sigmoid

v1, v5 = sympy.Symbol("v1", real=True), sympy.Symbol("v5", real=True)


@pytest.mark.parametrize("x, digits, text", [
    (2.0, 3, "2"), (-0.0, 3, "0"), (7.38905609893065, 3, "7.389"), (-5.939954979602673, 3, "-5.940"),
    (0.1411200080598672, 1, "0.1"), (1e-5, 3, "1.000e-05"), (123456789.0, 2, "123456789"),
    (2.5e8 + 0.5, 2, "2.50e+08"), (1.0000000000001, 3, "1"),
])
def test_format_number(x, digits, text):
    assert format_number(x, digits) == text


def test_minus_signs_are_real_minus_signs():
    assert TextNotation().number(-5.94) == "−5.940"
    assert TextNotation().number(-5.94, parens=True) == "(−5.940)"
    assert LatexNotation().number(-5.94, parens=True) == r"\left(-5.940\right)"
    assert LatexNotation().number(1e-5) == r"1.000 \times 10^{-5}"


def test_latex_of_partials():
    nt = LatexNotation()
    assert nt.expr(sympy.cos(v5)) == r"\cos(v_{5})"
    assert nt.expr(2 * v1) == "2 v_{1}"
    assert nt.expr(sympy.exp(v1)) == "e^{v_{1}}"
    assert nt.expr(1 / v1) == r"\frac{1}{v_{1}}"
    assert nt.expr(sympy.log(v1)) == r"\log(v_{1})"  # derive/functions.py's one convention
    assert nt.expr(sigmoid(v1)) == r"\sigma\left(v_{1}\right)"
    assert nt.expr(sympy.Symbol("v-1")) == "v_{-1}"
    assert nt.partial("v_{7}", "x_{1}") == r"\frac{\partial v_{7}}{\partial x_{1}}"
    assert nt.bar("v-1") == r"\bar{v}_{-1}"


def test_text_of_partials():
    nt = TextNotation()
    assert nt.expr(2 * v1) == "2v1"
    assert nt.expr(-sympy.sin(v1)) == "−sin(v1)"
    assert nt.expr(sigmoid(v1)) == "σ(v1)"
    assert nt.bar("v10") == "v̄10"


def test_latex_variables():
    assert latex_variable("x1") == "x_{1}"
    assert latex_variable("W2") == "W_{2}"
    assert latex_variable("lr") == r"\mathrm{lr}"
    assert latex_variable("learning_rate") == r"\mathrm{learning\_rate}"


def test_user_text_escaping():
    assert latex_escape(r"50% of $x_1$ & {y}") == r"50\% of \$x\_1\$ \& \{y\}"  # T1 has the underscore
    assert latex_escape("\\input") == r"\textbackslash{}input"
    assert markdown_escape("a_b *c* <d>") == r"a\_b \*c\* &lt;d&gt;"
    assert cell(r"\left|v_{1}\right|") == r"$\left\vert v_{1}\right\vert $"


@pytest.mark.parametrize("x, digits, text, negative, scientific", [
    (-0.5, 3, "-0.500", True, False),
    (2.5e-05, 3, "2.500e-05", False, True),
    (-2.5e-05, 3, "-2.500e-05", True, True),
    (-1e-13, 3, "0", False, False),  # rounds to 0: no sign is written
    (-3.0, 3, "-3", True, False),
    (12345678.9, 1, "1.2e+07", False, True),
    (2e15, 2, "2.00e+15", False, True),
])
def test_a_printed_number_carries_its_sign_and_form(x, digits, text, negative, scientific):
    """The facts the printers act on (a sign a sum writes as " − ", scientific notation a product
    to bracket, 10^{k} in LaTeX) are decided where the number's form is chosen, from its value;
    the number's binding was guessed from the printed text's first character and an "e" in it."""
    from derive.render.notation import printed_number

    assert printed_number(x, digits) == (text, negative, scientific)
    kind = "neg" if negative else "mul" if scientific else "atom"
    for nt in (TextNotation(digits), LatexNotation(digits)):
        assert nt.number_binding(x) == kind
        assert nt.number(x).startswith(nt.minus) == negative  # the fact agrees with what is printed
        assert (r"\times 10^{" in nt.number(x) if nt.name == "latex" else "e" in nt.number(x)) == scientific


def test_a_gates_bias_is_labelled_as_its_weight_is():
    """An LSTM's Wf printed W_F but its bias bf the word "bf" (and b̄ over the f): a bias b with a
    one-letter label is set as its weight is, b_F beside W_F; other two-letter words stay words."""
    from derive.parse import text_variable
    from derive.render.matrix import LatexPrinter, TextPrinter

    pairs = [("Wf", "bf"), ("Wi", "bi"), ("Wo", "bo"), ("Wc", "bc"), ("Wq", "bq")]
    for weight, bias in pairs:
        label = weight[1].upper()
        assert (latex_variable(weight), latex_variable(bias)) == (f"W_{{{label}}}", f"b_{{{label}}}")
        assert (text_variable(weight), text_variable(bias)) == (f"W_{label}", f"b_{label}")
        assert LatexPrinter().bar(bias) == rf"\bar{{b}}_{{{label}}}"
        assert TextPrinter().bar(bias) == f"b\u0304_{label}"
    assert [latex_variable(n) for n in ("lr", "xc", "b", "b1", "beta", "Xhat")] == \
        [r"\mathrm{lr}", r"\mathrm{xc}", "b", "b_{1}", r"\beta", r"\hat{X}"]


def test_the_lstm_sheet_labels_each_gates_bias_like_its_weight():
    from pathlib import Path

    from typer.testing import CliRunner

    from derive.cli import app

    lstm = Path(__file__).parent / "networks" / "lstm_cell.toml"
    output = CliRunner().invoke(app, ["solve", str(lstm), "--exact-limit", "0"]).output
    assert "∂L/∂b_F = b\u0304_F" in output and "∂L/∂W_F = W\u0304_F" in output and "bf" not in output
