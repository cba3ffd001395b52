"""One-line assertions for a course's autograder (pytest or plain Python).

    from derive.testing import assert_worksheet, assert_matrix_answers

    def test_problem1():
        assert_worksheet("problem1", "submission.csv")          # CSV or the --blank Markdown

    def test_problem2():
        assert_matrix_answers("problem2", "answers.toml")

A failure raises AssertionError whose message lists each wrong cell with what was expected.
"""

from __future__ import annotations

from pathlib import Path

from . import api
from .grading.grade import RIGHT, Grade


def grade_worksheet(problem: str, answers: str | Path, manifest: str | Path | None = None,
                    **solve_options) -> Grade:
    """The full grade of a filled worksheet (verdicts per cell, scores), under the problem file's
    [grading] policy; with ``manifest`` at the point of the student id written on the sheet."""
    from .grading.batch import grade_file
    from .grading.grade import Policy
    from .grading.roster import read_manifest
    from .scalar.solve import solve_scalar

    solution = api.solve(problem, **solve_options)._solved
    entries = read_manifest(manifest, solution.problem) if manifest else None
    return grade_file(solution, Path(answers), entries, solve_scalar, weights=solution.problem.grading,
                      policy=Policy(**solution.problem.policy)).result


def assert_worksheet(problem: str, answers: str | Path, minimum: float = 1.0, manifest: str | Path | None = None,
                     **solve_options) -> Grade:
    """Assert that a worksheet scores at least ``minimum`` (1.0: every cell right).  The failure
    lists each cell to look at: what the student wrote, and the value expected."""
    __tracebackhide__ = True  # pytest shows the student's cells, not derive's source
    result = grade_worksheet(problem, answers, manifest, **solve_options)
    score = result.score()["total"]
    if score < minimum - 1e-12:
        wrong = [c for c in result.cells if c.verdict not in RIGHT or c.credit < 1]
        lines = [f"{Path(answers).name}: score {score:.1%} < {minimum:.1%}; {len(wrong)} cell(s) to look at:"]
        lines += [f"  {c.part} {c.pass_ or '-'} {c.node}: {c.verdict}{f' ({c.slip})' if c.slip else ''}, "
                  f"given {c.given or '(nothing)'}, expected {_number(c.expected)}; {c.message}" for c in wrong]
        raise AssertionError("\n".join(lines))
    return result


def assert_matrix_answers(problem: str, answers: str | Path, **solve_options):
    """Assert that every typed adjoint and gradient is right by meaning."""
    __tracebackhide__ = True
    from .grading.answers import check_answers

    solution = api.solve(problem, **solve_options)._solved
    result = check_answers(solution, answers)
    if not result.all_correct:
        lines = [f"{Path(answers).name}: {result.score()['correct']}/{result.score()['possible']} right:"]
        lines += [f"  {i.part}.{i.name}: {i.verdict}: {i.given or '(nothing)'}, expected {i.expected}; {i.message}"
                  for i in result.items if i.verdict != "correct"]
        raise AssertionError("\n".join(lines))
    return result


def _number(x: float) -> str:
    return f"{x:.3f}".replace("-", "−")
