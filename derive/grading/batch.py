"""Grading a whole class: many worksheets at once, each at its own student's point, and the
class's grades as a table, CSV, JSON, a Gradescope results.json or a Canvas gradebook import.

A file that cannot be graded (unreadable, not a worksheet, an id missing from the manifest) is
recorded with its reason and the batch goes on; the CLI lists those at the end.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DeriveError, ProblemError
from .gradebooks import canvas_csv, grades_csv, moodle_csv, percent, spreadsheet_cell
from .roster import ManifestEntry, Student, check_id, match_id

#: The files a folder contributes to a batch (not recursive).
SUFFIXES = (".csv", ".md", ".toml")

#: Verdicts that mean "right": full credit, and nothing for the student to correct in the cell.
RIGHT = ("correct", "rounding", "carried")


def shown(text: str) -> str:
    """A file name or message as text that can be written anywhere: a name that is not UTF-8
    (``M\\xfcller.csv`` from a Windows zip) keeps its bytes as ``\\xfc`` escapes."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Submission:
    """One file of the batch: its grade, or why it has none.  ``notes`` are for the instructor
    only (who handed the file in, an id matched without its leading zeros): never shown to the
    student."""

    file: str
    id: str = ""
    result: object = None  # grade.Grade (scalar) or matrix.answers.AnswerCheck
    error: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.file, self.id, self.error = shown(self.file), shown(self.id), shown(self.error)

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

    @property
    def needs_review(self) -> int:
        """Cells waiting for a person: until they are resolved the total is provisional."""
        return 0 if self.result is None else int(getattr(self.result, "to_review", 0))

    def instructor_notes(self) -> list[str]:
        """Everything a person should look at: cells for review, the grader's notes (which may
        name another student) and the batch's own notes."""
        from .grade import to_look_at

        return ([] if self.result is None else to_look_at(self.result)) + self.notes


@dataclass
class ClassReport:
    problem: str
    submissions: list[Submission] = field(default_factory=list)
    roster: dict[str, Student] = field(default_factory=dict)

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

    def student(self, sid: str) -> Student:
        return self.roster.get(sid) or Student(sid)

    def rows(self) -> list[list[str]]:
        """id, total, one column per part (percentages, one decimal), file."""
        parts = self.part_names
        return [[spreadsheet_cell(s.id), percent(s.total), *(percent(s.parts().get(p)) for p in parts),
                 spreadsheet_cell(s.file)] for s in self.graded]

    def to_csv(self) -> str:
        return grades_csv(self)

    def to_canvas(self, assignment: str) -> str:
        return canvas_csv(self, assignment)

    def to_moodle(self, assignment: str) -> str:
        return moodle_csv(self, assignment)

    def as_dict(self) -> dict:
        return {"problem": self.problem,
                "submissions": [{"file": s.file, "id": s.id, "total": s.total, "parts": s.parts(),
                                 "needs_review": s.needs_review, **_with_notes(s)} for s in self.graded],
                "errors": [{"file": s.file, "id": s.id, "error": s.error} for s in self.errors]}


def _with_notes(s: Submission) -> dict:
    """A graded file's data for the instructor: the grader's notes (the private ones too) and
    the batch's own."""
    data = s.result.as_dict()
    return {**data, "notes": [*data.get("notes", []), *s.notes]}


