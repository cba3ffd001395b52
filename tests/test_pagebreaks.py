"""Page breaks a typesetter would choose, read back from the PDFs (pdftotext, one page at a time):
no heading at the foot of a page, a pass table that breaks keeps three rows on either side, a
matrix adjoint's chain form and simplified form on one page."""

import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derive.cli import app

LONG = """
title = "A long problem"
[inputs]
x1 = "1/2"
x2 = 2
x3 = -1
[outputs]
y1 = "x1*x2 + sin(x3)/x2 + exp(x1 - x3)*x2 + tanh(x1*x3) + log(1 + x2*x2)*x1"
y2 = "exp(x1 - x3)*x2 + cos(x1 + x2)*x3 + sigmoid(x2*x3)/(1 + x1*x1)"
"""

HEADING = re.compile(r"^\s*(\([a-e]\) [A-Z]|Pass for|Verification|Gradients)")
ROW = re.compile(r"^\s*v-?\d+ = "                          # evaluation trace
                 r"|\s(Chain|Sum|Product|Quotient|Difference|Power) Rule(\s|$)|\S\s{2,}-(\s{2,}\S|\s*$)"  # forward
                 r"|^\s*v\u0304-?\d+ =|= v\u0304-?\d+(\s|$)")     # reverse, and its answers


def _pages(pdf: Path) -> list[list[str]]:
    count = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                            text=True, check=True).stdout).group(1))
    pages = []
    for number in range(1, count + 1):
        text = subprocess.run(["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        lines = [line for line in text.splitlines() if line.strip()]
        if lines and lines[-1].strip() == str(number):
            lines.pop()  # the page number
        pages.append(lines)
    return pages


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sheets")
    spec = folder / "long.toml"
    spec.write_text(LONG)
    runner = CliRunner()
    relu3 = Path(__file__).parent / "networks" / "relu3.toml"
    for args in (["problem1", "--blank"], [str(spec)], ["problem2"], [str(relu3)], ["problem2", "--blank"]):
        result = runner.invoke(app, ["report", *args, "--pdf", "-o", str(folder)])
        assert result.exit_code == 0, result.output
    return {name: _pages(folder / f"{name}.pdf")
            for name in ("problem1-blank", "long", "problem2", "relu3", "problem2-blank")}


def test_no_heading_at_the_foot_of_a_page(pdfs):
    for name, pages in pdfs.items():
        for number, lines in enumerate(pages[:-1], 1):
            foot = lines[-3:]
            for k, line in enumerate(foot):
                if HEADING.match(line):
                    # A worksheet's graph heading is followed by its instruction and a framed box.
                    box = name.endswith("blank") and k + 1 < len(foot) and foot[k + 1].strip().startswith(
                        ("Draw the computational graph", "The adjoint"))
                    assert box, f"{name} page {number} ends with {foot}"


def _rows(lines: list[str]) -> int:
    return sum(1 for line in lines if ROW.search(line))


def test_a_table_that_breaks_keeps_three_rows_on_either_side(pdfs):
    breaks = 0
    for name in ("problem1-blank", "long"):
        pages = pdfs[name]
        for number, (lines, following) in enumerate(zip(pages, pages[1:]), 1):
            top = 1 if following[0].strip().endswith("(continued)") else 0  # the pass heading, repeated
            if not following[top].strip().startswith("Expression"):
                continue  # no table continues on the next page
            assert top == 1, f"{name} page {number + 1} continues a table without saying whose"
            breaks += 1
            heads = [k for k, line in enumerate(lines) if line.strip().startswith("Expression")]
            before = _rows(lines[heads[-1] if heads else 0:])
            rest = following[top + 1:]
            stop = next((k for k, line in enumerate(rest)
                         if HEADING.match(line) or line.strip().startswith(("Answer", "Expression"))), len(rest))
            after = _rows(rest[:stop])
            assert before >= 3 and after >= 3, f"{name}: {before} rows end page {number}, {after} start the next"
    assert breaks >= 3  # the long problem's tables do break


def test_blank_graph_boxes_share_a_page_with_their_heading(pdfs):
    for lines in pdfs["problem1-blank"]:
        for k, line in enumerate(lines):
            if line.strip().startswith("(a) Computational graph"):
                assert lines[k + 1].strip().startswith("Draw the computational graph")


@pytest.mark.parametrize("name", ["problem2", "relu3"])
def test_matrix_adjoint_chain_and_simplified_forms_stay_together(pdfs, name):
    pages = pdfs[name]
    for number, lines in enumerate(pages[1:], 2):
        heads = [k for k, line in enumerate(lines) if line.strip().startswith("Adjoint")]
        if not heads:
            continue
        for line in lines[heads[0] + 1:]:
            text = line.strip()
            if "\u0304" in text.split("=")[0] or text.startswith("="):
                assert not text.startswith("="), f"{name} page {number} starts with a simplified form"
                break


def test_worksheet_answer_boxes_fit_the_numbers_and_cells_have_a_line_per_term():
    from derive.api import solve
    from derive.report import SheetOptions, render_sheet

    tex = render_sheet(solve("problem1"), "tex", SheetOptions(blank=True))
    widths = [float(w) for w in re.findall(r"\\makebox\[([\d.]+)em\]\{\}", tex)]
    assert len(widths) == 2 + 4 + 4  # f(x) and both Jacobians
    # The widest answer of problem1 is −11.880 (7 characters), handwritten at about 0.9 em each.
    assert min(widths) >= 0.9 * len("-11.880")
    reverse = tex[tex.index(r"\section*{(e)"):]
    # v̄1 sums over its four uses (v2, v4, v9, v10), v̄0 over two (v7, v9); one line per term.
    assert re.search(r"\\bar\{v\}_\{1\} = [^\n]*\\hwlines\{4\}", reverse)
    assert re.search(r"\\bar\{v\}_\{0\} = [^\n]*\\hwlines\{2\}", reverse)


def test_a_table_continued_on_a_new_page_repeats_its_head(pdfs):
    """longtable put a table's last rows back on the page after its end and TeX broke them with the
    ordinary output routine: problem1's blank worksheet continued the y1 pass on page 7 with no
    head (and page 6 had no rule below)."""
    for name in ("problem1-blank", "long"):
        for number, lines in enumerate(pdfs[name][1:], 2):
            top = next((k for k, line in enumerate(lines)
                        if HEADING.match(line) or line.strip().startswith(("Expression", "Answer"))), len(lines))
            assert _rows(lines[:top]) == 0, f"{name} page {number} starts with rows and no head: {lines[:3]}"
