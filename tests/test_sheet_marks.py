"""Sheets a course hands out as they are (issue 22), read back from the PDF and Markdown written:
tall rows never touch, a key says it is one on every page, Greek names print as letters.

Each PDF is compiled once per module (module-scoped fixtures), then read with pdftotext."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derive.cli import app

runner = CliRunner()
KEY = "Answer key — instructor copy"


def pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext separates pages with a form feed)."""
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def words(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Each page's words with their boxes (xMin, yMin, xMax, yMax in pt, y downwards)."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    box = re.compile(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<')
    return [[(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in box.findall(page)]
            for page in html.split("<page")[1:]]


def footers(pdf: Path) -> list[str]:
    """The words in each page's bottom margin (below the 2cm margin of the A4 text block)."""
    return [" ".join(w[4] for w in sorted(page, key=lambda w: w[0]) if w[1] > 841.89 - 2 * 28.35)
            for page in words(pdf)]


#: A stacked accent (the bar of X̂̄) comes out as a word of its own over its letter: it is part of that
#: symbol, not a row above it.
ACCENTS = frozenset("¯ˆ˜˙¨´`")


def closest_lines(page, full_height: float = 9.0) -> list[tuple[float, str, str]]:
    """Vertical gaps (pt) between full-size words stacked over each other (sharing more than 1pt
    of width), smallest first.  Sub- and superscripts are left out: they belong to their own row.
    Lines of text and a fraction's numerator and denominator are about 4.5pt apart; a display
    fraction that runs into the row above comes within 1pt or overlaps it.  A radical's or a big
    bracket's box is its font's, far taller than its ink, so those are left out too, and so are
    accents (ACCENTS)."""
    full = [w for w in page if w[3] - w[1] >= full_height and not w[4].startswith(tuple("√()[]{}∑"))
            and w[4] not in ACCENTS]
    gaps = []
    for a in full:
        for b in full:
            if b[1] > a[1] and min(a[2], b[2]) - max(a[0], b[0]) > 1:
                gaps.append((b[1] - a[3], a[4], b[4]))
    return sorted(gaps)


# -- tall rows: fractions and \left( brackets get vertical room --------------------------------------
@pytest.fixture(scope="module")
def matrix_pdfs(tmp_path_factory):
    out = tmp_path_factory.mktemp("tall")
    for name in ("mlp_batch", "batchnorm"):
        result = runner.invoke(app, ["report", name, "--pdf", "-o", str(out)])
        assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("name", ["mlp_batch", "batchnorm"])
def test_display_fractions_never_touch_the_row_above(matrix_pdfs, name):
    """mlp_batch's Z̄₂ = (P − T)/B once overprinted ∂Z₂ of the chain form above it."""
    for number, page in enumerate(words(matrix_pdfs / f"{name}.pdf"), 1):
        gaps = closest_lines(page)
        assert not gaps or gaps[0][0] >= 2.0, f"page {number}: {gaps[:3]}"


# -- a key says it is a key ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants")
    result = runner.invoke(app, ["variants", "problem1", "--count", "1", "--workers", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_every_page_of_a_key_says_it_is_the_instructors_copy(variant):
    key = pages(variant / "s001-key.pdf")
    assert len(key) > 1
    assert key[0].index(KEY) < key[0].index("(a) Computational graph")  # in the title block
    for number, footer in enumerate(footers(variant / "s001-key.pdf"), 1):
        assert footer == f"s001 {number} {KEY}"
    assert KEY in (variant / "s001-key.md").read_text()


def test_a_blank_never_says_it_is_a_key_and_names_its_student_on_every_page(variant):
    blank = pages(variant / "s001-blank.pdf")
    assert all(KEY not in text for text in blank)
    assert footers(variant / "s001-blank.pdf") == [f"s001 {n}" for n in range(1, len(blank) + 1)]
    assert KEY not in (variant / "s001-blank.md").read_text()
    assert KEY not in (variant / "s001-key.tex").read_text().split(r"\begin{document}")[0]  # one preamble


# -- Greek names print as letters ------------------------------------------------------------------
GREEK = """
title = "Regularised"
[inputs]
lambda = "1/2"
"α" = 2
mu = 1
x = 3
[outputs]
y1 = "lambda*x^2 + exp(α*mu)"
y2 = "tanh(mu*x) / α"
"""
#: Eleven inputs: a Jacobian of more columns than amsmath's matrices take by default (10).
WIDE = GREEK.replace("[outputs]", "".join(f"t{k} = {k}\n" for k in range(1, 8)) + "[outputs]").replace(
    '/ α"', '/ α + t1*t2*t3*t4*t5*t6*t7"')


@pytest.fixture(scope="module")
def greek_pdf(tmp_path_factory):
    out = tmp_path_factory.mktemp("greek")
    problem = out / "greek.toml"
    problem.write_text(WIDE, encoding="utf-8")
    result = runner.invoke(app, ["report", str(problem), "--pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out / "greek.pdf"


def test_a_sheet_of_eleven_inputs_compiles_its_jacobian(greek_pdf):
    text = "".join(pages(greek_pdf))
    passes = [line for line in text.splitlines() if line.startswith("Pass for") and "(continued)" not in line]
    assert len(passes) == 11 + 2  # a pass per input and per output
    assert text.count("(e) Jacobian by reverse-mode") == 1


def test_greek_inputs_read_back_as_greek_letters_from_the_pdf(greek_pdf):
    text = "".join(pages(greek_pdf))
    for letter in "λαμ":  # μ, not the micro sign µ that glyphtounicode gives \mu
        assert letter in text
    assert "\u00b5" not in text and not re.search(r"lambda|\bmu\b|alpha", text)


def test_greek_inputs_are_letters_on_the_terminal_and_in_markdown(tmp_path):
    problem = tmp_path / "greek.toml"
    problem.write_text(GREEK, encoding="utf-8")
    result = runner.invoke(app, ["solve", str(problem)])
    assert result.exit_code == 0, result.output
    assert "∂y1/∂λ" in result.output and "pass for μ" in result.output
    assert not re.search(r"lambda|\bmu\b|ū|ā", result.output)
    result = runner.invoke(app, ["report", str(problem), "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    charts = "".join(re.findall(r"```mermaid(.*?)```", (tmp_path / "greek.md").read_text(), re.DOTALL))
    assert "λ" in charts and "μ" in charts and not re.search(r"lambda|\bmu\b", charts)


# -- the matrix handout asks for what its answer file holds ------------------------------------------
@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout")
    for fmt in ("tex", "md"):
        result = runner.invoke(app, ["report", "problem2", "--blank", "--format", fmt, "--pdf", "-o", str(out)]
                               if fmt == "tex" else ["report", "problem2", "--blank", "--format", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
    return out


def test_the_handout_asks_for_exactly_the_answer_files_slots(handout):
    """problem2's handout asked for L̄, R̄ and Ē, which problem2-blank.toml has no slot for."""
    import tomllib

    slots = tomllib.loads((handout / "problem2-blank.toml").read_text())
    tex = (handout / "problem2-blank.tex").read_text()
    table = tex.split(r"\section*{(b)")[1].split(r"\subsection*{Gradients}")[0]
    asked = re.findall(r"^\\bar\{(\w)\} & = \\answerline & \\\\\*\n & = \\answerline", table, re.MULTILINE)
    assert asked == list(slots["adjoints"])  # two ruled lines each: the chain form and the simplified
    given = re.findall(r"^\\bar\{(\w)\} & \\roomy", table, re.MULTILINE)
    assert given == ["L", "R", "E"]  # constant adjoints are given worked, as in the key
    gradients = tex.split(r"\subsection*{Gradients}")[1]
    assert gradients.count(r"\answerline") == len(slots["gradients"])


def test_the_handout_leaks_no_tool_internals_and_has_a_name_line(handout):
    for name in ("problem2-blank.tex", "problem2-blank.md"):
        text = (handout / name).read_text()
        assert not re.search(r"used for the checks|derive check|numeric check|TOML", text), name
    first = pages(handout / "problem2-blank.pdf")[0]
    assert re.search(r"Name:\s+ID:", first)
    assert "Name:" in (handout / "problem2-blank.md").read_text()


def test_one_gradient_convention_and_scalars_in_r(handout, matrix_pdfs):
    """ū is ∇ᵤL, so a gradient is printed ∇ₓL = x̄ (not ∂L/∂x = x̄ of the other layout); a scalar
    is in ℝ, not ℝ^{1×1}."""
    for tex in ((handout / "problem2-blank.tex").read_text(), (matrix_pdfs / "mlp_batch.tex").read_text()):
        assert r"\bar{u} = \nabla_{u} L" in tex
        assert re.findall(r"^\\nabla_\{", tex, re.MULTILINE) and not re.search(r"^\\partial L / \\partial", tex, re.M)
        assert r"1 \times 1" not in tex and r"\in \mathbb{R}" in tex


def test_page_one_of_a_worksheet_has_a_name_line(variant):
    first = pages(variant / "s001-blank.pdf")[0]
    assert "Student: s001" in first and re.search(r"^Name:", first, re.MULTILINE)
    assert not re.search(r"^Name:", pages(variant / "s001-key.pdf")[0], re.MULTILINE)


def test_a_continued_table_repeats_its_heading(variant):
    """A pass table that runs onto the next page says whose pass it continues."""
    key = pages(variant / "s001-key.pdf")
    continued = [text for text in key if "(continued)" in text]
    assert continued, "no table of problem1's key breaks across pages: nothing proved"
    for text in key:
        first = text.strip().splitlines()[0]
        assert first != "Expression", "a page starts with a bare table head"
        if "(continued)" in text:
            assert re.match(r"(Pass for \S+|\(c\) Evaluation trace) \(continued\)", first), first


def test_evaluation_lines_break_before_an_equals_sign(variant):
    """0.197 × 1 = / 0.197 left the result alone on its line; the break goes before "="."""
    text = subprocess.run(["pdftotext", "-layout", str(variant / "s001-key.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert not [line for line in text.splitlines() if line.rstrip().endswith("=")]


def test_scalar_graph_has_a_colour_legend(variant):
    text = subprocess.run(["pdftotext", "-layout", "-l", "1", str(variant / "s001-key.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    legend = text.split("(a) Computational graph")[1]
    assert re.search(r"^ *input +intermediate node +output node *$", legend, re.MULTILINE)


def test_jacobians_align_on_the_decimal_point(variant):
    """A column of 0.141 over 1 was centred: the 1 stood under the 4. Columns are set flush right
    and each number is padded with invisible decimals to its column's most."""
    from derive.render.sheet import decimal_matrix

    assert decimal_matrix([["0.141", "2.898"], ["1", "-2.197"]]) == (
        r"\left[\begin{array}{rr} 0.141 & 2.898 \\ 1\phantom{.000} & -2.197 \end{array}\right]")
    tex = (variant / "s001-key.tex").read_text()
    answers = re.findall(r"\\begin\{array\}\{(r+)\} (.*?) \\end\{array\}", tex)
    assert len(answers) == 2  # forward and reverse
    for columns, body in answers:
        rows = [row.split(" & ") for row in body.split(r" \\ ")]
        for c in range(len(columns)):
            shown = [re.sub(r"\\phantom\{(.*?)\}", r"\1", row[c]) for row in rows]
            assert len({len(cell.split(".")[1]) if "." in cell else 0 for cell in shown}) == 1, shown


# -- no nearly empty last page ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def closing_pdfs(tmp_path_factory):
    out = tmp_path_factory.mktemp("closing")
    for name in ("problem2", "attention", "baydin"):
        result = runner.invoke(app, ["report", name, "--pdf", "-o", str(out)])
        assert result.exit_code == 0, result.output
    return out


def body_lines(text: str) -> list[str]:
    """A page's lines of text without its footer (the last line: id, page number, key mark)."""
    return [line for line in text.splitlines() if line.strip()][:-1]


@pytest.mark.parametrize("sheet", ["problem2", "attention", "baydin", "mlp_batch", "problem1-key", "own"])
def test_no_sheet_ends_with_a_page_holding_only_its_verification(closing_pdfs, matrix_pdfs, variant, own_pdf, sheet):
    """problem2, mlp_batch and attention ended with a page holding only "Verification", baydin with its
    three sentences, a problem of five inputs with its answer and verification: the gradients (matrix)
    or the last rows of the last table (scalar) go with them."""
    pdf = {"mlp_batch": matrix_pdfs / "mlp_batch.pdf", "problem1-key": variant / "s001-key.pdf",
           "own": own_pdf}.get(sheet, closing_pdfs / f"{sheet}.pdf")
    last = body_lines(pages(pdf)[-1])
    assert not last[0].startswith(("Verification", "Answer")), last[:3]
    assert len(last) >= 12, last
    if sheet in ("baydin", "own", "problem1-key"):
        assert re.match(r"(Pass for \S+ \(continued\)|\(e\))", last[0]), last[0]  # rows of the last table come too


# -- a scalar problem of one's own: λ, α, x, φ and a quotient -------------------------------------------
OWN = """
title = "A penalised quotient"
statement = "With weight lambda and rate α, differentiate at input x and bias h0."
[inputs]
"λ" = 2
alpha = 0.5
x = 1
h0 = 3
"φ" = 1
[outputs]
y1 = "-λ + alpha*x/(h0 + x) + sin(φ)"
y2 = "λ*alpha - x*h0"
"""


@pytest.fixture(scope="module")
def own_pdf(tmp_path_factory):
    out = tmp_path_factory.mktemp("own")
    (out / "own.toml").write_text(OWN, encoding="utf-8")
    result = runner.invoke(app, ["report", str(out / "own.toml"), "--pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out / "own.pdf"


def test_phi_reads_back_as_phi(own_pdf):
    """\\phi is the straight ϕ (U+03D5); the φ a user types is \\varphi."""
    text = "".join(pages(own_pdf))
    assert "φ" in text and "ϕ" not in text


def test_a_wrapped_line_after_a_fraction_keeps_its_room(own_pdf):
    """The quotient rule's line 1/v7 × 0 − v6/v7² × 0 wraps before "= 0.250 × 0 − …": the second line
    touched the denominator v7² (their boxes overlapped by 0.7pt). A full-size word never starts above
    the bottom of a fraction's part (a smaller word) over it."""
    touching = []
    for number, page in enumerate(words(own_pdf), 1):
        full = [w for w in page if w[3] - w[1] >= 9.0 and not w[4].startswith(tuple("√()[]{}∑"))]
        for b in full:
            for a in page:
                if a[3] - a[1] < 9.0 and a[1] < b[1] - 3 and min(a[2], b[2]) - max(a[0], b[0]) > 1 and a[3] > b[1]:
                    touching.append((number, a[4], b[4], round(b[1] - a[3], 2)))
    assert not touching
    assert "Quotient Rule" in "".join(pages(own_pdf))  # the case is there
