"""The one precedence table every printer shares (text, evaluation lines, LaTeX, Markdown,
generated NumPy), in the manner of SymPy's ``PRECEDENCE``.

A printer asks :func:`wrap` whether a child's text needs brackets under its parent: it does
when the child binds more loosely than the parent, or as tightly on the side where the
operation does not associate (the right of ``−`` and ``/``; either side of a power).  Nothing else
decides where brackets go, so ``(1 − tanh(v)^2) × 2`` can never print as ``1 − tanh(v)^2 × 2``.
"""

from __future__ import annotations

#: How tightly each kind of expression binds; higher binds tighter.
PRECEDENCE: dict[str, int] = {
    "add": 10,        # a + b, a − b
    "mul": 20,        # a × b, a / b, a @ b, a ⊙ b
    "neg": 30,        # −a (binds looser than a power: −a² is −(a²))
    "pow": 40,        # a ** b, a^b
    "postfix": 50,    # a.T, a′, a[i]
    "atom": 100,      # names, non-negative numbers, calls, bracketed groups
}

#: Operations that do not associate on one side: (parent kind -> the side that needs
#: brackets at equal precedence): a − (b − c), a / (b / c).
NON_ASSOCIATIVE_SIDE: dict[str, str] = {"sub": "right", "div": "right", "matmul": "right"}

#: Products of one level that do not regroup with each other: (a ⊙ b) W ≠ a ⊙ (b W), and a
#: reader of "A / c x" cannot tell which was meant.  One under another is bracketed on either side.
DISTINCT_PRODUCTS = frozenset({"matmul", "hadamard", "div"})


def kind_of(op: str) -> str:
    """The precedence class of an operation name used by the engines."""
    return {"add": "add", "sub": "add", "mul": "mul", "div": "mul", "matmul": "mul", "hadamard": "mul",
            "neg": "neg", "pow": "pow", "transpose": "postfix"}.get(op, "atom")


def needs_brackets(child: str, parent: str, side: str = "left") -> bool:
    """Whether a child expression of kind ``child`` must be bracketed as the ``side`` operand of
    a ``parent`` operation (``child``/``parent`` are operation names or precedence kinds)."""
    child_level = PRECEDENCE[child if child in PRECEDENCE else kind_of(child)]
    parent_kind = parent if parent in PRECEDENCE else kind_of(parent)
    parent_level = PRECEDENCE[parent_kind]
    if child_level < parent_level:
        return True
    if parent_kind == "pow" and child_level <= PRECEDENCE["pow"]:
        return True  # (a^b)^c, a^(b^c) and (−a)^b keep their brackets: no reader guesses them
    if child_level == parent_level:
        if child != parent and {child, parent} <= DISTINCT_PRODUCTS:
            return True
        return NON_ASSOCIATIVE_SIDE.get(parent, "") == side or (parent_kind == "neg")
    return False


def wrap(text: str, child: str, parent: str, side: str = "left", brackets: tuple[str, str] = ("(", ")")) -> str:
    """``text`` bracketed when :func:`needs_brackets` says so."""
    return f"{brackets[0]}{text}{brackets[1]}" if needs_brackets(child, parent, side) else text
