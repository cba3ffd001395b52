"""Proof that the matrix-form gradients are right, run by the tool.

Exact: the sizes are instantiated, every variable becomes a matrix of entry symbols, and each
entry of the matrix-form gradient is decided against the derivative of the scalar loss by that
entry by certified evaluation at random rational points (interval arithmetic, the precision
raised until the sign of the difference is certain: see :func:`compare`).  The derivative is
computed at the point by forward differentiation of the loss's SymPy graph, node by node
(:func:`_slope_of`; SymPy's ``diff`` where a node has no rule there).  Activations stay abstract there (f and f′ undefined, with d f(x)/dx = f′(x),
replaced by random polynomials at the points), so the check covers any activation; softmax,
log, exp, roots and the logistic sigmoid are concrete.  A variable of a constrained kind
(onehot, distribution, binary) is an exact sample of its kind.  The work is bounded by counts
(entries, nodes evaluated), never by time: the same problem gets the same verdict on any machine.
Numeric: seeded random values, central differences of the loss on every entry of small
variables and along random directions for large ones; the largest relative error per gradient.
A gradient passes within 1e-6 relative, or, where it vanishes (deep tanh nets), within the
round-off of the finite differences themselves (about eps·|L|/h).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import NamedTuple

import mpmath
import numpy as np
import sympy
from mpmath import iv
from sympy.core.function import AppliedUndef
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import Boolean

from ..errors import DomainError, VerificationError
from . import EXACT_ENTRY_LIMIT
from .backprop import Derivation
from .expr import size_value
from .evaluate import AbstractFunction, NumpyBackend, SympyBackend, evaluate, run_backward, run_forward

#: Largest relative error the numeric check accepts.
NUMERIC_TOLERANCE = 1e-6
#: Variables with more entries than this are checked along random directions, not entry by entry.
ENTRYWISE_LIMIT = 400


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


#: A constant at least this large (a mask written −1e9 · M) makes float finite differences
#: meaningless (1e9 + 1e-5 loses the step): the numeric check then differences at PRECISE_DIGITS.
HUGE_CONSTANT = 10 ** 6
PRECISE_DIGITS = 50


def huge_constant(model) -> sympy.Expr | None:
    """The largest constant of the equations if it is huge (see HUGE_CONSTANT), else None."""
    largest = sympy.Integer(0)
    for _, e in model.equations:
        for node in e.walk():
            if node.op == "const":
                value = abs(node.value if isinstance(node.value, sympy.Basic) else sympy.Float(node.value))
                if value.is_extended_real and value > largest:
                    largest = value
    return largest if largest >= HUGE_CONSTANT else None


class PreciseLoss:
    """The loss as a SymPy expression of every variable entry (and of a named node's entries when
    it is ``fixed``), every function concrete, evaluated at exact rational inputs in
    PRECISE_DIGITS-digit interval arithmetic: finite differences through a huge constant."""

    def __init__(self, derivation: Derivation, env: dict, sizes, fixed: str | None):
        from .rules import ELEMENTWISE

        model = derivation.model
        free = dict(env) if fixed is None else {fixed: env[fixed], **{k: v for k, v in env.items()
                                                                       if k in model.variables}}
        self.symbols = {name: sympy.Matrix(*value.shape, lambda i, j, n=name: sympy.Dummy(f"{n}{i}{j}"))
                        for name, value in free.items()}
        values = dict(self.symbols)
        backend = SympyBackend(model.concrete, frozenset(ELEMENTWISE))
        for name, e in model.equations:
            if name != fixed:
                values[name] = evaluate(e, values, backend, sizes)
        self.loss = values[model.problem.loss][0, 0]

    def value(self, inputs: dict) -> mpmath.mpf:
        """The loss at ``inputs`` (symbol -> Rational), to PRECISE_DIGITS digits."""
        return _lo(_FixedPoint(inputs).interval(self.loss, PRECISE_DIGITS, Budget(10 ** 12)))

    def slope(self, base: dict, name: str, direction: np.ndarray, step: float) -> float:
        """(L(x + step d) − L(x − step d)) / 2 step, the inputs exact (the floats' own binary
        values, the step and direction added exactly)."""
        step = sympy.Rational(step)
        sides = []
        for sign in (1, -1):
            inputs = {}
            for key, matrix in self.symbols.items():
                values = [sympy.Rational(float(v)) for v in np.asarray(base[key]).flat]
                if key == name:
                    values = [v + sign * step * sympy.Rational(float(d)) for v, d in zip(values, direction.flat)]
                inputs.update(zip(matrix, values))
            sides.append(self.value(inputs))
        with mpmath.workdps(PRECISE_DIGITS + 10):
            return float((sides[0] - sides[1]) / (2 * mpmath.mpf(step.p) / step.q))


#: Most variable entries for which PreciseLoss is compiled; past it, float differences are used
#: and a disagreement through a huge constant is reported as not checked, never as an error.
PRECISE_ENTRY_LIMIT = 2_000


def numeric_check(derivation: Derivation, seed: int = 0, directions: int = 8) -> list[GradientCheck]:
    """Central differences of the loss against each gradient.  A disagreement in floats is
    decided again in 50 digits (exact inputs, interval arithmetic) before it is reported: a
    saturated softmax or a huge constant (a mask written −1e9 · M) can make float differences
    too coarse, and a right gradient is never called wrong for that."""
    model, sizes = derivation.model, _sizes(derivation)
    backend = NumpyBackend(model.concrete)
    env = check_point(derivation, seed)
    huge = huge_constant(model)
    small = sum(v.size for v in env.values()) <= PRECISE_ENTRY_LIMIT
    compiled: dict = {}  # PreciseLoss by fixed node (None: the variables), built once each
    with np.errstate(all="ignore"):
        values = run_forward(model, env, backend, sizes)
    gradients = run_backward(derivation, values, backend, sizes)
    rng = np.random.default_rng(seed + 1)
    loss_scale = abs(float(values[model.problem.loss].item())) + 1.0
    checks = []
    for g in derivation.gradients:
        base = dict(values)
        fixed = g.name if g.name not in env else None

        def float_slope(direction, step, name=g.name, fixed=fixed):
            up, down = dict(base), dict(base)
            up[name], down[name] = base[name] + step * direction, base[name] - step * direction
            return (_loss(derivation, up, backend, sizes, fixed) - _loss(derivation, down, backend, sizes, fixed)) \
                / (2 * step)

        def precise_slope(direction, step, name=g.name, fixed=fixed):
            if fixed not in compiled:
                compiled[fixed] = PreciseLoss(derivation, base if fixed else env, sizes, fixed)
            return compiled[fixed].slope(base, name, direction, step)

        # Round-off of a central difference: about eps·|L|/h per entry, whatever the gradient's size.
        in_floats = (float_slope, 1e-5, 10 * np.finfo(float).eps * loss_scale / 1e-5)
        in_digits = (precise_slope, 1e-15, 10 * 10.0 ** -PRECISE_DIGITS * float(huge or 1) * loss_scale / 1e-15)
        if huge is not None and small:  # floats cannot see a step past 1e9: 50 digits from the start
            try:
                result = _differences(g.name, base[g.name], gradients[g.name], *in_digits, rng, directions)
            except (_Undecided, _Uncertain):  # a value the 50 digits cannot enclose: no verdict, never a wrong one
                result = _differences(g.name, base[g.name], gradients[g.name], *in_floats, rng, directions)
                result = result._replace(passed=True, method=result.method + " (not checked: floats cannot "
                                         f"difference through the constant {huge}, and 50 digits cannot enclose the loss)")
            else:
                result = result._replace(method=result.method + f" ({PRECISE_DIGITS} digits: the constant {huge} is "
                                                                "too large for floats)")
        else:
            result = _differences(g.name, base[g.name], gradients[g.name], *in_floats, rng, directions)
            if not result.passed and small:
                try:
                    result = _differences(g.name, base[g.name], gradients[g.name], *in_digits, rng, directions)
                    result = result._replace(method=result.method + f" ({PRECISE_DIGITS} digits: floats were too "
                                                                    "coarse)")
                except (_Undecided, _Uncertain):  # 50 digits cannot enclose the loss: the floats' verdict stands
                    pass
            elif not result.passed and huge is not None:  # too large to redo in 50 digits: no verdict
                result = result._replace(passed=True, method=result.method + " (not checked: floats cannot "
                                                                              f"difference through the constant {huge})")
        if not result.passed:
            raise VerificationError(f"the gradient of {g.name} disagrees with finite differences "
                                    f"(relative error {result.error:.1e} > {NUMERIC_TOLERANCE:g}){result.where}",
                                    hint="the derivation or a VJP rule is wrong; report it")
        checks.append(GradientCheck(g.name, "", float(result.error), result.method))
    return checks


class _Differences(NamedTuple):
    error: float
    passed: bool
    method: str
    where: str


def _differences(name: str, point: np.ndarray, grad: np.ndarray, slope, h: float, noise: float, rng,
                 directions: int) -> _Differences:
    """Central differences (``slope``) on every entry of a small variable, along random
    directions for a large one, against ``grad``: the relative error and whether it passes."""
    if point.size <= ENTRYWISE_LIMIT:
        fd = np.zeros_like(point)
        for index in np.ndindex(point.shape):
            unit = np.zeros_like(point)
            unit[index] = 1.0
            fd[index] = slope(unit, h * max(1.0, abs(point[index])))
        difference = np.linalg.norm(grad - fd)
        floor = noise * np.sqrt(point.size) * max(1.0, float(np.max(np.abs(point))))
        size = max(np.linalg.norm(grad), np.linalg.norm(fd))
        passed = difference / max(size, 1e-300) <= NUMERIC_TOLERANCE or difference <= floor
        # relative to the differencing noise where the gradient vanishes: an exact 0 against
        # finite differences of 1e-12 is not a "relative error 1.0"
        error = difference / max(size, floor, 1e-300)
        worst = np.unravel_index(int(np.argmax(np.abs(grad - fd))), point.shape)
        return _Differences(float(error), bool(passed), "every entry",
                            f" (worst at entry {name}[{worst[0]},{worst[1]}]: {float(grad[worst]):.6g} derived, "
                            f"{float(fd[worst]):.6g} by finite differences)")
    error, passed = 0.0, True
    count = directions if point.size <= 100_000 else max(2, directions // 2)  # each costs 2 passes
    for _ in range(count):
        d = rng.random(size=point.shape) - 0.5  # uniform: cheaper to draw than normal
        d /= np.linalg.norm(d)
        fd = slope(d, h)
        exact = float((grad * d).sum())
        this = abs(fd - exact) / max(abs(fd), abs(exact), 1e-300)
        passed &= this <= NUMERIC_TOLERANCE or abs(fd - exact) <= noise
        error = max(error, abs(fd - exact) / max(abs(fd), abs(exact), noise, 1e-300))
    return _Differences(float(error), bool(passed), f"{count} random directions",
                        f" (along {count} random directions)")


#: Random rational points at which two sides are compared.
EXACT_POINTS = 3
#: Working precisions (decimal digits) of the certified evaluation, raised in turn while the
#: sign of a difference is not yet certain.
PRECISIONS = (60, 120, 240, 480)
#: A difference certified below this, relative to the size of the two sides, counts as zero.
AGREEMENT_DIGITS = 30
#: The work the exact check may do, counted (never timed): every node the certified evaluation
#: and the forward differentiation visit, plus, for an entry whose loss has a node forward
#: differentiation has no rule for, the loss's size (nodes of its SymPy expression written as a
#: tree, what ``diff`` walks).  Past it, the gradients not yet proved are
#: "not proved (work limit)".  The largest of the catalogue and tests/networks (the five-step inline
#: RNN) costs about 26,000; attention about 9,000.
EXACT_WORK_LIMIT = 100_000


class _Undecided(Exception):
    """The certified evaluator cannot decide this expression (an unknown function, a log of a
    value whose sign is not certain): the entry is not proved."""


class _Uncertain(Exception):
    """A sign test (|x|, sign, a branch) is not certain at this precision: raise it."""


class OverBudget(Exception):
    """The counted work of the exact check is used up."""


@dataclass
class Budget:
    """Units of work left (nodes visited); the same problem always costs the same."""

    left: int = EXACT_WORK_LIMIT

    def spend(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise OverBudget


@dataclass(frozen=True)
class Comparison:
    """The decision on one entry: "holds", "differs" (``point`` and both values say where) or
    "undecided" (``reason``)."""

    verdict: str
    point: dict | None = None  # symbol -> its rational value, where the two sides differ
    ours: object = None
    theirs: object = None
    reason: str = ""


class RandomPoint:
    """One random rational point: a rational value per symbol (positive for a positive symbol)
    and a random polynomial with rational coefficients per abstract function (σ, σ′).  Its
    certified evaluations, one per working precision, share their memos across entries."""

    def __init__(self, seed: int, index: int):
        self.seed, self.index = seed, index
        self.values: dict = {}
        self.functions: dict = {}
        self._memos: dict[int, dict] = {}

    def value_of(self, symbol) -> sympy.Rational:
        if symbol not in self.values:
            rng = np.random.default_rng([self.seed, self.index, zlib.crc32(str(symbol).encode())])
            sign = 1 if symbol.is_positive else int(rng.choice([-1, 1]))
            self.values[symbol] = sympy.Rational(int(rng.integers(1, 30)) * sign, int(rng.integers(1, 13)))
        return self.values[symbol]

    def polynomial(self, name: str) -> list:
        if name not in self.functions:
            rng = np.random.default_rng([self.seed, self.index, zlib.crc32(name.encode()), 1])
            self.functions[name] = [sympy.Rational(int(rng.integers(-9, 10)), int(rng.integers(1, 7)))
                                    for _ in range(3)]
        return self.functions[name]

    def interval(self, e, digits: int, budget: Budget):
        """A certified enclosure of ``e`` at this point (mpmath interval arithmetic)."""
        memo = self._memos.setdefault(digits, {})
        previous = iv.dps
        iv.dps = digits
        try:
            return _interval(e, self, memo, budget)
        finally:
            iv.dps = previous


class _FixedPoint(RandomPoint):
    """A point with given rational values (no abstract functions: every function is concrete)."""

    def __init__(self, values: dict):
        super().__init__(0, 0)
        self.values = values

    def polynomial(self, name: str) -> list:
        raise _Undecided(f"the abstract function {name}")


def _lo(x):
    """The lower end of an interval, exactly (no rounding to the default 53 bits)."""
    return mpmath.mp.make_mpf(x._mpi_[0])


def _hi(x):
    return mpmath.mp.make_mpf(x._mpi_[1])


def _magnitude(x):
    return max(abs(_lo(x)), abs(_hi(x)))


def _rational(q) -> object:
    return iv.mpf(int(q.p)) / iv.mpf(int(q.q))


def _positive(x, what: str):
    """``x`` where it must be positive (log, a root): uncertain, or undecidable where it is not."""
    if _lo(x) > 0:
        return x
    if _hi(x) <= 0:
        raise _Undecided(f"{what} of a value that is not positive")
    raise _Uncertain


def _sign(x):
    if _lo(x) > 0:
        return 1
    if _hi(x) < 0:
        return -1
    raise _Uncertain


def _power(base, exponent):
    """base ** exponent for an integer or half-integer exponent (the cases _interval sends here)."""
    if exponent.is_Integer:
        return base ** int(exponent)
    if exponent > 0 and _lo(base) == 0 == _hi(base):  # √0 = 0 exactly (a binary mask's 0 entries)
        return iv.mpf(0)
    return iv.sqrt(_positive(base, "a square root")) ** int(exponent.p)


def _interval(e, point: RandomPoint, memo: dict, budget: Budget):
    if e in memo:
        return memo[e]
    budget.spend(1)
    if e.is_Symbol:
        value = _rational(point.value_of(e))
    elif e.is_Rational:
        value = _rational(e)
    elif e.is_Float:
        value = _rational(sympy.Rational(e))  # a float is an exact binary fraction
    elif e is sympy.pi:
        value = iv.pi
    elif e is sympy.E:
        value = iv.e
    elif e.is_Pow and (e.exp.is_Integer or (e.exp.is_Rational and e.exp.q == 2)):
        value = _power(_interval(e.base, point, memo, budget), e.exp)
    elif isinstance(e, sympy.Piecewise):
        value = None
        for piece, condition in e.args:
            if condition is sympy.true or _holds(condition, point, memo, budget):
                value = _interval(piece, point, memo, budget)
                break
        if value is None:
            raise _Undecided("a piecewise expression with no branch")
    else:
        args = [_interval(a, point, memo, budget) for a in e.args]
        if e.is_Add:
            value = args[0]
            for a in args[1:]:
                value = value + a
        elif e.is_Mul:
            value = args[0]
            for a in args[1:]:
                value = value * a
        elif e.is_Pow:  # a general exponent: exp(e log b), b > 0
            value = iv.exp(args[1] * iv.log(_positive(args[0], "a power")))
        elif isinstance(e, sympy.exp):
            value = iv.exp(args[0])
        elif isinstance(e, sympy.log):
            value = iv.log(_positive(args[0], "a logarithm"))
        elif isinstance(e, sympy.tanh):
            value = 1 - 2 / (iv.exp(2 * args[0]) + 1)
        elif type(e) in _ENCLOSURES:
            value = _ENCLOSURES[type(e)](args[0], budget)
        elif isinstance(e, sympy.Abs):  # |x| needs no sign: [0, the larger end] where x may be 0
            value = args[0] * _sign(args[0]) if _lo(args[0]) > 0 or _hi(args[0]) < 0 \
                else iv.mpf([0, _magnitude(args[0])])
        elif isinstance(e, sympy.sign):
            value = iv.mpf(0 if _lo(args[0]) == 0 == _hi(args[0]) else _sign(args[0]))  # sign(0) = 0 exactly
        elif isinstance(e, sympy.Heaviside):
            value = iv.mpf(1 if _sign(args[0]) > 0 else 0)
        elif isinstance(e, (sympy.Max, sympy.Min)):
            pick = max if isinstance(e, sympy.Max) else min
            value = iv.mpf([pick(_lo(a) for a in args), pick(_hi(a) for a in args)])
        elif isinstance(e, (AppliedUndef, AbstractFunction)) and len(args) == 1:
            c = [_rational(q) for q in point.polynomial(type(e).__name__)]
            value = c[0] + c[1] * args[0] + c[2] * args[0] * args[0]
        else:
            raise _Undecided(f"the function {type(e).__name__}")
    memo[e] = value
    return value


def _increasing(f, x):
    """A certified enclosure of an increasing function on ``x``: f at each end, each end itself
    enclosed (the lower end of f(lo), the upper end of f(hi))."""
    lo, hi = f(iv.mpf(_lo(x))), f(iv.mpf(_hi(x)))
    return iv.mpf([_lo(lo), _hi(hi)])


def _sinh(x, budget):
    """(expm1(x) − expm1(−x)) / 2: no cancellation near 0, where the sign of sinh is x's."""
    return _increasing(lambda t: (iv.expm1(t) - iv.expm1(-t)) / 2, x)


