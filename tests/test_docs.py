"""Every example of the README and of docs/ runs as written: each `$ derive …` line of a console
block is run (in-process, at the width the examples were printed at) and every line the page
shows of its output is in what derive prints.  A line with … or ... stands for what was left out;
a block marked <!-- run by tests/X.py --> is a later step of a walkthrough that test runs."""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derive.cli import app

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _examples():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for marker, block in re.findall(r"(<!-- run by [^>]*-->\n)?```console\n(.*?)```", text, re.S):
            if marker:  # a walkthrough's later step, run by the test the marker names
                continue
            command, shown = None, []
            for line in block.splitlines() + ["$ "]:
                if line.startswith("$ "):
                    if command:
                        yield pytest.param(command, shown, id=f"{page.name}: {command[:60]}")
                    command, shown = line[2:].strip(), []
                elif command:
                    shown.append(line)


def _flat(text: str) -> str:
    """Whitespace collapsed and Unicode composed (Ē typed as one character or as E and a macron)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


@pytest.mark.parametrize("command, shown", list(_examples()))
def test_a_documented_example_prints_what_the_page_shows(command, shown, monkeypatch):
    monkeypatch.chdir(ROOT)
    words = shlex.split(command)
    width = "110"
    if words[0].startswith("COLUMNS="):
        width = words.pop(0).split("=", 1)[1]
    assert words[0] == "derive", command
    result = CliRunner().invoke(app, words[1:], env={"COLUMNS": width, "TERM": "dumb"}, catch_exceptions=False)
    printed = _flat(result.stdout + result.stderr)
    for line in shown:
        if not line.strip() or "…" in line or "..." in line:
            continue
        assert _flat(line) in printed, f"{command}: the page shows\n{line}\nbut derive prints\n{result.output}"
