"""The evaluation lines of the tables: brackets by the one precedence table, so every line reads
back (through derive's own hand-notation parser) to the value it claims.  Golden values come from
the math module, written here from the definitions."""

import math

import pytest
import sympy

from derive.handwriting import parse_line
from derive.problems import Problem
from derive.render import lines
from derive.render.notation import LatexNotation, TextNotation
from derive.scalar.solve import solve_scalar

X1, X2, X3 = 1.5, 0.5, 2.0


@pytest.fixture(scope="module")
def tanh_quotient():
    """Issue 9's example: y1 = tanh(x1 x2) + x3/x2."""
    inputs = {"x1": sympy.Rational(3, 2), "x2": sympy.Rational(1, 2), "x3": sympy.Integer(2)}
    return solve_scalar(Problem("issue9", inputs, {"y1": "tanh(x1*x2) + x3/x2"}))


def _row(rows, node):
    return next(r for r in rows if r.node == node and not r.answer)


def _reads_back(line, names, value):
    for stage in parse_line(line, names):
        assert stage.value == pytest.approx(value, rel=2e-3, abs=2e-3), (stage.text, line)


def test_a_sum_partial_is_bracketed_in_forward_mode(tanh_quotient):
    nt = TextNotation()
    forward = {p.input: p for p in tanh_quotient.forward}
    names = {n.id: n.value for n in tanh_quotient.trace.nodes}
    row = _row(lines.forward_rows(forward["x2"], tanh_quotient.trace, nt), "v4")
    assert row.evaluation.startswith("(1 − tanh(v3)^2) × 1.500 = ")  # was "1 − tanh(v3)^2 × 1.500"
    _reads_back(row.evaluation, names, (1 - math.tanh(X1 * X2) ** 2) * X1)


def test_a_sum_partial_and_a_negative_factor_are_bracketed_in_reverse_mode(tanh_quotient):
    nt = TextNotation()
    names = {n.id: n.value for n in tanh_quotient.trace.nodes}
    rows = lines.reverse_rows(tanh_quotient.reverse[0], tanh_quotient.trace, nt)
    v3 = _row(rows, "v3")
    assert v3.evaluation.startswith("1 × (1 − tanh(v3)^2) = ")  # was "1 × 1 − tanh(v3)^2"
    _reads_back(v3.evaluation, names, 1 - math.tanh(X1 * X2) ** 2)
    v1 = _row(rows, "v1")
    assert "[1 × (−v2/v1^2)]" in v1.evaluation and "[1 × (−8)]" in v1.evaluation  # not "1 × −8"
    _reads_back(v1.evaluation, names, (1 - math.tanh(X1 * X2) ** 2) * X1 - X3 / X2 ** 2)


def test_latex_lines_bracket_sums_too(tanh_quotient):
    nt = LatexNotation()
    forward = {p.input: p for p in tanh_quotient.forward}
    row = _row(lines.forward_rows(forward["x1"], tanh_quotient.trace, nt), "v4")
    assert row.evaluation.startswith(r"\left(1 - \tanh^{2}{\left(v_{3} \right)}\right) \times 0.500")
    rows = lines.reverse_rows(tanh_quotient.reverse[0], tanh_quotient.trace, nt)
    assert _row(rows, "v3").evaluation.startswith(r"1 \times \left(1 - \tanh^{2}")


def test_negated_zero_tangent_prints_no_minus_zero():
    solution = solve_scalar(Problem("neg", {"x": sympy.Integer(1), "y": sympy.Integer(2)}, {"f": "-x + y"}))
    nt = TextNotation()
    for p in solution.forward:
        for row in lines.forward_rows(p, solution.trace, nt):
            assert not row.evaluation.startswith("−0"), row.evaluation  # was "−0 = 0"
    y_pass = next(p for p in solution.forward if p.input == "y")
    neg = next(r for r in lines.forward_rows(y_pass, solution.trace, nt) if r.node == "v2")
    assert neg.evaluation == "−1 × 0 = 0"  # the local partial times the tangent, as every row shows


