"""Item analysis of a graded class: what share of the class got each cell right, carried an
earlier error, slipped, left it empty or waits for review; which slips; and where each pass
first goes wrong.  Written by ``derive check … --stats DIR`` as stats.csv, stats.json and a
heat-mapped copy of the key (key-heatmap.md, key-heatmap.tex and its PDF).

The plots (a histogram of totals, a bar chart per part) are pgfplots pictures inside the PDF:
TeX Live is already what the sheets need, so the plots add no dependency, and they share the
key's fonts and page.  The Markdown copy draws the same figures as text bars.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import files

#: What a cell's verdict counts as, in the order of the columns.
CATEGORIES = ("correct", "carried", "wrong", "missing", "review")
#: Slip kinds of a scalar worksheet (derive.grading.grade), in the order of the columns.
SLIPS = ("sign", "chain", "degrees", "arithmetic", "rule", "point")
#: Diagnoses of a typed matrix answer, read from the grader's verdict and message.
DIAGNOSES = ("transpose", "hadamard", "shape", "invalid", "unequal")
#: Bins of the histogram of totals (percent): 0–10, 10–20, …, 90–100 (100 falls in the last).
BINS = 10
#: The key of a first-wrong distribution for a pass the student got all right.
NONE = "(none)"


@dataclass
class CellStats:
    """One cell (part, pass, node) over the class."""

    part: str
    pass_: str
    node: str
    counts: Counter = field(default_factory=Counter)  # by CATEGORIES
    slips: Counter = field(default_factory=Counter)  # by SLIPS (scalar) or DIAGNOSES (matrix)
    first_wrong: int = 0  # students whose first wrong cell of this pass is this one

    @property
    def students(self) -> int:
        return sum(self.counts.values())

    def share(self, category: str) -> float:
        return self.counts[category] / self.students if self.students else 0.0

    @property
    def top_slip(self) -> str:
        """The most frequent slip (ties: the first in the column order), or "" for none."""
        if not self.slips:
            return ""
        order = {name: k for k, name in enumerate((*SLIPS, *DIAGNOSES))}
        return min(self.slips, key=lambda s: (-self.slips[s], order.get(s, len(order)), s))

    @property
    def table(self) -> str:
        """The table the cell belongs to: trace, forward:x1, reverse:y2, adjoints, gradients."""
        return f"{self.part}:{self.pass_}" if self.pass_ else self.part


@dataclass
class ClassStats:
    problem: str
    engine: str  # scalar or matrix
    cells: list[CellStats]
    first_wrong: dict[str, Counter]  # table -> node (or NONE) -> students
    totals: list[float]  # each graded student's total, 0..1
    parts: dict[str, list[float]]  # part -> each student's fraction of it
    ungraded: int = 0  # files that could not be graded (not counted anywhere else)

    @property
    def students(self) -> int:
        return len(self.totals)

    @property
    def slip_names(self) -> tuple[str, ...]:
        return SLIPS if self.engine == "scalar" else DIAGNOSES

    def histogram(self) -> list[int]:
        """Students per BINS-wide bin of the total (percent)."""
        counts = [0] * BINS
        for total in self.totals:
            counts[min(int(total * BINS), BINS - 1)] += 1
        return counts

    def part_means(self) -> dict[str, float]:
        return {part: sum(v) / len(v) for part, v in self.parts.items() if v}

    def rows(self) -> list[dict]:
        """One dict per cell: the columns of stats.csv (see COLUMNS)."""
        return [{"part": c.part, "pass": c.pass_, "node": c.node, "students": c.students,
                 **{k: round(c.share(k), 4) for k in CATEGORIES},
                 **{k: c.slips[k] for k in self.slip_names},
                 "top_slip": c.top_slip, "first_wrong": c.first_wrong} for c in self.cells]

    def to_csv(self) -> str:
        out = io.StringIO()
        names = ["part", "pass", "node", "students", *CATEGORIES, *self.slip_names, "top_slip", "first_wrong"]
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()

    def as_dict(self) -> dict:
        hist = self.histogram()
        return {"problem": self.problem, "kind": self.engine, "students": self.students, "ungraded": self.ungraded,
                "cells": self.rows(),
                "first_wrong": {table: dict(counter) for table, counter in self.first_wrong.items()},
                "totals": {"mean": sum(self.totals) / len(self.totals) if self.totals else None,
                           "histogram": [{"from": 100 * k // BINS, "to": 100 * (k + 1) // BINS, "students": n}
                                         for k, n in enumerate(hist)]},
                "parts": {part: {"mean": mean} for part, mean in self.part_means().items()}}


def category(cell: dict) -> str:
    """correct, carried, wrong, missing or review, of one cell of a grade's as_dict()."""
    verdict = cell["verdict"]
    if verdict in ("correct", "rounding"):
        return "correct"
    if verdict == "carried":  # a `wrong` cell of kind carried (a trivial step, no credit) is wrong
        return "carried"
    if verdict in ("missing", "review"):
        return verdict
    return "wrong"


