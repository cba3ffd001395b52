"""The LaTeX solution sheet: escaping of user text and the template context for TeX.

The sheets use T1 fonts (Latin Modern), so ASCII prints as typed (``<``, ``|``, ``"``) and the
Latin letters with accents that LaTeX's UTF-8 support knows for T1/TS1 are typeset as they are.
Greek letters and a few mathematical symbols are typeset in math mode; any other character
(CJK, emoji, right-to-left scripts, control characters) becomes a visible ``[U+4E2D]``
placeholder, never a TeX error.  Escaping is by table rather than PyLaTeX's ``escape_latex``,
which turns a newline into ``\\newline`` (an error at the start of a paragraph), lets T1's
ligatures (``--``, ``<<``, ``,,``) change what the user typed, and passes unsupported
characters on to TeX.
"""

from __future__ import annotations

import re
import unicodedata

from ..scalar.solve import ScalarSolution
from . import graph
from .sheet import matrix_sheet_context, sheet_context

#: ASCII characters TeX treats specially (or would join into ligatures), each as literal text.
#: Every control word is closed by {} so it cannot glue onto the letters that follow.
_ASCII = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "'": r"\textquotesingle{}", "`": r"\textasciigrave{}",
    "-": "-{}", ",": ",{}", "!": "!{}", "?": "?{}",  # no -- --- ,, !` ?` ligatures
}

#: Greek letters (and a few symbols) typeset in math mode: T1 text fonts have no Greek.
_GREEK = ("alpha beta gamma delta varepsilon zeta eta theta iota kappa lambda mu nu xi o pi rho varsigma "
          "sigma tau upsilon varphi chi psi omega",  # U+03B1 ... U+03C9
          "A B Gamma Delta E Z H Theta I K Lambda M N Xi O Pi P - Sigma T Upsilon Phi X Psi Omega")  # U+0391 ...
_MATH = {
    **{chr(start + i): name if len(name) == 1 else "\\" + name
       for start, names in zip((0x3B1, 0x391), _GREEK) for i, name in enumerate(names.split()) if name != "-"},
    "ϑ": r"\vartheta", "ϕ": r"\phi", "ϵ": r"\epsilon", "ϱ": r"\varrho", "ϖ": r"\varpi",
    "∂": r"\partial", "∇": r"\nabla", "∞": r"\infty", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq",
    "≈": r"\approx", "∈": r"\in", "∑": r"\sum", "∏": r"\prod", "√": r"\surd", "−": "-", "⊙": r"\odot", "⊘": r"\oslash",
    "⊤": r"\top", "′": r"\prime", "→": r"\rightarrow", "ᵀ": r"^{\top}", "·": r"\cdot",
}

#: Code points above ASCII that LaTeX's UTF-8 support defines for the T1, TS1 and OMS encodings
#: (t1enc.dfu, ts1enc.dfu, omsenc.dfu of TeX Live 2022), so they typeset as themselves.
_TEXT_RANGES = (
    (0xA0, 0xB7), (0xB9, 0x125), (0x128, 0x137), (0x139, 0x13E), (0x141, 0x148), (0x14A, 0x165),
    (0x168, 0x17E), (0x192, 0x192), (0x1C4, 0x1D4), (0x1E2, 0x1E3), (0x1E6, 0x1EB), (0x1F0, 0x1F0),
    (0x1F4, 0x1F5), (0x218, 0x21B), (0x232, 0x233), (0x237, 0x237), (0x2C7, 0x2C7), (0x2D8, 0x2D9),
    (0x2DB, 0x2DB), (0x2DD, 0x2DD), (0xE3F, 0xE3F), (0x1E02, 0x1E03), (0x1E0D, 0x1E0D),
    (0x1E1E, 0x1E21), (0x1E25, 0x1E25), (0x1E30, 0x1E31), (0x1E37, 0x1E37), (0x1E43, 0x1E43),
    (0x1E45, 0x1E45), (0x1E47, 0x1E47), (0x1E5B, 0x1E5B), (0x1E63, 0x1E63), (0x1E6D, 0x1E6D),
    (0x1E8E, 0x1E91), (0x1E9E, 0x1E9E), (0x1EF2, 0x1EF3), (0x200C, 0x200C), (0x2010, 0x2016),
    (0x2018, 0x201A), (0x201C, 0x201E), (0x2020, 0x2022), (0x2030, 0x2031), (0x2039, 0x203B),
    (0x203D, 0x203D), (0x2044, 0x2044), (0x204E, 0x204E), (0x2052, 0x2052), (0x20A1, 0x20A1),
    (0x20A4, 0x20A4), (0x20A6, 0x20A6), (0x20A9, 0x20A9), (0x20AB, 0x20AC), (0x20B1, 0x20B1),
    (0x2103, 0x2103), (0x2116, 0x2117), (0x211E, 0x211E), (0x2120, 0x2120), (0x2122, 0x2122),
    (0x2126, 0x2127), (0x212E, 0x212E), (0x2190, 0x2193), (0x2329, 0x232A), (0x2422, 0x2423),
    (0x25E6, 0x25E6), (0x25EF, 0x25EF), (0x266A, 0x266A), (0x27E8, 0x27E9), (0x3008, 0x3009),
    (0xFB00, 0xFB06), (0xFEFF, 0xFEFF),
)
_WHITESPACE = re.compile(r"\s+")


def _typesets(code: int) -> bool:
    return any(low <= code <= high for low, high in _TEXT_RANGES)


def _char(c: str) -> str:
    if " " <= c <= "~":
        return _ASCII.get(c, c)
    if c in _MATH:
        return rf"\({_MATH[c]}\)"
    if _typesets(ord(c)):
        return c
    return rf"{{\ttfamily[U+{ord(c):04X}]}}"  # shown, not passed to TeX as a character it lacks


def escape(text: str) -> str:
    """User text as literal TeX: specials escaped, ligatures broken, whitespace (newlines too)
    as single spaces, Greek in math mode, characters TeX cannot typeset as a visible placeholder."""
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", str(text or ""))).strip()
    return "".join(_char(c) for c in text)


def context(solution: ScalarSolution, **options) -> dict:
    return sheet_context(solution, escape=escape, graph=graph.tikz, **options)


def matrix_context(solution, **options) -> dict:
    return matrix_sheet_context(solution, escape=escape, graph=graph.matrix_tikz, **options)
