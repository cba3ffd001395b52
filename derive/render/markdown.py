"""The Markdown solution sheet (GitHub-flavoured, $…$ maths, Mermaid graphs)."""

from __future__ import annotations

import html
import re

from ..scalar.solve import ScalarSolution
from . import graph
from .sheet import matrix_sheet_context, sheet_context


#: Characters shown by their code instead: control characters (a terminal that prints the sheet
#: runs ESC sequences) and the bidirectional overrides that reorder the text after them.
_UNSHOWN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """User text shown literally: HTML specials and Markdown emphasis/maths markers escaped,
    control characters and bidirectional overrides as [U+202E] (as the LaTeX sheet shows them)."""
    out = html.escape(_UNSHOWN.sub(lambda m: f"[U+{ord(m.group()):04X}]", text or ""), quote=False)
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
