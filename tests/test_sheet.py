"""What a sheet prints of what the user wrote (issue 22): names in statements set in maths, no
vector named like one of its inputs, decimals as typed, the roster's name beside the id.

The expected texts are written out by hand here (LaTeX and Markdown as a reader types them)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.render import latex, markdown
from derive.render.sheet import header, student_label, vector_symbols
from derive.problems import load_problem

runner = CliRunner()

SCALAR = """
title = "Penalised"
statement = "With weight lambda and rate α, at input x and bias h0, times x1 (not an input): a step. A note."
[inputs]
"λ" = 2
alpha = 0.5
x = 1
h0 = 3
[outputs]
y1 = "-λ + alpha*x/(h0 + x)"
y2 = "λ*alpha - x*h0"
"""


@pytest.fixture
def scalar(tmp_path):
    path = tmp_path / "penalised.toml"
    path.write_text(SCALAR, encoding="utf-8")
    return path


def test_names_in_a_statement_are_set_in_maths(scalar):
    statement = header(load_problem(str(scalar)), markdown.escape)["statement"]
    assert statement == (r"With weight $\lambda$ and rate $\alpha$, at input $x$ and bias $h_{0}$, times x1 "
                         "(not an input): a step. A note.")  # "a" and a sentence's "A" stay words


def test_dims_and_variables_of_a_matrix_statement_are_set_in_maths():
    assert header(load_problem("problem2"), markdown.escape)["statement"].startswith(
        "A network with $N$ inputs, $K$ hidden units and $M$ outputs, an L2 error")  # L2 is not L
    assert "reads $x_{1}$, $x_{2}$, $x_{3}$ with the same weights $W$, $U$ and $b$" in \
        header(load_problem("rnn"), markdown.escape)["statement"]


def test_a_statement_with_names_is_still_sanitised(tmp_path):
    """User text around the names is escaped as before; maths outside the safe subset stays text."""
    path = tmp_path / "hostile.toml"
    path.write_text(SCALAR.replace('statement = "With weight lambda and rate α, at input x and bias h0, times x1 '
                                   '(not an input): a step. A note."',
                                   r'statement = "x \\input{/etc/passwd} $\\input{x}$ 100% h0_x"'), encoding="utf-8")
    statement = header(load_problem(str(path)), latex.escape)["statement"]
    assert statement.startswith(r"$x$ \textbackslash{}input\{/etc/passwd\} \$\textbackslash{}input\{$x$\}\$ 100\%")
    assert "h0\\_x" in statement  # h0_x is another word, not h0


def test_an_input_called_x_is_not_also_the_bold_input_vector(scalar, tmp_path):
    assert vector_symbols(["x1", "x2"], ["y1", "y2"]) == {"input_symbol": r"\mathbf{x}", "output_symbol": r"\mathbf{y}"}
    assert vector_symbols(["x", "u", "λ"], ["y1", "y"]) == {"input_symbol": r"\mathbf{z}",
                                                          "output_symbol": r"\mathbf{g}"}
    assert vector_symbols(["x"], ["y"]) == {"input_symbol": r"\mathbf{x}", "output_symbol": r"\mathbf{y}"}
    for fmt in ("tex", "md"):
        result = runner.invoke(app, ["report", str(scalar), "--format", fmt, "-o", str(tmp_path)])
        assert result.exit_code == 0, result.output
        text = (tmp_path / f"penalised.{fmt}").read_text()
        assert r"\mathbf{x}" not in text
        assert re.search(r"\$\\mathbf\{u\} = \(\\lambda, \\alpha, x, h_\{0\}\)\^\\top", text)


def test_decimal_inputs_print_as_typed(scalar, tmp_path):
    """--at x1=0.5 printed 1/2 (\\frac{1}{2}) where the user wrote 0.5; a fraction stays one."""
    result = runner.invoke(app, ["report", "problem1", "--at", "x1=0.50", "--at", "x2=3/4", "--format", "md",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "problem1.md").read_text()
    assert r"= (0.50, \frac{3}{4})^\top" in text and r"\frac{1}{2}" not in text
    assert "| $v_{0} = x_{1}$ | $0.50$ |" in text
    result = runner.invoke(app, ["solve", "-f", "x*y", "--at", "x=-0.25", "--at", "y=2"])
    assert re.search(r"v0 = x +−0\.25 ", result.output), result.output
    result = runner.invoke(app, ["report", str(scalar), "--format", "md", "-o", str(tmp_path)])
    assert "(2, 0.5, 1, 3)^\\top" in (tmp_path / "penalised.md").read_text()  # 0.5 in the TOML file


def test_the_roster_name_is_printed_beside_the_id():
    assert student_label("s001", "Ada  Lovelace") == "s001 · Ada Lovelace"
    assert student_label("s001", None) == student_label("s001", " ") == "s001"
    assert student_label("s001", "x" * 100) == "s001 · " + "x" * 39 + "…"  # a footer has one line


def test_a_roster_name_is_on_the_students_sheets_and_every_footer(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\nada1,Ada Lovelace,ada@example.org\nbob2,,\n", encoding="utf-8")
    result = runner.invoke(app, ["variants", "problem1", "--roster", str(roster), "--no-pdf", "--workers", "1",
                                 "-o", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    for sheet in ("blank", "key"):
        tex = (tmp_path / "v" / f"ada1-{sheet}.tex").read_text()
        footer = next(line for line in tex.splitlines() if r"\def\@oddfoot" in line)
        assert r"\rlap{ada1 \(\cdot\) Ada Lovelace}" in footer
        assert r"Student: ada1 \(\cdot\) Ada Lovelace" in tex
        md = (tmp_path / "v" / f"ada1-{sheet}.md").read_text()
        assert "**Student:** ada1  \n" in md and ("Name: Ada Lovelace" in md or "**Name:** Ada Lovelace" in md)
        assert r"\rlap{bob2}" in (tmp_path / "v" / f"bob2-{sheet}.tex").read_text()  # no name: the id alone


KEY = "Answer key — instructor copy"


@pytest.mark.parametrize("name", ["problem1", "problem2"])
def test_a_solution_sheet_is_a_key_and_a_blank_is_not(tmp_path, name):
    """derive report NAME writes the solutions: an instructor's copy, marked as variants' keys are."""
    for fmt in ("tex", "md"):
        for blank in (False, True):
            out = tmp_path / f"{fmt}{blank}"
            result = runner.invoke(app, ["report", name, "--format", fmt, "-o", str(out)] + ["--blank"] * blank)
            assert result.exit_code == 0, result.output
            text = next(out.glob(f"*.{fmt}")).read_text()
            if blank:
                assert KEY not in text
            elif fmt == "tex":
                body = text.split(r"\begin{document}")[1]
                footer = next(line for line in body.splitlines() if r"\def\@oddfoot" in line)
                assert footer.endswith(rf"\llap{{\bfseries {KEY}}}}}\let\@evenfoot\@oddfoot\makeatother")
                assert body.index(rf"\large\bfseries {KEY}") < body.index(r"\end{center}")  # the title block
            else:
                assert text.index(KEY) < text.index("## (a)") and text.rstrip().endswith(f"*{KEY}*")


def test_the_readme_shows_a_page_of_a_key_and_of_a_blank():
    """Issue 22's Done-when: the README shows one page of a key and one of a blank worksheet; every
    image it references exists, is a PNG and stays small."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (root / "README.md").read_text(encoding="utf-8"))
    assert "docs/img/problem1-key.png" in images and "docs/img/problem1-blank.png" in images
    for image in images:
        data = (root / image).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) < 150_000, image


