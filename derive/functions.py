"""The one table of unary functions: each defined once, for both engines.

An entry gives a function's SymPy definition and derivative, how it is written (the name a user
types, the symbol of the sheets in text and LaTeX, its LaTeX form), stable float and NumPy
implementations, and where it is not differentiable.  The scalar engine's rows
(derive/scalar/rules.py), the matrix engine's elementwise rows (derive/matrix/rules.py), the
reserved names, the hand-notation reader and the docs' table of functions are generated from it:
adding a function is adding an entry (and nothing else).

Forms use derive/forms.py's syntax: ``$0`` is the argument, already bracketed by the printer;
``$f`` the function's symbol.  The NumPy implementations are real functions of ``x`` that use
only ``np`` and ``math``: the numeric checks call them, generated code copies their source.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy


# -- functions SymPy lacks, kept as one symbol on the sheet --------------------------------------
class sigmoid(sympy.Function):
    """The logistic sigmoid σ(x) = 1 / (1 + e^{-x}), kept as one symbol on the sheet."""

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_finite(self):  # σ(x) ∈ (0, 1) for every real x: σ(2) folds to a number
        return True if self.args[0].is_extended_real else None

    def _eval_evalf(self, prec):  # not rewrite(exp), which rewrites sin(2) inside as complex exponentials
        return (1 / (1 + sympy.exp(-self.args[0])))._eval_evalf(prec)

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

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

    def fdiff(self, argindex=1):
        return sympy.Heaviside(self.args[0])

    def _latex(self, printer, exp=None):
        body = r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


#: The classes above written in plain SymPy functions, for the independent checks.
_PLAIN = {sigmoid: lambda x: 1 / (1 + sympy.exp(-x)), relu: lambda x: sympy.Max(0, x)}


def plain(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with σ and ReLU written in SymPy's own functions (for diff and exact checks)."""
    for cls, written in _PLAIN.items():
        expr = expr.replace(cls, written)
    return expr


# -- stable float implementations ------------------------------------------------------------------
def _sigmoid_float(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _softplus_float(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


# -- NumPy implementations (generated code copies these: only np and math inside) -------------------
def np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_dsigmoid(x):
    e = np.exp(-np.abs(x))
    return e / (1 + e) ** 2


def np_tanh(x):
    return np.tanh(x)


def np_dtanh(x):
    return 1 - np.tanh(x) ** 2


def np_relu(x):
    return np.maximum(x, 0)


def np_drelu(x):
    return (x > 0).astype(float)


def np_leaky_relu(x):
    return np.where(x > 0, x, 0.01 * x)


def np_dleaky_relu(x):
    return np.where(x > 0, 1.0, 0.01)


def np_elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def np_delu(x):
    return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))


def np_softplus(x):
    return np.logaddexp(0, x)


def np_silu(x):
    e = np.exp(-np.abs(x))
    return x * np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_dsilu(x):
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return s * (1 + x * (1 - s))


def np_erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


def np_derf(x):
    return 2 / math.sqrt(math.pi) * np.exp(-np.square(x))


def np_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf, otypes=[float])(x / math.sqrt(2)))


def np_dgelu(x):
    cdf = 0.5 * (1 + np.vectorize(math.erf, otypes=[float])(x / math.sqrt(2)))
    return cdf + x * np.exp(-0.5 * np.square(x)) / math.sqrt(2 * math.pi)


def np_log1p(x):
    return np.log1p(x)


def np_dlog1p(x):
    return 1 / (1 + x)


def np_exp(x):
    return np.exp(x)


def np_log(x):
    return np.log(x)


def np_dlog(x):
    return 1 / x


def np_sqrt(x):
    return np.sqrt(x)


def np_dsqrt(x):
    return 0.5 / np.sqrt(x)


def np_abs(x):
    return np.abs(x)


def np_sign(x):
    return np.sign(x)


def np_square(x):
    return np.square(x)


def np_dsquare(x):
    return 2 * x


def np_sin(x):
    return np.sin(x)


def np_cos(x):
    return np.cos(x)


def np_dcos(x):
    return -np.sin(x)


def np_tan(x):
    return np.tan(x)


def np_dtan(x):
    return 1 / np.cos(x) ** 2


def np_cosh(x):
    return np.cosh(x)


def np_sinh(x):
    return np.sinh(x)


def numpy_source(function: Callable, name: str) -> str:
    """The source of a NumPy implementation, renamed ``name``, for generated code."""
    source = inspect.getsource(function)
    return re.sub(r"\Adef \w+\(", f"def {name}(", source)