def _cosh(x, budget):
    """1 + 2 sinh(x/2)²: the square of an interval about 0 starts at 0, so cosh's at 1."""
    return 1 + 2 * _sinh(x / 2, budget) ** 2


def _erf(x, budget):
    """erf, increasing, enclosed at each end of ``x`` (mpmath's iv.erf does not converge)."""
    return _increasing(lambda t: _erf_point(_lo(t), budget), x)


def _erf_point(x, budget):
    """A certified enclosure of erf(x) for one number x.  Where e^(−x²) is below the working
    precision, erf(x) = ±(1 − erfc|x|) with 0 < erfc|x| < e^(−x²) / (|x| √π).  Elsewhere the
    Taylor series 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)), summed at twice the digits (its terms
    grow to about e^(x²) before they fall), stopped where the terms decrease and the next one
    is below the precision; an alternating series with decreasing terms is within its next
    term of its sum, which the enclosure adds as ±that term.  Each term costs a unit of work."""
    if x == 0:
        return iv.mpf(0)
    digits = iv.dps
    sign = 1 if x > 0 else -1
    a2 = float(x) ** 2  # for the choices only (abs(x) would round x to mpmath's 53 bits)
    if a2 > (digits + 5) * 2.303:  # e^(−x²) < 10^-(digits+5)
        t = sign * iv.mpf(x)
        tail = iv.exp(-t * t) / (t * iv.sqrt(iv.pi))
        return sign * iv.mpf([_lo(1 - tail), 1])
    previous = iv.dps
    iv.dps = 2 * digits + 10
    try:
        t = sign * iv.mpf(x)
        square = t * t
        term, total, n = t, t, 0  # term = x^(2n+1) / n!
        while True:
            n += 1
            budget.spend(1)
            term = term * square / n
            piece = term / (2 * n + 1)
            total = total - piece if n % 2 else total + piece
            if n + 1 > a2 and _hi(piece) < mpmath.mpf(10) ** -(2 * digits + 5):
                following = _hi(term * square / (n + 1) / (2 * n + 3))
                total = total + iv.mpf([-following, following])
                break
        value = 2 / iv.sqrt(iv.pi) * total
    finally:
        iv.dps = previous
    return sign * (value + 0)  # rounded outward to the working precision


