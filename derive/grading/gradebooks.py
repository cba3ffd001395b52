"""The class's grades as spreadsheets: derive's own grades.csv, and the gradebook imports of
Canvas and Moodle.

Every cell is spreadsheet-safe: control characters are shown as escapes (a carriage return in a
file name must not start a new row) and a cell a spreadsheet would run as a formula gets a
leading apostrophe. A grade with cells still waiting for review is provisional: grades.csv shows
it with its ``needs_review`` count, the gradebook imports leave it out so that it never reaches a
student as final.
"""

from __future__ import annotations

import csv
import io

from ..errors import inert

#: First characters that make a spreadsheet read a cell as a formula (OWASP's list, and the
#: full-width forms some spreadsheets also accept).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")

#: Canvas's gradebook import: the identifying columns of its own export (Canvas matches rows by
#: SIS User ID, then SIS Login ID, then ID), then one column per assignment; its second row
#: "Points Possible" gives each assignment's maximum. A column Canvas does not know becomes a new
#: assignment, so the file holds nothing else.
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]

#: Moodle's "Import grades from CSV": any header; on import the teacher maps one column to the
#: user ("Email address" or "ID number") and the grade column to a grade item out of 100.
MOODLE_COLUMNS = ["Email address", "ID number"]


def spreadsheet_cell(text: str) -> str:
    """``text`` as a cell a spreadsheet shows and never runs: control characters escaped, a
    leading formula character behind an apostrophe."""
    text = inert(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def percent(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def _writer() -> tuple[io.StringIO, csv.writer]:
    out = io.StringIO()
    return out, csv.writer(out, lineterminator="\n")


def grades_csv(report) -> str:
    """id, total, one column per part (percent), needs_review (cells waiting for a person: the
    total is provisional until they are resolved), file."""
    out, writer = _writer()
    parts = report.part_names
    writer.writerow(["id", "total", *parts, "needs_review", "file"])
    for s in report.graded:
        writer.writerow([spreadsheet_cell(s.id), percent(s.total), *(percent(s.parts().get(p)) for p in parts),
                         s.needs_review, spreadsheet_cell(s.file)])
    return out.getvalue()


def final(report) -> list:
    """The graded submissions whose total is final (no cell waiting for review)."""
    return [s for s in report.graded if not s.needs_review]


def provisional(report) -> list:
    return [s for s in report.graded if s.needs_review]


def canvas_csv(report, assignment: str) -> str:
    """Canvas's gradebook import of the final grades (percent, out of a Points Possible of 100)."""
    out, writer = _writer()
    writer.writerow([*map(spreadsheet_cell, CANVAS_COLUMNS), spreadsheet_cell(assignment)])
    writer.writerow(["Points Possible", "", "", "", "", "100"])
    for s in final(report):
        student = report.student(s.id)
        writer.writerow([spreadsheet_cell(student.name or s.id), "", spreadsheet_cell(s.id), "", "",
                         percent(s.total)])
    return out.getvalue()


def moodle_csv(report, assignment: str) -> str:
    """Moodle's grade import of the final grades (percent): each row names the student by email
    address (from the roster, or an id that is an email) and by ID number (the roster id)."""
    out, writer = _writer()
    writer.writerow([*MOODLE_COLUMNS, spreadsheet_cell(assignment)])
    for s in final(report):
        student = report.student(s.id)
        email = student.email or (s.id if "@" in s.id else "")
        writer.writerow([spreadsheet_cell(email), spreadsheet_cell(s.id), percent(s.total)])
    return out.getvalue()


def write_gradebooks(report, csv_out, canvas_out, moodle_out, assignment: str, note=lambda text: None) -> None:
    """grades.csv and the Canvas and Moodle imports, each where asked (None: not written);
    ``note`` is told which provisional grades the imports leave out."""
    from ..files import write_text

    if csv_out:
        write_text(csv_out, report.to_csv())
    if canvas_out:
        write_text(canvas_out, report.to_canvas(assignment))
    if moodle_out:
        write_text(moodle_out, report.to_moodle(assignment))
    held = provisional(report)
    if held and (canvas_out or moodle_out):
        ids = ", ".join(s.id for s in held[:10]) + (", …" if len(held) > 10 else "")
        note(f"{len(held)} provisional grade(s) left out of the gradebook import, with cells waiting for review: "
             f"{ids} (resolve them with --overrides)")
