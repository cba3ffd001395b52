"""Grading a whole class: many worksheets at once, each at its own student's point, and the
class's grades as a table, CSV, JSON, a Gradescope results.json or a Canvas gradebook import.

A file that cannot be graded (unreadable, not a worksheet, an id missing from the manifest) is
recorded with its reason and the batch goes on; the CLI lists those at the end.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DeriveError, ProblemError
from .grade import to_look_at
from .roster import ManifestEntry, check_id

#: The files a folder contributes to a batch (not recursive).
SUFFIXES = (".csv", ".md", ".toml")


@dataclass
class Submission:
    """One file of the batch: its grade, or why it has none."""

    file: str
    id: str = ""
    result: object = None  # grade.Grade (scalar) or matrix.answers.AnswerCheck
    error: str = ""

    def parts(self) -> dict[str, float]:
        """Each part's fraction of credit earned (0..1)."""
        if self.result is None:
            return {}
        score = self.result.score()
        if "parts" in score:
            return {part: p["fraction"] for part, p in score["parts"].items()}
        out: dict[str, list[bool]] = {}
        for item in self.result.items:  # matrix answers: adjoints and gradients
            out.setdefault(item.part, []).append(item.verdict == "correct")
        return {part: sum(v) / len(v) for part, v in out.items()}

    @property
    def total(self) -> float | None:
        return None if self.result is None else self.result.score()["total"]


@dataclass
class ClassReport:
    problem: str
    submissions: list[Submission] = field(default_factory=list)

    @property
    def graded(self) -> list[Submission]:
        return [s for s in self.submissions if s.result is not None]

    @property
    def errors(self) -> list[Submission]:
        return [s for s in self.submissions if s.result is None]

    @property
    def part_names(self) -> list[str]:
        names: list[str] = []
        for s in self.graded:
            names += [p for p in s.parts() if p not in names]
        return names

    def rows(self) -> list[list[str]]:
        """id, total, one column per part (percentages, one decimal), file."""
        parts = self.part_names
        return [[_cell(s.id), _percent(s.total), *(_percent(s.parts().get(p)) for p in parts), _cell(s.file)]
                for s in self.graded]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "total", *self.part_names, "file"])
        writer.writerows(self.rows())
        return out.getvalue()

    def to_canvas(self, assignment: str) -> str:
        """Canvas's gradebook import: Student, ID, SIS User ID, Section, then the assignment's
        column (percent). Students are matched by SIS User ID, so ids should be the SIS ids."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Student", "ID", "SIS User ID", "Section", assignment])
        writer.writerow(["Points Possible", "", "", "", "100"])
        for s in self.graded:
            writer.writerow([_cell(s.id), "", _cell(s.id), "", _percent(s.total)])
        return out.getvalue()

    def as_dict(self) -> dict:
        return {"problem": self.problem,
                "submissions": [{"file": s.file, "id": s.id, "total": s.total, "parts": s.parts(),
                                 **s.result.as_dict()} for s in self.graded],
                "errors": [{"file": s.file, "id": s.id, "error": s.error} for s in self.errors]}


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a file named '=HYPERLINK(...).csv')."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _percent(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def collect(paths: list[str | Path]) -> list[Path]:
    """The files to grade: each file as given, each folder's .csv/.md/.toml files (sorted, not
    recursive, hidden files and manifest.csv left out); duplicates once."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()
                          and not p.name.startswith(".") and p.name != "manifest.csv")
        else:
            out.append(path)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def grade_file(solution, path: Path, manifest: dict[str, ManifestEntry] | None = None,
               solve_at: Callable | None = None, **options) -> Submission:
    """One submission, graded at its student's point when there is a manifest.
    Raises DeriveError when the file cannot be graded."""
    if solution.kind == "matrix":
        from .matrix.answers import check_answers

        return Submission(str(path), path.stem, check_answers(solution, path))
    from .grade import grade
    from .worksheet import read_answers

    answers = read_answers(path)
    student = getattr(answers, "student", None)
    if student:
        check_id(student, f"{path}: the id on the worksheet")
    if manifest is not None:
        if not student:
            raise ProblemError(f"{path}: no student id on the worksheet, so its point is unknown",
                               hint="the CSV starts with 'id,<id>'; the Markdown keeps '<!-- derive: student=<id> -->'")
        entry = manifest.get(student)
        if entry is None:
            raise ProblemError(f"{path}: the id '{student}' is not in the manifest",
                               hint="is it the manifest of this class and problem?")
        published = dict(solution.problem.inputs)
        solution = solve_at(solution.problem.with_values(entry.values))
        from .grade import PUBLISHED

        options = {**options, "others": {PUBLISHED: published,  # the key handed out
                                         **{sid: e.values for sid, e in manifest.items() if sid != student}}}
    elif student:
        raise ProblemError(f"{path}: the worksheet of student '{student}' is a variant with its own point",
                           hint="give --manifest manifest.csv (from derive variants) to grade it at that point")
    return Submission(str(path), student or path.stem, grade(solution, answers, **options))


