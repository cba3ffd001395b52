"""Terminal output: the sheet's tables as rich tables, and the Jacobian with its checks."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..errors import excerpt, inert
from ..parse import text_variable

#: What a student wrote is shown up to this many characters (the JSON keeps all of it).
GIVEN_WIDTH = 200
from ..scalar.solve import ScalarSolution
from . import lines
from .notation import TextNotation


def _text(value) -> Text:
    """A cell as plain text: rich markup (``[bold]``, ``[/]``, ``[link=…]``) is not interpreted and
    control characters (ANSI escapes) show as visible escapes, whoever wrote the string."""
    return Text(inert("" if value is None else str(value)))


def _row(table: Table, *cells, **options) -> None:
    table.add_row(*(_text(c) for c in cells), **options)


def _table(title: str, rows: list[lines.Row], with_rule: bool) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    table.add_column("Expression", overflow="fold")
    if with_rule:
        table.add_column("Rule", no_wrap=True)
    table.add_column("Evaluation", overflow="fold")
    for row in rows:
        cells = [row.expression, *([row.rule] if with_rule else []), row.evaluation]
        _row(table, *cells, style="bold" if row.answer else None, end_section=False)
    return table


def trace_view(solution: ScalarSolution, nt: TextNotation) -> Table:
    return _table("(c) Evaluation trace", lines.trace_rows(solution.trace, nt, solution.problem.written), with_rule=False)


def forward_views(solution: ScalarSolution, nt: TextNotation) -> list[Table]:
    return [_table(f"(d) Forward mode, pass for {nt.var(p.input)}", lines.forward_rows(p, solution.trace, nt), True)
            for p in solution.forward]


def reverse_views(solution: ScalarSolution, nt: TextNotation) -> list[Table]:
    return [_table(f"(e) Reverse mode, pass for {nt.var(p.output)}", lines.reverse_rows(p, solution.trace, nt), False)
            for p in solution.reverse]


def jacobian_view(solution: ScalarSolution, nt: TextNotation) -> Group:
    from .sheet import input_letter

    x = input_letter([name for name, _ in solution.trace.inputs], [name for name, _ in solution.trace.outputs])
    names = ", ".join(f"∂{y}/∂{x}" for y, _ in solution.trace.outputs)
    values = ", ".join(f"{y} = {nt.number(v)}" for (y, _), v in zip(solution.trace.outputs, solution.output_values))
    return Group(
        Text(f"f({x}) = ({values})", style="bold"),
        Text(f"Jacobian (rows {names}; columns " + ", ".join(nt.var(x) for x, _ in solution.trace.inputs) + "):",
             style="bold"),
        Text(lines.jacobian(solution, nt)),
    )


def checks_view(solution: ScalarSolution, nt: TextNotation | None = None) -> Text:
    c = solution.checks
    parts = [f"forward = reverse (max difference {c.forward_reverse_max_error:.1e})"]
    if c.symbolic == "pass":
        parts.append(f"= SymPy diff (max difference {c.symbolic_max_error:.1e})")
    else:
        parts.append(f"SymPy diff {c.symbolic}")
    if c.finite_difference == "pass":
        parts.append(f"= finite differences (max difference {c.finite_difference_max_error:.1e})")
    else:
        parts.append(f"finite differences {c.finite_difference}")
    return Text("Checks: " + " ".join(parts), style="green")


def print_views(views: list, console: Console | None = None) -> None:
    console = console or Console()
    for view in views:
        console.print(view)


def matrix_views(solution, diag: bool = False) -> list:
    """Problem 2 style: the forward equations, the adjoints in both forms, the gradients, checks."""
    from .matrix import TextPrinter, chain_form, derivative_notes, shape_text

    printer = TextPrinter(diag=diag)
    shapes = solution.model.shapes
    forward = Table(title="Forward equations", box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for column in ("Node", "Definition", "Shape"):
        forward.add_column(column)
    for name, e in solution.model.equations:
        _row(forward, text_variable(name), printer(e), shape_text(e.shape))
    adjoints = Table(title="(b) Backpropagation: one adjoint per named node, in reverse order", box=box.SIMPLE_HEAD,
                     title_justify="left", title_style="bold")
    for column in ("Adjoint", "Chain rule", "Simplified", "Shape"):
        adjoints.add_column(column, overflow="fold")
    for a in solution.derivation.adjoints:
        _row(adjoints, printer.bar(a.name), chain_form(a, printer, shapes), printer(a.simplified),
             shape_text(a.shape))
    gradients = Table(title="Gradients", box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for column in ("Gradient", "Equals", "Shape", "Exact check", "Numeric (max rel. error)"):
        gradients.add_column(column, overflow="fold")
    checks = {c.name: c for c in solution.checks.gradients}
    for g in solution.derivation.gradients:
        c = checks[g.name]
        _row(gradients, f"∂{text_variable(solution.problem.loss)}/∂{text_variable(g.name)} = {printer.bar(g.name)}", printer(g.expr),
             shape_text(g.shape), c.exact, f"{c.numeric_max_relative_error:.1e} ({c.numeric_method})")
    used = {e.function for _, eq in solution.model.equations for e in eq.walk() if e.op == "fn"}
    notes = [Text(f"{name}: abstract elementwise function; numeric checks use sigmoid", style="dim")
             for name in sorted(solution.model.abstract & used)]
    notes += [Text(note, style="dim") for note in derivative_notes(solution, printer)]
    return [forward, adjoints, gradients, *notes,
            Text(f"Checks: exact {solution.checks.exact}; numeric max relative error "
                 f"{solution.checks.numeric_max_relative_error:.1e}", style="green")]


def grade_views(grade) -> list:
    """The cells that are not right, then the score per part and the first wrong cell of each pass."""
    table = Table(title="Cells to look at", box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for column in ("Part", "Pass", "Node", "Given", "Verdict", "Slip", "Message"):
        table.add_column(column, overflow="fold")
    for c in grade.cells:
        if c.verdict not in ("correct", "rounding") or c.credit < 1:
            _row(table, c.part, c.pass_ or "-", c.node, excerpt(c.given, width=GIVEN_WIDTH) or "-", c.verdict,
                 c.slip or "", excerpt(c.message, width=4 * GIVEN_WIDTH))
    score = grade.score()
    parts = ", ".join(f"{part} {p['earned']:g}/{p['possible']} (weight {p['weight']:g})"
                      for part, p in score["parts"].items())
    first = inert(", ".join(f"{key} at {node}" for key, node in score["first_wrong"].items()) or "none")
    views = [table] if not grade.all_correct else [
        Text("Every cell is correct (or correctly rounded).", style="green")]
    notes = [Text(f"To look at: {note}", style="bold yellow") for note in grade.to_look_at()]
    return [*views, Text(f"Score: {score['total'] * 100:.1f}%  ({parts})", style="bold"),
            Text(f"First wrong cell of each pass: {first}"), *notes]



def matrix_answer_views(check) -> list:
    table = Table(title="Typed answers", box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for column in ("Part", "Name", "Given", "Verdict", "Message"):
        table.add_column(column, overflow="fold")
    for item in check.items:
        _row(table, item.part, item.name, excerpt(item.given, width=GIVEN_WIDTH) or "-", item.verdict,
             excerpt(item.message, width=4 * GIVEN_WIDTH))
    score = check.score()
    return [table, Text(f"Score: {score['correct']}/{score['possible']}", style="bold")]


def class_views(report) -> list:
    """A class's grades: one row per graded file (id, total, each part, file), then a count."""
    table = Table(title=f"Grades: {report.problem}", box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for column in ("id", "total", *report.part_names, "file"):
        table.add_column(column, overflow="fold", justify="right" if column not in ("id", "file") else "left")
    for row in report.rows():  # ids and file names come from students: shown inert
        _row(table, *(excerpt(cell, width=GIVEN_WIDTH) for cell in row))
    summary = f"{len(report.graded)} graded"
    if report.errors:
        summary += f", {len(report.errors)} could not be graded (listed below)"
    notes = [Text(inert(f"To look at: {excerpt(s.id, width=GIVEN_WIDTH)}: {note}"), style="bold yellow")
             for s in report.graded for note in s.instructor_notes()]
    return [table, Text(summary, style="bold"), *notes]
