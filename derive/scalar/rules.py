"""The one table of scalar primitives.

Each primitive gives its definition, its local partials with respect to each argument (SymPy
expressions of the argument symbols ``a`` and ``b``), how it is written in text and LaTeX, and
the rule label the solution sheet shows.  The trace, forward mode, reverse mode, the tables and
the graph drawings all read this table.  The rows of the unary functions are generated from
derive/functions.py (adding a function is an entry there); the operators are written here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import sympy

from ..errors import InternalError
from ..functions import ALIASES as FUNCTION_ALIASES
from ..functions import FLOAT_FUNCTIONS, FUNCTIONS as TABLE, plain, relu, sigmoid  # noqa: F401  (re-exported)

a, b = sympy.symbols("a b", real=True)
ONE = sympy.Integer(1)


@dataclass(frozen=True)
class Primitive:
    """One row of the table.

    ``text``, ``latex`` and ``evaluation`` are forms in derive/forms.py's syntax over the
    arguments ``$0``, ``$1``: how the node's definition is written in plain text, in LaTeX, and
    in LaTeX with numbers put in (where a product shows ×).  ``delimited`` says, per argument,
    whether the LaTeX form delimits it itself (a call's brackets, \frac{$0}{$1}, an exponent
    ^{$1}), so the printer adds no brackets; ``superscript`` that the LaTeX form is a power
    (e^{$0}), bracketed as one when it is a base.  ``rule`` is the label the sheet shows when more
    than one argument is a node; with one node argument every primitive is a "Chain Rule" step.
    ``reference`` is the definition in plain SymPy functions, for independent checks.
    ``singular`` returns a reason when the primitive is not differentiable at the given floats.
    ``shown`` optionally gives, per partial, (text, LaTeX) format strings for where SymPy's own
    ordering would read badly on the sheet (σ(a)(1 − σ(a)), not (1 − σ(a))σ(a)).
    """

    name: str
    definition: sympy.Expr
    partials: tuple[sympy.Expr, ...]
    text: str
    latex: str
    rule: str = "Chain Rule"
    evaluation: str | None = None
    reference: sympy.Expr | None = None
    singular: Callable[..., str | None] | None = field(default=None, compare=False)
    shown: tuple[tuple[str, str] | None, ...] | None = None
    delimited: tuple[bool, ...] = ()
    superscript: bool = False
    float_value: Callable[..., float] | None = field(default=None, compare=False)

    @property
    def arity(self) -> int:
        return len(self.partials)

    @property
    def symbols(self) -> tuple[sympy.Symbol, ...]:
        return (a, b)[: self.arity]

    @property
    def reference_definition(self) -> sympy.Expr:
        return self.definition if self.reference is None else self.reference

    @property
    def evaluation_latex(self) -> str:
        return self.evaluation or self.latex

    def delimits(self, position: int) -> bool:
        """Whether the LaTeX form delimits argument ``position`` itself."""
        return bool(self.delimited) and self.delimited[position]

    @cached_property
    def value_function(self) -> Callable[..., float]:
        if self.float_value is not None:
            return self.float_value
        return sympy.lambdify(self.symbols, self.definition, modules=[FLOAT_FUNCTIONS, "math"])

    @cached_property
    def partial_functions(self) -> tuple[Callable[..., float], ...]:
        return tuple(sympy.lambdify(self.symbols, p, modules=[FLOAT_FUNCTIONS, "math"])
                     for p in self.partials)


def _function_row(f) -> Primitive:
    """The scalar row of a function of derive/functions.py's table: one argument, a Chain Rule
    step, its call's brackets delimiting the argument."""
    definition = f.definition(a)
    return Primitive(f.name, definition, (f.derivative(a),), f.text_form, f.latex_form,
                     reference=plain(definition), singular=f.singular, delimited=(True,),
                     superscript=f.superscript, float_value=f.float_value,
                     shown=(f.derivative_shown,) if f.derivative_shown else None)


_ENTRIES = [
    # -- arithmetic ---------------------------------------------------------------------------
    Primitive("add", a + b, (ONE, ONE), "$0 + $1", "$0 + $1", rule="Sum Rule"),
    Primitive("sub", a - b, (ONE, -ONE), "$0 - $1", "$0 - $1", rule="Difference Rule"),
    Primitive("mul", a * b, (b, a), "$0*$1", "$0 $1", rule="Product Rule", evaluation=r"$0 \times $1"),
    Primitive("div", a / b, (1 / b, -a / b**2), "$0/$1", r"\frac{$0}{$1}", rule="Quotient Rule",
              delimited=(True, True)),
    Primitive("pow", a**b, (b * a ** (b - 1), a**b * sympy.log(a)), "$0**$1", "$0^{$1}", rule="Power Rule",
              delimited=(False, True), superscript=True),
    Primitive("neg", -a, (-ONE,), "-$0", "-$0"),
    # -- the functions of derive/functions.py --------------------------------------------------
    *(_function_row(f) for f in TABLE.values()),
]

#: The table, by primitive name.
PRIMITIVES: dict[str, Primitive] = {p.name: p for p in _ENTRIES}

#: The functions a user may call, with their number of arguments (operators are not calls).
FUNCTIONS: dict[str, int] = {
    name: p.arity for name, p in PRIMITIVES.items() if name not in {"add", "sub", "mul", "div", "neg"}
}

#: Other spellings accepted in user text.
ALIASES: dict[str, str] = dict(FUNCTION_ALIASES)

#: Exact evaluation of each function on constants, used to fold ``sin(2)`` into one number.
FOLD: dict[str, Callable[..., sympy.Expr]] = {
    name: (lambda p: lambda *xs: p.definition.subs(dict(zip(p.symbols, xs)), simultaneous=True))(p)
    for name, p in PRIMITIVES.items()
}


def primitive(name: str) -> Primitive:
    """The table entry for ``name``; a missing rule is a bug in derive (the parser admitted an
    operation the table lacks), reported as an internal error that names the primitive."""
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise InternalError(f"no differentiation rule for primitive '{name}'") from None