def test_a_unary_row_shows_its_working():
    """∂v2/∂x = −∂v0/∂x printed only "−1": a negation (or v + 3) is one line of working like every
    other row, its local partial (−1 or 1, from the definition) times the incoming tangent."""
    solution = solve_scalar(Problem("unary", {"x": sympy.Rational(1, 2)}, {"f": "-x", "g": "x + 3"}))
    rows = {r.node: r for r in lines.forward_rows(solution.forward[0], solution.trace, TextNotation())}
    assert rows["v1"].expression == "∂v1/∂x = −∂v0/∂x"
    assert rows["v1"].evaluation == "−1 × 1 = −1"
    assert rows["v2"].evaluation == "1 × 1 = 1"


def test_a_negation_in_the_trace_does_not_repeat_its_result():
    """v1 = −v0 at v0 = 2 printed "−2 = −2", an equation that says nothing; at v0 = −2 the working
    "−(−2) = 2" says something and stays."""
    for x, expected in ((2, "−2"), (-2, "−(−2) = 2")):
        solution = solve_scalar(Problem("neg", {"x": sympy.Integer(x)}, {"f": "-x"}))
        row = {r.node: r for r in lines.trace_rows(solution.trace, TextNotation())}["v1"]
        assert row.evaluation == expected


@pytest.mark.parametrize("function, node, text_eval, latex_def", [
    ("exp(2)**x", "v2", "exp(2)^(−1.500)", r"\left(e^{2}\right)^{v_{0}}"),  # was "e^{2}^{v_{0}}"
    ("(x**2)**y", "v3", "2.250^0.500", "v_{2}^{v_{1}}"),
    ("y - (-x)", "v3", "0.500 − 1.500", "v_{1} - v_{2}"),
    ("x - 3*pi", "v2", "−1.500 − 3pi", r"v_{0} - 3 \pi"),
    ("(-x)**(3/2) + y", "v3", "1.500^(3/2)", r"v_{2}^{\frac{3}{2}}"),
    ("x * (-2)", "v2", "−1.500 × (−2)", r"v_{0} \cdot \left(-2\right)"),
])
def test_constants_and_powers_of_powers_are_bracketed(function, node, text_eval, latex_def):
    solution = solve_scalar(Problem("c", {"x": sympy.Rational(-3, 2), "y": sympy.Rational(1, 2)}, {"f": function}))
    row = next(r for r in lines.trace_rows(solution.trace, TextNotation()) if r.node == node)
    assert row.evaluation.split(" = ")[0] == text_eval
    assert solution.trace.by_id[node].latex == latex_def
    names = {n.id: n.value for n in solution.trace.nodes}
    _reads_back(row.evaluation, names, solution.trace.by_id[node].value)


def test_user_expression_latex_brackets_a_power_of_a_power():
    solution = solve_scalar(Problem("p", {"x": sympy.Integer(2)}, {"f": "exp(2)**x + (x**2)**3"}))
    text = lines.expression_latex(solution.trace.expressions["f"], LatexNotation())
    assert text == r"\left(e^{2}\right)^{x} + \left(x^{2}\right)^{3}"  # was "e^{2}^{x} + ..."


def test_markdown_and_tex_sheets_show_the_brackets(tanh_quotient):
    from derive.report import render_sheet

    for fmt in ("md", "tex"):
        sheet = render_sheet(tanh_quotient, fmt)
        assert r"\left(1 - \tanh^{2}{\left(v_{3} \right)}\right) \times" in sheet
        assert r"1 - \tanh^{2}{\left(v_{3} \right)} \times" not in sheet  # the misprint


def test_exact_inputs_print_exactly_in_the_trace_and_the_header():
    """1/2 and pi/4 are kept exact, so the sheet shows them so (not 0.500 and 0.785)."""
    from derive.api import solve
    from derive.report import render_sheet
    from derive.render.notation import LatexNotation, TextNotation

    solution = solve(functions=["sin(x1*x2)"], at={"x1": "1/2", "x2": "pi/4"})
    text = [row.evaluation for row in lines.trace_rows(solution.trace, TextNotation())[:2]]
    assert text == ["1/2", "π/4"]
    latex = [row.evaluation for row in lines.trace_rows(solution.trace, LatexNotation())[:2]]
    assert latex == [r"\frac{1}{2}", r"\frac{\pi}{4}"]
    sheet = render_sheet(solution, "tex")
    assert r"= (\frac{1}{2}, \frac{\pi}{4})^\top" in sheet
    decimal = solve(functions=["sin(x1)"], at={"x1": 2.25})
    assert lines.trace_rows(decimal.trace, TextNotation())[0].evaluation in ("9/4", "2.250")