#: Certified enclosures of the elementary functions mpmath's interval context lacks or gets
#: wrong, by SymPy class: f(x interval, budget) -> interval.
_ENCLOSURES = {
    sympy.sin: lambda x, budget: iv.sin(x),
    sympy.cos: lambda x, budget: iv.cos(x),
    sympy.tan: lambda x, budget: iv.tan(x),  # sin / cos: unbounded where cos may vanish (raise the precision)
    sympy.sinh: _sinh,
    sympy.cosh: _cosh,
    sympy.erf: _erf,
}


class _NoSlope(Exception):
    """Forward differentiation meets a node it has no rule for: SymPy's diff decides instead."""


def _slope_of(loss, symbol):
    """The reference ∂loss/∂symbol as an enclosure function for :func:`compare`: forward-mode
    differentiation of the loss's SymPy graph at the point, each node's derivative by the
    chain rule of its SymPy class, in certified interval arithmetic.  It is what ``diff`` of
    the loss evaluates to, computed on the graph (each shared node once) instead of on the
    expression ``diff`` builds, which grows with every step of an RNN."""
    def enclose(point: RandomPoint, digits: int, budget: Budget):
        memo = point._memos.setdefault(digits, {})
        previous = iv.dps
        iv.dps = digits
        try:
            return _slope(loss, symbol, point, memo, {}, budget)
        finally:
            iv.dps = previous
    return enclose


