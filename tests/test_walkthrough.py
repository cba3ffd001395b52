"""The course walkthrough of docs/grading.md, run as written: roster → variants → blank sheets → three
submissions (right, slips, half empty) → one batch check → grades.csv and a Gradescope
results.json; and the README's run_autograder command.  The submissions are filled from an
independent key (tests/test_batch.py), at each student's point read from the manifest."""

import csv
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derive.cli import app
from test_batch import filled_csv, independent_key, manifest_points

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
runner = CliRunner()


def readme_block(heading: str, language: str = "sh") -> str:
    """The first block of ``language`` after ``heading`` in the README or the docs page that has it."""
    text = next(t for t in (page.read_text(encoding="utf-8") for page in PAGES) if heading in t)
    section = text[text.index(heading):]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def derive(line: str):
    words = shlex.split(line)
    assert words[0] == "derive"
    return runner.invoke(app, words[1:])


def test_the_readme_walkthrough_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    block = readme_block("## A course, end to end")
    heredoc = re.search(r"cat > (\S+) <<'(\w+)'\n(.*?)\n\2\n", block, re.S)
    Path(heredoc.group(1)).write_text(heredoc.group(3) + "\n")
    commands = [line for line in block.splitlines() if line.startswith("derive ")]
    assert [c.split()[1] for c in commands] == ["variants", "check", "check"]

    result = derive(commands[0] + " --no-pdf --workers 1")  # one PDF compiled below, not six; no pool
    assert result.exit_code == 0, result.output
    sheets = tmp_path / "sheets"
    from derive.report import compile_pdf

    text = subprocess.run(["pdftotext", str(compile_pdf(sheets / "ada-blank.tex")), "-"], capture_output=True,
                          text=True).stdout
    assert "Student: ada" in text and "7.671" not in text

    points = manifest_points(sheets / "manifest.csv")
    assert points == {"ada": (2, -1), "grace": (1, -1), "alan": (2.5, 2)}  # as the README says
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "ada.csv").write_text(filled_csv(independent_key(*points["ada"]), "ada"))
    grace = independent_key(*points["grace"])
    import math

    assert f"{math.sin(math.radians(3)):.3f}" == "0.052"
    (submissions / "grace.csv").write_text(filled_csv(grace, "grace", {
        ("trace", "", "v6"): "0.052", ("forward", "x2", "v6"): f"{-grace[('forward', 'x2', 'v6')]:.3f}"}))
    (submissions / "alan.csv").write_text(filled_csv(independent_key(*points["alan"]), "alan", drop=30))

    result = derive(commands[1])
    assert result.exit_code == 0, result.output
    for row in ("ada     100.0   100.0     100.0     100.0", "alan     58.3   100.0      75.0       0.0",
                "grace    95.8    91.7      95.8     100.0"):
        assert row in result.stdout  # the README's table
    grades = list(csv.reader(Path("grades.csv").open()))
    assert grades == [["id", "total", "trace", "forward", "reverse", "needs_review", "file"],
                      ["ada", "100.0", "100.0", "100.0", "100.0", "0", "submissions/ada.csv"],
                      ["alan", "58.3", "100.0", "75.0", "0.0", "0", "submissions/alan.csv"],
                      ["grace", "95.8", "91.7", "95.8", "100.0", "0", "submissions/grace.csv"]]

    result = derive(commands[2])
    assert result.exit_code == 1  # one file: today's exit codes
    assert "degrees" in result.stdout and "sign" in result.stdout
    results = json.loads(Path("results.json").read_text())
    assert results["score"] == pytest.approx(100 * (11 / 12 + 23 / 24 + 1) / 3, abs=0.01) == 95.83
    assert [t["name"] for t in results["tests"]] == ["trace", "forward", "reverse"]

    # the README's run_autograder, with Gradescope's folders moved under tmp_path
    script = readme_block("**Gradescope.**")
    line = re.search(r"^derive check .*?(?<!\\)$", script.replace("\\\n", " "), re.M).group(0)
    autograder = tmp_path / "autograder"
    (autograder / "submission").mkdir(parents=True)
    (autograder / "source").mkdir()
    shutil.copy(submissions / "grace.csv", autograder / "submission" / "grace.csv")
    shutil.copy(sheets / "manifest.csv", autograder / "source" / "manifest.csv")
    monkeypatch.chdir(autograder / "source")
    result = derive(line.replace("/autograder", str(autograder)))
    assert result.exit_code == 0, result.output
    assert json.loads((autograder / "results" / "results.json").read_text()) == results