def collect(paths: list[str | Path], skipped: list[Submission] | None = None) -> list[Path]:
    """The files to grade: each file as given, each folder's .csv/.md/.toml files (sorted, not
    recursive, hidden files left out); duplicates once.  A folder's entry that is not a regular
    file (a symbolic link, which could point at the key or the manifest; a FIFO) is never read:
    it goes to ``skipped`` with its reason."""
    out: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            out.append(path)
            continue
        for entry in sorted(path.iterdir()):
            if entry.suffix.lower() not in SUFFIXES or entry.name.startswith("."):
                continue
            file_type = _file_type(entry)
            if file_type == "folder":
                continue
            if file_type == "file":
                out.append(entry)
            elif skipped is not None:
                skipped.append(Submission(str(entry), error=f"{entry}: {file_type}: not graded (only regular files "
                                                            "in a submissions folder are)"))
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def _file_type(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "not a regular file"


def grade_file(solution, path: Path, manifest: dict[str, ManifestEntry] | None = None,
               solve_at: Callable | None = None, submitter: str | None = None, **options) -> Submission:
    """One submission, graded at its student's point when there is a manifest.  ``submitter``:
    who handed the file in (Gradescope's metadata), which wins over the id written on the sheet;
    a sheet carrying another id is flagged to the instructor.  Raises DeriveError when the file
    cannot be graded."""
    if solution.engine == "matrix":
        from .answers import check_answers

        return Submission(str(path), submitter or path.stem, check_answers(solution, path))
    from .grade import grade
    from .worksheet import read_answers

    answers = read_answers(path)
    student = getattr(answers, "student", None)
    if student:
        check_id(student, f"{path}: the id on the worksheet")
    notes = []
    if submitter and student and submitter != student:
        notes.append(f"the sheet carries the id '{student}' but was handed in by '{submitter}': graded as "
                     f"'{submitter}'s, at their point")
    student = submitter or student
    if manifest is not None:
        if not student:
            raise ProblemError(f"{path}: no student id on the worksheet, so its point is unknown",
                               hint="the CSV starts with 'id,<id>'; the Markdown keeps '<!-- derive: student=<id> -->'")
        found, note = match_id(student, manifest)
        if found is None:
            raise ProblemError(f"{path}: the id '{student}' is not in the manifest",
                               hint="is it the manifest of this class and problem?")
        notes += [note] if note else []
        student, entry = found, manifest[found]
        published = dict(solution.problem.inputs)
        solution = solve_at(solution.problem.with_values(entry.values))
        from .grade import PUBLISHED

        options = {**options, "others": {PUBLISHED: published,  # the key handed out
                                         **{sid: e.values for sid, e in manifest.items() if sid != student}}}
    elif student and not submitter:
        raise ProblemError(f"{path}: the worksheet of student '{student}' is a variant with its own point",
                           hint="give --manifest manifest.csv (from derive variants) to grade it at that point")
    return Submission(str(path), student or path.stem, grade(solution, answers, **options), notes=notes)


def grade_class(solution, paths: list[str | Path], manifest: dict[str, ManifestEntry] | None = None,
                solve_at: Callable | None = None, progress: Callable | None = None,
                overrides: dict | None = None, roster: list[Student] | None = None,
                exclude: tuple[Path, ...] = (), **options) -> ClassReport:
    """Every file of ``paths`` graded; a file that cannot be graded (unreadable, a link, an
    unknown id, or a bug in derive) is kept with its reason and never stops the others.  Two files
    that claim one id are both reported, neither graded: a person decides which is the student's.
    ``overrides`` (from :func:`overrides.read_overrides`) resolve cells a person has regraded;
    ``exclude``: inputs of the run (the manifest) met in a submissions folder."""
    report = ClassReport(solution.problem.name, roster={s.id: s for s in roster or []})
    cache: dict[str, object] = {}

    def cached(problem):  # one solve per distinct point
        key = repr(sorted((k, str(v)) for k, v in {**problem.inputs, **problem.constants}.items()))
        if key not in cache:
            cache[key] = solve_at(problem)
        return cache[key]

    skipped: list[Submission] = []
    files = collect(paths, skipped)
    report.submissions += skipped
    for path in files:
        report.submissions.append(_graded(solution, path, manifest, cached, overrides, exclude, **options))
        if progress:
            progress()
    _claimed_twice(report)
    return report


def _graded(solution, path: Path, manifest, solve_at, overrides, exclude, **options) -> Submission:
    """One file of a batch, graded or with the reason it is not (never an exception)."""
    if any(_same_file(path, other) for other in exclude):
        return Submission(str(path), error=f"{path}: this is an input of the run (the manifest), not a worksheet")
    try:
        submission = grade_file(solution, path, manifest, solve_at, **options)
        if overrides:
            from .overrides import apply_overrides

            submission.result = apply_overrides(submission.result, overrides.get(submission.id, []))
        return submission
    except DeriveError as exc:
        return Submission(str(path), error=str(exc))
    except RecursionError:
        return Submission(str(path), error=f"{path}: a line is nested too deeply to read")
    except MemoryError:
        return Submission(str(path), error=f"{path}: the worksheet needs more memory than is available")
    except Exception as exc:  # a bug in derive: this file's error line, the class is still graded
        return Submission(str(path), error=f"{path}: could not be graded: internal error "
                                           f"({type(exc).__name__}: {exc}); please report it")


def _claimed_twice(report: ClassReport) -> None:
    files: dict[str, list[Submission]] = {}
    for s in report.graded:
        files.setdefault(s.id, []).append(s)
    for sid, claims in files.items():
        if len(claims) < 2:
            continue
        names = ", ".join(c.file for c in claims)
        for c in claims:
            c.error = (f"{c.file}: the id '{sid}' is claimed by {len(claims)} files ({names}): none is graded "
                       "until a person keeps one")
            c.result = None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