# -- the table ---------------------------------------------------------------------------------------
def _not_at_zero(what: str) -> Callable[[float], str | None]:
    return lambda x: f"{what} is not differentiable at 0" if x == 0 else None


@dataclass(frozen=True)
class Function:
    """One unary function.

    ``definition`` and ``derivative`` are SymPy callables of the argument (``derivative`` is the
    form the sheets show, σ(x)(1 − σ(x)), checked against SymPy's diff of the definition);
    ``latex`` the LaTeX form of a call, ``symbol``/``text_symbol`` the function's sign in
    LaTeX and in text (σ), ``derivative_latex`` and ``derivative_text`` f′ written with ``$f``
    (the symbol) and ``$0`` (the argument) for the matrix sheets and the terminal;
    ``float_value`` a stable float implementation;
    ``numpy``/``numpy_derivative`` NumPy implementations.  ``superscript`` says the LaTeX form
    is a power (e^{x}): as a base it is bracketed like one.  ``singular`` gives a reason
    where the function is not differentiable at a float.

    ``concrete_in_proof``: the exact matrix proof evaluates it as itself, not as an abstract f
    with f′ (its derivative identity is part of the algebra: log′ = 1/x turns cross-entropy into
    P − T, σ′ = σ(1 − σ) turns its cross-entropy into p − t, tanh′ is written from its output);
    every other function stays abstract, so the proof holds for any of them.
    ``concrete_in_answers``: a typed matrix answer may also write it out (softplus′ = σ).
    ``saturates``: a drawn variant whose value of it prints as 0 or ±1 is a poor exercise.
    ``derivative_from_output``: f′ written from the function's output y = f(z), as textbooks
    write it (tanh′ = 1 − y y, σ′ = y (1 − y), exp′ = y), with only ``1 - y`` and ``*`` so the
    same callable computes it on a float (the grader, from a student's own value of the node), on
    SymPy (the test against ``derivative``) and on a matrix output (the matrix sheets' p ⊙ (1 − p)).
    ``angle``: its argument is an angle (a calculator in degree mode reads it as degrees).
    ``activation``: a layer's activation, not algebra: the matrix sheets name its argument
    (z1 for relu(W1 @ x + b1)), where log(1 − p) stays as written."""

    name: str
    definition: Callable[[sympy.Expr], sympy.Expr]
    derivative: Callable[[sympy.Expr], sympy.Expr]
    symbol: str
    numpy: Callable
    numpy_derivative: Callable
    latex: str = ""  # default: symbol($0)
    text_symbol: str = ""  # default: the name
    float_value: Callable[[float], float] | None = None  # default: the definition, lambdified
    derivative_latex: str | None = None
    derivative_text: str | None = None  # f′ as the terminal writes it, with the same slots
    derivative_shown: tuple[str, str] | None = None  # (text, LaTeX) of f′ on the scalar sheet
    singular: Callable[[float], str | None] | None = None
    aliases: tuple[str, ...] = ()
    superscript: bool = False
    summary: str = ""  # one line for the docs' table
    saturates: bool = False  # flat towards ±1 or 0 and 1: a drawn point may print it as 0, ±1
    concrete_in_proof: bool = False  # the exact matrix proof keeps it concrete (see below)
    concrete_in_answers: bool = False  # a typed matrix answer may write it out (besides the above)
    derivative_from_output: Callable | None = None  # f′ from y = f(z): tanh′ = 1 − y y (see above)
    angle: bool = False  # sin, cos, tan: a calculator in degree mode reads the argument as degrees
    activation: bool = False  # a layer's activation: the matrix sheets name its argument

    @property
    def latex_form(self) -> str:
        return self.latex or f"{self.symbol}($0)"

    @property
    def text_form(self) -> str:
        """The call as a user types it (it parses back)."""
        return f"{self.name}($0)"

    @property
    def shown_symbol(self) -> str:
        return self.text_symbol or self.name


_LEAK = sympy.Rational(1, 100)
_SQRT2 = sympy.sqrt(2)

FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    # -- elementary ------------------------------------------------------------------------------------
    Function("exp", sympy.exp, sympy.exp, r"\exp", np_exp, np_exp, latex="e^{$0}", superscript=True,
             derivative_latex=r"$f($0)", derivative_text="$f($0)",
             summary="e^x", concrete_in_proof=True,
             derivative_from_output=lambda y: y),
    Function("log", sympy.log, lambda x: 1 / x, r"\log", np_log, np_dlog, aliases=("ln",),
             derivative_latex=r"1 \oslash $0", derivative_text="1 ⊘ $0",
             summary="natural logarithm", concrete_in_proof=True),
    Function("log1p", lambda x: sympy.log(1 + x), lambda x: 1 / (1 + x), r"\operatorname{log1p}",
             np_log1p, np_dlog1p, float_value=math.log1p,
             derivative_latex=r"1 \oslash \left(1 + $0\right)", derivative_text="1 ⊘ (1 + $0)",
             summary="log(1 + x), accurate near 0"),
    Function("sqrt", sympy.sqrt, lambda x: 1 / (2 * sympy.sqrt(x)), r"\operatorname{sqrt}", np_sqrt, np_dsqrt,
             latex=r"\sqrt{$0}", singular=_not_at_zero("sqrt"),
             derivative_latex=r"1 \oslash \left(2 \sqrt{$0}\right)", derivative_text="1 ⊘ (2 √$0)",
             summary="square root", concrete_in_proof=True),
    Function("square", lambda x: x ** 2, lambda x: 2 * x, r"\operatorname{sq}", np_square, np_dsquare,
             derivative_latex=r"2 $0", derivative_text="2 $0",
             summary="x²", concrete_in_proof=True),
    Function("abs", sympy.Abs, sympy.sign, r"\operatorname{abs}", np_abs, np_sign, latex=r"\left|$0\right|",
             float_value=abs, singular=_not_at_zero("abs"), derivative_latex=r"\operatorname{sign}($0)",
             derivative_text="sign($0)",
             summary="absolute value"),
    Function("sin", sympy.sin, sympy.cos, r"\sin", np_sin, np_cos, derivative_latex=r"\cos($0)",
             derivative_text="cos($0)", summary="sine", angle=True),
    Function("cos", sympy.cos, lambda x: -sympy.sin(x), r"\cos", np_cos, np_dcos,
             derivative_latex=r"-\sin($0)", derivative_text="−sin($0)",
             summary="cosine", angle=True),
    Function("tan", sympy.tan, lambda x: 1 / sympy.cos(x) ** 2, r"\tan", np_tan, np_dtan,
             derivative_latex=r"1 \oslash \cos^{\circ 2}($0)", derivative_text="1 ⊘ cos($0)^2",
             summary="tangent", angle=True),
    Function("sinh", sympy.sinh, sympy.cosh, r"\sinh", np_sinh, np_cosh, derivative_latex=r"\cosh($0)",
             derivative_text="cosh($0)",
             summary="hyperbolic sine"),
    Function("cosh", sympy.cosh, sympy.sinh, r"\cosh", np_cosh, np_sinh, derivative_latex=r"\sinh($0)",
             derivative_text="sinh($0)",
             summary="hyperbolic cosine (log(cosh(r)) is the log-cosh loss)"),
    Function("tanh", sympy.tanh, lambda x: 1 - sympy.tanh(x) ** 2, r"\tanh", np_tanh, np_dtanh,
             derivative_latex=r"1 - $f($0) \odot $f($0)", derivative_text="1 − $f($0) ⊙ $f($0)",
             summary="hyperbolic tangent", concrete_in_proof=True, saturates=True, activation=True,
             derivative_from_output=lambda y: 1 - y * y),
    Function("erf", sympy.erf, lambda x: 2 / sympy.sqrt(sympy.pi) * sympy.exp(-x ** 2), r"\operatorname{erf}",
             np_erf, np_derf, float_value=math.erf,
             derivative_latex=r"\tfrac{2}{\sqrt{\pi}} \exp\left(-$0^{\circ 2}\right)",
             derivative_text="(2 / √π) exp(−$0^2)", summary="error function"),
    # -- activations -----------------------------------------------------------------------------------
    Function("sigmoid", sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)), r"\sigma", np_sigmoid, np_dsigmoid,
             text_symbol="σ", float_value=_sigmoid_float, aliases=("σ",),
             derivative_latex=r"$f($0) \odot \left(1 - $f($0)\right)",
             derivative_shown=("σ($0)(1 − σ($0))", r"\sigma($0)\left(1 - \sigma($0)\right)"),
             derivative_text="$f($0) ⊙ (1 − $f($0))",
             summary="logistic sigmoid 1/(1 + e^-x)", concrete_in_proof=True, saturates=True, activation=True,
             derivative_from_output=lambda y: y * (1 - y)),
    Function("relu", relu, sympy.Heaviside, r"\operatorname{ReLU}", np_relu, np_drelu,
             float_value=lambda x: max(0.0, x), singular=_not_at_zero("relu"),
             derivative_latex=r"\mathbf{1}[$0 > 0]", derivative_text="𝟏[$0 > 0]",
             summary="max(0, x)", activation=True),
    Function("leaky_relu", lambda x: sympy.Piecewise((x, x > 0), (_LEAK * x, True)),
             lambda x: sympy.Heaviside(x) + _LEAK * (1 - sympy.Heaviside(x)), r"\operatorname{LeakyReLU}",
             np_leaky_relu, np_dleaky_relu, singular=_not_at_zero("leaky_relu"),
             derivative_latex=r"\mathbf{1}[$0 > 0] + 0.01 \, \mathbf{1}[$0 \le 0]",
             derivative_text="𝟏[$0 > 0] + 0.01 𝟏[$0 ≤ 0]",
             summary="x for x > 0, 0.01 x otherwise", activation=True),
    Function("elu", lambda x: sympy.Piecewise((x, x > 0), (sympy.exp(x) - 1, True)),
             lambda x: sympy.Heaviside(x) + sympy.exp(x) * (1 - sympy.Heaviside(x)), r"\operatorname{ELU}",
             np_elu, np_delu,
             derivative_latex=r"\mathbf{1}[$0 > 0] + \exp($0) \odot \mathbf{1}[$0 \le 0]",
             derivative_text="𝟏[$0 > 0] + exp($0) ⊙ 𝟏[$0 ≤ 0]",
             summary="x for x > 0, e^x − 1 otherwise", activation=True),
    Function("softplus", lambda x: sympy.log(1 + sympy.exp(x)), sigmoid, r"\operatorname{softplus}",
             np_softplus, np_sigmoid, float_value=_softplus_float, derivative_latex=r"\sigma($0)",
             derivative_text="σ($0)",
             summary="log(1 + e^x)", concrete_in_answers=True, activation=True),
    Function("silu", lambda x: x * sigmoid(x), lambda x: sigmoid(x) * (1 + x * (1 - sigmoid(x))),
             r"\operatorname{SiLU}", np_silu, np_dsilu, aliases=("swish",),
             derivative_latex=r"\sigma($0) \odot \left(1 + $0 \odot \left(1 - \sigma($0)\right)\right)",
             derivative_text="σ($0) ⊙ (1 + $0 ⊙ (1 − σ($0)))",
             summary="x σ(x) (swish)", activation=True),
    Function("gelu", lambda x: x * (1 + sympy.erf(x / _SQRT2)) / 2,
             lambda x: (1 + sympy.erf(x / _SQRT2)) / 2 + x * sympy.exp(-x ** 2 / 2) / sympy.sqrt(2 * sympy.pi),
             r"\operatorname{GELU}", np_gelu, np_dgelu,
             derivative_latex=r"\tfrac{1}{2}\left(1 + \operatorname{erf}\left(\tfrac{1}{\sqrt{2}} $0\right)\right)"
                              r" + \tfrac{1}{\sqrt{2 \pi}} $0 \odot \exp\left(-\tfrac{1}{2} $0^{\circ 2}\right)",
             derivative_text="(1 + erf($0 / √2)) / 2 + $0 ⊙ exp(−$0^2 / 2) / √(2π)",
             summary="x Φ(x), the exact GELU (with erf)", activation=True),
]}