def diagnosis(cell: dict, engine: str) -> str | None:
    """The slip of a wrong cell: the grader's slip for a worksheet; for a typed matrix answer,
    a missing transpose or an elementwise product for a matrix one when the grader's message
    says so, else the verdict (shape, invalid) or 'unequal'."""
    if engine == "scalar":
        return cell.get("kind") if cell.get("kind") in SLIPS else None
    message = (cell.get("message") or "").lower()
    if "transpose" in message:
        return "transpose"
    if "elementwise" in message or "hadamard" in message:
        return "hadamard"
    return cell["verdict"] if cell["verdict"] in ("shape", "invalid") else "unequal"


def class_stats(report) -> ClassStats:
    """The item analysis of a batch.ClassReport (graded submissions only)."""
    graded = report.graded
    engine = "matrix" if graded and hasattr(graded[0].result, "items") else "scalar"
    cells: dict[tuple[str, str, str], CellStats] = {}
    first_wrong: dict[str, Counter] = {}
    totals, parts = [], {}
    for submission in graded:
        totals.append(submission.total)
        for part, fraction in submission.parts().items():
            parts.setdefault(part, []).append(fraction)
        seen_wrong: set[str] = set()
        tables: list[str] = []
        for cell in submission.result.as_dict()["cells"]:
            key = (cell["part"], cell["pass"], cell["node"])
            stats = cells.setdefault(key, CellStats(*key))
            what = category(cell)
            stats.counts[what] += 1
            if what == "wrong" and (slip := diagnosis(cell, engine)):
                stats.slips[slip] += 1
            if stats.table not in tables:
                tables.append(stats.table)
            if what in ("wrong", "missing") and stats.table not in seen_wrong:
                seen_wrong.add(stats.table)
                stats.first_wrong += 1
                first_wrong.setdefault(stats.table, Counter())[cell["node"]] += 1
        for table in tables:
            if table not in seen_wrong:
                first_wrong.setdefault(table, Counter())[NONE] += 1
    return ClassStats(report.problem, engine, list(cells.values()), first_wrong, totals, parts, len(report.errors))


# -- the heat-mapped key ---------------------------------------------------------------------------
def shade(share: float) -> int:
    """Percent of red mixed into white for a share wrong (0 → white, ≥ 1/2 → the deepest)."""
    return round(min(1.0, 2 * share) * 60)


def _glyph(share: float) -> str:
    """A square for the Markdown copy: ⬜ under 5 %, 🟨 under 20 %, 🟧 under 40 %, 🟥 above."""
    return "⬜" if share < 0.05 else "🟨" if share < 0.2 else "🟧" if share < 0.4 else "🟥"


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def edge_shares(stats: ClassStats, solution) -> dict[str, float]:
    """For each edge of the graph (key "vj:k", the local partial ∂vj/∂(its k-th argument)): the
    share wrong of the cells that use that partial, i.e. the forward cells of vj and the reverse
    cells of the argument, over the class."""
    by_cell = {(c.part, c.pass_, c.node): c for c in stats.cells}
    out = {}
    for node in solution.trace.nodes:
        for p in node.partials:
            used = [c for c in by_cell.values() if (c.part == "forward" and c.node == node.id)
                    or (c.part == "reverse" and c.node == p.arg)]
            wrong = sum(c.counts["wrong"] for c in used)
            seen = sum(c.students for c in used)
            out[f"{node.id}:{p.position}"] = wrong / seen if seen else 0.0
    return out


