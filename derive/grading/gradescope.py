"""Gradescope's autograder: which file of a submission folder to grade, who handed it in
(``submission_metadata.json``), and the results.json a student sees.

What the student sees is chosen by the feedback level (``full``: each cell's verdict, slip and
message with the expected value; ``verdicts``: each cell's verdict and slip kind, no expected
value or formula; ``score``: part scores only). What only the instructor may see — another
student's id, a suspicion of copying, a sheet handed in under someone else's id — goes into a
test with ``"visibility": "hidden"`` (shown to instructors only) and never into ``output``.
Format: https://gradescope-autograders.readthedocs.io/en/latest/specs/ and
/submission_metadata/.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path

from .batch import RIGHT, Submission, collect, shown
from ..errors import DeriveError, ProblemError, one_line
from .roster import Student, match_id
from ..userfiles import read_text

FEEDBACK = ("full", "verdicts", "score")
#: Students may resubmit: expected values shown at once would be an answer key for the next try.
DEFAULT_FEEDBACK = "verdicts"
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
#: Slip kinds that are not slips (a cell right given earlier values; a person's decision).
NOT_SLIPS = ("carried", "regraded")
UPLOAD = "upload the .csv or .md worksheet (or the .toml answer file) that derive gave you, not a PDF or a photo"
_COPY = re.compile(r"(?s)(?P<stem>.*?)(?: \((?P<n>\d{1,4})\))?")


def choose(paths: list[Path]) -> tuple[Path | None, Submission | None, str]:
    """The one worksheet of a submission: (path, None, note) or (None, the error, "").  Several
    copies of one worksheet (``x.csv``, ``x (1).csv``, as a browser names a second download) are
    one worksheet: the latest copy is graded and the note says which."""
    skipped: list[Submission] = []
    files = collect(paths, skipped)
    if not files and not skipped:  # an uploaded zip unpacks into a folder of its own
        files = collect(_subfolders(paths), skipped)
    if not files:
        if skipped:
            return None, skipped[0], ""
        others = sorted(shown(p.name) for path in map(Path, paths) if path.is_dir() for p in path.iterdir()
                        if not p.name.startswith("."))
        found = f" (the submission holds {', '.join(others[:5])}{', …' if len(others) > 5 else ''})" if others else ""
        return None, Submission(", ".join(shown(str(p)) for p in paths),
                                error=f"no worksheet was found{found}: {UPLOAD}"), ""
    if len(files) == 1:
        return files[0], None, ""
    copies = {}
    for path in files:
        match = _COPY.fullmatch(path.stem)
        copies.setdefault((path.parent, match["stem"], path.suffix.lower()), []).append((int(match["n"] or 0), path))
    if len(copies) == 1:
        ranked = sorted(next(iter(copies.values())))
        chosen = ranked[-1][1]
        others = ", ".join(shown(p.name) for _, p in ranked[:-1])
        return chosen, None, f"graded {shown(chosen.name)}, the latest copy of the worksheet ({others} not graded)"
    names = ", ".join(shown(p.name) for p in files)
    return None, Submission(", ".join(shown(str(p)) for p in paths),
                            error=f"{len(files)} worksheets were handed in ({names}): hand in one"), ""


def _subfolders(paths: list[Path]) -> list[Path]:
    """The folders one level down (not links, not hidden, not a Mac zip's __MACOSX)."""
    out = []
    for path in map(Path, paths):
        if path.is_dir() and not path.is_symlink():
            out += [p for p in sorted(path.iterdir()) if p.is_dir() and not p.is_symlink()
                    and not p.name.startswith(".") and p.name != "__MACOSX"]
    return out


def read_metadata(path: str | Path) -> list[dict]:
    """The submitters (``users``: email, id, name, and sid where Gradescope gives it) of
    ``submission_metadata.json``."""
    try:
        data = json.loads(read_text(path, "submission metadata", max_bytes=5 * 1024 * 1024))
    except json.JSONDecodeError as exc:
        raise ProblemError(f"{path}: the submission metadata is not JSON: {exc.msg} (line {exc.lineno})") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise ProblemError(f"{path}: no 'users' list in the submission metadata",
                           hint="give Gradescope's /autograder/submission_metadata.json")
    return users


def submitter(users: list[dict], ids, roster: list[Student] | None = None) -> tuple[str | None, str]:
    """The id (of ``ids``, the manifest's or roster's) of the student who handed the submission
    in, matched by Gradescope's student id (sid), then by email through the roster or an id that
    is an email; and a note for the instructor when it was not exact."""
    by_email = {s.email.lower(): s.id for s in roster or [] if s.email}
    for user in users:
        for candidate in (str(user.get("sid") or "").strip(), str(user.get("email") or "").strip()):
            if not candidate:
                continue
            found, note = match_id(candidate, ids)
            if found is None:
                found = by_email.get(candidate.lower())
                found = found if found in ids else None
            if found is not None:
                return found, note
    who = ", ".join(str(u.get("email") or u.get("name") or u.get("id")) for u in users) or "nobody"
    return None, f"the submitter ({who}) is not in the roster or manifest: graded by the id on the sheet"


# -- results.json -----------------------------------------------------------------------------

def results(submission: Submission, feedback: str = DEFAULT_FEEDBACK, visibility: str = "visible",
            note: str = "", after_due_date: bool = False) -> dict:
    """Gradescope's results.json for one submission: one test per part sharing 100 points (the
    tests' maxima add up to exactly 100), a part with full marks a passed test, slip kinds as
    tags; ``note`` is for the student (which copy was graded); ``after_due_date``: one more test,
    without points, with the full feedback (expected values), which Gradescope shows the student
    once the due date has passed."""
    if feedback not in FEEDBACK:
        raise ProblemError(f"--feedback '{feedback}' is not one of {', '.join(FEEDBACK)}")
    base = {"visibility": visibility, "stdout_visibility": "hidden", "output_format": "md"}
    if submission.result is None:
        return {**base, "score": 0.0, "max_score": 100.0, "output": _md(submission.error),
                "tests": _instructor(submission)}
    result = submission.result
    score = result.score()
    parts = _parts(result, score)
    maxima = _shares([weight for _, weight, _, _ in parts])
    tests = []
    for (name, _, fraction, items), maximum in zip(parts, maxima):
        tests.append(_test(name, fraction, maximum, items, feedback))
    total = round(sum(t["score"] for t in tests), 2)
    lines = [f"**{_md(submission.id)}: {total:g} / 100**"]
    if note:
        lines.append(_md(note))
    review = getattr(result, "to_review", 0)
    if review:
        lines.append(f"{review} cell(s) are waiting for a person to look at them: they earn nothing until then, "
                     "and your score may go up.")
    later = [_after_due_date(parts)] if after_due_date and feedback != "full" else []
    return {**base, "score": total, "max_score": 100.0, "output": "\n\n".join(lines),
            "tests": tests + later + _instructor(submission)}


def _after_due_date(parts: list) -> dict:
    lines = [f"- {_md(name)}: {_line(i, 'full')}" for name, _, _, items in parts for i in items if not _right(i)]
    return {"name": "Expected values (shown after the due date)", "visibility": "after_due_date",
            "output_format": "md", "output": "\n".join(lines) or "every cell is right"}


def _parts(result, score: dict) -> list[tuple[str, float, float, list]]:
    """(name, weight, fraction, cells or typed answers) of each part."""
    if "parts" in score:  # a scalar worksheet
        return [(name, p["weight"], p["fraction"], [c for c in result.cells if c.part == name])
                for name, p in score["parts"].items()]
    names = list(dict.fromkeys(i.part for i in result.items))  # typed answers: each weighs the same
    out = []
    for name in names:
        items = [i for i in result.items if i.part == name]
        out.append((name, len(items), sum(i.verdict == "correct" for i in items) / len(items), items))
    return out


def _shares(weights: list[float]) -> list[float]:
    """100 points shared in proportion to ``weights``, in hundredths that add up to 100 exactly
    (the largest remainders get the spare hundredths)."""
    weights = weights if sum(weights) > 0 else [1.0] * len(weights)  # no weight at all: equal shares
    exact = [10_000 * w / sum(weights) for w in weights]
    cents = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - cents[i], reverse=True)[: 10_000 - sum(cents)]:
        cents[i] += 1
    return [c / 100 for c in cents]