def _slope(e, symbol, point: RandomPoint, memo: dict, slopes: dict, budget: Budget):
    """d e / d symbol at the point, enclosed; values from :func:`_interval` (shared ``memo``)."""
    def slope(node):
        if node.is_Symbol or node.is_Number or node is sympy.pi or node is sympy.E:
            return iv.mpf(1 if node == symbol else 0)
        budget.spend(1)
        return _chain(node, [slopes[a] for a in node.args], point, memo, budget)
    return _children_first(e, slopes, slope)


def _children_first(e, done: dict, value):
    """``done[e]``, filling ``done`` with ``value(node)`` for every node of the graph below ``e``,
    each once and after its arguments, without recursion: the graph of a long RNN is deep."""
    stack = [e]
    while stack:
        node = stack[-1]
        if node in done:
            stack.pop()
            continue
        pending = [a for a in node.args if a not in done]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        done[node] = value(node)
    return done[e]


def _chain(e, d: list, point: RandomPoint, memo: dict, budget: Budget):
    """The derivative of one node from its arguments' derivatives ``d`` (the chain rule)."""
    def value(x):
        return _interval(x, point, memo, budget)
    if all(_lo(x) == 0 == _hi(x) for x in d):  # the symbol is not below this node
        return iv.mpf(0)
    if e.is_Add:
        total = d[0]
        for x in d[1:]:
            total = total + x
        return total
    if e.is_Mul:  # only the factors diff's expression has: log(p) in t log(p) when t varies
        total = iv.mpf(0)
        for i, x in enumerate(d):
            if _lo(x) == 0 == _hi(x):
                continue
            term = x
            for j, factor in enumerate(e.args):
                if j != i:
                    term = term * value(factor)
            total = total + term
        return total
    if e.is_Pow and not e.exp.free_symbols and (e.exp.is_Integer or (e.exp.is_Rational and e.exp.q == 2)):
        if e.exp == 1:
            return d[0]
        return _rational(e.exp) * _power(value(e.base), e.exp - 1) * d[0]
    if e.is_Pow:  # b^x = exp(x log b): b^x (x′ log b + x b′ / b)
        base = _positive(value(e.base), "a power")
        return value(e) * (d[1] * iv.log(base) + value(e.exp) * d[0] / base)
    a = e.args[0] if e.args else None
    if isinstance(e, sympy.exp):
        return value(e) * d[0]
    if isinstance(e, sympy.log):  # u′ / u: u need not be positive here (log(cosh(r)), cosh abstract)
        return d[0] / value(a)
    if isinstance(e, sympy.tanh):
        return (1 - value(e) ** 2) * d[0]
    if isinstance(e, sympy.Abs):  # |x|′ = sign(x) x′, as diff writes it (sign(0) = 0)
        x = value(a)
        return (0 if _lo(x) == 0 == _hi(x) else _sign(x)) * d[0]
    if isinstance(e, (sympy.sign, sympy.Heaviside)):
        _sign(value(a))  # constant where the sign is certain
        return iv.mpf(0)
    if isinstance(e, (sympy.Max, sympy.Min)):
        chosen = value(e)
        picked = [i for i, x in enumerate(e.args) if _lo(value(x)) == _lo(chosen) and _hi(value(x)) == _hi(chosen)]
        others = [value(x) for i, x in enumerate(e.args) if i not in picked]
        if len(picked) != 1 or any(not (_hi(x) < _lo(chosen) if isinstance(e, sympy.Max) else _lo(x) > _hi(chosen))
                                   for x in others):
            raise _NoSlope  # a tie, or not certainly apart: diff's own convention decides
        return d[picked[0]]
    if isinstance(e, sympy.Piecewise):  # the branch the point is in (d: each branch's pair)
        for (piece, condition), slope in zip(e.args, d):
            if condition is sympy.true or _holds(condition, point, memo, budget):
                return slope
        raise _Undecided("a piecewise expression with no branch")
    if isinstance(e, ExprCondPair):
        return d[0]
    if isinstance(e, Boolean):  # a branch condition: constant where it is decided
        return iv.mpf(0)
    if type(e) in _DERIVATIVES:
        return _DERIVATIVES[type(e)](value(a)) * d[0]
    if isinstance(e, AbstractFunction) and len(e.args) == 1:  # f(u)′ = f′(u) u′, f′ as the point draws it
        return value(e.fdiff()) * d[0]
    raise _NoSlope


