"""A course's students: the roster that goes in, the manifest that comes out, and shards.

A roster is a CSV with an ``id`` column (optional ``name`` and ``email``), or Canvas's gradebook
export (ids from ``SIS User ID``; its ``Points Possible`` row and the test student are skipped).
Ids become file names (``<id>-blank.pdf``) and are printed on sheets, so they are checked once
here: letters, digits, ``-``, ``_``, ``.``, ``@`` and ``+`` (an email address is an id), at most 64
characters, starting with a letter, digit or ``_``; no duplicates, not even in another case
(their files would collide on macOS and Windows).  An id that lost its leading zeros in a
spreadsheet (``123`` for ``00123``) is matched to the one it stands for, with a note.

The manifest maps each id to its variant: columns ``id``, ``seed``, then one per input and varied
constant, values exact (``3/2``).  Manifests of shards concatenate (header once).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import sympy

from ..errors import DeriveError, ProblemError
from ..problems import Problem, parse_value
from ..userfiles import read_text

STUDENT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@+-]{0,63}")
ID_HINT = "ids are letters, digits, '-', '_', '.', '@' and '+', at most 64, starting with a letter, digit or '_'"
MAX_ROSTER = 100_000


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class ManifestEntry:
    id: str
    seed: int
    values: dict[str, sympy.Expr]


def check_id(text: str, where: str) -> str:
    if not STUDENT_ID.fullmatch(text):
        raise ProblemError(f"{where}: '{text[:80]}' is not a valid student id", hint=ID_HINT)
    return text


def anonymous_roster(count: int) -> list[Student]:
    """s001, s002, ... (wider when the class is larger than 999)."""
    width = max(3, len(str(count)))
    return [Student(f"s{i:0{width}d}") for i in range(1, count + 1)]


#: The longest cell of a roster or manifest (an id is at most 64 characters, a name far less).
MAX_CELL = 10_000


def _read_csv(path: Path, what: str) -> list[dict[str, str]]:
    """The rows of a roster or manifest, read with the same checks as a worksheet (a regular
    file of bounded size: a FIFO or /dev/zero is refused, not waited on), every cell bounded."""
    text = read_text(path, what)
    rows = []
    reader = csv.DictReader(io.StringIO(text))
    try:
        for row in reader:
            if len(rows) >= MAX_ROSTER:
                raise ProblemError(f"{path}: more than {MAX_ROSTER} rows")
            long = next((k for k, v in row.items() if isinstance(v, str) and len(v) > MAX_CELL), None)
            if long is not None:
                raise ProblemError(f"{path}: row {reader.line_num}: a cell of more than {MAX_CELL:,} characters",
                                   hint=f"is this the {what}?")
            rows.append(row)
    except csv.Error as exc:
        raise ProblemError(f"{path}: line {reader.line_num}: the {what} is not a CSV file that can be read: {exc}",
                           hint=f"is this the {what}?") from None
    return rows


def _header(rows: list[dict[str, str]]) -> set[str]:
    return {(k or "").strip().lower() for k in (rows[0] if rows else {})}


def match_id(text: str, ids) -> tuple[str | None, str]:
    """The id of ``ids`` that ``text`` names, and a note when it was not written exactly: an id
    of digits that lost its leading zeros (``123`` for ``00123``), or the other way round."""
    if text in ids:
        return text, ""
    if text.isdigit():
        same = [i for i in ids if i.isdigit() and int(i) == int(text)]
        if len(same) == 1:
            return same[0], (f"the id '{text}' was matched to '{same[0]}' (leading zeros lost, e.g. in a "
                             "spreadsheet)")
    return None, ""


def read_roster(path: str | Path) -> list[Student]:
    """The students of a roster CSV, in file order (which fixes each one's variant)."""
    path = Path(path)
    rows = _read_csv(path, "roster")
    canvas = "sis user id" in _header(rows) and "id" in _header(rows)
    if not rows or "id" not in _header(rows):
        raise ProblemError(f"{path}: a roster needs an 'id' column and at least one student",
                           hint="a CSV with the header id,name,email (name and email optional), or Canvas's "
                                "gradebook export")
    students, seen = [], {}
    for number, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
        if canvas:
            if _canvas_extra_row(row):
                continue
            row = {"id": row.get("sis user id", ""), "name": row.get("student", ""),
                   "email": row.get("email", "") or (row.get("sis login id", "") if "@" in row.get("sis login id", "")
                                                     else "")}
        sid = check_id(row.get("id", ""), f"{path}: row {number}")
        if sid.lower() in seen:
            raise ProblemError(f"{path}: row {number}: the id '{sid}' is already on row {seen[sid.lower()]}"
                               + ("" if any(s.id == sid for s in students) else " (in another case)"),
                               hint="every student needs their own id")
        seen[sid.lower()] = number
        students.append(Student(sid, row.get("name", ""), row.get("email", "")))
    if not students:
        raise ProblemError(f"{path}: the roster has no students")
    return students


def _canvas_extra_row(row: dict[str, str]) -> bool:
    """Rows of Canvas's export that are not students: "Points Possible" (each assignment's
    maximum), and the course's test student (no SIS id)."""
    name = row.get("student", "")
    return name.lower().startswith("points possible") or (not row.get("sis user id") and "test" in name.lower())


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 ≤ K ≤ N): this machine's share of the class."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text or "")
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ProblemError(f"--shard '{text}' is not K/N with 1 ≤ K ≤ N", hint="e.g. --shard 2/8")
    return int(match.group(1)), int(match.group(2))


def in_shard(index: int, shard: tuple[int, int]) -> bool:
    """Whether the student at 0-based ``index`` belongs to shard K/N (index ≡ K−1 mod N)."""
    k, n = shard
    return index % n == k - 1


def manifest_csv(entries: list[ManifestEntry], names: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "seed", *names])
    for entry in entries:
        writer.writerow([entry.id, entry.seed, *(str(entry.values[name]) for name in names)])
    return out.getvalue()


def read_manifest(path: str | Path, problem: Problem) -> dict[str, ManifestEntry]:
    """id → the variant's seed and values, checked against the problem's inputs and constants."""
    path = Path(path)
    rows = _read_csv(path, "manifest")
    names = [k for k in (rows[0] if rows else {}) if k not in ("id", "seed")]
    if not rows or "id" not in rows[0]:
        raise ProblemError(f"{path}: not a manifest (no 'id' column, or no rows)",
                           hint="give the manifest.csv that 'derive variants' wrote")
    for name in names:
        if name not in problem.inputs and name not in problem.constants:
            raise ProblemError(f"{path}: column '{name}' is not an input or constant of {problem.name}",
                               hint="is this the manifest of another problem?")
    entries = {}
    for number, row in enumerate(rows, start=2):
        if row.get("id") == "id":  # a header repeated by a careless concatenation
            continue
        sid = check_id((row.get("id") or "").strip(), f"{path}: row {number}")
        try:
            values = {name: parse_value((row.get(name) or "").strip(), f"{path}: row {number}: {name}")
                      for name in names}
            seed = int(row.get("seed") or 0)
        except (DeriveError, ValueError) as exc:
            raise ProblemError(f"{path}: row {number}: {getattr(exc, 'message', exc)}") from None
        if sid in entries:
            raise ProblemError(f"{path}: row {number}: the id '{sid}' appears twice")
        entries[sid] = ManifestEntry(sid, seed, values)
    return entries
