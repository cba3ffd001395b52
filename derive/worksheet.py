"""Worksheets to fill in: blank CSV and Markdown out, filled CSV and Markdown back in.

CSV has the header ``part,pass,node,value,line``.  The Markdown worksheet is the sheet's tables
with empty Value and Line columns; an HTML comment before each table (``<!-- derive: part=forward
pass=x2 -->``) says which pass it is, so a filled copy reads back without guessing.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .errors import ProblemError, excerpt
from .grade import PARTS, Answer, Expectations, worksheet_cells
from .scalar.solve import ScalarSolution
from .userfiles import read_text

HEADER = ["part", "pass", "node", "value", "line"]
_MARKER = re.compile(r"<!--\s*derive:\s*part=(\w+)(?:\s+pass=(\S*))?\s*-->")


def blank_csv(solution: ScalarSolution, key: bool = False, digits: int = 3) -> str:
    """The CSV worksheet; with ``key`` the values are filled in (full precision) and the
    ``line`` column holds each row's evaluation exactly as the terminal tables print it."""
    expect = Expectations(solution)
    evaluations = key_lines(solution, digits) if key else {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for cell in worksheet_cells(solution):
        value = repr(expect.value(*cell)) if key else ""
        writer.writerow([*cell, value, evaluations.get(cell, "")])
    return out.getvalue()


def key_lines(solution: ScalarSolution, digits: int = 3) -> dict[tuple[str, str, str], str]:
    """The evaluation column of every row of the tables, by cell (part, pass, node)."""
    from .render import lines  # the tables' own rows: the key shows what the sheet shows
    from .render.notation import TextNotation

    nt, trace = TextNotation(digits), solution.trace
    out = {("trace", "", row.node): row.evaluation for row in lines.trace_rows(trace, nt)}
    for p in solution.forward:
        out |= {("forward", p.input, row.node): row.evaluation
                for row in lines.forward_rows(p, trace, nt) if not row.answer}
    for p in solution.reverse:
        out |= {("reverse", p.output, row.node): row.evaluation
                for row in lines.reverse_rows(p, trace, nt) if not row.answer}
    return out


def read_answers(path: str | Path) -> list[Answer]:
    """A filled worksheet: CSV (by its header) or the Markdown that --blank --format md wrote."""
    path = Path(path)
    text = read_text(path, "worksheet")
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if first.replace(" ", "").lower().startswith("part,pass,node"):
        return read_csv(text, str(path))
    if "<!-- derive:" in text:
        return read_markdown(text, str(path))
    raise ProblemError(f"{path}: not a worksheet",
                       hint="give a CSV with the header part,pass,node,value,line or the Markdown "
                            "that 'derive report --blank --format md' wrote")


def read_csv(text: str, where: str = "worksheet") -> list[Answer]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:4] != HEADER[:4]:
            raise ProblemError(f"{where}: the header must be {','.join(HEADER)}, not {excerpt(','.join(header))}")
        return _csv_rows(reader, where)
    except csv.Error as exc:  # a cell over csv.field_size_limit(), a NUL byte, a stray quote
        raise ProblemError(f"{where}: line {reader.line_num}: not valid CSV: {exc}") from None


def _csv_rows(reader, where: str) -> list[Answer]:
    answers = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        row = [*row, "", "", "", "", ""][:5]
        part, pass_, node, value, line = (cell.strip() for cell in row)
        if part not in PARTS:
            raise ProblemError(f"{where}: row {number}: part '{excerpt(part)}' is not one of {', '.join(PARTS)}")
        answers.append(Answer(part, pass_, node, value, line, where=f"{where}: row {number}"))
    return answers


def read_markdown(text: str, where: str = "worksheet") -> list[Answer]:
    answers = []
    part = pass_ = None
    columns: list[str] = []
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
    return answers


def _split_row(line: str) -> list[str]:
    """Cells of a Markdown table row, honouring escaped pipes (\\|)."""
    body = line.strip().strip("|")
    return [cell.replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]
