"""Terminal output: the sheet's tables as rich tables, and the Jacobian with its checks."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..scalar.solve import ScalarSolution
from . import lines
from .notation import TextNotation


def _table(title: str, rows: list[lines.Row], with_rule: bool) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    table.add_column("Expression", overflow="fold")
    if with_rule:
        table.add_column("Rule", no_wrap=True)
    table.add_column("Evaluation", overflow="fold")
    for row in rows:
        cells = [row.expression, *([row.rule] if with_rule else []), row.evaluation]
        table.add_row(*cells, style="bold" if row.answer else None, end_section=False)
    return table


def trace_view(solution: ScalarSolution, nt: TextNotation) -> Table:
    return _table("(c) Evaluation trace", lines.trace_rows(solution.trace, nt), with_rule=False)


def forward_views(solution: ScalarSolution, nt: TextNotation) -> list[Table]:
    return [_table(f"(d) Forward mode, pass for {p.input}", lines.forward_rows(p, solution.trace, nt), True)
            for p in solution.forward]


def reverse_views(solution: ScalarSolution, nt: TextNotation) -> list[Table]:
    return [_table(f"(e) Reverse mode, pass for {p.output}", lines.reverse_rows(p, solution.trace, nt), False)
            for p in solution.reverse]


def jacobian_view(solution: ScalarSolution, nt: TextNotation) -> Group:
    names = ", ".join(f"∂{y}/∂x" for y, _ in solution.trace.outputs)
    values = ", ".join(f"{y} = {nt.number(v)}" for (y, _), v in zip(solution.trace.outputs, solution.output_values))
    return Group(
        Text(f"f(x) = ({values})", style="bold"),
        Text(f"Jacobian (rows {names}; columns " + ", ".join(x for x, _ in solution.trace.inputs) + "):",
             style="bold"),
        Text(lines.jacobian(solution, nt)),
    )


def checks_view(solution: ScalarSolution, nt: TextNotation) -> Text:
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