#: The derivatives of the functions of :data:`_ENCLOSURES`, at an enclosure of their argument.
_DERIVATIVES = {
    sympy.sin: iv.cos,
    sympy.cos: lambda x: -iv.sin(x),
    sympy.tan: lambda x: 1 + iv.tan(x) ** 2,
    sympy.sinh: lambda x: _cosh(x, None),
    sympy.cosh: lambda x: _sinh(x, None),
    sympy.erf: lambda x: 2 / iv.sqrt(iv.pi) * iv.exp(-x * x),
}


def _holds(condition, point, memo, budget) -> bool:
    """A branch condition (x > 0, x <= 0) at the point, decided with certainty or not at all."""
    if isinstance(condition, (sympy.StrictGreaterThan, sympy.GreaterThan)):
        return _sign(_interval(condition.lhs - condition.rhs, point, memo, budget)) > 0
    if isinstance(condition, (sympy.StrictLessThan, sympy.LessThan)):
        return _sign(_interval(condition.lhs - condition.rhs, point, memo, budget)) < 0
    raise _Undecided("a branch condition")


def compare(ours: sympy.Expr, theirs, points: list[RandomPoint], budget: Budget) -> Comparison:
    """Whether two entries are equal, decided by certified evaluation at random rational points.
    ``theirs`` is a SymPy expression, or a function (point, digits, budget) -> its enclosure.

    At each point both sides are enclosed in intervals (mpmath's interval arithmetic: every
    rounding is outward, so the true values lie inside); where the enclosure of the difference
    excludes 0 the two sides are proved different there.  Where it contains 0 and is narrower
    than 10^-30 of the sides' size, they agree at the point; otherwise the precision is raised
    (60, 120, 240, 480 digits) until one of the two is certain.  Equal everywhere they are
    evaluated: "holds" (unequal expressions differ at random points almost surely).  Work is
    counted in ``budget``; nothing here is timed."""
    if ours == theirs:
        return Comparison("holds")
    try:
        for point in points:
            for digits in PRECISIONS:
                try:
                    a = point.interval(ours, digits, budget)
                    b = theirs(point, digits, budget) if callable(theirs) else point.interval(theirs, digits, budget)
                    difference = a - b
                except _Uncertain:
                    continue
                if not (mpmath.isfinite(_lo(difference)) and mpmath.isfinite(_hi(difference))):
                    continue
                if _lo(difference) > 0 or _hi(difference) < 0:
                    return Comparison("differs", dict(point.values), a.mid, b.mid)
                scale = 1 + _magnitude(a) + _magnitude(b)
                if _hi(difference) - _lo(difference) <= scale * mpmath.mpf(10) ** -AGREEMENT_DIGITS:
                    break  # certified equal to 30 digits at this point
            else:
                return Comparison("undecided", reason=f"precision: the sign of the difference is not certain at "
                                                      f"{PRECISIONS[-1]} digits")
        return Comparison("holds")
    except _Undecided as exc:
        return Comparison("undecided", reason=str(exc))
    except (RecursionError, ZeroDivisionError, ValueError, TypeError, ArithmeticError) as exc:
        return Comparison("undecided", reason=f"the evaluation failed ({type(exc).__name__})")


