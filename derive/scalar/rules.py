"""The one table of scalar primitives.

Each primitive gives its definition, its local partials with respect to each argument (SymPy
expressions of the argument symbols ``a`` and ``b``), how it is written in text and LaTeX, and
the rule label the solution sheet shows.  The trace, forward mode, reverse mode, the tables and
the graph drawings all read this table; adding a primitive is adding an entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import sympy

from ..errors import InternalError

a, b = sympy.symbols("a b", real=True)
ONE = sympy.Integer(1)


class sigmoid(sympy.Function):
    """The logistic sigmoid σ(x) = 1 / (1 + e^{-x}), kept as one symbol on the sheet."""

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_finite(self):  # σ(x) ∈ (0, 1) for every real x: σ(2) folds to a number
        return True if self.args[0].is_extended_real else None

    def _eval_evalf(self, prec):  # not rewrite(exp), which would rewrite sin(2) inside as complex exponentials
        return (1 / (1 + sympy.exp(-self.args[0])))._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        body = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class relu(sympy.Function):
    """max(0, x); its derivative is the Heaviside step (undefined at 0)."""

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sympy.Max(0, x)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_finite(self):  # relu(2) = 2 folds to a number
        return self.args[0].is_finite if self.args[0].is_extended_real else None

    def _eval_evalf(self, prec):
        return sympy.Max(0, self.args[0])._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        body = r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


def _sigmoid_float(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


#: Float implementations handed to lambdify for the functions the math module lacks.
FLOAT_FUNCTIONS = {
    "sigmoid": _sigmoid_float,
    "relu": lambda x: max(0.0, x),
    "Heaviside": lambda x, *_: 1.0 if x > 0 else 0.0,
    "sign": lambda x: math.copysign(1.0, x) if x != 0 else 0.0,
    "Abs": abs,
}


@dataclass(frozen=True)
class Primitive:
    """One row of the table.

    ``text``, ``latex`` and ``evaluation`` are format strings over the arguments ``{0}``,
    ``{1}``: how the node's definition is written in plain text, in LaTeX, and in LaTeX with
    numbers put in (where a product shows ×).  ``rule`` is the label the sheet shows when more
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

    @cached_property
    def value_function(self) -> Callable[..., float]:
        return sympy.lambdify(self.symbols, self.definition, modules=[FLOAT_FUNCTIONS, "math"])

    @cached_property
    def partial_functions(self) -> tuple[Callable[..., float], ...]:
        return tuple(sympy.lambdify(self.symbols, p, modules=[FLOAT_FUNCTIONS, "math"])
                     for p in self.partials)


def _not_at_zero(what: str) -> Callable[[float], str | None]:
    return lambda x: f"{what} is not differentiable at 0" if x == 0 else None


_ENTRIES = [
    # -- arithmetic ---------------------------------------------------------------------------
    Primitive("add", a + b, (ONE, ONE), "{0} + {1}", "{0} + {1}", rule="Sum Rule"),
    Primitive("sub", a - b, (ONE, -ONE), "{0} - {1}", "{0} - {1}", rule="Difference Rule"),
    Primitive("mul", a * b, (b, a), "{0}*{1}", "{0} {1}", rule="Product Rule",
              evaluation=r"{0} \times {1}"),
    Primitive("div", a / b, (1 / b, -a / b**2), "{0}/{1}", r"\frac{{{0}}}{{{1}}}",
              rule="Quotient Rule"),
    Primitive("pow", a**b, (b * a ** (b - 1), a**b * sympy.log(a)), "{0}**{1}", "{0}^{{{1}}}",
              rule="Power Rule"),
    Primitive("neg", -a, (-ONE,), "-{0}", "-{0}"),
    # -- elementary functions ----------------------------------------------------------------
    Primitive("exp", sympy.exp(a), (sympy.exp(a),), "exp({0})", "e^{{{0}}}"),
    Primitive("log", sympy.log(a), (1 / a,), "log({0})", r"\ln({0})"),
    Primitive("sqrt", sympy.sqrt(a), (1 / (2 * sympy.sqrt(a)),), "sqrt({0})", r"\sqrt{{{0}}}",
              singular=_not_at_zero("sqrt")),
    Primitive("sin", sympy.sin(a), (sympy.cos(a),), "sin({0})", r"\sin({0})"),
    Primitive("cos", sympy.cos(a), (-sympy.sin(a),), "cos({0})", r"\cos({0})"),
    Primitive("tan", sympy.tan(a), (1 / sympy.cos(a) ** 2,), "tan({0})", r"\tan({0})"),
    Primitive("tanh", sympy.tanh(a), (1 - sympy.tanh(a) ** 2,), "tanh({0})", r"\tanh({0})"),
    # -- activations ---------------------------------------------------------------------------
    Primitive("sigmoid", sigmoid(a), (sigmoid(a) * (1 - sigmoid(a)),), "sigmoid({0})",
              r"\sigma({0})", reference=1 / (1 + sympy.exp(-a)),
              shown=(("σ({0})(1 − σ({0}))", r"\sigma({0})\left(1 - \sigma({0})\right)"),)),
    Primitive("relu", relu(a), (sympy.Heaviside(a),), "relu({0})", r"\operatorname{{ReLU}}({0})",
              reference=sympy.Max(0, a), singular=_not_at_zero("relu")),
    Primitive("abs", sympy.Abs(a), (sympy.sign(a),), "abs({0})", r"\left|{0}\right|",
              singular=_not_at_zero("abs")),
]

#: The table, by primitive name.
PRIMITIVES: dict[str, Primitive] = {p.name: p for p in _ENTRIES}

#: The functions a user may call, with their number of arguments (operators are not calls).
FUNCTIONS: dict[str, int] = {
    name: p.arity for name, p in PRIMITIVES.items() if name not in {"add", "sub", "mul", "div", "neg"}
}

#: Other spellings accepted in user text.
ALIASES: dict[str, str] = {"ln": "log", "σ": "sigmoid"}

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
