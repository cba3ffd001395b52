"""Per-student variants: distinct, reproducible, inside every function's domain."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import sympy

from typer.testing import CliRunner

from derive.cli import app
from derive.errors import ProblemError
from derive.problems import load_problem, problem_from_toml
from derive.grading.variants import draw_variants

runner = CliRunner()


def test_thirty_distinct_reproducible_variants(tmp_path):
    first = draw_variants(load_problem("problem1"), 30, seed=1)
    again = draw_variants(load_problem("problem1"), 30, seed=1)
    other = draw_variants(load_problem("problem1"), 30, seed=2)
    assert [v.values for v in first] == [v.values for v in again]
    assert len({v.point for v in first}) > 15  # drawn independently: a grid of ~64 points may repeat some
    assert [v.point for v in first] != [v.point for v in other]
    wide = problem_from_toml("[inputs]\nx = 1\ny = 1\n[outputs]\nz = 'x*y'\n[variants]\nx = [1, 1000]\n"
                             "y = [1, 1000]\n", "p")
    assert len({v.point for v in draw_variants(wide, 30, seed=1)}) == 30


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
    result = runner.invoke(app, ["variants", "problem1", "--count", "30", "--seed", "1", "--no-pdf", "--workers", "1",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    assert [r["id"] for r in rows] == [f"s{i:03d}" for i in range(1, 31)]
    points = {(r["x1"], r["x2"]) for r in rows}
    keys = {(tmp_path / f"s{i:03d}-key.md").read_text().split("## (a)")[1] for i in range(1, 31)}
    assert len(keys) == len(points) > 15  # one key per point
    assert (tmp_path / "s030-blank.tex").exists() and (tmp_path / "s030-blank.csv").exists()
    result = runner.invoke(app, ["variants", "problem1", "--count", "2", "--seed", "1", "--workers", "1", "-o",
                                 str(tmp_path / "pdf")])
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
def _start(out, count, workers=1):
    command = [sys.executable, "-m", "derive", "variants", "problem1", "--count", str(count), "--workers", str(workers),
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


def test_ctrl_c_writes_the_manifest_of_the_students_finished(tmp_path, workers=1):
    process = _start(tmp_path, 40, workers)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted: wrote" in err, err
    assert len(err.strip().splitlines()) == 1, err
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    assert 1 <= len(rows) < 40
    written = {p.name.split("-")[0] for p in tmp_path.glob("s*-key.md")}
    assert {r["id"] for r in rows} == written  # the manifest lists exactly the students written


@pytest.mark.parametrize("workers", [1, 2])  # one worker: sheets written in the process itself
def test_ctrl_c_with_workers_writes_the_manifest_of_the_students_finished(tmp_path, workers):
    test_ctrl_c_writes_the_manifest_of_the_students_finished(tmp_path, workers)


def test_kill_9_leaves_no_worker_running(tmp_path):
    process = _start(tmp_path, 40, workers=2)
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


def test_a_script_without_a_main_guard_is_told_how_to_call_write_variants(tmp_path):
    """Spawned workers import the calling script again; unguarded, they die at start. The run
    ends with one clear error naming the fix; workers=1 writes the sheets in the process itself."""
    script = tmp_path / "script.py"
    script.write_text("import sys\nfrom derive.grading.variants import write_variants\n"
                      "print(write_variants('problem1', 2, 0, sys.argv[1], pdf=False, workers=int(sys.argv[2])))\n")
    broken = subprocess.run([sys.executable, str(script), str(tmp_path / "a"), "2"], capture_output=True,
                            text=True, timeout=120)
    assert broken.returncode != 0 and "if __name__ == '__main__':" in broken.stderr
    assert "BrokenProcessPool" not in broken.stderr.splitlines()[-1]
    fine = subprocess.run([sys.executable, str(script), str(tmp_path / "b"), "1"], capture_output=True,
                          text=True, timeout=120)
    assert fine.returncode == 0, fine.stderr
    assert len(list((tmp_path / "b").glob("s00*-key.md"))) == 2


def test_sigterm_to_the_process_group_ends_like_ctrl_c_and_leaves_no_scratch(tmp_path):
    """SIGTERM sent to the whole group (as a job scheduler does) once killed the workers mid-compile:
    BrokenProcessPool, exit 3, derive-tex-* folders left in TMPDIR. Workers now leave the decision
    to the parent: exit 130, one line, the manifest of what was written, nothing left behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "derive", "variants", "problem1", "--count", "30", "--workers",
                                "2", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True,
                               env={**os.environ, "TMPDIR": str(scratch), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    deadline = time.time() + 120
    while not (out / "s001-key.pdf").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "interrupted: wrote" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert list(scratch.glob("derive-*")) == []
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert {r["id"] for r in rows} == {p.name.split("-")[0] for p in out.glob("s*-key.pdf")}


def test_a_syntax_error_in_the_problem_is_said_by_variants_too(tmp_path):
    """variants said "could not draw 2 distinct variants" for a file with a syntax error: draws
    retried every error, not only points outside a domain."""
    bad = tmp_path / "syn.toml"
    bad.write_text('[inputs]\nx = 1\n[outputs]\ny = "exp(2*x"\n')
    result = CliRunner().invoke(app, ["variants", str(bad), "--count", "2", "--no-pdf", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "was never closed" in result.stderr and str(bad) in result.stderr


# -- stable points, manifests that never disagree with the sheets (issues 18, 19) ---------------
def _manifest_rows(folder):
    return {r["id"]: (r["seed"], r["x1"], r["x2"]) for r in csv.DictReader((folder / "manifest.csv").open())}


def _roster(path, ids):
    path.write_text("id\n" + "\n".join(ids) + "\n")
    return path


def test_a_students_point_depends_on_seed_problem_and_id_only(tmp_path):
    """Adding, removing or reordering students once moved everyone after them (points were drawn by
    position in the roster)."""
    problem = load_problem("problem1")
    before = {v.student: v.values for v in draw_variants(problem, 3, 7, ids=["ada", "bob", "cy"])}
    after = draw_variants(problem, 4, 7, ids=["zed", "cy", "ada", "eve"])  # bob left, two joined, new order
    assert after[1].values == before[3] and after[2].values == before[1]
    for name, ids in (("first", ["ada", "bob", "cy"]), ("second", ["zed", "cy", "ada"])):
        result = runner.invoke(app, ["variants", "problem1", "--roster", str(_roster(tmp_path / f"{name}.csv", ids)),
                                     "--seed", "7", "--no-pdf", "--workers", "1", "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.stderr
    first, second = _manifest_rows(tmp_path / "first"), _manifest_rows(tmp_path / "second")
    assert first["ada"] == second["ada"] and first["cy"] == second["cy"]


def test_a_manifest_with_other_points_is_never_overwritten(tmp_path):
    assert runner.invoke(app, ["variants", "problem1", "--count", "2", "--seed", "1", "--no-pdf", "--workers", "1",
                               "-o", str(tmp_path)]).exit_code == 0
    manifest, sheet = (tmp_path / "manifest.csv").read_text(), (tmp_path / "s001-key.md").read_text()
    result = runner.invoke(app, ["variants", "problem1", "--count", "2", "--seed", "2", "--no-pdf", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "other points" in result.stderr and len(result.stderr.splitlines()) == 1
    assert (tmp_path / "manifest.csv").read_text() == manifest and (tmp_path / "s001-key.md").read_text() == sheet


def test_a_second_run_that_agrees_keeps_the_first_runs_students(tmp_path):
    ids = ["ada", "bob"]
    for roster in (ids, ["cy", "ada"]):
        result = runner.invoke(app, ["variants", "problem1", "--roster", str(_roster(tmp_path / "r.csv", roster)),
                                     "--seed", "3", "--no-pdf", "--workers", "1", "-o", str(tmp_path / "out")])
        assert result.exit_code == 0, result.stderr
    rows = _manifest_rows(tmp_path / "out")
    assert set(rows) == {"ada", "bob", "cy"} == {p.name.split("-")[0] for p in (tmp_path / "out").glob("*-key.md")}


def test_a_concurrent_run_into_the_same_folder_is_refused(tmp_path):
    import fcntl

    with open(tmp_path / ".derive-variants.lock", "w") as held:  # another run holds the folder
        fcntl.flock(held, fcntl.LOCK_EX)
        result = runner.invoke(app, ["variants", "problem1", "--count", "2", "--no-pdf", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "another derive variants run" in result.stderr
    assert not (tmp_path / "manifest.csv").exists()


def test_the_manifest_lists_a_student_before_their_sheet_exists(tmp_path, monkeypatch):
    import derive.grading.variants as variants

    seen = []

    def build(spec, variant, out_dir, pdf, options):
        seen.append(options.student in _manifest_rows(tmp_path))
        if len(seen) == 2:
            raise ProblemError("planted failure")
        (tmp_path / f"{options.student}-key.md").write_text("sheet")
        return []

    monkeypatch.setattr(variants, "_build_sheets", build)
    with pytest.raises(ProblemError, match="wrote 1 of 3"):
        variants.write_variants("problem1", 3, 0, tmp_path, pdf=False, workers=1)
    assert seen == [True, True]
    assert set(_manifest_rows(tmp_path)) == {"s001"}  # rolled back to the sheets written


@pytest.mark.parametrize("students, message", [
    (["../../x"], "not a valid student id"), (["Ada", "ada"], "one file on macOS and Windows"),
])
def test_library_ids_are_checked_like_the_clis(tmp_path, students, message):
    from derive.grading.roster import Student
    from derive.grading.variants import write_variants

    out = tmp_path / "a" / "b"
    with pytest.raises(ProblemError, match=message):
        write_variants("problem1", len(students), 0, out, pdf=False, workers=1, students=[Student(s) for s in students])
    assert not any(tmp_path.rglob("*.md"))


def test_sighup_ends_like_ctrl_c(tmp_path):
    process = _start(tmp_path, 40)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGHUP)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted: wrote" in err, err
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    assert {r["id"] for r in rows} == {p.name.split("-")[0] for p in tmp_path.glob("s*-key.md")}


def test_a_variants_point_drawn_in_decimal_steps_prints_as_decimals(tmp_path):
    """A range typed [-1, 2, 0.5] drew x1 = 5/2 and the student's sheet printed 5/2 (and −1/2) where
    the problem file writes decimals; the values a key computes with stay exact."""
    from derive.grading import variants

    problem = tmp_path / "p.toml"
    problem.write_text('[inputs]\nx1 = 0.5\nx2 = 1\n[outputs]\ny = "x1 * x2 + x1"\n'
                       '[variants]\nx1 = [-1.5, 1.5, 0.5]\nx2 = [1, 3]\n')
    written = variants.write_variants(str(problem), 6, 0, tmp_path / "out", pdf=False, workers=1)
    manifest = list(csv.DictReader(open(tmp_path / "out" / "manifest.csv")))
    halves = 0
    for row in manifest:
        text = (tmp_path / "out" / f"{row['id']}-key.md").read_text()
        assert "/2" not in text.split("## (a)")[0]  # the statement's point: no fraction of a half
        if "/" in row["x1"]:
            halves += 1
            assert f"({float(sympy.Rational(row['x1']))}, {row['x2']})" in text, row
    assert written and halves  # some student drew a half
