"""The LaTeX solution sheet: escaping of user text and the template context for TeX."""

from __future__ import annotations

from pylatex.utils import escape_latex

from ..scalar.solve import ScalarSolution
from . import graph
from .sheet import sheet_context


def escape(text: str) -> str:
    """User text as literal TeX (PyLaTeX's escaping of \\ { } $ % & # _ ^ ~)."""
    return str(escape_latex(text or ""))


def context(solution: ScalarSolution, **options) -> dict:
    return sheet_context(solution, escape=escape, graph=graph.tikz, **options)
