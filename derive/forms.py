"""The one template syntax of every form in every table (text, LaTeX, NumPy source).

A form marks where its pieces go with ``$`` and one character: ``$0``, ``$1`` for the
arguments (already bracketed by the printer), ``$f`` for a function's name, ``$d`` for an
exponent, ``$a`` for a non-default axis.  ``$`` never occurs in a LaTeX formula (it opens and
closes math mode, which the forms are inside), in Python source or in the plain text forms, so
no brace of TeX (``\\mathbf{1}``, ``\\frac{$0}{$1}``) can ever be read as a slot.
"""

from __future__ import annotations

import re

from .errors import InternalError

SLOT = re.compile(r"\$([0-9a-z])")


def fill(form: str, args: list[str] | tuple[str, ...] = (), **slots: str) -> str:
    """``form`` with its slots filled: ``$0``, ``$1`` by the argument texts, ``$f``, ``$d``,
    ``$a`` by ``slots`` (a slot left unnamed is empty).  A slot the form names but no argument
    fills is a bug in a table entry, reported as one."""

    def piece(match: re.Match) -> str:
        key = match.group(1)
        if key.isdigit():
            if int(key) >= len(args):
                raise InternalError(f"the form {form!r} names argument {key} but has {len(args)}")
            return args[int(key)]
        return slots.get(key, "")

    return SLOT.sub(piece, form)


def slots_of(form: str) -> set[str]:
    """The slots a form names (``{"0", "1", "a"}``), for the tests that walk the tables."""
    return set(SLOT.findall(form))
