"""Worksheets to fill in: blank CSV and Markdown out, filled CSV and Markdown back in.

CSV has the header ``part,pass,node,value,line``.  The Markdown worksheet is the sheet's tables
with empty Value and Line columns; an HTML comment before each table (``<!-- derive: part=forward
pass=x2 -->``) says which pass it is, so a filled copy reads back without guessing.

A student's own worksheet carries their id: the CSV starts with the line ``id,<id>`` before its
header, the Markdown shows ``Student: <id>`` and keeps ``<!-- derive: student=<id> -->``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..errors import ProblemError, excerpt
from .grade import PARTS, Answer, Expectations, worksheet_cells
from ..scalar.solve import ScalarSolution
from ..userfiles import read_text

HEADER = ["part", "pass", "node", "value", "line"]
_MARKER = re.compile(r"<!--\s*derive:\s*part=(\w+)(?:\s+pass=(\S*))?\s*-->")
_STUDENT_MARKER = re.compile(r"<!--\s*derive:\s*student=(\S*?)\s*-->")
_STUDENT_LINE = re.compile(r"^\W*Student\W*:\W*(\S+?)\W*$", re.IGNORECASE)


class Answers(list):
    """The filled cells of one worksheet (a list of :class:`Answer`), the student's id written on
    it (None when the sheet has none) and its decimal separator when the file says it (a
    semicolon CSV is what a spreadsheet in a decimal-comma locale saves: True), else None (the
    grader infers it from the numbers written)."""

    def __init__(self, answers=(), student: str | None = None, decimal_comma: bool | None = None):
        super().__init__(answers)
        self.student = student
        self.decimal_comma = decimal_comma


def blank_csv(solution: ScalarSolution, key: bool = False, digits: int = 3, student: str | None = None) -> str:
    """The CSV worksheet; with ``key`` the values are filled in (full precision) and the
    ``line`` column holds each row's evaluation exactly as the terminal tables print it; with
    ``student`` it starts with the line ``id,<student>``."""
    expect = Expectations(solution)
    evaluations = key_lines(solution, digits) if key else {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if student:
        writer.writerow(["id", student])
    writer.writerow(HEADER)
    for cell in worksheet_cells(solution):
        value = repr(expect.value(*cell)) if key else ""
        writer.writerow([*cell, value, evaluations.get(cell, "")])
    return out.getvalue()


def key_lines(solution: ScalarSolution, digits: int = 3) -> dict[tuple[str, str, str], str]:
    """The evaluation column of every row of the tables, by cell (part, pass, node)."""
    from ..render import lines  # the tables' own rows: the key shows what the sheet shows
    from ..render.notation import TextNotation

    nt, trace = TextNotation(digits), solution.trace
    out = {("trace", "", row.node): row.evaluation for row in lines.trace_rows(trace, nt)}
    for p in solution.forward:
        out |= {("forward", p.input, row.node): row.evaluation
                for row in lines.forward_rows(p, trace, nt) if not row.answer}
    for p in solution.reverse:
        out |= {("reverse", p.output, row.node): row.evaluation
                for row in lines.reverse_rows(p, trace, nt) if not row.answer}
    return out


def read_answers(path: str | Path) -> Answers:
    """A filled worksheet: CSV (by its header) or the Markdown that --blank --format md wrote."""
    path = Path(path)
    text = read_text(path, "worksheet")
    if _separator(text) is not None:
        return read_csv(text, str(path))
    if "<!-- derive:" in text:
        return read_markdown(text, str(path))
    raise ProblemError(f"{path}: not a worksheet",
                       hint="give a CSV with the header part,pass,node,value,line or the Markdown "
                            "that 'derive report --blank --format md' wrote")


#: Excel's first line naming the separator of the file that follows ("sep=;").
_EXCEL_SEP = re.compile(r"^\s*\"?sep=(.)\"?\s*$", re.IGNORECASE)


def _separator(text: str) -> str | None:
    """The separator of a CSV worksheet (',' or, as spreadsheets save it in decimal-comma
    locales, ';', or a tab), read from its header or Excel's "sep=" line; None when the text is
    not a CSV worksheet."""
    lines = [line for line in text.lstrip().splitlines()[:2]]
    if lines and (m := _EXCEL_SEP.match(lines[0])) is not None:
        return m.group(1)
    first = lines[0].replace(" ", "").replace('"', "").lower() if lines else ""
    for sep in (",", ";", "\t"):
        if first.startswith((f"part{sep}pass{sep}node", f"id{sep}")):
            return sep
    return None


def read_csv(text: str, where: str = "worksheet") -> Answers:
    sep = _separator(text) or ","
    lines = text.lstrip().splitlines(keepends=True)
    if lines and _EXCEL_SEP.match(lines[0]):
        text = "".join(lines[1:])
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        student, first_row = None, 2
        if header[:1] == ["id"]:  # the id line of a student's own worksheet
            student = header[1].strip() if len(header) > 1 and header[1].strip() else None
            header, first_row = [h.strip().lower() for h in next(reader, [])], 3
        if header[:4] != HEADER[:4]:
            raise ProblemError(f"{where}: the header must be {','.join(HEADER)}, not {excerpt(','.join(header))}")
        return Answers(_csv_rows(reader, where, first_row), student, decimal_comma=True if sep == ";" else None)
    except csv.Error as exc:  # a cell over csv.field_size_limit(), a NUL byte, a stray quote
        raise ProblemError(f"{where}: line {reader.line_num}: not valid CSV: {exc}") from None


def _csv_rows(reader, where: str, first_row: int) -> list[Answer]:
    answers = []
    for number, row in enumerate(reader, start=first_row):
        if not any(cell.strip() for cell in row):
            continue
        row = [*row, "", "", "", "", ""][:5]
        part, pass_, node, value, line = (cell.strip() for cell in row)
        if part not in PARTS:
            raise ProblemError(f"{where}: row {number}: part '{excerpt(part)}' is not one of {', '.join(PARTS)}")
        answers.append(Answer(part, pass_, node, value, line, where=f"{where}: row {number}"))
    return answers


def read_markdown(text: str, where: str = "worksheet") -> Answers:
    answers = []
    part = pass_ = None
    columns: list[str] = []
    marked = _STUDENT_MARKER.search(text)
    shown = next((m.group(1).replace("\\", "") for m in map(_STUDENT_LINE.match, text.splitlines()) if m),
                 None)  # the visible line, Markdown escapes (ada\_l) undone, when the marker was deleted
    student = (marked.group(1) or None) if marked else shown
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        marker = _MARKER.search(line)
        if marker:
            part, pass_, columns = marker.group(1), marker.group(2) or "", []
            continue
        if part is None or not line.startswith("|"):
            continue
        cells_ = [c.strip() for c in _split_row(line)]
        if not columns:
            columns = [c.lower() for c in cells_]
            continue
        if set("".join(cells_)) <= set("-: "):
            continue  # the |---| rule under the header
        row = dict(zip(columns, cells_))
        node = row.get("node", "").strip("` ")
        if not node:
            continue
        answers.append(Answer(part, pass_, node, row.get("value", ""), row.get("line", ""),
                              where=f"{where}: line {number}"))
    return Answers(answers, student)


def _split_row(line: str) -> list[str]:
    """Cells of a Markdown table row, honouring escaped pipes (\\|)."""
    body = line.strip().strip("|")
    return [cell.replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]
