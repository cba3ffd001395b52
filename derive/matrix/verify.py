"""Proof that the matrix-form gradients are right, run by the tool.

Exact: the sizes are instantiated, every variable becomes a matrix of entry symbols, the scalar
loss is differentiated entry by entry with SymPy's ``diff``, and each entry of the matrix-form
gradient is shown equal to it.  Elementwise functions stay abstract there (f and f′ undefined,
with d f(x)/dx = f′(x)), so the check covers any activation; softmax and friends are concrete.
Numeric: seeded random values, central differences of the loss on every entry of small
variables and along random directions for large ones; the largest relative error per gradient.
A gradient passes within 1e-6 relative, or, where it vanishes (deep tanh nets), within the
round-off of the finite differences themselves (about eps·|L|/h).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from ..errors import DomainError, VerificationError
from ..timing import TimedOut, time_limit
from . import EXACT_ENTRY_LIMIT
from .backprop import Derivation
from .evaluate import AbstractFunction, NumpyBackend, SympyBackend, evaluate, run_backward, run_forward
from .expr import M

#: Largest relative error the numeric check accepts.
NUMERIC_TOLERANCE = 1e-6
#: Variables with more entries than this are checked along random directions, not entry by entry.
ENTRYWISE_LIMIT = 400
EXACT_TIMEOUT = 20.0


@dataclass(frozen=True)
class GradientCheck:
    name: str
    exact: str  # "pass", or "skipped (...)"
    numeric_max_relative_error: float
    numeric_method: str  # "every entry" or "N random directions"


@dataclass(frozen=True)
class MatrixChecks:
    exact: str
    gradients: tuple[GradientCheck, ...]

    @property
    def numeric_max_relative_error(self) -> float:
        return max((g.numeric_max_relative_error for g in self.gradients), default=0.0)

    def as_dict(self) -> dict:
        return {
            "exact": self.exact,
            "numeric_max_relative_error": self.numeric_max_relative_error,
            "gradients": {g.name: {"exact": g.exact, "numeric_max_relative_error": g.numeric_max_relative_error,
                                   "numeric_method": g.numeric_method} for g in self.gradients},
        }


def _sizes(derivation: Derivation) -> dict[str, int]:
    return derivation.model.problem.dims


def _dims(shape, sizes) -> tuple[int, int]:
    return tuple(sizes[d] if isinstance(d, str) else d for d in shape)


def random_values(derivation: Derivation, seed: int = 0, positive: bool = False) -> dict[str, np.ndarray]:
    """Every variable drawn alike (targets too: nothing is normalised, so a rule that holds only
    for distributions, such as p − t, shows): signed normal values, or positive ones for losses
    that need them (log, roots)."""
    rng = np.random.default_rng(seed)
    sizes = _sizes(derivation)
    values = {}
    for name in derivation.model.variables:
        dims = _dims(derivation.model.shapes[name], sizes)
        if positive:
            values[name] = rng.uniform(0.5, 1.5, size=dims)
        else:
            values[name] = rng.normal(size=dims) * 0.8
    return values


def check_point(derivation: Derivation, seed: int = 0) -> dict[str, np.ndarray]:
    """The values of the variables the numeric check uses: signed, or positive where the loss
    is not finite at signed values."""
    model, sizes = derivation.model, _sizes(derivation)
    backend = NumpyBackend(model.concrete)
    with np.errstate(all="ignore"):
        for positive in (False, True):
            env = random_values(derivation, seed, positive=positive)
            if np.isfinite(run_forward(model, env, backend, sizes)[model.problem.loss]).all():
                return env
    raise DomainError(f"the loss {model.problem.loss} is not finite at random values (signed, then "
                      "positive): the numeric check cannot run",
                      hint="check the domain of log, division and powers in the equations")


def _loss(derivation: Derivation, env: dict, backend, sizes, fixed: str | None = None) -> float:
    model = derivation.model
    values = dict(env)
    for name, e in model.equations:
        if name != fixed:
            values[name] = evaluate(e, values, backend, sizes)
    return float(values[model.problem.loss].item())


def numeric_check(derivation: Derivation, seed: int = 0, directions: int = 8) -> list[GradientCheck]:
    model, sizes = derivation.model, _sizes(derivation)
    backend = NumpyBackend(model.concrete)
    env = check_point(derivation, seed)
    with np.errstate(all="ignore"):
        values = run_forward(model, env, backend, sizes)
    gradients = run_backward(derivation, values, backend, sizes)
    rng = np.random.default_rng(seed + 1)
    checks = []
    for g in derivation.gradients:
        base = dict(values)
        point = base[g.name]
        fixed = g.name if g.name not in env else None
        grad = gradients[g.name]

        def loss_at(x, base=base, name=g.name, fixed=fixed):
            trial = dict(base)
            trial[name] = x
            return _loss(derivation, trial, backend, sizes, fixed)

        h = 1e-5
        # Round-off of a central difference: about eps·|L|/h per entry, whatever the gradient's size.
        loss_scale = abs(float(values[model.problem.loss].item())) + 1.0
        noise = 10 * np.finfo(float).eps * loss_scale / h
        if point.size <= ENTRYWISE_LIMIT:
            fd = np.zeros_like(point)
            for index in np.ndindex(point.shape):
                step = h * max(1.0, abs(point[index]))
                up, down = point.copy(), point.copy()
                up[index] += step
                down[index] -= step
                fd[index] = (loss_at(up) - loss_at(down)) / (2 * step)
            difference = np.linalg.norm(grad - fd)
            error = difference / max(np.linalg.norm(grad), np.linalg.norm(fd), 1e-300)
            passed = error <= NUMERIC_TOLERANCE or difference <= noise * np.sqrt(point.size) * max(
                1.0, float(np.max(np.abs(point))))
            method = "every entry"
            worst = np.unravel_index(int(np.argmax(np.abs(grad - fd))), point.shape)
            where = f" (worst at entry {g.name}[{worst[0]},{worst[1]}]: {float(grad[worst]):.6g} derived, " \
                    f"{float(fd[worst]):.6g} by finite differences)"
        else:
            error, passed = 0.0, True
            count = directions if point.size <= 100_000 else max(2, directions // 2)  # each costs 2 passes
            for _ in range(count):
                d = rng.random(size=point.shape) - 0.5  # uniform: cheaper to draw than normal
                d /= np.linalg.norm(d)
                fd = (loss_at(point + h * d) - loss_at(point - h * d)) / (2 * h)
                exact = float((grad * d).sum())
                this = abs(fd - exact) / max(abs(fd), abs(exact), 1e-300)
                error = max(error, this)
                passed &= this <= NUMERIC_TOLERANCE or abs(fd - exact) <= noise
            method = f"{count} random directions"
            where = f" (along {count} random directions)"
        if not passed:
            raise VerificationError(f"the gradient of {g.name} disagrees with finite differences "
                                    f"(relative error {error:.1e} > {NUMERIC_TOLERANCE:g}){where}",
                                    hint="the derivation or a VJP rule is wrong; report it")
        checks.append(GradientCheck(g.name, "", float(error), method))
    return checks


def exact_check(derivation: Derivation, timeout: float = EXACT_TIMEOUT,
                entry_limit: int = EXACT_ENTRY_LIMIT) -> dict[str, str]:
    """Per gradient: "pass", or why it was skipped.  A real disagreement raises."""
    model, sizes = derivation.model, _sizes(derivation)
    entries = sum(int(np.prod(_dims(model.shapes[v], sizes))) for v in model.variables)
    if entries > entry_limit:
        note = f"skipped ({entries} entries > {entry_limit}; raise --exact-limit)"
        return {g.name: note for g in derivation.gradients}
    env: dict[str, sympy.Matrix] = {}
    for name in model.variables:
        rows, cols = _dims(model.shapes[name], sizes)
        env[name] = sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{name}[{i},{j}]", real=True))
    backend = SympyBackend()
    results = {}
    try:
        with time_limit(timeout):
            values = run_forward(model, env, backend, sizes)
            loss = values[model.problem.loss][0, 0]
            gradients = run_backward(derivation, values, backend, sizes)
            for g in derivation.gradients:
                if g.name not in env:
                    results[g.name] = "skipped (a named node: checked numerically)"
                    continue
                cols = env[g.name].shape[1]
                for index, sym in enumerate(env[g.name]):
                    theirs = sympy.diff(loss, sym)
                    ours = gradients[g.name][index]
                    if not equal_exactly(ours, theirs):
                        entry = f"[{index // cols},{index % cols}]"
                        raise VerificationError(
                            f"the matrix-form gradient of {g.name} differs from SymPy's entry-wise derivative "
                            f"at entry {g.name}{entry}: derived {_short(ours)}, SymPy {_short(theirs)}",
                            hint="the derivation or a VJP rule is wrong; report it")
                results[g.name] = "pass"
    except (TimedOut, RecursionError):
        for g in derivation.gradients:
            results.setdefault(g.name, f"skipped (took longer than {timeout:g} s)")
    return results


#: Random rational points at which two sides are compared where simplification cannot decide.
EXACT_POINTS = 3


def equal_exactly(ours: sympy.Expr, theirs: sympy.Expr, points: int = EXACT_POINTS, seed: int = 0) -> bool:
    """Whether two entries are equal: symbolically (expand, then simplify), or, where SymPy cannot
    decide (x/|x| against sign(x)), at random rational points with every abstract function
    (σ, σ′) replaced by a random polynomial, evaluated to 60 digits.  Unequal expressions
    differ at random points almost surely; equal ones agree at all of them."""
    difference = sympy.expand(ours - theirs)
    if difference == 0 or sympy.simplify(difference) == 0:
        return True
    rng = np.random.default_rng(seed)
    symbols = sorted(ours.free_symbols | theirs.free_symbols, key=str)
    for _ in range(points):
        point = {x: sympy.Rational(int(rng.integers(1, 30)) * int(rng.choice([-1, 1])), int(rng.integers(1, 13)))
                 for x in symbols}
        coefficients: dict[str, list[sympy.Rational]] = {}
        values = []
        for side in (ours, theirs):
            value = side.xreplace(point)
            while True:  # innermost abstract calls first: f(g(x)) becomes a number in two rounds
                calls = [c for c in value.atoms(AppliedUndef, AbstractFunction)
                         if not c.args[0].atoms(AppliedUndef, AbstractFunction)]
                if not calls:
                    break
                value = value.xreplace({c: _polynomial(c, coefficients, rng) for c in calls})
            values.append(value)
        try:
            gap = complex(sympy.N(values[0] - values[1], 60))
            size = complex(sympy.N(abs(values[0]) + abs(values[1]) + 1, 60))
        except (TypeError, ValueError):  # not a number at this point: cannot show them equal
            return False
        if not abs(gap) <= 1e-40 * abs(size):
            return False
    return True


def _polynomial(call, coefficients: dict, rng) -> sympy.Expr:
    name = type(call).__name__
    if name not in coefficients:
        coefficients[name] = [sympy.Rational(int(rng.integers(-9, 10)), int(rng.integers(1, 7))) for _ in range(3)]
    c = coefficients[name]
    x = call.args[0]
    return c[0] + c[1] * x + c[2] * x ** 2


def _short(e, width: int = 60) -> str:
    """An expression on one line, cut to ``width`` characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def check(derivation: Derivation, seed: int = 0, exact: bool = True,
          exact_limit: int = EXACT_ENTRY_LIMIT) -> MatrixChecks:
    numeric = numeric_check(derivation, seed)
    exact_results = exact_check(derivation, entry_limit=exact_limit) if exact else {
        g.name: "not run" for g in derivation.gradients}
    gradients = tuple(GradientCheck(c.name, exact_results[c.name], c.numeric_max_relative_error, c.numeric_method)
                      for c in numeric)
    states = set(exact_results.values())
    summary = "pass" if states == {"pass"} else ("pass" if "pass" in states else sorted(states)[0])
    if "pass" in states and len(states) > 1:
        summary = "pass (" + "; ".join(f"{g.name}: {g.exact}" for g in gradients if g.exact != "pass") + ")"
    return MatrixChecks(summary, gradients)
