"""The table of matrix VJP rules and the table of elementwise functions.

A VJP rule gives, for an operation and one of its arguments, the adjoint that flows to that
argument from the upstream adjoint ``u`` (the JAX transpose/VJP view: the adjoint of ``W @ a``
with respect to ``W`` is ``u aᵀ``, with respect to ``a`` it is ``Wᵀ u``).  Adding an operation
is adding an entry here; backprop.py never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy

from ..errors import DeriveError
from .expr import (M, dfn, div, dot, eye, had, matmul, neg, ones, power, reduce, scale, sub,
                   transpose, vector_op, const)

VJP = Callable[[M, M], M]  # (the node, the upstream adjoint) -> adjoint of one argument


def _softmax(z: M) -> M:
    return vector_op("softmax", z)


#: op -> one VJP per argument.
VJPS: dict[str, tuple[VJP, ...]] = {
    # -- linear algebra ---------------------------------------------------------------------------
    "matmul": (lambda e, u: matmul(u, transpose(e.args[1])),     # W @ a: W̄ = ū aᵀ
               lambda e, u: matmul(transpose(e.args[0]), u)),    #        ā = Wᵀ ū
    "T": (lambda e, u: transpose(u),),
    "neg": (lambda e, u: neg(u),),
    "scale": (lambda e, u: dot(u, e.args[1]),                    # c·a: c̄ = ⟨ū, a⟩
              lambda e, u: scale(e.args[0], u)),                 #      ā = c ū
    "div": (lambda e, u: div(u, e.args[1]),                      # a / c: ā = ū / c
            lambda e, u: neg(div(dot(u, e.args[0]), power(e.args[1], 2)))),
    "trace": (lambda e, u: scale(u, eye(e.args[0].shape[0])),),
    # -- elementwise ------------------------------------------------------------------------------
    "had": (lambda e, u: had(e.args[1], u), lambda e, u: had(e.args[0], u)),
    "pow": (lambda e, u: had(scale(const(e.data), power(e.args[0], e.data - 1)), u),),
    "fn": (lambda e, u: had(dfn(e.data, e.args[0]), u),),        # f(a): ā = f′(a) ⊙ ū
    # -- reductions -------------------------------------------------------------------------------
    "sum": (lambda e, u: scale(u, ones(e.args[0].shape)),),
    "norm": (lambda e, u: scale(u, div(e.args[0], reduce("norm", e.args[0]))),),
    "dot": (lambda e, u: scale(u, e.args[1]), lambda e, u: scale(u, e.args[0])),
    # -- softmax family ---------------------------------------------------------------------------
    "softmax": (lambda e, u: had(_softmax(e.args[0]), sub(u, scale(dot(_softmax(e.args[0]), u),
                                                                   ones(u.shape)))),),
    "logsumexp": (lambda e, u: scale(u, _softmax(e.args[0])),),
    "log_softmax": (lambda e, u: sub(u, scale(reduce("sum", u), _softmax(e.args[0]))),),
    # −tᵀ log softmax(z): z̄ = ((1ᵀt) p − t) ū, which is p − t only when t sums to 1
    "sce": (lambda e, u: scale(u, sub(scale(reduce("sum", e.args[1]), _softmax(e.args[0])), e.args[1])),
            lambda e, u: scale(u, neg(vector_op("log_softmax", e.args[0])))),
}


def vjp(e: M, u: M, position: int) -> M:
    """The adjoint flowing to argument ``position`` of ``e``; a missing rule names the operation."""
    if e.op == "add":
        return u
    try:
        return VJPS[e.op][position](e, u)
    except KeyError:
        from ..errors import InternalError  # a missing rule is a bug in derive (exit 3), not bad input
        what = f"{e.op} {e.data}" if e.data is not None else e.op
        raise InternalError(f"no VJP rule for the operation '{what}'") from None


@dataclass(frozen=True)
class Elementwise:
    """An elementwise function: SymPy definition and derivative (scalar), NumPy callables for
    the numeric checks, NumPy source for generated code, LaTeX of its derivative in terms of f."""

    name: str
    sympy_f: Callable[[sympy.Expr], sympy.Expr]
    sympy_df: Callable[[sympy.Expr], sympy.Expr]
    numpy_f: Callable[[np.ndarray], np.ndarray]
    numpy_df: Callable[[np.ndarray], np.ndarray]
    source_f: str  # NumPy expression in x
    source_df: str
    derivative_latex: str | None = None  # f′(z) written with f, {f} and {z} placeholders


def _np_sigmoid(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


ELEMENTWISE: dict[str, Elementwise] = {e.name: e for e in [
    Elementwise("sigmoid", lambda x: 1 / (1 + sympy.exp(-x)),
                lambda x: sympy.exp(-x) / (1 + sympy.exp(-x)) ** 2,
                _np_sigmoid, lambda x: _np_sigmoid(x) * (1 - _np_sigmoid(x)),
                "0.5 * (1 + np.tanh(0.5 * x))", "0.25 * (1 - np.tanh(0.5 * x) ** 2)",
                r"{f}({z}) \odot \left(1 - {f}({z})\right)"),
    Elementwise("tanh", sympy.tanh, lambda x: 1 - sympy.tanh(x) ** 2, np.tanh, lambda x: 1 - np.tanh(x) ** 2,
                "np.tanh(x)", "1 - np.tanh(x) ** 2", r"1 - {f}({z}) \odot {f}({z})"),
    Elementwise("relu", lambda x: sympy.Max(0, x), lambda x: sympy.Heaviside(x),
                lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float),
                "np.maximum(x, 0)", "(x > 0).astype(float)", r"\mathbb{{1}}[{z} > 0]"),
    Elementwise("softplus", lambda x: sympy.log(1 + sympy.exp(x)), lambda x: 1 / (1 + sympy.exp(-x)),
                lambda x: np.logaddexp(0, x), _np_sigmoid,
                "np.logaddexp(0, x)", "0.5 * (1 + np.tanh(0.5 * x))", r"\sigma({z})"),
    Elementwise("exp", sympy.exp, sympy.exp, np.exp, np.exp, "np.exp(x)", "np.exp(x)", r"{f}({z})"),
    Elementwise("log", sympy.log, lambda x: 1 / x, np.log, lambda x: 1 / x, "np.log(x)", "1 / x",
                r"1 \oslash {z}"),
    Elementwise("square", lambda x: x ** 2, lambda x: 2 * x, np.square, lambda x: 2 * x,
                "x ** 2", "2 * x", r"2 {z}"),
]}

#: The elementwise function an abstract σ stands for in numeric checks and generated code.
DEFAULT_CONCRETE = "sigmoid"

#: Other operations a user may call, with their number of arguments.
CALLS: dict[str, int] = {"sum": 1, "norm": 1, "dot": 2, "trace": 1, "softmax": 1, "logsumexp": 1,
                         "log_softmax": 1, "softmax_cross_entropy": 2}

