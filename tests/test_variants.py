"""Per-student variants: distinct, reproducible, inside every function's domain."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from typer.testing import CliRunner

from derive.cli import app
from derive.errors import ProblemError
from derive.problems import load_problem, problem_from_toml
from derive.variants import draw_variants

runner = CliRunner()


def test_thirty_distinct_reproducible_variants(tmp_path):
    first = draw_variants(load_problem("problem1"), 30, seed=1)
    again = draw_variants(load_problem("problem1"), 30, seed=1)
    other = draw_variants(load_problem("problem1"), 30, seed=2)
    assert [v.values for v in first] == [v.values for v in again]
    assert len({v.point for v in first}) == 30
    assert [v.point for v in first] != [v.point for v in other]


def test_points_leaving_the_domain_are_drawn_again():
    problem = problem_from_toml("[inputs]\nx = 1\n[outputs]\ny = 'log(x) + sqrt(x)'\n[variants]\nx = [-3, 3]\n", "p")
    variants = draw_variants(problem, 3, seed=5)
    assert all(v.values["x"] > 0 for v in variants)


def test_constants_vary_too():
    problem = problem_from_toml("[inputs]\nx = 1\n[constants]\na = 2\n[outputs]\ny = 'a*sin(x)'\n"
                                "[variants]\na = [1, 9]\nx = [0.5, 1.5, 0.5]\n", "p")
    variants = draw_variants(problem, 5, seed=3)
    assert {"a", "x"} == set(variants[0].values) and len({v.point for v in variants}) == 5


def test_cli_writes_sheets_keys_and_manifest(tmp_path):
    result = runner.invoke(app, ["variants", "problem1", "--count", "30", "--seed", "1", "--no-pdf",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    assert [r["id"] for r in rows] == [f"s{i:03d}" for i in range(1, 31)]
    assert len({(r["x1"], r["x2"]) for r in rows}) == 30
    keys = {(tmp_path / f"s{i:03d}-key.md").read_text().split("## (a)")[1] for i in range(1, 31)}
    assert len(keys) == 30  # thirty different keys
    assert (tmp_path / "s030-blank.tex").exists() and (tmp_path / "s030-blank.csv").exists()
    result = runner.invoke(app, ["variants", "problem1", "--count", "2", "--seed", "1", "-o", str(tmp_path / "pdf")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "pdf").glob("*.pdf")) == [
        "s001-blank.pdf", "s001-key.pdf", "s002-blank.pdf", "s002-key.pdf"]
    assert (tmp_path / "manifest.csv").read_text().splitlines()[1:3] == \
        (tmp_path / "pdf" / "manifest.csv").read_text().splitlines()[1:3]  # same seed, same first students


# -- ranges drawn by index, validated (issue 13) -----------------------------------------------
def test_a_huge_grid_is_drawn_without_building_it():
    problem = problem_from_toml("[inputs]\nx = 1\n[outputs]\ny = 'x*x'\n[variants]\nx = [0, 1000, 1e-12]\n", "p")
    variants = draw_variants(problem, 3, seed=0)  # 10^15 points: the old code built the list (killed)
    assert len({v.point for v in variants}) == 3 and all(0 <= v.values["x"] <= 1000 for v in variants)


@pytest.mark.parametrize("spec, message", [
    ("[0, 2, 0]", "step must be positive"), ("[0, 2, -1]", "step must be positive"),
    ("[1e307, 1.7e308]", "within"), ("[0, inf]", "finite"),
])
def test_bad_ranges_name_the_key(spec, message):
    problem = problem_from_toml(f"[inputs]\nx = 1\n[outputs]\ny = 'x*x'\n[variants]\nx = {spec}\n", "p")
    with pytest.raises(ProblemError, match=rf"variants\.x = .*{message}"):
        draw_variants(problem, 2, seed=0)


# -- interrupted runs (issue 13) ----------------------------------------------------------------
def _start(out, count):
    command = [sys.executable, "-m", "derive", "variants", "problem1", "--count", str(count), "--workers", "1",
               "--no-pdf", "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "s001-key.md").exists() and time.time() < deadline:
        time.sleep(0.05)
    return process


def _descendants(pid: int) -> list[int]:
    children = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == pid:
            children.append(int(entry))
    return children + [d for c in children for d in _descendants(c)]


def test_ctrl_c_writes_the_manifest_of_the_students_finished(tmp_path):
    process = _start(tmp_path, 40)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted: wrote" in err, err
    assert len(err.strip().splitlines()) == 1, err
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    assert 1 <= len(rows) < 40
    written = {p.name.split("-")[0] for p in tmp_path.glob("s*-key.md")}
    assert {r["id"] for r in rows} == written  # the manifest lists exactly the students written


def test_kill_9_leaves_no_worker_running(tmp_path):
    process = _start(tmp_path, 40)
    workers = _descendants(process.pid)
    assert workers
    process.kill()
    process.wait()
    deadline = time.time() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}")
             and open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert alive == []
    for sheet in tmp_path.glob("s*-key.md"):  # every visible file is whole
        assert "## (e)" in sheet.read_text()


def test_a_sheet_that_cannot_be_written_leaves_a_manifest_of_the_others(tmp_path):
    (tmp_path / "precious").write_text("keep me")
    (tmp_path / "s002-blank.md").symlink_to(tmp_path / "precious")
    result = runner.invoke(app, ["variants", "problem1", "--count", "3", "--no-pdf", "--workers", "2",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 2 and "it is a symbolic link; wrote 2 of 3 students" in result.stderr
    assert [r["id"] for r in csv.DictReader((tmp_path / "manifest.csv").open())] == ["s001", "s003"]
    assert (tmp_path / "precious").read_text() == "keep me"