def _test(name: str, fraction: float, maximum: float, items: list, feedback: str) -> dict:
    score = round(fraction * maximum, 2)
    full = fraction >= 1 - 1e-12
    shown_items = [i for i in items if not _right(i)]
    test = {"name": name, "score": maximum if full else min(score, maximum), "max_score": maximum,
            "status": "passed" if full else "failed", "output_format": "md"}
    if feedback != "score":
        test["tags"] = sorted({k for i in items if (k := getattr(i, "slip", None)) and k not in NOT_SLIPS
                               and getattr(i, "credit", 0) < 1})
    summary = f"{_count(items)} right"
    if feedback == "score" or not shown_items:
        test["output"] = summary + ("" if shown_items else ": every cell is right")
    else:
        test["output"] = "\n".join([summary, "", *(f"- {_line(i, feedback)}" for i in shown_items)])
    return test


def _right(item) -> bool:
    """A cell the student has nothing to correct in: right, or right from their own earlier values."""
    credit = getattr(item, "credit", 1.0 if item.verdict == "correct" else 0.0)
    return credit >= 1 and (item.verdict in RIGHT or getattr(item, "slip", None) in ("carried", "regraded"))


def _count(items: list) -> str:
    credit = sum(getattr(i, "credit", 1.0 if i.verdict == "correct" else 0.0) for i in items)
    return f"{credit:g}/{len(items)} {'cells' if hasattr(items[0], 'credit') else 'answers'}" if items else "0/0"