def random_points(seed: int = 0, count: int = EXACT_POINTS) -> list[RandomPoint]:
    return [RandomPoint(seed, index) for index in range(count)]


def equal_exactly(ours: sympy.Expr, theirs: sympy.Expr, points: int = EXACT_POINTS, seed: int = 0) -> bool:
    """Whether two expressions are proved equal at random rational points (see :func:`compare`)."""
    return compare(ours, theirs, random_points(seed, points), Budget()).verdict == "holds"


def distinct_nodes(exprs, limit: int) -> int:
    """The distinct sub-expressions of ``exprs`` (a shared one counted once), counted up to
    just past ``limit``."""
    seen: set = set()
    stack = list(exprs)
    while stack and len(seen) <= limit:
        e = stack.pop()
        if e not in seen:
            seen.add(e)
            stack.extend(e.args)
    return len(seen)


def tree_size(e, memo: dict | None = None) -> int:
    """The number of nodes of ``e`` written out as a tree (a shared sub-expression counted at
    every use), computed on its graph: what SymPy's ``diff`` walks."""
    memo = {} if memo is None else memo
    return _children_first(e, memo, lambda node: 1 + sum(memo[a] for a in node.args))


NOT_PROVED_SIZE = ("not proved (work limit: the proof's counted work ran out; make the sizes in [dims] "
                   "smaller to prove it)")


