"""``derive check`` as one library call: filled worksheets graded (one file, a class, or one
Gradescope submission), then the grades, gradebook imports and item analysis written.

The command gathers its options into a :class:`CheckRequest`, calls :func:`check` and prints the
:class:`Checked` it gets back; everything between (which files, at which points, with which
decisions and policy, written where) is here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProblemError, one_line
from .batch import ClassReport, collect, grade_class, grade_file
from .gradebooks import write_gradebooks
from .gradescope import DEFAULT_FEEDBACK, grade_for_gradescope, results_on_failure


@dataclass(frozen=True)
class CheckRequest:
    """What ``derive check`` was asked: the files to grade, the files to write, and the policy."""

    problem: str
    answers: tuple[Path, ...]
    csv: Path | None = None
    gradescope: Path | None = None
    feedback: str = DEFAULT_FEEDBACK  # what the student sees in results.json (gradescope.FEEDBACK)
    visibility: str = "visible"
    answers_after_due_date: bool = False
    submission_metadata: Path | None = None
    canvas: Path | None = None
    moodle: Path | None = None
    assignment: str | None = None  # the gradebook column (default: the problem's title)
    manifest: Path | None = None
    roster: Path | None = None
    overrides: Path | None = None
    tolerance: float | None = None
    weights: tuple[str, ...] = ()  # part=number
    require_lines: bool | None = None
    decimal_comma: bool | None = None
    stats: Path | None = None

    @property
    def batch(self) -> bool:
        """Many files or a folder: one report for the class (else one file, judged on its own)."""
        return len(self.answers) > 1 or any(path.is_dir() for path in self.answers)


@dataclass
class Checked:
    """What was graded, and the exit code it means: one file, 0 when everything is right and 1
    otherwise; a class, 0 when every file was graded (whatever the scores) and 2 when one could
    not be."""

    solution: object
    report: ClassReport
    batch: bool
    exit_code: int


def check(request: CheckRequest, solve: Callable[[], object], solve_at: Callable,
          progress: Callable | None = None, note: Callable[[str], None] = lambda text: None) -> Checked:
    """Grade what ``request`` names and write what it asks for.  ``solve()`` solves the problem
    (the caller's limits); ``solve_at(problem)`` solves a variant's point; ``progress(label,
    total)`` is a context manager giving a callable to advance; ``note`` tells the person something
    on the side (provisional grades left out of a gradebook).  Raises DeriveError on bad input."""
    refuse_overwriting(request)
    with results_on_failure(request.gradescope, request.answers):
        solution = solve()
        entries, students, decisions = _inputs(request, solution)
        options = grading_options(solution, request.tolerance, request.weights, request.require_lines,
                                  request.decimal_comma)
    exclude = tuple(p for p in (request.manifest, request.roster, request.overrides) if p)
    roster = {s.id: s for s in students or []}
    assignment = request.assignment or solution.problem.title or solution.problem.name
    if request.gradescope:
        submission = grade_for_gradescope(solution, request, entries, solve_at, students, decisions, exclude,
                                          **options)
        report = ClassReport(solution.problem.name, [submission], roster)
        write_gradebooks(report, request.csv, request.canvas, request.moodle, assignment, note)
        if submission.result is None:
            raise ProblemError(one_line(" ".join(submission.error.split())))
        one_file = len(request.answers) == 1 and not request.answers[0].is_dir()  # a folder: graded as a batch
        return Checked(solution, report, False, int(one_file and not submission.result.all_correct))
    if request.batch:
        with (progress or (lambda *_: nullcontext()))("grading", len(collect(request.answers))) as advance:
            report = grade_class(solution, request.answers, entries, solve_at, progress=advance,
                                 overrides=decisions, roster=students, exclude=exclude, **options)
    else:
        submission = grade_file(solution, request.answers[0], entries, solve_at, **options)
        if decisions:
            from .overrides import apply_overrides

            submission.result = apply_overrides(submission.result, decisions.get(submission.id, []))
        report = ClassReport(solution.problem.name, [submission], roster)
    write_gradebooks(report, request.csv, request.canvas, request.moodle, assignment, note)
    if request.stats:
        from .stats import write_stats

        write_stats(report, solution, request.stats)
    if request.batch:
        return Checked(solution, report, True, 2 if report.errors else 0)
    return Checked(solution, report, False, 0 if report.submissions[0].result.all_correct else 1)


def _inputs(request: CheckRequest, solution) -> tuple:
    """The manifest's points, the roster and a person's decisions, read and checked."""
    from .roster import read_manifest, read_roster

    entries = decisions = None
    if request.manifest:
        if solution.engine != "scalar":
            raise ProblemError("--manifest grades variants of a scalar problem")
        entries = read_manifest(request.manifest, solution.problem)
    students = read_roster(request.roster) if request.roster else None
    if request.overrides:
        if solution.engine != "scalar":
            raise ProblemError("--overrides resolves cells of scalar worksheets")
        from .grade import worksheet_cells
        from .overrides import read_overrides

        decisions = read_overrides(request.overrides, worksheet_cells(solution))
    return entries, students, decisions


def refuse_overwriting(request: CheckRequest) -> None:
    """An output that names an input of the run (or another output) would destroy it."""
    inputs = [("--manifest", request.manifest), ("--roster", request.roster), ("--overrides", request.overrides),
              ("--submission-metadata", request.submission_metadata), ("the problem file", Path(request.problem)),
              *(("a graded file", path) for path in collect(request.answers))]  # a list: every graded file
    outputs = {"--csv": request.csv, "--gradescope": request.gradescope, "--canvas": request.canvas,
               "--moodle": request.moodle}

    def same(a: Path, b: Path) -> bool:
        try:
            return os.path.samefile(a, b)
        except OSError:
            return os.path.abspath(a) == os.path.abspath(b)

    named = [(k, v) for k, v in outputs.items() if v]
    for i, (option, path) in enumerate(named):
        clash = next((what for what, other in [*inputs, *named[:i]] if other and same(path, other)), None)
        if clash:
            raise ProblemError(f"{option} {one_line(str(path))} names {clash}, which would be overwritten",
                               hint="write the output to another file")


def grading_options(solution, tolerance, weights, require_lines, decimal_comma=None) -> dict:
    """The grading policy: the problem file's [grading] table, overridden by the options."""
    if solution.engine != "scalar":
        if tolerance is not None or weights or require_lines or decimal_comma is not None:
            raise ProblemError("--tolerance, --weight, --require-lines and --decimal-comma grade scalar worksheets")
        return {}
    from ..problems import check_weight, check_weights
    from .grade import PARTS, Policy

    chosen = dict(solution.problem.grading)
    for text in weights or []:
        part, _, value = text.partition("=")
        if part.strip() not in PARTS:
            raise ProblemError(f"--weight '{one_line(text)}': '{one_line(part.strip())}' is not a part",
                               hint="e.g. --weight forward=2 (parts: " + ", ".join(PARTS) + ")")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        chosen[part.strip()] = check_weight(number, f"--weight '{one_line(text)}'")
    check_weights(chosen, "--weight")
    policy = dict(solution.problem.policy)
    if tolerance is not None:
        policy["tolerance"] = tolerance
    if require_lines is not None:
        policy["require_lines"] = require_lines
    if decimal_comma is not None:
        policy["decimal_comma"] = decimal_comma
    return {"weights": chosen, "policy": Policy(**policy)}
