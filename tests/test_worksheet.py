"""Blank worksheets out, filled worksheets back in: the round trip."""

import csv
import json
import re

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.grading.grade import Expectations, grade
from derive.grading.worksheet import read_answers

runner = CliRunner()


def fill(markdown: str, values: dict) -> str:
    """Fill the Value column of every table row, as a student would."""
    out, part, pass_ = [], None, None
    for line in markdown.splitlines():
        marker = re.search(r"part=(\w+)(?: pass=(\S*))?", line) if "<!-- derive:" in line else None
        if marker:
            part, pass_ = marker.group(1), marker.group(2) or ""
        cells = line.split("|")
        if part and line.startswith("| v"):
            node = cells[1].strip()
            cells[-3] = f" {values[(part, pass_, node)]} "
            line = "|".join(cells)
        out.append(line)
    return "\n".join(out) + "\n"


def test_blank_markdown_filled_with_the_key_checks_all_correct(tmp_path, problem1):
    result = runner.invoke(app, ["report", "problem1", "--blank", "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 0 and result.stdout.strip().endswith("problem1-blank.md")
    blank = (tmp_path / "problem1-blank.md").read_text()
    expect = Expectations(problem1)
    key = {cell: f"{expect.value(*cell):.3f}" for cell in expect.cells()}
    filled = tmp_path / "filled.md"
    filled.write_text(fill(blank, key))
    assert grade(problem1, read_answers(filled)).all_correct
    assert runner.invoke(app, ["check", "problem1", str(filled)]).exit_code == 0

    planted = dict(key)
    planted[("trace", "", "v8")] = "7.600"          # wrong
    planted[("forward", "x2", "v3")] = "-14.778"    # sign
    planted[("reverse", "y2", "v1")] = ""           # missing
    filled.write_text(fill(blank, planted))
    findings = {(c.part, c.pass_, c.node): (c.verdict, c.slip)
                for c in grade(problem1, read_answers(filled)).cells if c.verdict not in ("correct", "rounding")}
    assert findings == {("trace", "", "v8"): ("wrong", None), ("forward", "x2", "v3"): ("wrong", "sign"),
                        ("reverse", "y2", "v1"): ("missing", None)}


def test_blank_csv_and_pdf(tmp_path):
    assert runner.invoke(app, ["report", "problem1", "--blank", "--format", "csv", "-o", str(tmp_path)]).exit_code == 0
    lines = (tmp_path / "problem1-blank.csv").read_text().splitlines()
    assert lines[0] == "part,pass,node,value,line" and lines[1] == "trace,,v0,," and len(lines) == 61
    result = runner.invoke(app, ["report", "problem1", "--blank", "--pdf", "--keep-log", "--hide", "rules", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    import subprocess

    text = subprocess.run(["pdftotext", str(tmp_path / "problem1-blank.pdf"), "-"], capture_output=True,
                          text=True).stdout
    assert "Draw the computational graph" in text
    for answer in ("7.671", "2.898", "−5.940", "Chain Rule", "Verification"):
        assert answer not in text  # nothing of the key leaks into the worksheet
    assert "Overfull" not in (tmp_path / "problem1-blank.log").read_text(errors="replace")


@pytest.mark.parametrize("problem", ["problem1", "baydin"])
def test_the_key_csv_shows_every_line_as_printed_and_passes_its_own_grader(tmp_path, problem):
    """The key's line column is each row's evaluation exactly as the terminal table prints it,
    and derive check scores the key 100 % (issue 9)."""
    result = runner.invoke(app, ["report", problem, "--format", "csv", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    key = next(tmp_path.glob("*.csv"))
    rows = list(csv.DictReader(key.open(encoding="utf-8")))
    assert all(row["line"] for row in rows)  # was empty
    shown = runner.invoke(app, ["solve", problem], env={"COLUMNS": "400"}).stdout
    for row in rows:
        assert row["line"] in shown, row  # exactly as printed
    checked = runner.invoke(app, ["check", problem, str(key), "--json"])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["score"]["total"] == 1.0
