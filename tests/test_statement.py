"""A problem's statement names the point of the sheet it is printed on: placeholders filled per
sheet ({point}, {x1}, {lam}), and a statement that writes a point literally refused where the
sheet would be at another point (a student's variant, report --at)."""

from __future__ import annotations

import csv
import re
import subprocess

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.errors import ProblemError
from derive.problems import problem_from_toml, statement_pieces

runner = CliRunner()

TOML = """
statement = "{statement}"
[inputs]
x1 = 2
x2 = "1/2"
[constants]
lam = "1/4"
[outputs]
y = "lam*x1*x2 + sin(x1)"
[variants]
x1 = [1, 4]
x2 = [1, 3]
"""


def _problem_file(tmp_path, statement: str):
    path = tmp_path / "p.toml"
    path.write_text(TOML.replace("{statement}", statement))
    return path


def test_pieces_split_placeholders_and_keep_doubled_braces():
    assert statement_pieces("at {point}, with {{x}} and {lam}.") == [("at ", "point"), (", with {x} and ", "lam"),
                                                                     (".", None)]
    assert statement_pieces("no placeholders") == [("no placeholders", None)]
    assert statement_pieces("{ x1 } {1x}") == [("{ x1 } {1x}", None)]  # not names: literal text


def test_a_placeholder_naming_nothing_is_an_error_with_a_suggestion(tmp_path):
    with pytest.raises(ProblemError, match=r"\{x3\} is not an input or a constant") as info:
        problem_from_toml(TOML.replace("{statement}", "at {x3}"), "p")
    assert "x2" in (info.value.hint or "")
    result = runner.invoke(app, ["report", str(_problem_file(tmp_path, "at {lamb}")), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "{lamb} is not an input or a constant" in result.stderr
    assert "did you mean 'lam'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_each_variant_sheet_names_its_own_point(tmp_path):
    path = _problem_file(tmp_path, "Evaluate f at x = {point} with x1 = {x1} and lambda = {lam}.")
    out = tmp_path / "out"
    result = runner.invoke(app, ["variants", str(path), "--count", "3", "--no-pdf", "--workers", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    for row in csv.DictReader((out / "manifest.csv").open()):
        for sheet in ("key", "blank"):
            md = (out / f"{row['id']}-{sheet}.md").read_text()
            statement = next(line for line in md.splitlines() if line.startswith("Evaluate"))
            assert f"x = $({row['x1']}, {row['x2']})$" in statement
            assert f"$x_{{1}}$ = ${row['x1']}$" in statement and r"lambda = $\frac{1}{4}$" in statement


def test_the_builtin_statement_follows_report_at(tmp_path):
    result = runner.invoke(app, ["report", "problem1", "--at", "x1=3", "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "problem1.md").read_text()
    assert r"evaluate $\mathbf{f}$ at $\mathbf{x}$ = $(3, 1)$" in text and "(2, 1)" not in text


@pytest.mark.parametrize("statement, literal", [
    ("Evaluate f at x = (2, 1/2).", "(2, 1/2)"),
    ("Evaluate f at x = (2.0, 0.5).", "(2.0, 0.5)"),
    ("Evaluate f at x = (2, {x2}).", "(2, {x2})"),
    ("Evaluate f at x1 = 2 and x2 = 1/2.", "x1 = 2|x2 = 1/2"),  # whichever value the sheet changes
    ("Evaluate f at x1=2.0.", "x1=2.0"),
])
def test_a_literal_point_is_refused_where_the_sheet_moves(tmp_path, statement, literal):
    path = _problem_file(tmp_path, statement)
    ok = runner.invoke(app, ["report", str(path), "--format", "md", "-o", str(tmp_path / "base")])
    assert ok.exit_code == 0, ok.output  # at its own point the statement is right
    for args in (["report", str(path), "--at", "x1=3", "-o", str(tmp_path / "at")],
                 ["variants", str(path), "--count", "2", "--no-pdf", "-o", str(tmp_path / "v")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert any(f"the statement writes '{one}'" in result.stderr for one in literal.split("|")), result.stderr
        assert "{point}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "v" / "manifest.csv").exists()


def test_a_latex_sheet_typesets_the_filled_statement(tmp_path):
    path = _problem_file(tmp_path, "Evaluate at {point}; braces {{kept}}; 100% & $5.")
    result = runner.invoke(app, ["report", str(path), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "p.tex").read_text()
    assert re.search(r"Evaluate at \$\(2, \\frac\{1\}\{2\}\)\$; braces \\\{kept\\\}; 100\\% \\& \\\$5\.", tex), \
        [line for line in tex.splitlines() if "Evaluate" in line]


def test_a_value_no_sheet_changes_may_be_written_out(tmp_path):
    """lam is not varied: 'lam = 1/4' stays true on every sheet and is not refused; it is where
    --at changes lam."""
    path = _problem_file(tmp_path, "Take lam = 1/4 and x1 = 2; evaluate f at {point}.")
    assert runner.invoke(app, ["report", str(path), "--at", "x2=3", "--format", "md",
                               "-o", str(tmp_path / "a")]).exit_code == 0  # lam and x1 keep their values
    path = _problem_file(tmp_path, "Take lam = 1/4; evaluate f at {point}.")
    result = runner.invoke(app, ["variants", str(path), "--count", "2", "--no-pdf", "--workers", "1",
                                 "-o", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(path), "--at", "lam=1/3", "--format", "md", "-o", str(tmp_path / "b")])
    assert result.exit_code == 2 and "the statement writes 'lam = 1/4'" in result.stderr


def test_a_paragraph_break_beside_a_placeholder_survives_in_markdown(tmp_path):
    path = _problem_file(tmp_path, "Para one.\\n\\n{point} starts the second.")
    result = runner.invoke(app, ["report", str(path), "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Para one.\n\n$(2, \\frac{1}{2})$ starts the second." in (tmp_path / "p.md").read_text()


def test_an_input_named_point_makes_the_placeholder_ambiguous():
    with pytest.raises(ProblemError, match=r"\{point\} is the whole point"):
        problem_from_toml('statement = "at {point}"\n[inputs]\npoint = 1\n[outputs]\ny = "point*2"\n', "p")


def test_a_matrix_statement_has_braces_but_no_placeholders(tmp_path):
    from pathlib import Path

    text = (Path(__file__).parent.parent / "derive" / "builtin" / "problem2.toml").read_text()
    with pytest.raises(ProblemError, match="a matrix problem has no point"):
        problem_from_toml(re.sub(r'(?m)^statement = ".*"$', 'statement = "at {point}"', text), "m")
    problem = problem_from_toml(re.sub(r'(?m)^statement = ".*"$', 'statement = "labels in {{0, 1}}"', text), "m")
    from derive import api
    from derive.report import render_sheet

    line = next(x for x in render_sheet(api.solve(problem), "tex").splitlines() if "labels in" in x)
    assert line.startswith("labels in \\{0,") and line.endswith("1\\}") and "{{" not in line


def test_a_huge_number_in_a_statement_is_not_a_crash(tmp_path):
    path = _problem_file(tmp_path, "Take x1 = 1" + "0" * 400 + " and evaluate at {point}.")
    result = runner.invoke(app, ["report", str(path), "--at", "x1=3", "--format", "md", "-o", str(tmp_path / "a")])
    assert result.exit_code in (0, 2) and "internal error" not in result.stderr


def test_report_at_checks_the_statement_only_where_it_is_printed(tmp_path):
    path = _problem_file(tmp_path, "Evaluate f at x = (2, 1/2).")
    for fmt in ("csv", "json"):
        result = runner.invoke(app, ["report", str(path), "--at", "x1=3", "--format", fmt, "-o", str(tmp_path)])
        assert result.exit_code == 0, result.output


def test_a_problem_built_in_python_with_an_unknown_placeholder_is_one_error():
    from derive import api
    from derive.problems import Problem
    from derive.report import render_sheet

    problem = Problem(name="p", inputs={"x": 1}, outputs={"y": "x*x"}, statement="at {x3}")
    with pytest.raises(ProblemError, match=r"\{x3\} is not an input or a constant"):
        render_sheet(api.solve(problem), "md")


# -- mathematics in a statement (issue 22): $…$ of a safe subset is typeset --------------------------
@pytest.mark.parametrize("maths, safe", [
    (r"\lambda", True), (r"x_1 + x_2", True), (r"\frac{1}{2} |y - s|^2", True), (r"a_{ij}", True),
    (r"\mathbb{R}^{n}", True), (r"e^{-x^2}", True), (r"y = \sigma(W x + b)", True), (r"x^{2}_{1}", True),
    (r"\frac12", False), (r"\frac{a}", False), (r"x^2^3", False), (r"x^{a}^{b}", False), (r"x^", False),
    (r"{", False), (r"}{", False), (r"\input{/etc/passwd}", False), (r"\write18", False), (r"a & b", False),
    (r"\\", False), (r"\text{a^b}", False), ("x\u4e2d", False), ("", False),
    # a script takes a letter, a digit, a symbol or a group: TeX stops at each of these ("Missing {
    # inserted", "Undefined control sequence", "Double superscript")
    (r"a^\sqrt", False), (r"x^\frac{1}", False), (r"x^\overline", False), (r"a_\mathbb", False),
    (r"x^\,", False), (r"x^\log", False), ("x^'", False), ("x^2'", False),
    (r"x^\alpha", True), (r"x^\infty", True), ("x''", True), ("x'_1", True), ("x_1'", True), ("{x^2}'", True),
])
def test_the_safe_maths_subset(maths, safe):
    """What TeX sets without an error (known commands, braced arguments, balanced braces, no double
    or dangling script) is typeset; anything else is printed as the text typed."""
    from derive.render.sheet import safe_maths

    assert (safe_maths(maths) == maths) if safe else safe_maths(maths) is None


def test_maths_in_a_statement_is_typeset_and_unsafe_maths_printed_as_typed(tmp_path):
    path = _problem_file(tmp_path, r"With weight $\\lambda$ and $x_1 \\cdot x_2$ at {point}; not $\\input{{a}}$.")
    result = runner.invoke(app, ["report", str(path), "--pdf", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "p.tex").read_text()
    assert r"With weight $\lambda$ and $x_1 \cdot x_2$ at $(2, \frac{1}{2})$; not \$\textbackslash{}input" in tex
    text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True, text=True).stdout
    assert "With weight λ and x1 · x2 at" in text and r"not $\input{a}$." in text
    result = runner.invoke(app, ["report", str(path), "--format", "md", "-o", str(tmp_path)])
    md = (tmp_path / "p.md").read_text()
    assert r"With weight $\lambda$ and $x_1 \cdot x_2$ at $(2, \frac{1}{2})$; not \$\\input\{a\}\$." in md


def test_maths_the_subset_admits_compiles_and_maths_it_refuses_is_printed(tmp_path):
    """The subset once admitted a^\\sqrt, x^\\frac{1}, x^2' and a_\\mathbb, and the PDF failed."""
    admitted = [r"x^{}", r"\sqrt{}", r"\, ^2", r"x^\infty", r"x^\alpha", "x''", "x'_1", "x_1'", "f'(x) = 2x", "{x^2}'"]
    refused = [r"a^\sqrt", r"x^\frac{1}", r"x^\overline", r"a_\mathbb", "x^2'", r"x^\,", r"x^\log", "x^'"]
    statement = " ".join(f"${m}$" for m in admitted + refused).replace("\\", "\\\\").replace("{", "{{").replace("}", "}}")
    path = _problem_file(tmp_path, statement)
    result = runner.invoke(app, ["report", str(path), "--pdf", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "p.tex").read_text()
    assert all(f"${m}$" in tex for m in admitted) and r"\$a\textasciicircum{}\textbackslash{}sqrt\$" in tex
