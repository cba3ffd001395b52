"""The LaTeX solution sheet: escaping of user text and the template context for TeX."""

from __future__ import annotations

from pylatex.utils import escape_latex

from ..scalar.solve import ScalarSolution
from . import graph
from .sheet import matrix_sheet_context, sheet_context


#: Characters the default (OT1) text font lacks: take them from the typewriter font, so the
#: PDF shows and pdftotext reads back the very character the user typed.
_FROM_TYPEWRITER = {r"\_": r"{\ttfamily\char95}", r"\textasciitilde{}": r"{\ttfamily\char126}",
                    r"\^{}": r"{\ttfamily\char94}"}


def escape(text: str) -> str:
    """User text as literal TeX (PyLaTeX's escaping of \\ { } $ % & # _ ^ ~)."""
    out = str(escape_latex(text or ""))
    for escaped, glyph in _FROM_TYPEWRITER.items():
        out = out.replace(escaped, glyph)
    return out


def context(solution: ScalarSolution, **options) -> dict:
    return sheet_context(solution, escape=escape, graph=graph.tikz, **options)


def matrix_context(solution, **options) -> dict:
    return matrix_sheet_context(solution, escape=escape, graph=graph.matrix_tikz, **options)
