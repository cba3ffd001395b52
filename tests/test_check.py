"""derive check as a library call (derive/grading/check.py), without the CLI: what it grades,
the exit code it means, the files it writes, and what it asks the caller to print.  The filled
worksheets come from test_batch's independent key of Problem 1 (SymPy diff), not derive's key."""

import pytest

from derive.errors import ProblemError
from derive.grading.check import CheckRequest, check
from test_batch import filled_csv, independent_key


def _solve_at(problem):
    raise AssertionError("no variant point without a manifest")


def test_one_file_and_a_class_graded_by_one_call(tmp_path, builtin):
    solution = builtin("problem1")._solved
    key = independent_key(float(solution.problem.inputs["x1"]), float(solution.problem.inputs["x2"]))
    right, wrong = tmp_path / "class" / "right.csv", tmp_path / "class" / "wrong.csv"
    right.parent.mkdir()
    right.write_text(filled_csv(key, None))
    wrong.write_text(filled_csv(key, None, change={("trace", "", "v2"): "9.999"}))
    notes, steps = [], []

    one = check(CheckRequest("problem1", (right,), csv=tmp_path / "one.csv"), lambda: solution, _solve_at,
                note=notes.append)
    assert (one.batch, one.exit_code) == (False, 0) and one.report.submissions[0].result.all_correct
    assert (tmp_path / "one.csv").read_text().splitlines()[1].split(",")[1] == "100.0"
    assert check(CheckRequest("problem1", (wrong,)), lambda: solution, _solve_at).exit_code == 1

    class Bar:  # the caller's progress bar: told the total, advanced once per file
        def __init__(self, label, total):
            steps.append((label, total))

        def __enter__(self):
            return lambda: steps.append("step")

        def __exit__(self, *exc):
            return False

    batch = check(CheckRequest("problem1", (right.parent,)), lambda: solution, _solve_at, progress=Bar,
                  note=notes.append)
    assert (batch.batch, batch.exit_code) == (True, 0)  # a class: graded, whatever the scores
    assert sorted(s.total == 1.0 for s in batch.report.submissions) == [False, True]
    assert steps == [("grading", 2), "step", "step"] and notes == []


def test_an_output_naming_a_graded_file_is_refused_before_anything_is_solved(tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("part,pass,node,value,line\n")

    def solve():
        raise AssertionError("solved before the refusal")

    with pytest.raises(ProblemError, match="--csv .* names a graded file, which would be overwritten"):
        check(CheckRequest("problem1", (sheet,), csv=sheet), solve, _solve_at)
    assert sheet.read_text() == "part,pass,node,value,line\n"


@pytest.mark.parametrize("option", ["csv", "canvas", "moodle", "gradescope"])
def test_an_output_naming_any_file_of_a_graded_folder_is_refused(tmp_path, option):
    """`derive check problem1 ans --csv ans/a1.csv` overwrote a1.csv, a student's worksheet: the
    graded files were kept in a dict under one key, so only the last file of the folder was
    protected."""
    folder = tmp_path / "ans"
    folder.mkdir()
    sheets = [folder / f"a{k}.csv" for k in range(1, 4)]
    for sheet in sheets:
        sheet.write_text(f"part,pass,node,value,line\n{sheet.stem}\n")
    for victim in sheets:
        with pytest.raises(ProblemError, match=f"--{option} .* names a graded file, which would be overwritten"):
            check(CheckRequest("problem1", (folder,), **{option: victim}), lambda: None, _solve_at)
    assert [s.read_text() for s in sheets] == [f"part,pass,node,value,line\n{s.stem}\n" for s in sheets]