def _scalar_tables(stats: ClassStats, solution, lt, escape) -> list[dict]:
    from ..render import lines

    trace = solution.trace
    by_cell = {(c.part, c.pass_, c.node): c for c in stats.cells}
    rows_of = [("trace", "", "Evaluation trace", lines.trace_rows(trace, lt))]
    rows_of += [("forward", p.input, f"Forward mode, seeded at {p.input}", lines.forward_rows(p, trace, lt))
                for p in solution.forward]
    rows_of += [("reverse", p.output, f"Reverse mode, from {p.output}", lines.reverse_rows(p, trace, lt))
                for p in solution.reverse]
    tables = []
    for part, pass_, title, rows in rows_of:
        out = []
        for row in rows:
            cell = by_cell.get((part, pass_, row.node))
            if row.answer or cell is None:
                continue
            out.append(_row(cell, name=trace.by_id[row.node].latex_name, expression=row.expression,
                            evaluation=row.evaluation))
        tables.append({"title": escape(title), "rows": out,
                       "first_wrong": _first_wrong(stats, f"{part}:{pass_}" if pass_ else part)})
    return tables


def _row(cell: CellStats, **shown) -> dict:
    """One row of a heat-mapped table: what the key shows (``shown``) and the class's figures."""
    return {"node": cell.node, **shown, "wrong": cell.share("wrong"), "carried": cell.share("carried"),
            "missing": cell.share("missing"), "review": cell.share("review"), "shade": shade(cell.share("wrong")),
            "top_slip": cell.top_slip, "top_count": cell.slips[cell.top_slip] if cell.top_slip else 0,
            "first_wrong": cell.first_wrong}


def _first_wrong(stats: ClassStats, table: str) -> list[tuple[str, int]]:
    """(node, students) of a table's first-wrong distribution, most frequent first."""
    first = stats.first_wrong.get(table, Counter())
    return [("none wrong" if node == NONE else node, n) for node, n in first.most_common()]


def _matrix_tables(stats: ClassStats, solution) -> list[dict]:
    from .answers import _expected
    from ..render.matrix import TextPrinter

    text = TextPrinter()
    expected = {key: text(value) for key, value in _expected(solution).items()}
    tables = []
    for part in ("adjoints", "gradients"):
        rows = [_row(c, name="", expression=expected.get((part, c.node), ""), evaluation="")
                for c in stats.cells if c.part == part]
        if rows:
            tables.append({"title": part.capitalize(), "rows": rows, "first_wrong": _first_wrong(stats, part)})
    return tables


def heatmap_markdown(stats: ClassStats, solution) -> str:
    """The key as Markdown tables with each cell's share wrong as a coloured square, the top
    slip beside it, the first-wrong distribution of each pass and text-bar plots."""
    from ..render import graph, markdown
    from ..render.notation import LatexNotation

    title = markdown.escape(solution.problem.title or solution.problem.name)
    out = [f"# Item analysis: {title}", "",
           f"{stats.students} student(s) graded" + (f", {stats.ungraded} file(s) could not be" if stats.ungraded
                                                    else "") + ". Values are the key's, at the problem's point; "
           "the share of the class that got each cell wrong (its own slip, not a carried one) is the square: "
           "⬜ under 5 %, 🟨 under 20 %, 🟧 under 40 %, 🟥 40 % or more.", ""]
    if stats.engine == "scalar":
        tables = _scalar_tables(stats, solution, LatexNotation(3), lambda s: s)
    else:
        tables = _matrix_tables(stats, solution)
    for table in tables:
        out += [f"## {table['title']}", "", "| Node | Key | Wrong | Carried | Missing | Review | Top slip |",
                "|---|---|---|---|---|---|---|"]
        for row in table["rows"]:
            key = markdown.cell(row["evaluation"]) if row["evaluation"] else f"`{row['expression']}`"
            slip = f"{row['top_slip']} ×{row['top_count']}" if row["top_slip"] else ""
            out.append(f"| {row['node']} | {key} | {_glyph(row['wrong'])} {_percent(row['wrong'])} | "
                       f"{_percent(row['carried'])} | {_percent(row['missing'])} | {_percent(row['review'])} | {slip} |")
        if table["first_wrong"]:
            out += ["", "First wrong cell of this pass (students): " + ", ".join(f"{node} ({n})" for node, n in table["first_wrong"])]
        out.append("")
    if stats.engine == "scalar":
        out += ["## Backpropagation graph", "",
                "Each edge is a local partial; its colour is the share of the cells using it that the class got "
                "wrong.", "", "```mermaid", _shaded_mermaid(stats, solution, graph), "```", ""]
    out += ["## Totals", "", "```"]
    hist = stats.histogram()
    for k, n in enumerate(hist):
        out.append(f"{100 * k // BINS:3d}–{100 * (k + 1) // BINS:<3d}% {'█' * n} {n}")
    out += ["```", "", "## Parts (mean score)", "", "```"]
    for part, mean in stats.part_means().items():
        out.append(f"{part:<10} {'█' * round(20 * mean):<20} {_percent(mean)}")
    out += ["```", ""]
    return "\n".join(out)