def exact_check(derivation: Derivation, entry_limit: int = EXACT_ENTRY_LIMIT, seed: int = 0,
                work_limit: int | None = None) -> dict[str, str]:
    """Per gradient: "pass" (every entry proved equal to SymPy's derivative of the loss), or
    "not proved (...)" saying why.  An entry proved different raises VerificationError.  The
    work is bounded by counts (entries, and nodes evaluated), never by time."""
    model, sizes = derivation.model, _sizes(derivation)
    entries = sum(int(np.prod(_dims(model.shapes[v], sizes))) for v in model.variables)
    if entries > entry_limit:
        note = f"not proved ({entries} entries > {entry_limit}: size limit; raise --exact-limit)"
        return {g.name: note for g in derivation.gradients}
    results: dict[str, str] = {}
    budget = Budget(EXACT_WORK_LIMIT if work_limit is None else work_limit)
    points = random_points(seed)
    try:
        env = exact_variables(model, sizes)
        values = run_forward(model, env, SympyBackend(), sizes)
        gradients = run_backward(derivation, values, SympyBackend(), sizes)
        loss = values[model.problem.loss][0, 0]
        for g in derivation.gradients:
            if g.name in env:
                results[g.name] = _prove(g.name, env[g.name], loss, gradients[g.name], points, budget)
            else:
                results[g.name] = _prove_node(derivation, g.name, env, points, budget)
    except (OverBudget, RecursionError):
        pass
    for g in derivation.gradients:
        results.setdefault(g.name, NOT_PROVED_SIZE)
    return results


