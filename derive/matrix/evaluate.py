"""Evaluating matrix expressions on values: NumPy arrays (numeric checks) or SymPy matrices of
entry symbols (the exact check).  One interpreter, two small backends."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy

from ..functions import FUNCTIONS
from .expr import M, size_value
from .rules import ELEMENTWISE, OPS


class NumpyBackend:
    """Leaves and elementwise functions as NumPy arrays; the operations' own values are in the
    registry (``Op.numpy``)."""

    evaluation = "numpy"  # the registry field (Op.numpy) that evaluates an operation

    def __init__(self, concrete: dict[str, str]):
        self.concrete = concrete

    def ones(self, shape):
        return np.ones(shape)

    def zeros(self, shape):
        return np.zeros(shape)

    def eye(self, n):
        return np.eye(n)

    def const(self, value):
        return np.full((1, 1), float(value))

    def fn(self, name, a):
        return ELEMENTWISE[self.concrete.get(name, name)].numpy_f(a)

    def dfn(self, name, a):
        return ELEMENTWISE[self.concrete.get(name, name)].numpy_df(a)


class AbstractFunction(sympy.Function):
    """The base of the abstract elementwise functions of the exact check (σ with σ′ undefined)."""


def _elementwise_symbols(name: str):
    """f and f′ as undefined SymPy functions with d/dx f(x) = f′(x): the exact check then tests
    the matrix calculus, for any f (each f′ formula is tested on its own against diff)."""
    derivative = sympy.Function(f"{name}_prime")

    def fdiff(self, argindex=1):
        return derivative(self.args[0])

    return type(name, (AbstractFunction,), {"fdiff": fdiff}), derivative


#: Functions the exact check keeps concrete (the table's ``concrete_in_proof``: the algebra of
#: losses, σ, tanh); the other activations stay abstract: the check then holds for any of them.
EXACT_CONCRETE = frozenset(f.name for f in FUNCTIONS.values() if f.concrete_in_proof)


#: Smooth activations a typed answer may write out (σ(z)(1 − σ(z)), 1 − tanh(z)²): when an answer
#: is judged, these are concrete wherever the problem says what its activation is.
ANSWER_CONCRETE = EXACT_CONCRETE | {f.name for f in FUNCTIONS.values() if f.concrete_in_answers}


class SympyBackend:
    """Leaves as SymPy matrices, activations abstract (σ with σ′), log, exp, sqrt concrete.

    ``concrete`` maps a function name of the problem to the function it is (``[functions]
    sigma = "sigmoid"``); those in ``concrete_set`` are then evaluated as that function."""

    evaluation = "sympy"  # the registry field (Op.sympy) that evaluates an operation

    def __init__(self, concrete: dict[str, str] | None = None, concrete_set: frozenset = EXACT_CONCRETE):
        self.functions: dict[str, tuple] = {}
        self.concrete = concrete or {}
        self.concrete_set = concrete_set

    def _concrete(self, name: str) -> str | None:
        """The function ``name`` is, where it is evaluated as itself (log, exp, ...); else None."""
        concrete = self.concrete.get(name, name)
        return concrete if concrete in self.concrete_set else None

    def _pair(self, name):
        if name not in self.functions:
            self.functions[name] = _elementwise_symbols(name)
        return self.functions[name]

    def ones(self, shape):
        return sympy.ones(*shape)

    def zeros(self, shape):
        return sympy.zeros(*shape)

    def eye(self, n):
        return sympy.eye(n)

    def const(self, value):
        return sympy.Matrix([[value]])

    def fn(self, name, a):
        if concrete := self._concrete(name):
            return a.applyfunc(ELEMENTWISE[concrete].sympy_f)
        f, _ = self._pair(name)
        return a.applyfunc(f)

    def dfn(self, name, a):
        if concrete := self._concrete(name):
            return a.applyfunc(ELEMENTWISE[concrete].sympy_df)
        _, df = self._pair(name)
        return a.applyfunc(df)


def evaluate(e: M, env: dict, backend, sizes: dict[str, int]):
    """The value of ``e``; ``env`` maps names (and "name:bar" for adjoints) to values."""
    op = e.op
    if op == "var":
        return env[e.name]
    if op == "adj":
        return env[f"{e.name}:bar"]
    if op == "const":
        return backend.const(e.value)
    if op == "dim":
        return backend.const(sizes[e.name])
    dims = tuple(size_value(d, sizes) for d in e.shape)
    if op == "ones":
        return backend.ones(dims)
    if op == "zero":
        return backend.zeros(dims)
    if op == "eye":
        return backend.eye(dims[0])
    args = [evaluate(a, env, backend, sizes) for a in e.args]
    spec = OPS[op]
    if e.bounds is not None:  # Z[H:2H]: the sizes as numbers
        e = replace(e, bounds=tuple(size_value(d, sizes) for d in e.bounds))
    if e.size is not None:  # eᵢ of a named length
        e = replace(e, size=size_value(e.size, sizes))
    return getattr(spec, backend.evaluation)(backend, e, *args)


def run_forward(model, env: dict, backend, sizes: dict[str, int]) -> dict:
    """Every named node's value, in order, added to a copy of ``env``."""
    values = dict(env)
    for name, e in model.equations:
        values[name] = evaluate(e, values, backend, sizes)
    return values


def run_backward(derivation, values: dict, backend, sizes: dict[str, int]) -> dict[str, object]:
    """Every adjoint (as "name:bar") and every gradient of ``wrt``, from the derived equations."""
    env = dict(values)
    for adjoint in derivation.adjoints:
        env[f"{adjoint.name}:bar"] = evaluate(adjoint.simplified, env, backend, sizes)
    return {g.name: evaluate(g.expr, env, backend, sizes) for g in derivation.gradients}
