"""A person's decisions on cells the grader could not settle (``review``) or got wrong for a
student: ``overrides.csv`` with the columns id, part, pass, node, credit, note, applied on every
re-grade so the decision is kept with the class's files, not typed into a gradebook by hand.

A resolved cell gets the verdict ``correct`` (credit 1) or ``wrong`` (less), the slip
``regraded`` (its "kind" in JSON) and the note as its message; it no longer counts as waiting for review.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from ..errors import ProblemError, excerpt
from .roster import _read_csv, check_id

COLUMNS = ("id", "part", "pass", "node", "credit", "note")


def read_overrides(path: str | Path, cells: list[tuple[str, str, str]]) -> dict[str, list[dict]]:
    """id → the overridden cells of that student.  ``cells``: the worksheet's cells (part, pass,
    node), the same for every variant; a row naming another cell, a credit outside 0..1 or a
    cell overridden twice is refused with its row."""
    path = Path(path)
    rows = _read_csv(path, "overrides file")
    header = {(k or "").strip().lower() for k in (rows[0] if rows else {})}
    if not rows or not {"id", "part", "node", "credit"} <= header:
        raise ProblemError(f"{path}: overrides need the columns {','.join(COLUMNS)} and at least one row",
                           hint="e.g. ada,forward,x2,v6,1,the 1,250 is a decimal comma")
    valid, out, seen = set(cells), {}, {}
    for number, raw in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        where = f"{path}: row {number}"
        sid = check_id(row.get("id", ""), where)
        cell = (row.get("part", ""), row.get("pass", ""), row.get("node", ""))
        if cell not in valid:
            raise ProblemError(f"{where}: no cell {cell[0] or '-'}/{cell[1] or '-'}/{cell[2] or '-'} in this problem",
                               hint="part is trace, forward or reverse; pass is an input (forward) or output "
                                    "(reverse) name, empty for the trace")
        try:
            credit = float(row.get("credit", ""))
        except ValueError:
            credit = math.nan
        if not 0 <= credit <= 1:
            raise ProblemError(f"{where}: credit '{excerpt(row.get('credit', ''))}' is not a number from 0 to 1")
        if (sid, cell) in seen:
            raise ProblemError(f"{where}: the cell is already overridden on row {seen[(sid, cell)]}")
        seen[(sid, cell)] = number
        out.setdefault(sid, []).append({"cell": cell, "credit": credit, "note": row.get("note", "")})
    return out


def apply_overrides(result, rows: list[dict]):
    """The grade with the person's decisions in place of the grader's verdicts."""
    if not rows:
        return result
    if not hasattr(result, "cells"):
        raise ProblemError("--overrides resolves cells of scalar worksheets; typed matrix answers have none")
    decided = {row["cell"]: row for row in rows}
    cells = []
    for c in result.cells:
        row = decided.get((c.part, c.pass_, c.node))
        if row is not None:
            note = row["note"] or "decided by a person"
            c = replace(c, verdict="correct" if row["credit"] >= 1 else "wrong", slip="regraded",
                        credit=row["credit"], message=f"regraded: {note}")
        cells.append(c)
    return replace(result, cells=cells)