#: Other spellings accepted in user text, and the function each names.
ALIASES: dict[str, str] = {alias: f.name for f in FUNCTIONS.values() for alias in f.aliases}

#: Every name that calls a function of the table (what a variable may not be called).
NAMES = frozenset({*FUNCTIONS, *ALIASES})

#: Float implementations handed to lambdify for what the math module lacks: the table's classes
#: (their entries' float_value) and the functions printed partials use (Heaviside, sign, Abs).
FLOAT_FUNCTIONS: dict[str, Callable] = {
    **{f.name: f.float_value for f in FUNCTIONS.values() if f.definition in _PLAIN},
    "Heaviside": lambda x, *_: 1.0 if x > 0 else 0.0,
    "sign": lambda x: math.copysign(1.0, x) if x != 0 else 0.0,
    "Abs": abs,
}


def markdown_table() -> str:
    """The table of functions as docs/functions.md shows it (a test keeps the two equal)."""
    rows = ["| name | also | what it is | f′(x) | LaTeX | not differentiable at |",
            "|---|---|---|---|---|---|"]
    x = sympy.Symbol("x", real=True)
    for f in FUNCTIONS.values():
        derivative = sympy.sstr(f.derivative(x)).replace("**", "^").replace("*", "·").replace("Heaviside", "H")
        latex = f.latex_form.replace("$0", "x").replace("|", "\\|")  # a bar would end the cell
        rows.append(f"| `{f.name}` | {', '.join(f'`{a}`' for a in f.aliases)} | {f.summary} | `{derivative}` "
                    f"| `{latex}` | {'0' if f.singular else ''} |")
    return "\n".join(rows) + "\n"