def _line(item, feedback: str) -> str:
    """One cell or typed answer as the student sees it."""
    if hasattr(item, "node"):
        where = f"{item.pass_ + ' ' if item.pass_ else ''}{item.node}"
        slip = item.slip
        message = ("an input is not the value printed on your sheet: copy the inputs from your own sheet"
                   if slip == "point" else item.message)  # the grader's message may name another student
    else:
        where, slip, message = item.name, None, item.message
    text = f"**{_md(where)}**: {item.verdict}{f' ({slip})' if slip else ''}; you wrote {_md(item.given) or '(nothing)'}"
    if feedback == "full" and message:
        text += f"; {_md(message)}"
    return text


def _instructor(submission: Submission) -> list[dict]:
    """The instructor's notes as a hidden test (Gradescope shows it to instructors only)."""
    notes = submission.instructor_notes() if submission.result is not None else submission.notes
    if not notes:
        return []
    return [{"name": "Instructor notes (hidden from the student)", "visibility": "hidden",
             "output_format": "md", "output": "\n".join(f"- {_md(n)}" for n in notes)}]


def _md(text: str) -> str:
    """Student text in Markdown output, shown as written (no links, images or HTML of theirs)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", shown(str(text)))


def grade_submission(solution, paths: list[Path], manifest=None, solve_at=None, users: list[dict] | None = None,
                     roster: list[Student] | None = None, overrides: dict | None = None,
                     exclude: tuple[Path, ...] = (), **options) -> tuple[Submission, str]:
    """One Gradescope submission, never an exception: (the graded or failed submission, the
    note for the student on which file was graded).  ``users``: the submitters of
    ``submission_metadata.json``, who win over the id written on the sheet."""
    from .batch import _graded

    path, failed, note = choose(paths)
    if failed is not None:
        return failed, ""
    who, who_note = (None, "")
    if users is not None:
        ids = set(manifest or ()) | {s.id for s in roster or []}
        who, who_note = submitter(users, ids, roster)
    submission = _graded(solution, path, manifest, solve_at, overrides, exclude, submitter=who, **options)
    submission.notes += [who_note] if who_note else []
    return submission, note


def grade_for_gradescope(solution, request, manifest, solve_at, roster, overrides, exclude, **options) -> Submission:
    """One Gradescope submission graded (``request`` a check.CheckRequest) and its results.json
    written, whatever happens to the file; the submitter is read from submission_metadata.json
    (by default the one beside a folder named 'submission', Gradescope's layout)."""
    metadata = request.submission_metadata or next(
        (p.parent / "submission_metadata.json" for p in request.answers
         if p.name == "submission" and (p.parent / "submission_metadata.json").is_file()), None)
    users, unread = None, ""
    try:
        users = read_metadata(metadata) if metadata else None
    except DeriveError as exc:  # Gradescope's file, not the student's: grade by the sheet's id, say so
        unread = f"the submitter is unknown: {exc}"
    submission, note = grade_submission(solution, list(request.answers), manifest, solve_at, users, roster, overrides,
                                        exclude, **options)
    submission.notes += [unread] if unread else []
    _write_results(request.gradescope, results(submission, request.feedback, request.visibility, note,
                                               request.answers_after_due_date))
    return submission


@contextmanager
def results_on_failure(out: Path | None, answers):
    """With --gradescope, a setup that fails (an unreadable manifest or roster, a problem that
    does not solve) still leaves a results.json saying so: Gradescope shows the student that,
    rather than a bare "the autograder failed"."""
    try:
        yield
    except DeriveError as exc:
        if out is not None:
            failed = Submission(", ".join(map(str, answers)), error="the autograder could not grade this submission: "
                                + one_line(str(exc)) + " (your instructor can see why)")
            _write_results(out, results(failed))
        raise


def _write_results(out: Path, data: dict) -> None:
    from ..files import write_text

    write_text(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
