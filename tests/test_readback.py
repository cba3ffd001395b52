"""Every printed form reads back to its value (issue 9), by property tests over random expression
trees that use every primitive of the rule table:

- node definitions as code (``v0*v1``) through derive's expression parser, and as the terminal
  shows them (``v0·v1``) and every local partial (``(1 − tanh(v3)^2)``) through the hand-notation
  parser;
- every evaluation line of the trace, forward and reverse tables, each stage read back by the
  hand-notation parser, against the engine's value;
- the LaTeX of all of these, compiled in one pdflatex run;
- the key (``derive report --format csv``) scores 100 % with derive's own grader.

Golden values are the engine's float values of the same nodes, which the solve checks prove
against SymPy and finite differences (tests/test_properties.py): here only the printing is tested.
"""

from __future__ import annotations

import math
import os
import re
import subprocess

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.errors import DeriveError
from derive.grading.grade import grade
from derive.handwriting import parse_line
from derive.parse import parse_expression
from derive.problems import Problem
from derive.render import lines
from derive.render.notation import LatexNotation, TextNotation
from derive.scalar.forward import forward_pass
from derive.scalar.reverse import reverse_pass
from derive.scalar.rules import ALIASES, FOLD, FUNCTIONS, PRIMITIVES, primitive
from derive.scalar.solve import ScalarSolution
from derive.scalar.trace import build_trace
from derive.grading.worksheet import blank_csv, read_csv

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"

#: How each operator primitive is written in a problem; functions are written as calls.
OPERATORS = {"add": "({0}) + ({1})", "sub": "({0}) - ({1})", "mul": "({0}) * ({1})",
             "div": "({0}) / ({1})", "pow": "({0}) ** ({1})", "neg": "-({0})"}


def test_every_primitive_is_generated():
    assert set(PRIMITIVES) == set(OPERATORS) | set(FUNCTIONS)  # a new primitive joins the trees


def _written(name: str, args: list[str]) -> str:
    if name in OPERATORS and not (name == "pow" and len(args[0]) % 2):  # pow also as pow(a, b)
        return OPERATORS[name].format(*args)
    return f"{name}({', '.join(args)})"


leaves = st.sampled_from(["x", "y", "x", "y", "2", "3", "1/2", "3/2", "pi", "e", "-2", "0.3"])


def _extend(children):
    return st.sampled_from(sorted(PRIMITIVES)).flatmap(
        lambda name: st.lists(children, min_size=primitive(name).arity, max_size=primitive(name).arity)
        .map(lambda args: _written(name, args)))


expressions = st.recursive(leaves, _extend, max_leaves=8)
points = st.tuples(st.sampled_from([0.3, 0.7, 1.3, 2.1, -0.6]), st.sampled_from([0.4, 1.1, 1.7, -1.3]))


def _solved(outputs: list[str], point, numbering: str = "zero") -> ScalarSolution | None:
    """Trace and both AD modes (the checks are another test's business), or None where the
    random expression is undefined or constant."""
    inputs = {"x": sympy.Rational(point[0]).limit_denominator(100),
              "y": sympy.Rational(point[1]).limit_denominator(100)}
    try:
        trace = build_trace(inputs, {f"f{i}": text for i, text in enumerate(outputs)}, numbering)
    except DeriveError:
        return None
    problem = Problem("random", inputs, {f"f{i}": text for i, text in enumerate(outputs)})
    return ScalarSolution(problem, trace, tuple(forward_pass(trace, x) for x, _ in trace.inputs),
                          tuple(reverse_pass(trace, y) for y, _ in trace.outputs), checks=None)


def _float_value(expr, env) -> float:
    if expr.op == "num":
        return float(expr.value)
    if expr.op == "name":
        return env[expr.name]
    return primitive(expr.op).value_function(*(_float_value(a, env) for a in expr.args))


def _close(a: float, b: float, scale: float = 1.0, rel: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * max(1.0, scale))


def _scale(stage) -> float:
    return max((abs(f) for t in stage.terms for f in t.factors), default=1.0)


def _cells(solution: ScalarSolution, nt):
    """(row, the value it claims) for every row of the three tables."""
    trace = solution.trace
    for row in lines.trace_rows(trace, nt):
        yield row, trace.by_id[row.node].value
    for p in solution.forward:
        for row in lines.forward_rows(p, trace, nt):
            if not row.answer:
                yield row, p.tangents[row.node]
    for p in solution.reverse:
        for row in lines.reverse_rows(p, trace, nt):
            if not row.answer:
                yield row, p.adjoints[row.node]


numberings = st.sampled_from(["zero", "zero", "baydin"])  # Baydin's v-1 reads back as a node