def test_terms_that_do_not_add_up_when_rounded_get_one_more_decimal():
    """Issue 22: a key printed "0.135 + 0.282 = 0.418" (0.1354 + 0.2824 = 0.4178, but the rounded
    terms give 0.417). Such a line prints its terms with one more decimal, in text, in LaTeX and in
    the key's CSV, and the key still passes its own grader; a line that adds up is left as it is."""
    from derive.grading.grade import grade
    from derive.grading.worksheet import blank_csv, read_csv

    inputs = {"a": sympy.Rational("0.1354"), "b": sympy.Rational("0.2824")}
    solution = solve_scalar(Problem("ada", inputs, {"y1": "a + b", "y2": "a*b"}))
    text = {r.node: r.evaluation for r in lines.trace_rows(solution.trace, TextNotation())}
    latex = {r.node: r.evaluation for r in lines.trace_rows(solution.trace, LatexNotation())}
    assert text["v2"] == "0.1354 + 0.2824 = 0.418"  # 0.1354 + 0.2824 = 0.4178 by hand
    assert latex["v2"] == "0.1354 + 0.2824 = 0.418"
    assert text["v3"] == "0.135 × 0.282 = 0.038"  # 0.038070: adds up at three decimals
    answers = read_csv(blank_csv(solution, key=True))
    assert next(a.line for a in answers if a.part == "trace" and a.node == "v2") == "0.1354 + 0.2824 = 0.418"
    assert grade(solution, answers).all_correct


def test_a_negative_term_in_scientific_notation_is_subtracted_and_reads_back():
    """A sum writes a term whose sign the printer put there as "a − b" (the term's sign is carried
    with it, not read from its text), first or not, in text and LaTeX alike; the line reads back
    to the product rule's value, −2e−05 each: ∂(x1 x2 + x2 x1)/∂x1 = 2 x2."""
    problem = Problem("negative", {"x1": sympy.Integer(1), "x2": sympy.Rational(-1, 50000)}, {"y1": "x1*x2 + x2*x1"})
    solved = solve_scalar(problem)
    names = {n.id: n.value for n in solved.trace.nodes}
    forward = next(p for p in solved.forward if p.input == "x1")
    text = {r.node: r.evaluation for r in lines.forward_rows(forward, solved.trace, TextNotation()) if not r.answer}
    latex = {r.node: r.evaluation for r in lines.forward_rows(forward, solved.trace, LatexNotation()) if not r.answer}
    assert "= −2.000e−05 × 1 + 1 × 0 =" in text["v2"] and "= 1 × 0 − 2.000e−05 × 1 =" in text["v3"]
    assert text["v4"] == "−2.000e−05 − 2.000e−05 = −4.000e−05"
    assert r"= 1 \times 0 - 2.000 \times 10^{-5} \times 1 =" in latex["v3"]
    for node, value in (("v2", -2e-05), ("v3", -2e-05), ("v4", -4e-05)):
        for stage in parse_line(text[node], names):
            assert stage.value == pytest.approx(value, rel=1e-9), (node, stage.text)


@pytest.mark.parametrize("typed, shown", [("-0.0", "0.0"), ("1.", "1.0"), ("-.5", "−0.5"), ("+.25", "0.25"),
                                          ("0.50", "0.50")])
def test_a_decimal_typed_in_a_loose_spelling_prints_in_its_plain_one(typed, shown):
    """`--at x=-.5` printed "−.5" beside working in "−0.500", `1.` printed "1." and `-0.0` "−0.0"."""
    from derive import api

    solution = api.solve(functions=["x*y"], at={"x": typed, "y": "2"})._solved
    row = lines.trace_rows(solution.trace, TextNotation(), solution.problem.written)[0]
    assert row.evaluation == shown
