"""The Markdown solution sheet (GitHub-flavoured, $…$ maths, Mermaid graphs)."""

from __future__ import annotations

import html

from ..scalar.solve import ScalarSolution
from . import graph
from .sheet import matrix_sheet_context, sheet_context


def escape(text: str) -> str:
    """User text shown literally: HTML specials and Markdown emphasis/maths markers escaped."""
    out = html.escape(text or "", quote=False)
    for char in "\\`*_{}[]#|$":
        out = out.replace(char, "\\" + char)
    return out


def cell(latex: str) -> str:
    """Inline maths safe inside a table cell ('|' would end the cell)."""
    return "$" + latex.replace(r"\left|", r"\left\vert ").replace(r"\right|", r"\right\vert ").replace("|", r"\vert ") + "$"


def context(solution: ScalarSolution, **options) -> dict:
    return sheet_context(solution, escape=escape, graph=graph.mermaid, **options)


def matrix_context(solution, **options) -> dict:
    return matrix_sheet_context(solution, escape=escape, graph=graph.matrix_mermaid, markdown=True, **options)
