"""Proof that the matrix-form gradients are right, run by the tool.

Exact: the sizes are instantiated, every variable becomes a matrix of entry symbols, the scalar
loss is differentiated entry by entry with SymPy's ``diff``, and each entry of the matrix-form
gradient is shown equal to it by evaluation at random rational points (60 digits; simplifying
the difference took minutes on a mini-batch).  Activations stay abstract there (f and f′
undefined, with d f(x)/dx = f′(x), replaced by random polynomials at the points), so the check
covers any activation; softmax, log, exp, roots and the logistic sigmoid are concrete.  A
variable of a constrained kind (onehot, distribution, binary) is an exact sample of its kind.
Numeric: seeded random values, central differences of the loss on every entry of small
variables and along random directions for large ones; the largest relative error per gradient.
A gradient passes within 1e-6 relative, or, where it vanishes (deep tanh nets), within the
round-off of the finite differences themselves (about eps·|L|/h).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from ..errors import DomainError, VerificationError
from ..timing import TimedOut, time_limit
from . import EXACT_ENTRY_LIMIT
from .backprop import Derivation
from .expr import size_value
from .evaluate import AbstractFunction, NumpyBackend, SympyBackend, evaluate, run_backward, run_forward

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
    return tuple(size_value(d, sizes) for d in shape)


def random_values(derivation: Derivation, seed: int = 0, positive: bool = False) -> dict[str, np.ndarray]:
    """Every variable without a kind drawn alike (targets too: nothing is normalised, so a rule
    that holds only for distributions, such as p − t, shows): signed normal values, or positive
    ones for losses that need them (log, roots).  A declared kind is sampled as that kind."""
    rng = np.random.default_rng(seed)
    sizes = _sizes(derivation)
    kinds = derivation.model.problem.kinds
    values = {}
    for name in derivation.model.variables:
        dims = _dims(derivation.model.shapes[name], sizes)
        if name in kinds:
            values[name] = kind_sample(kinds[name], dims, rng)
        elif positive:
            values[name] = rng.uniform(0.5, 1.5, size=dims)
        else:
            values[name] = rng.normal(size=dims) * 0.8
    return values


def kind_sample(kind: str, dims: tuple[int, int], rng, exact: bool = False):
    """Values of a declared kind: floats, or (``exact``) a SymPy matrix of rationals."""
    rows, cols = dims
    if kind.endswith("_rows"):  # each row a onehot or a distribution: the column kind, transposed
        return kind_sample(kind[:-len("_rows")], (cols, rows), rng, exact).T
    if kind == "onehot":
        value = np.zeros(dims, dtype=int)
        value[rng.integers(0, rows, size=cols), np.arange(cols)] = 1
    elif kind == "binary":
        value = rng.integers(0, 2, size=dims)
    elif kind == "distribution":
        weights = rng.integers(1, 10, size=dims)
        if exact:
            return sympy.Matrix(rows, cols, lambda i, j: sympy.Rational(int(weights[i, j]), int(weights[:, j].sum())))
        return weights / weights.sum(axis=0, keepdims=True)
    else:  # positive
        value = rng.integers(1, 20, size=dims)
        if exact:
            return sympy.Matrix(rows, cols, lambda i, j: sympy.Rational(int(value[i, j]), 10))
        return value / 10
    return sympy.Matrix(value.tolist()) if exact else value.astype(float)


def exact_variables(model, sizes: dict, seed: int = 0) -> dict[str, sympy.Matrix]:
    """The variables of the exact check: a matrix of entry symbols each, except that a variable
    of a constrained kind (onehot, distribution, binary) is an exact sample of its kind: the
    simplifications its kind licenses (P − T) hold for those values, not for arbitrary ones."""
    from ..problems import CONSTRAINED_KINDS

    rng = np.random.default_rng(seed)
    env = {}
    for name in model.variables:
        rows, cols = _dims(model.shapes[name], sizes)
        kind = model.problem.kinds.get(name)
        if kind in CONSTRAINED_KINDS:
            env[name] = kind_sample(kind, (rows, cols), rng, exact=True)
        else:
            positive = kind == "positive"
            env[name] = sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{name}[{i},{j}]", real=True,
                                                                          **({"positive": True} if positive else {})))
    return env


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
    env = exact_variables(model, sizes)
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
            results.setdefault(g.name, f"skipped (took longer than {timeout:g} s; raise --symbolic-timeout)")
    return results


#: Random rational points at which two sides are compared, and the working precision (digits).
EXACT_POINTS = 3
EXACT_DIGITS = 60
#: Two sides agree at a point when they differ by less than this, relative to their size.
EXACT_AGREEMENT = mpmath.mpf(10) ** -30


class _Undecided(Exception):
    """An expression the point evaluator does not know: fall back to simplification."""


def equal_exactly(ours: sympy.Expr, theirs: sympy.Expr, points: int = EXACT_POINTS, seed: int = 0) -> bool:
    """Whether two entries are equal, decided by evaluation at random rational points: every
    variable gets an exact rational value, every abstract function (σ, σ′) a random polynomial
    with rational coefficients, and both sides are evaluated at 60 digits (mpmath; exp, log,
    roots).  Unequal expressions differ at random points almost surely; equal ones agree at
    all of them (to ~30 digits: far more than any rounding).  Symbolic simplification (slow:
    minutes on a batch) is only the fallback for what the evaluator does not know."""
    if ours == theirs:
        return True
    symbols = sorted(ours.free_symbols | theirs.free_symbols, key=str)
    try:
        with mpmath.workdps(EXACT_DIGITS):
            for index in range(points):
                rng = np.random.default_rng([seed, index])
                point = {x: mpmath.mpf(int(rng.integers(1, 30)) * (1 if x.is_positive else int(rng.choice([-1, 1]))))
                         / int(rng.integers(1, 13)) for x in symbols}  # a positive symbol gets a positive value
                functions: dict[str, list] = {}
                memo: dict = {}
                a = _point_value(ours, point, functions, memo, rng)
                b = _point_value(theirs, point, functions, memo, rng)
                if not abs(a - b) <= EXACT_AGREEMENT * (abs(a) + abs(b) + 1):
                    return False
        return True
    except (_Undecided, RecursionError, ZeroDivisionError, ValueError, TypeError):
        difference = sympy.expand(ours - theirs)
        return difference == 0 or sympy.simplify(difference) == 0


def _point_value(e, point: dict, functions: dict, memo: dict, rng):
    """The value of a SymPy expression at ``point`` (mpmath numbers at the working precision)."""
    if e in memo:
        return memo[e]
    if e.is_Symbol:
        value = point[e]
    elif e.is_Rational:
        value = mpmath.mpf(e.p) / e.q
    elif e.is_Number or e.is_NumberSymbol:
        value = mpmath.mpmathify(e.evalf(EXACT_DIGITS + 10))
    elif isinstance(e, sympy.Piecewise):  # the first branch whose condition holds (< <= > >=)
        piece = next(piece for piece, condition in e.args
                     if condition is sympy.true or _holds(condition, point, functions, memo, rng))
        value = _point_value(piece, point, functions, memo, rng)
    else:
        args = [_point_value(a, point, functions, memo, rng) for a in e.args]
        if e.is_Add:
            value = mpmath.fsum(args)
        elif e.is_Mul:
            value = mpmath.fprod(args)
        elif e.is_Pow:
            value = mpmath.power(args[0], args[1])
        elif isinstance(e, sympy.exp):
            value = mpmath.exp(args[0])
        elif isinstance(e, sympy.log):
            value = mpmath.log(args[0])
        elif isinstance(e, sympy.Abs):
            value = abs(args[0])
        elif isinstance(e, sympy.sign):
            value = mpmath.sign(args[0])
        elif isinstance(e, (sympy.Max, sympy.Min)):
            value = (max if isinstance(e, sympy.Max) else min)(args)
        elif isinstance(e, sympy.Heaviside):  # H(0) = ½ unless given
            value = mpmath.mpf(1) if args[0] > 0 else mpmath.mpf(0) if args[0] < 0 else (
                args[1] if len(args) > 1 else mpmath.mpf(1) / 2)
        elif isinstance(e, (AppliedUndef, AbstractFunction)) and len(args) == 1:
            name = type(e).__name__
            if name not in functions:
                functions[name] = [mpmath.mpf(int(rng.integers(-9, 10))) / int(rng.integers(1, 7)) for _ in range(3)]
            c = functions[name]
            value = c[0] + c[1] * args[0] + c[2] * args[0] ** 2
        else:
            raise _Undecided(type(e).__name__)
    memo[e] = value
    return value


def _holds(condition, point: dict, functions: dict, memo: dict, rng) -> bool:
    """A branch condition of a Piecewise (a < b, a >= b) at the point."""
    tests = {sympy.StrictLessThan: lambda d: d < 0, sympy.LessThan: lambda d: d <= 0,
             sympy.StrictGreaterThan: lambda d: d > 0, sympy.GreaterThan: lambda d: d >= 0}
    if type(condition) not in tests:
        raise _Undecided(type(condition).__name__)
    return tests[type(condition)](_point_value(condition.lhs - condition.rhs, point, functions, memo, rng))


def _short(e, width: int = 60) -> str:
    """An expression on one line, cut to ``width`` characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def check(derivation: Derivation, seed: int = 0, exact: bool = True,
          exact_limit: int = EXACT_ENTRY_LIMIT, exact_timeout: float = EXACT_TIMEOUT) -> MatrixChecks:
    numeric = numeric_check(derivation, seed)
    exact_results = exact_check(derivation, exact_timeout, exact_limit) if exact else {
        g.name: "not run" for g in derivation.gradients}
    gradients = tuple(GradientCheck(c.name, exact_results[c.name], c.numeric_max_relative_error, c.numeric_method)
                      for c in numeric)
    states = set(exact_results.values())
    summary = "pass" if states == {"pass"} else ("pass" if "pass" in states else sorted(states)[0])
    if "pass" in states and len(states) > 1:
        summary = "pass (" + "; ".join(f"{g.name}: {g.exact}" for g in gradients if g.exact != "pass") + ")"
    return MatrixChecks(summary, gradients)
