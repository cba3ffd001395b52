"""A simulated class (tests/classsim.py, written without derive's grader) graded by derive:
every error-free student scores 100% with no cell called wrong; every planted slip costs."""

from __future__ import annotations

import random

import pytest

from classsim import Habit, Slip, Student, classroom, fill, to_csv
from derive import api
from derive.batch import grade_file, gradescope


def _sheet(solution, student):
    trace = solution.trace
    point = {name: trace.by_id[node].value for name, node in trace.inputs}
    return fill(trace.nodes, trace.inputs, trace.outputs, point, student)


def _grade(tmp_path, solution, student, rows):
    path = tmp_path / f"{student.id}.csv"
    path.write_bytes(to_csv(rows, student))
    return grade_file(solution, path)


PROBLEMS = ["problem1", "baydin"]


@pytest.fixture(scope="module")
def solved():
    return {name: api.solve(name)._solved for name in PROBLEMS}


@pytest.mark.parametrize("name", PROBLEMS)
def test_every_error_free_student_scores_full_marks(tmp_path, solved, name):
    solution = solved[name]
    lost = []
    for student in classroom(40, seed=hash(name) % 1000):
        submission = _grade(tmp_path, solution, student, _sheet(solution, student))
        result = submission.result
        wrong = [c for c in result.cells if c.verdict not in ("correct", "rounding") or c.credit < 1]
        if wrong or result.score()["total"] < 1:
            lost.append((student.habit, [(c.part, c.pass_, c.node, c.given, c.verdict, c.message) for c in wrong]))
    assert not lost, "\n".join(map(str, lost[:5])) + f"\n{len(lost)} students lost credit"
