"""Evaluating matrix expressions on values: NumPy arrays (numeric checks) or SymPy matrices of
entry symbols (the exact check).  One interpreter, two small backends."""

from __future__ import annotations

import numpy as np
import sympy

from .expr import M
from .rules import ELEMENTWISE


class NumpyBackend:
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

    def matmul(self, a, b):
        return a @ b

    def had(self, a, b):
        return a * b

    def scale(self, c, a):
        return c.item() * a

    def power(self, a, p):
        return a ** float(p)

    def fn(self, name, a):
        return ELEMENTWISE[self.concrete.get(name, name)].numpy_f(a)

    def dfn(self, name, a):
        return ELEMENTWISE[self.concrete.get(name, name)].numpy_df(a)

    def total(self, a):
        return np.full((1, 1), a.sum())

    def norm(self, a):
        return np.full((1, 1), np.sqrt((a * a).sum()))

    def dot(self, a, b):
        return np.full((1, 1), (a * b).sum())

    def trace(self, a):
        return np.full((1, 1), np.trace(a))

    def softmax(self, z):
        e = np.exp(z - z.max())
        return e / e.sum()

    def logsumexp(self, z):
        m = z.max()
        return np.full((1, 1), m + np.log(np.exp(z - m).sum()))

    def log_softmax(self, z):
        return z - self.logsumexp(z).item()

    def sce(self, z, t):
        return np.full((1, 1), -(t * self.log_softmax(z)).sum())

    def div(self, a, c):
        return a / c.item()

    def diag(self, a):
        return np.diagflat(a)

    def transpose(self, a):
        return a.T


class AbstractFunction(sympy.Function):
    """The base of the abstract elementwise functions of the exact check (σ with σ′ undefined)."""


def _elementwise_symbols(name: str):
    """f and f′ as undefined SymPy functions with d/dx f(x) = f′(x): the exact check then tests
    the matrix calculus, for any f (each f′ formula is tested on its own against diff)."""
    derivative = sympy.Function(f"{name}_prime")

    def fdiff(self, argindex=1):
        return derivative(self.args[0])

    return type(name, (AbstractFunction,), {"fdiff": fdiff}), derivative


class SympyBackend:
    def __init__(self):
        self.functions: dict[str, tuple] = {}

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

    def matmul(self, a, b):
        return a * b

    def had(self, a, b):
        return a.multiply_elementwise(b)

    def scale(self, c, a):
        return c[0, 0] * a

    def power(self, a, p):
        return a.applyfunc(lambda x: x ** p)

    def fn(self, name, a):
        f, _ = self._pair(name)
        return a.applyfunc(f)

    def dfn(self, name, a):
        _, df = self._pair(name)
        return a.applyfunc(df)

    def total(self, a):
        return sympy.Matrix([[sum(a)]])

    def norm(self, a):
        return sympy.Matrix([[sympy.sqrt(sum(x ** 2 for x in a))]])

    def dot(self, a, b):
        return sympy.Matrix([[sum(x * y for x, y in zip(a, b))]])

    def trace(self, a):
        return sympy.Matrix([[a.trace()]])

    def softmax(self, z):
        e = z.applyfunc(sympy.exp)
        return e / sum(e)

    def logsumexp(self, z):
        return sympy.Matrix([[sympy.log(sum(z.applyfunc(sympy.exp)))]])

    def log_softmax(self, z):
        return z - self.logsumexp(z)[0, 0] * sympy.ones(*z.shape)

    def sce(self, z, t):
        return sympy.Matrix([[-sum(x * y for x, y in zip(t, self.log_softmax(z)))]])

    def div(self, a, c):
        return a / c[0, 0]

    def diag(self, a):
        return sympy.diag(*a)

    def transpose(self, a):
        return a.T


def evaluate(e: M, env: dict, backend, sizes: dict[str, int]):
    """The value of ``e``; ``env`` maps names (and "name:bar" for adjoints) to values."""
    op = e.op
    if op == "var":
        return env[e.data]
    if op == "adj":
        return env[f"{e.data}:bar"]
    if op == "const":
        return backend.const(e.data)
    dims = tuple(sizes[d] if isinstance(d, str) else d for d in e.shape)
    if op == "ones":
        return backend.ones(dims)
    if op == "zero":
        return backend.zeros(dims)
    if op == "eye":
        return backend.eye(dims[0])
    args = [evaluate(a, env, backend, sizes) for a in e.args]
    if op == "add":
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out
    if op == "neg":
        return -args[0]
    if op == "T":
        return backend.transpose(args[0])
    if op == "pow":
        return backend.power(args[0], e.data)
    if op in ("fn", "dfn"):
        return getattr(backend, op)(e.data, args[0])
    if op == "sum":
        return backend.total(args[0])
    return getattr(backend, op)(*args)


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