def _prove_node(derivation, name: str, env: dict, points, budget: Budget) -> str:
    """A gradient with respect to a named node: that node becomes a matrix of free symbols and
    the equations after it are evaluated from it, as for a variable."""
    model, sizes = derivation.model, _sizes(derivation)
    rows, cols = _dims(model.shapes[name], sizes)
    free = sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{name}[{i},{j}]", real=True))
    backend = SympyBackend()
    values = dict(env)
    for node, e in model.equations:
        values[node] = free if node == name else evaluate(e, values, backend, sizes)
    gradient = run_backward(derivation, values, backend, sizes)[name]
    return _prove(name, free, values[model.problem.loss][0, 0], gradient, points, budget)


def _prove(name: str, symbols: sympy.Matrix, loss, gradient: sympy.Matrix, points, budget: Budget) -> str:
    cols = symbols.shape[1]
    size = None
    for index, symbol in enumerate(symbols):
        ours = gradient[index]
        try:
            decision = compare(ours, _slope_of(loss, symbol), points, budget)
            how = "by forward differentiation"
        except _NoSlope:  # a node forward differentiation does not know: SymPy's diff, its cost counted
            size = tree_size(loss) if size is None else size
            budget.spend(size)
            decision = compare(ours, sympy.diff(loss, symbol), points, budget)
            how = "by SymPy's diff"
        entry = f"{name}[{index // cols},{index % cols}]"
        if decision.verdict == "differs":
            raise VerificationError(
                f"the matrix-form gradient of {name} differs at entry {entry} from the SymPy loss's derivative "
                f"({how}): derived {_number(decision.ours)}, reference "
                f"{_number(decision.theirs)} at the rational point {_point_text(decision.point, name, ours, loss)}",
                hint="the derivation or a VJP rule is wrong; report it")
        if decision.verdict == "undecided":
            return f"not proved (entry {entry}: {decision.reason})"
    return "pass"


def _number(x) -> str:
    return mpmath.nstr(x if not hasattr(x, "_mpi_") else _lo(x), 8)


def _point_text(point: dict, first: str, *exprs, width: int = 120) -> str:
    """The values of the symbols of ``exprs`` at the point (the entries of ``first`` first), on
    one line cut to ``width``."""
    used, seen, stack = set(), set(), list(exprs)  # each shared node once (free_symbols walks the tree)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            used.update([node] if node.is_Symbol else ())
            stack.extend(node.args)
    order = sorted(point.items(), key=lambda kv: (not str(kv[0]).startswith(first + "["), str(kv[0])))
    text = ", ".join(f"{s} = {v}" for s, v in order if s in used)
    return text if len(text) <= width else text[:width - 1] + "…"


def _short(e, width: int = 60) -> str:
    """An expression on one line, cut to ``width`` characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def check(derivation: Derivation, seed: int = 0, exact: bool = True,
          exact_limit: int = EXACT_ENTRY_LIMIT) -> MatrixChecks:
    numeric = numeric_check(derivation, seed)
    exact_results = exact_check(derivation, exact_limit) if exact else {g.name: "not run" for g in derivation.gradients}
    gradients = tuple(GradientCheck(c.name, exact_results[c.name], c.numeric_max_relative_error, c.numeric_method)
                      for c in numeric)
    return MatrixChecks(headline(exact_results), gradients)


def headline(results: dict[str, str]) -> str:
    """"pass" only when every gradient was proved; otherwise how many were, and why the others
    were not: "3 proved, 2 not proved (size limit)"."""
    states = list(results.values())
    if all(s == "pass" for s in states):
        return "pass"
    if all(s == "not run" for s in states):
        return "not run"
    proved = sum(s == "pass" for s in states)
    reasons = sorted({_reason(s) for s in states if s != "pass"})
    return f"{proved} proved, {len(states) - proved} not proved ({'; '.join(reasons)})"


def short_state(state: str) -> str:
    """A gradient's exact state as a sheet's table shows it: "pass", or "not proved (work limit)"."""
    if state in ("pass", "not run"):
        return state
    reason = _reason(state)
    return f"not proved ({reason if len(reason) <= 30 else reason[:29] + '…'})"


def _reason(state: str) -> str:
    """The short reason of a "not proved (...)" state: size limit (more entries than --exact-limit),
    work limit (the counted work ran out), precision, or what was unknown."""
    if "size limit" in state:
        return "size limit"
    if "work limit" in state:
        return "work limit"
    if "precision" in state:
        return "precision"
    return state.removeprefix("not proved (").rstrip(")") if state.startswith("not proved (") else state