def grade_class(solution, paths: list[str | Path], manifest: dict[str, ManifestEntry] | None = None,
                solve_at: Callable | None = None, progress: Callable | None = None, **options) -> ClassReport:
    """Every file of ``paths`` graded; files that cannot be graded are kept with their reason."""
    report = ClassReport(solution.problem.name)
    cache: dict[str, object] = {}

    def cached(problem):  # one solve per distinct point
        key = repr(sorted((k, str(v)) for k, v in {**problem.inputs, **problem.constants}.items()))
        if key not in cache:
            cache[key] = solve_at(problem)
        return cache[key]

    owners: dict[str, str] = {}
    for path in collect(paths):
        try:
            submission = grade_file(solution, path, manifest, cached, **options)
        except DeriveError as exc:
            submission = Submission(str(path), error=str(exc))
        except RecursionError:
            submission = Submission(str(path), error=f"{path}: a line is nested too deeply to read")
        if submission.result is not None and manifest is not None:
            if submission.id in owners:
                submission = Submission(str(path), submission.id,
                                        error=f"{path}: the id '{submission.id}' was already graded from "
                                              f"{owners[submission.id]}")
            else:
                owners[submission.id] = str(path)
        report.submissions.append(submission)
        if progress:
            progress()
    return report


def gradescope(submission: Submission) -> dict:
    """Gradescope's autograder results (results.json) for one submission: one test per part,
    out of 100 points shared by the parts' weights."""
    if submission.result is None:
        return {"score": 0.0, "max_score": 100.0, "output": submission.error, "tests": []}
    result = submission.result
    score = result.score()
    tests = []
    if "parts" in score:  # a scalar worksheet
        parts = score["parts"]
        total_weight = sum(p["weight"] for p in parts.values()) or 1.0
        for name, p in parts.items():
            cells = [c for c in result.cells if c.part == name and c.verdict not in ("correct", "rounding")]
            tests.append(_test(name, p["fraction"], 100.0 * p["weight"] / total_weight,
                               [f"{c.pass_ + ' ' if c.pass_ else ''}{c.node}: {c.verdict}"
                                f"{f' ({c.kind})' if c.kind else ''}; given {c.given or '(nothing)'}; {c.message}"
                                for c in cells], f"{p['earned']:g}/{p['possible']} cells"))
    else:
        fractions = submission.parts()
        for name, fraction in fractions.items():  # each typed answer weighs the same
            share = sum(i.part == name for i in result.items) / len(result.items)
            items = [i for i in result.items if i.part == name and i.verdict != "correct"]
            tests.append(_test(name, fraction, 100.0 * share,
                               [f"{i.name}: {i.verdict}; given {i.given or '(nothing)'}; {i.message}" for i in items],
                               f"{fraction:.0%}"))
    total = round(100.0 * score["total"], 2)
    notes = "".join(f"; to look at: {note}" for note in to_look_at(result, instructor=False))
    return {"score": total, "max_score": 100.0,
            "output": f"{submission.id}: {total:g}/100{notes}", "tests": tests}


def _test(name: str, fraction: float, max_score: float, problems: list[str], summary: str) -> dict:
    return {"name": name, "score": round(fraction * max_score, 2), "max_score": round(max_score, 2),
            "status": "passed" if not problems else "failed",
            "output": "\n".join([summary, *problems]) if problems else f"{summary}: every cell is right"}