@settings(max_examples=10000 if LONG else 1000, deadline=None)
@given(st.lists(expressions, min_size=1, max_size=2), points, numberings)
def test_text_reads_back_to_its_value(outputs, point, numbering):
    solution = _solved(outputs, point, numbering)
    if solution is None:
        return
    trace, nt = solution.trace, TextNotation(digits=12)
    names = {node.id: node.value for node in trace.nodes}
    for node in trace.nodes:
        if node.is_input:
            continue
        if numbering == "zero":  # v-1 is no identifier of the expression language
            parsed = parse_expression(node.text, frozenset(names), FUNCTIONS, ALIASES, FOLD)
            assert _close(_float_value(parsed, names), node.value), node.text
        (shown,) = parse_line(nt.code(node.text), names)
        assert _close(shown.value, node.value), nt.code(node.text)
        for partial in node.partials:
            formula = nt.expr(partial.expr)
            (stage,) = parse_line(formula, names)
            assert _close(stage.value, partial.value, _scale(stage)), formula
    for row, value in _cells(solution, nt):
        for stage in parse_line(row.evaluation, names):
            assert _close(stage.value, value, _scale(stage), rel=1e-7), (row.evaluation, value)
    if len(_DRAWN) < 4000:
        _DRAWN.extend(_latex_of(solution))


@settings(max_examples=2000 if LONG else 200, deadline=None)
@given(st.lists(expressions, min_size=1, max_size=2), points, numberings)
def test_evaluation_lines_add_up_at_the_printed_precision(outputs, point, numbering):
    """Issue 22: "0.135 + 0.282 = 0.418" — the rounded terms gave 0.417. Every line's numbers, read
    back as printed, give its printed result (the terms carry more decimals where needed)."""
    solution = _solved(outputs, point, numbering)
    if solution is None:
        return
    nt = TextNotation(digits=3)
    for row, value in _cells(solution, nt):
        *stages, result = [piece.strip() for piece in row.evaluation.split(" = ")]
        if not stages:
            continue
        try:
            (worked,) = parse_line(stages[-1], {})
        except DeriveError:
            continue  # a stage of names (v0 × 1): nothing printed to add up
        if float(nt.number(worked.value).replace("−", "-")) != float(result.replace("−", "-")):
            decimals = max(len(n.split(".")[1]) for n in re.findall(r"\d+\.\d+", stages[-1].split("e")[0]))
            assert decimals == 3 + lines.MAX_EXTRA_DIGITS, row.evaluation  # only where no digits could help


@settings(max_examples=2000 if LONG else 200, deadline=None)
@given(st.lists(expressions, min_size=1, max_size=2), points, numberings)
def test_the_key_passes_its_own_grader(outputs, point, numbering):
    solution = _solved(outputs, point, numbering)
    if solution is None:
        return
    answers = read_csv(blank_csv(solution, key=True))
    assert all(a.line for a in answers)
    names = {node.id: node.value for node in solution.trace.nodes}
    for answer in answers:
        parse_line(answer.line, names)  # every printed line is readable
    result = grade(solution, answers)
    assert result.all_correct, [c for c in result.cells if c.verdict != "correct"][:3]
    assert result.score()["total"] == 1.0


#: Forms that once broke the sheet ("! Double superscript"), always in the document.
AWKWARD = ["exp(2)**x", "(x**y)**2", "x**(y**2)", "(-x)**3 + y", "x*(-2) + y", "e**x + y", "sqrt(x)**y",
           "tanh(x)**(1/2) + y", "1/(x**-2) + y", "sigmoid(x)**2 + y", "abs(x)**y", "pow(pow(x, 2), y)",
           "exp(x)**y", "(x/y)**(3/2)", "x**-y", "-(x - y)", "x - (-y)", "tanh(x*y) + x/y"]

#: LaTeX of the examples the text test drew, compiled with the LaTeX test's own in one run.
_DRAWN: list[str] = []


def _latex_of(solution: ScalarSolution) -> list[str]:
    nt = LatexNotation()
    maths = [lines.expression_latex(e, nt) for e in solution.trace.expressions.values()]
    maths += [node.latex for node in solution.trace.nodes]
    maths += [nt.expr(p.expr) for node in solution.trace.nodes for p in node.partials]
    return maths + [f"{row.expression} = {row.evaluation}" for row, _ in _cells(solution, nt)]


@settings(max_examples=3 if LONG else 1, deadline=None)
@given(st.lists(st.tuples(st.lists(expressions, min_size=1, max_size=2), points), min_size=25, max_size=25))
def test_latex_compiles_in_one_run(tmp_path_factory, problems):
    maths = list(_DRAWN)
    for outputs, point in [*problems, *(([text], (0.7, 1.1)) for text in AWKWARD)]:
        solution = _solved(outputs, point)
        if solution is not None:
            maths += _latex_of(solution)
    body = "\n".join(rf"\noindent$\displaystyle {m}$\par" for m in maths)
    folder = tmp_path_factory.mktemp("latex")
    (folder / "all.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\hbadness=10000\\hfuzz=\\maxdimen\n"
        f"\\begin{{document}}\n{body}\n\\end{{document}}\n", encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "all.tex"],
                         cwd=folder, capture_output=True, text=True, timeout=120)
    errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
    assert run.returncode == 0 and not errors, errors