def test_the_jacobian_of_a_lone_output_is_named_by_that_output(tmp_path):
    """A problem with one output f printed its Jacobian ∂𝐲/∂𝐮, a 𝐲 the sheet never defines: a lone
    output names it, ∂𝐟/∂𝐮 (the 𝐟 of the answer 𝐟(𝐮)), and a lone Greek output its letter; the
    adjoints, printed v̄ᵢ = ∂y/∂vᵢ, are ∂f/∂vᵢ."""
    for output, symbol in (("f", r"\mathbf{f}"), ("λ", r"\lambda")):
        path = tmp_path / "one.toml"
        path.write_text(f'[inputs]\nx = 2\n"α" = 0.5\n[outputs]\n"{output}" = "α*x**2"\n', encoding="utf-8")
        for fmt in ("tex", "md"):
            result = runner.invoke(app, ["report", str(path), "--format", fmt, "-o", str(tmp_path)])
            assert result.exit_code == 0, result.output
            sheet = (tmp_path / f"one.{fmt}").read_text(encoding="utf-8")
            assert r"\mathbf{y}" not in sheet
            fraction = r"\dfrac" if fmt == "tex" else r"\frac"
            assert sheet.count(fraction + r"{\partial " + symbol + r"}{\partial \mathbf{u}}") == 2, (output, fmt)
            if fmt == "tex":  # the adjoints are of that output too: v̄ᵢ = ∂f/∂vᵢ
                adjoint = r"\bar v_i = \partial " + ("f" if output == "f" else r"\lambda") + r" / \partial v_i"
                assert sheet.count(adjoint) == 2 and r"\partial y /" not in sheet, output


def test_a_markdown_worksheet_asks_for_the_id_as_the_pdf_does(tmp_path):
    """The scalar Markdown worksheet opened with a Name line only, where the PDF (and the matrix
    handout) ask for a Name and an ID: a loose sheet must find its owner."""
    result = runner.invoke(app, ["report", "problem1", "--blank", "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    head = (tmp_path / "problem1-blank.md").read_text(encoding="utf-8").splitlines()[:6]
    assert "Name: ____________________ &nbsp; ID: __________" in head


def test_a_worksheet_with_its_expressions_hidden_keeps_each_rows_left_side(tmp_path):
    """--hide expressions leaves "v3 =" for the student to complete: the row's left side, carried
    as data (the sheet once cut the printed line at its first " = ").  A seed row, which has no
    right side, keeps its subject alone."""
    result = runner.invoke(app, ["report", "problem1", "--blank", "--hide", "expressions", "--format", "md",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cells = [line.split(" | ")[1] for line in (tmp_path / "problem1-blank.md").read_text(encoding="utf-8").splitlines()
             if re.match(r"\| v\d+ \|", line)]
    assert "$v_{3} =$" in cells and r"$\frac{\partial v_{2}}{\partial x_{1}} =$" in cells
    assert r"$\frac{\partial v_{0}}{\partial x_{1}}$" in cells  # a seed: no right side to blank
    assert len(cells) > 30 and all(re.fullmatch(r"\$[^=$]*( =)?\$", c) for c in cells), cells
