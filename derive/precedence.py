"""The one precedence table every printer shares (text, evaluation lines, LaTeX, Markdown,
generated NumPy), in the manner of SymPy's ``PRECEDENCE``.

A printer asks :func:`wrap` whether a child's text needs brackets under its parent: it does
when the child binds more loosely than the parent, or as tightly on the side where the
operation does not associate (the right of ``−`` and ``/``; either side of a power).  Nothing else
decides where brackets go, so ``(1 − tanh(v)^2) × 2`` can never print as ``1 − tanh(v)^2 × 2``.
"""

from __future__ import annotations

from .functions import FUNCTIONS

#: Each binding (how tightly a class of expression binds); higher binds tighter.
PRECEDENCE: dict[str, int] = {
    "add": 10,        # a + b, a − b
    "mul": 20,        # a × b, a / b, a @ b, a ⊙ b
    "neg": 30,        # −a (binds looser than a power: −a² is −(a²))
    "pow": 40,        # a ** b, a^b
    "postfix": 50,    # a.T, a′, a[i]
    "atom": 100,      # names, non-negative numbers, calls, bracketed groups
}

#: Operations that do not associate on one side: (parent operation -> the side that needs
#: brackets at equal precedence): a − (b − c), a / (b / c).
NON_ASSOCIATIVE_SIDE: dict[str, str] = {"sub": "right", "div": "right", "matmul": "right"}

#: Products of one level that do not regroup with each other: (a ⊙ b) W ≠ a ⊙ (b W), and a
#: reader of "A / c x" cannot tell which was meant.  One under another is bracketed on either side.
DISTINCT_PRODUCTS = frozenset({"matmul", "hadamard", "div"})


def binding_of(op: str) -> str:
    """The binding (precedence class) of an operation name used by the engines."""
    return {"add": "add", "sub": "add", "mul": "mul", "div": "mul", "matmul": "mul", "hadamard": "mul",
            "neg": "neg", "pow": "pow", "transpose": "postfix"}.get(op, "atom")


def needs_brackets(child: str, parent: str, side: str = "left") -> bool:
    """Whether a child expression of binding ``child`` must be bracketed as the ``side`` operand of
    a ``parent`` operation (``child``/``parent`` are operation names or bindings)."""
    child_level = PRECEDENCE[child if child in PRECEDENCE else binding_of(child)]
    parent_binding = parent if parent in PRECEDENCE else binding_of(parent)
    parent_level = PRECEDENCE[parent_binding]
    if child_level < parent_level:
        return True
    if child_level == PRECEDENCE["neg"] and side == "right" and parent_binding in ("add", "mul"):
        return True  # a sign never follows an infix operator: a × (−b), a − (−b), not a × −b
    if parent_binding == "pow" and child_level <= PRECEDENCE["pow"]:
        return True  # (a^b)^c, a^(b^c) and (−a)^b keep their brackets: no reader guesses them
    if child_level == parent_level:
        if child != parent and {child, parent} <= DISTINCT_PRODUCTS:
            return True
        return NON_ASSOCIATIVE_SIDE.get(parent, "") == side or (parent_binding == "neg")
    return False


def wrap(text: str, child: str, parent: str, side: str = "left", brackets: tuple[str, str] = ("(", ")")) -> str:
    """``text`` bracketed when :func:`needs_brackets` says so."""
    return f"{brackets[0]}{text}{brackets[1]}" if needs_brackets(child, parent, side) else text


def binding_of_sympy(expr) -> str:
    """The binding of a SymPy expression as SymPy's text and LaTeX printers write it
    (erring towards the looser binding): ``1 − x`` is a sum, ``−x/y`` a negation, ``1/x`` and
    ``x/2`` products, ``x^2`` a power, names, numbers and calls atoms."""
    if expr.is_Add:
        return "add"
    if expr.could_extract_minus_sign():
        return "neg"
    if expr.is_Mul or (expr.is_Rational and not expr.is_Integer):
        return "mul"
    if expr.is_Pow:
        if expr.exp.is_negative:
            return "mul"  # 1/x, 1/sqrt(x), \frac{1}{x^{2}}
        half = expr.exp.is_Rational and (expr.exp.p, expr.exp.q) == (1, 2)
        return "atom" if half else "pow"  # sqrt(x) is a call
    return "atom"


def binding_of_sympy_latex(expr) -> str:
    """As :func:`binding_of_sympy`, for SymPy's LaTeX: a call whose form is a power (e^{x}, by the
    function's ``superscript`` field) binds as a power, a number in scientific notation
    (1.5 \\cdot 10^{-5}) as a product."""
    binding = binding_of_sympy(expr)
    if binding != "atom":
        return binding
    entry = FUNCTIONS.get(type(expr).__name__) if getattr(expr, "is_Function", False) else None
    if entry is not None and entry.superscript:
        return "pow"
    if getattr(expr, "is_Float", False) and expr != 0 and not 1e-4 <= abs(expr) < 1e15:
        return "mul"
    return binding
