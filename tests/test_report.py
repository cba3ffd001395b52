"""Solution sheets: real PDFs compiled by TeX and read back with pdftotext; Markdown; JSON."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.errors import ReportError
from derive.report import compile_pdf, log_errors

runner = CliRunner()

THREE_INPUTS = """
title = "Three inputs, two outputs"
author = "A. Student"
[inputs]
a = 1
b = "3/2"
c = 0.5
[outputs]
f = "a*b*c + exp(-a*c)"
g = "tanh(b) / (1 + c^2) - log(a + b)"
"""


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def problem1_pdf(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = runner.invoke(app, ["report", "problem1", "--pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(out / "problem1.tex"), str(out / "problem1.pdf")]
    return out / "problem1.pdf"


def test_problem1_pdf_holds_every_part_and_number(problem1_pdf):
    text = pdf_text(problem1_pdf)
    for part in ("(a) Computational graph", "(b) Backpropagation graph", "(c) Evaluation trace",
                 "(d) Jacobian by forward-mode", "(e) Jacobian by reverse-mode", "Verification"):
        assert part in text
    for number in ("7.671", "2.731", "0.141", "2.898", "2.197", "14.778", "7.389"):
        assert number in text
    for number in ("−5.940", "−11.880", "−1.980", "−0.990"):  # U+2212, a real minus sign
        assert number in text
    assert "Product Rule" in text and "Sum Rule" in text and "Chain Rule" in text
    assert "-5.940" not in text  # never a hyphen for a minus


def test_pdf_pages_are_a4_and_nothing_is_overfull(problem1_pdf):
    info = subprocess.run(["pdfinfo", str(problem1_pdf)], capture_output=True, text=True).stdout
    assert "595.276 x 841.89" in info or "595.28 x 841.89" in info
    log = problem1_pdf.with_suffix(".log").read_text(errors="replace")
    assert "Output written" in log and "Overfull" not in log  # no table or graph runs off the page


def page_texts(pdf: Path) -> list[str]:
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                             text=True).stdout).group(1))
    return [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True,
                           text=True).stdout for i in range(1, pages + 1)]


def test_no_page_starts_with_an_empty_table_head(problem1_pdf, tmp_path):
    spec = tmp_path / "three.toml"
    spec.write_text(THREE_INPUTS)
    assert runner.invoke(app, ["report", str(spec), "--pdf", "-o", str(tmp_path)]).exit_code == 0
    for pdf in (problem1_pdf, tmp_path / "three.pdf"):
        for number, text in enumerate(page_texts(pdf), 1):
            top = [line for line in text.splitlines() if line.strip()][:5]
            if top and top[0].startswith("Expression"):  # a continued table must continue with rows
                assert not any(line.startswith(("Pass for", "(d)", "(e)", "Answer", "Verification"))
                               for line in top), f"{pdf.name} page {number} starts with a table head only"


def test_markdown_holds_the_same_numbers(tmp_path):
    result = runner.invoke(app, ["report", "problem1", "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 0
    text = (tmp_path / "problem1.md").read_text()
    for number in ("7.671", "2.731", "0.141", "2.898", "2.197", "-5.940", "-11.880", "-1.980"):
        assert number in text
    assert "```mermaid" in text and "## (e) Jacobian by reverse-mode" in text
    assert "| Expression | Rule | Evaluation |" in text


def test_json_report_is_the_solve_json(tmp_path):
    runner.invoke(app, ["report", "problem1", "--format", "json", "-o", str(tmp_path)])
    data = json.loads((tmp_path / "problem1.json").read_text())
    assert data["kind"] == "scalar" and len(data["nodes"]) == 12


def test_user_text_with_latex_specials_prints_literally(tmp_path):
    title = r"Key \input{/etc/passwd} 100% $x$ a_b #1 & {c} ~ ^ \immediate\write18{touch /tmp/derive-owned}"
    result = runner.invoke(app, ["report", "problem1", "--pdf", "-o", str(tmp_path), "--title", title,
                                 "--author", "Ann & Bob_2", "--course", "CS 101 {50%}"])
    assert result.exit_code == 0, result.output
    text = " ".join(pdf_text(tmp_path / "problem1.pdf").split())
    assert title in text
    assert "Ann & Bob_2" in text and "CS 101 {50%}" in text
    assert "root:" not in text  # /etc/passwd was not read
    assert not Path("/tmp/derive-owned").exists()


def test_tex_runs_with_paranoid_file_access(tmp_path):
    # Even a template that asks TeX to read /etc/passwd or run a shell command cannot.
    template = tmp_path / "evil.tex.j2"
    template.write_text("\\documentclass{article}\\begin{document}\\input{/etc/passwd}"
                        "\\immediate\\write18{touch /tmp/derive-owned2}\\end{document}\n")
    result = runner.invoke(app, ["report", "problem1", "--pdf", "-o", str(tmp_path / "out"),
                                 "--template", str(template)])
    assert result.exit_code == 2
    assert "LaTeX failed" in result.stderr and "/etc/passwd" in result.stderr
    assert (tmp_path / "out" / "problem1.tex").exists()  # the .tex is kept
    assert not (tmp_path / "out" / "problem1.pdf").exists()
    assert not Path("/tmp/derive-owned2").exists()


def test_a_failed_compile_never_leaves_a_stale_pdf(tmp_path):
    good = tmp_path / "sheet.tex"
    good.write_text("\\documentclass{article}\\begin{document}first\\end{document}\n")
    pdf = compile_pdf(good)
    before = pdf.read_bytes()
    good.write_text("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    with pytest.raises(ReportError, match="Undefined control sequence"):
        compile_pdf(good)
    assert pdf.read_bytes() == before  # the old PDF is untouched, not half-overwritten
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))


def test_missing_tex_engine_says_how_to_install_and_keeps_the_tex(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdflatex, no latexmk
    result = runner.invoke(app, ["report", "problem1", "--pdf", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no TeX engine" in result.stderr and "apt-get install" in result.stderr
    assert (tmp_path / "out" / "problem1.tex").exists()
    assert not (tmp_path / "out" / "problem1.pdf").exists()


def test_three_input_toml_problem_compiles(tmp_path):
    spec = tmp_path / "three.toml"
    spec.write_text(THREE_INPUTS)
    result = runner.invoke(app, ["report", str(spec), "--pdf", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = pdf_text(tmp_path / "three.pdf")
    assert "Overfull" not in (tmp_path / "three.log").read_text(errors="replace")
    assert "Three inputs, two outputs" in text and "A. Student" in text
    assert "Quotient Rule" in text and "Difference Rule" in text
    assert text.count("Pass for") == 5  # three forward passes, two reverse passes


def test_baydin_numbering_compiles(tmp_path):
    result = runner.invoke(app, ["report", "baydin", "--pdf", "--numbering", "baydin", "--order", "depth",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = pdf_text(tmp_path / "baydin.pdf")
    assert "v−1" in text  # inputs numbered v−1, v0 as in Baydin et al.
    # f = ln 2 + 10 − sin 5 = 11.652; ∇f = (1/2 + 5, 2 − cos 5) = (5.500, 1.716)
    assert "11.652" in text and "5.500" in text and "1.716" in text


def test_template_errors_are_reported(tmp_path):
    template = tmp_path / "broken.tex.j2"
    template.write_text("\\VAR{nosuchthing}\n")
    result = runner.invoke(app, ["report", "problem1", "-o", str(tmp_path), "--template", str(template)])
    assert result.exit_code == 2 and "nosuchthing" in result.stderr
    assert not (tmp_path / "problem1.tex").exists()


def test_log_errors_shows_the_offending_lines():
    log = "This is pdfTeX\n! Undefined control sequence.\nl.3 \\foo\n\nmore\n"
    assert log_errors(log) == "! Undefined control sequence. | l.3 \\foo"


def test_problem2_pdf(tmp_path):
    result = runner.invoke(app, ["report", "problem2", "--pdf", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Overfull" not in (tmp_path / "problem2.log").read_text(errors="replace")
    text = " ".join(pdf_text(tmp_path / "problem2.pdf").split())
    assert "(a) Computational graph" in text and "(b) Backpropagation equations" in text
    assert "= r + W2⊤ (y − s)" in text  # ĥ, with the seed's slip corrected
    assert "Verification" in text and "pass" in text and "every entry" in text
    md = runner.invoke(app, ["report", "problem2", "--format", "md", "-o", str(tmp_path)])
    assert md.exit_code == 0
    assert r"r + W_{2}^\top \, \left(y - s\right)" in (tmp_path / "problem2.md").read_text()


def test_catalogue_sheet_typesets_without_overfull_boxes(tmp_path):
    # issue 10: axes as subscripts, Greek names, fractions 1/B and ⊘ in a batch-norm sheet
    result = runner.invoke(app, ["report", "layernorm", "--pdf", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Overfull" not in (tmp_path / "layernorm.log").read_text(errors="replace")
    tex = (tmp_path / "layernorm.tex").read_text()
    assert r"\gamma" in tex and r"\sqrt{v + \varepsilon}" in tex and r"\mathrm{axis}" in tex
