"""Solution sheets: real PDFs compiled by TeX and read back with pdftotext; Markdown; JSON."""

import json
import os
import shutil
import re
import stat
import subprocess
import sys
import tempfile
import time
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
    result = runner.invoke(app, ["report", "problem1", "--pdf", "--keep-log", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(out / "problem1.tex"), str(out / "problem1.pdf")]
    return out / "problem1.pdf"


def test_spaces_around_operators_in_evaluation_cells_never_shrink_to_nothing(problem1_pdf):
    """A line that nearly filled its cell was set 'v6×1+v0×0' and '[7.389 × 2]+[−5.940 × 2]':
    TeX shrank the spaces around + rather than break. Now a long line breaks after an operator."""
    text = subprocess.run(["pdftotext", "-raw", str(problem1_pdf), "-"], capture_output=True, text=True).stdout
    assert re.findall(r".{6}[\d\])]\+[\[\d(v].{6}", text) == []


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
    assert not good.with_suffix(".log").exists()  # a log is kept only when asked or on failure
    good.write_text("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    with pytest.raises(ReportError, match="Undefined control sequence") as failure:
        compile_pdf(good)
    # The old PDF no longer matches the new .tex: it is removed, and the message says so.
    assert not pdf.exists() and f"removed the old {pdf}" in str(failure.value)
    assert "Undefined control sequence" in good.with_suffix(".log").read_text()  # the log of the failure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.log", "sheet.tex"]  # nothing half-written


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
    result = runner.invoke(app, ["report", str(spec), "--pdf", "--keep-log", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = pdf_text(tmp_path / "three.pdf")
    assert "Overfull" not in (tmp_path / "three.log").read_text(errors="replace")
    assert "Three inputs, two outputs" in text and "A. Student" in text
    assert "Quotient Rule" in text and "Difference Rule" in text
    assert text.count("Pass for") - len(re.findall(r"Pass for \S+ \(continued\)", text)) == 5  # 3 forward, 2 reverse


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
    result = runner.invoke(app, ["report", "problem2", "--pdf", "--keep-log", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Overfull" not in (tmp_path / "problem2.log").read_text(errors="replace")
    text = " ".join(pdf_text(tmp_path / "problem2.pdf").split())
    assert "(a) Computational graph" in text and "(b) Backpropagation equations" in text
    assert "= r + W2⊤ (y − s)" in text  # ĥ, with the seed's slip corrected
    assert "Verification" in text and "pass" in text and "every entry" in text
    md = runner.invoke(app, ["report", "problem2", "--format", "md", "-o", str(tmp_path)])
    assert md.exit_code == 0
    assert r"r + W_{2}^\top \, \left(y - s\right)" in (tmp_path / "problem2.md").read_text()


# -- hostile names, titles and templates; processes (issue 13) ---------------------------------
DERIVE = [sys.executable, "-m", "derive"]
HOSTILE_NAME = "-pdflatex=cd;touch PWNED;.toml"
SMALL = "[inputs]\nx = 1\n[outputs]\ny = 'sin(x)'\n"  # a short sheet: quick to compile


def test_concurrent_reports_of_a_hostile_name_into_one_folder(tmp_path):
    # The file name once reached latexmk as its option -pdflatex=… (a shell command); now TeX
    # compiles sheet.tex in a scratch folder.  Two runs into one folder both leave complete files;
    # TeX's font caches stay out of $HOME; the .log is not kept; files follow the umask.
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / HOSTILE_NAME).write_text(SMALL)
    title = 'x<y>z|w "q" -- a_b ~^ 100%'
    command = [*DERIVE, "report", "--pdf", "-o", "out", "--title", title, "--author", "Alice",
               "--date", "May 2025", "--", HOSTILE_NAME]
    env = {**os.environ, "HOME": str(home)}
    old = os.umask(0o022)
    try:
        runs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
        results = [(run.wait(timeout=240), run.stderr.read()) for run in runs]
    finally:
        os.umask(old)
    assert results == [(0, ""), (0, "")]
    assert not (home / "PWNED").exists() and not (tmp_path / "PWNED").exists()
    assert not list(home.glob(".texlive*"))  # TEXMFVAR is the scratch folder
    out = tmp_path / "out"
    stem = HOSTILE_NAME.removesuffix(".toml")
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.pdf", f"{stem}.tex"]  # no .log, no .part
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in out.iterdir()} == {"0o644"}
    text = " ".join(pdf_text(out / f"{stem}.pdf").split())
    assert title in text and "Alice · May 2025" in text  # T1: no ¡ ¿ — ” ; no \quadMay glue


def test_backticks_greek_cjk_and_newlines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # where `cd;touch PWNED` would land
    name = "a`cd;touch PWNED`b.toml"
    (tmp_path / name).write_text(SMALL)
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (tmp_path / "out").mkdir()
    for planted in ("a`cd;touch PWNED`b.log", ".a`cd;touch PWNED`b.pdf.part"):  # links the old code wrote through
        (tmp_path / "out" / planted).symlink_to(precious)
    result = runner.invoke(app, ["report", name, "--pdf", "-o", "out", "--title", "\nGradients of α·β Σ 中文 😀 Ünïcödé",
                                 "--course", "שלום\u200f", "--author", "Zoë"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "PWNED").exists() and precious.read_text() == "keep me"
    text = " ".join(pdf_text(tmp_path / "out" / "a`cd;touch PWNED`b.pdf").split())
    assert "Gradients of α·β Σ [U+4E2D][U+6587] [U+1F600] Ünïcödé" in text
    assert "[U+05E9]" in text and "Zoë" in text


@pytest.mark.parametrize("template, message", [
    (r"\VAR{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }", "unsafe"),
    (r"\BLOCK{for i in range(10**9)}x\BLOCK{endfor}", "range"),
    (r"\BLOCK{set ns = namespace(s='x')}\BLOCK{for i in range(64)}\BLOCK{set ns.s = ns.s ~ ns.s}\BLOCK{endfor}",
     "MB"),
])
def test_templates_are_sandboxed_and_bounded(tmp_path, monkeypatch, template, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.tex.j2").write_text(template)
    result = runner.invoke(app, ["report", "problem1", "-o", "out", "--template", "t.tex.j2"])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "out" / "problem1.tex").exists()


def test_a_template_that_runs_too_long_or_is_binary(tmp_path, monkeypatch):
    from derive import sandbox

    monkeypatch.setattr(sandbox, "TIME_LIMIT", 1)  # seconds of CPU: the loop needs days
    (tmp_path / "slow.j2").write_text("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}")
    result = runner.invoke(app, ["report", "problem1", "--format", "md", "-o", str(tmp_path),
                                 "--template", str(tmp_path / "slow.j2")])
    assert result.exit_code == 2 and "more than 1 s" in result.stderr
    (tmp_path / "bin.j2").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    result = runner.invoke(app, ["report", "problem1", "-o", str(tmp_path), "--template", str(tmp_path / "bin.j2")])
    assert result.exit_code == 2 and "not UTF-8 text" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_compile_timeout_kills_the_whole_tex_process_group(tmp_path, monkeypatch):
    import derive.report as report

    monkeypatch.setattr(report, "COMPILE_TIMEOUT", 2)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the scratch folder, to find its processes
    tex = tmp_path / "loop.tex"
    tex.write_text("\\documentclass{article}\\begin{document}\\loop\\iftrue\\repeat\\end{document}\n")
    with pytest.raises(ReportError, match="did not finish within 2 s"):
        compile_pdf(tex)
    time.sleep(0.5)
    assert _processes_in(tmp_path) == []  # pdflatex did not outlive latexmk


def _processes_in(folder: Path) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(folder)):
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_escaped_text_closes_control_words_and_breaks_ligatures():
    from derive.render.latex import escape

    out = escape("\nname % $ \" ~ & \\ok -- << >> '' `` ,, !` ?` ^x")
    assert re.findall(r"\\[A-Za-z]+(?![A-Za-z{])", out) == []  # every control word is closed by {}
    for ligature in ("--", "<<", ">>", "''", "``", ",,", "!`", "?`"):
        assert ligature not in out
    assert out.startswith("name ") and "\\newline" not in out  # a leading newline is just space


def test_a_sheet_compiles_from_its_cached_format_to_what_latexmk_makes(tmp_path, monkeypatch):
    """The fast path (precompiled preamble, pdflatex passes as the log asks) gives the very text
    latexmk gives from the same .tex; the format is kept in the cache folder for the next run."""
    from derive.report import compile_pdf

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["report", "problem1", "-o", str(tmp_path / "fast")])
    assert result.exit_code == 0, result.output
    tex = tmp_path / "fast" / "problem1.tex"
    compile_pdf(tex)
    assert list((tmp_path / "cache" / "derive" / "tex").glob("*.fmt"))
    slow = tmp_path / "slow"
    slow.mkdir()
    shutil.copyfile(tex, slow / "sheet.tex")
    subprocess.run(["latexmk", "-pdf", "-silent", "-interaction=nonstopmode", "sheet.tex"], cwd=slow,
                   capture_output=True, check=True)
    text = [subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
            for pdf in (tex.with_suffix(".pdf"), slow / "sheet.pdf")]
    assert text[0] == text[1] and "Jacobian" in text[0]


def test_without_a_usable_format_cache_latexmk_compiles_the_sheet(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    result = CliRunner().invoke(app, ["report", "problem1", "--pdf", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Jacobian" in subprocess.run(["pdftotext", str(tmp_path / "problem1.pdf"), "-"],
                                        capture_output=True, text=True).stdout


def test_catalogue_sheet_typesets_without_overfull_boxes(tmp_path):
    # issue 10: Greek names, fractions 1/B and ⊘ in a batch-norm sheet; sums along an axis as 𝟏ᵀ X (issue 22)
    result = runner.invoke(app, ["report", "layernorm", "--pdf", "--keep-log", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Overfull" not in (tmp_path / "layernorm.log").read_text(errors="replace")
    tex = (tmp_path / "layernorm.tex").read_text()
    assert r"\gamma" in tex and r"\sqrt{v + \varepsilon}" in tex and r"\mathrm{axis}" not in tex and r"{\mathbf{1}^\top}" in tex


def test_the_scalar_sheet_settles_in_one_pass(tmp_path):
    """Every table column, header cells included, has a fixed width: longtable asks for no
    second pass, so the cached-format compile runs pdflatex once."""
    result = CliRunner().invoke(app, ["report", "problem1", "--pdf", "--keep-log", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    log = (tmp_path / "problem1.log").read_text(errors="replace")
    assert "Rerun" not in log and "widths have changed" not in log