def _shaded_mermaid(stats: ClassStats, solution, graph) -> str:
    """The adjoint graph's Mermaid chart with each partial's edge coloured (its links come in
    the chart's own order: the outputs' links, then each node's partials)."""
    shares = edge_shares(stats, solution)
    out = [graph.mermaid(solution.trace, adjoint=True)]
    link = len(solution.trace.outputs)
    for node in solution.trace.nodes:
        for p in node.partials:
            share = shares[f"{node.id}:{p.position}"]
            red = 255 - round(255 * min(1.0, 4 * share))
            out.append(f"    linkStyle {link} stroke:#ff{red:02x}{red:02x},stroke-width:{1 + round(3 * min(1.0, 4 * share))}px"
                       if share else f"    linkStyle {link} stroke:#bbbbbb")
            link += 1
    return "\n".join(out)


def _edge_style(share: float) -> str:
    """A shaded edge: an edge's share is spread over four cells' worth of the class, so its scale
    is four times the cells' (a partial a tenth of its cells get wrong is already deep red)."""
    strength = min(1.0, 4 * share)
    return f"draw=red!{round(100 * strength)}!black!70, line width={0.8 + 2.4 * strength:.2f}pt"


def heatmap_tex(stats: ClassStats, solution) -> str:
    """The key as a LaTeX document: cells shaded by the share wrong, the top slip in the margin
    column, the backpropagation graph with its edges shaded the same way, and pgfplots plots."""
    from .. import sandbox
    from ..render import graph, latex
    from ..render.notation import LatexNotation
    from ..report import _builtin_template

    if stats.engine == "scalar":
        tables = _scalar_tables(stats, solution, LatexNotation(3), latex.escape)
        shares = edge_shares(stats, solution)
        spec, drawing = graph.scalar_spec(solution.trace, adjoint=True), None
        if len(spec.nodes) <= graph.GRAPH_NODE_LIMIT:  # the sheet's own drawing of (b), inputs in its order
            spec, drawing = graph.sheet_layout(solution.trace, adjoint=True)
        picture = graph.spec_tikz(spec, drawing, {key: _edge_style(s) for key, s in shares.items() if s}) \
            if drawing else ""
    else:
        tables, picture = _matrix_tables(stats, solution), ""
        for table in tables:
            for row in table["rows"]:
                row["expression"] = latex.escape(row["expression"])
    context = {"title": latex.escape(solution.problem.title or solution.problem.name), "engine": stats.engine,
               "students": stats.students, "ungraded": stats.ungraded, "tables": tables, "graph": picture,
               "histogram": [(100 * k // BINS, n) for k, n in enumerate(stats.histogram())],
               "parts": [(part, 100 * mean) for part, mean in stats.part_means().items()]}
    name = "heatmap.tex.j2"
    return sandbox.render(sandbox.compile_template("tex", _builtin_template(name), name), context, name)


def write_stats(report, solution, out_dir: str | Path, pdf: bool = True) -> list[Path]:
    """stats.csv, stats.json, key-heatmap.md and key-heatmap.tex (and with ``pdf`` its PDF) in
    ``out_dir``; returns the paths written.  With no file graded only stats.csv and stats.json
    (with no rows) are written: there is nothing to shade."""
    stats = class_stats(report)
    out_dir = files.ensure_folder(out_dir)
    written = [files.write_text(out_dir / "stats.csv", stats.to_csv()),
               files.write_text(out_dir / "stats.json", json.dumps(stats.as_dict(), indent=2, ensure_ascii=False) + "\n")]
    if not stats.students:
        return written
    written += [files.write_text(out_dir / "key-heatmap.md", heatmap_markdown(stats, solution)),
                files.write_text(out_dir / "key-heatmap.tex", heatmap_tex(stats, solution))]
    if pdf:
        from ..report import compile_pdf

        written.append(compile_pdf(written[-1]))
    return written
