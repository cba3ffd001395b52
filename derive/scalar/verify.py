"""Independent checks of a scalar Jacobian.

The AD Jacobians (forward and reverse) are compared with SymPy's ``diff`` of the output
expressions, rebuilt from the parse trees with each primitive's plain-SymPy reference
definition (so the rule table's hand-written partials are not used), and with central finite
differences whose own error is estimated by halving the step.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import sympy

from ..errors import DomainError, VerificationError
from ..parse import Expr
from ..timing import TimedOut, time_limit
from .rules import primitive
from .trace import Trace

#: Relative tolerance between AD and exact derivatives (float round-off only).
EXACT_TOLERANCE = 1e-8
#: Node count above which the symbolic check is skipped (SymPy cost grows quickly).
SYMBOLIC_LIMIT = 400
#: Seconds after which the symbolic check gives up (and says so) rather than hang.
SYMBOLIC_TIMEOUT = 20.0


@dataclass(frozen=True)
class Checks:
    """Outcome of the checks; every error is the largest absolute difference found."""

    forward_reverse_max_error: float
    symbolic: str  # "pass" or "skipped (...)"
    symbolic_max_error: float | None
    finite_difference: str  # "pass" or "skipped (...)"
    finite_difference_max_error: float | None

    def as_dict(self) -> dict:
        return {
            "symbolic": self.symbolic,
            "symbolic_max_error": self.symbolic_max_error,
            "finite_difference": self.finite_difference,
            "finite_difference_max_error": self.finite_difference_max_error,
            "forward_reverse_max_error": self.forward_reverse_max_error,
        }


def reference_expression(expr: Expr, symbols: dict[str, sympy.Symbol]) -> sympy.Expr:
    """A SymPy expression of a parse tree, built from the primitives' reference definitions."""
    done: dict[int, sympy.Expr] = {}
    stack = [(expr, False)]
    while stack:
        node, visited = stack.pop()
        if node.op == "num":
            done[id(node)] = node.value
        elif node.op == "name":
            done[id(node)] = symbols[node.name]
        elif not visited:
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args)
        else:
            rule = primitive(node.op)
            args = [done[id(arg)] for arg in node.args]
            done[id(node)] = rule.reference_definition.subs(dict(zip(rule.symbols, args)), simultaneous=True)
    return done[id(expr)]


def symbolic_jacobian(trace: Trace) -> list[list[float]]:
    """SymPy's Jacobian of the outputs at the point, evaluated to 30 digits."""
    symbols = {name: sympy.Symbol(name, real=True) for name, _ in trace.inputs}
    at = {symbols[name]: trace.point[name] for name in symbols}
    rows = []
    for out_name, _ in trace.outputs:
        f = reference_expression(trace.expressions[out_name], symbols)
        row = []
        for in_name, _ in trace.inputs:
            value = _finite_real(sympy.diff(f, symbols[in_name]).subs(at).evalf(30))
            if value is None:  # a pole the floats stepped over (tan at pi/2, 1/sin(x) at pi)
                raise _undefined(trace, f"∂{out_name}/∂{in_name}")
            row.append(value)
        rows.append(row)
    return rows


#: A disagreement within this many times the spread a last-bit change of the inputs causes in the
#: exact derivative is the point's fault (no float computation can do better), not the rules'.
ILL_CONDITIONED_FACTOR = 1000


def _ill_conditioned(trace: Trace, ad: list[list[float]], exact: list[list[float]], tolerance) -> str | None:
    """Why the point cannot be computed in floating point, or None: for each entry where AD and
    the exact Jacobian disagree, the exact derivative is evaluated again with each input changed
    in its last bit (the rounding every float input already carries); when that alone moves it
    by a comparable amount, the point is ill-conditioned (cos(x e^27): an argument of 5e11)."""
    symbols = {name: sympy.Symbol(name, real=True) for name, _ in trace.inputs}
    at = {symbols[name]: sympy.Rational(trace.point[name]) if isinstance(trace.point[name], (float, sympy.Float))
          else trace.point[name] for name in symbols}  # a typed decimal: its exact binary value
    worst = None
    for i, (out_name, _) in enumerate(trace.outputs):
        f = reference_expression(trace.expressions[out_name], symbols)
        for j, (in_name, _) in enumerate(trace.inputs):
            gap = abs(ad[i][j] - exact[i][j])
            if gap <= tolerance(i, j):
                continue
            derivative = sympy.diff(f, symbols[in_name])
            spread = 0.0
            for symbol, value in at.items():
                nudged = value * (1 + sympy.Rational(1, 2**52)) if value != 0 else sympy.Rational(1, 2**1074)
                moved = _finite_real(derivative.subs({**at, symbol: nudged}).evalf(30))
                if moved is None:
                    return None
                spread = max(spread, abs(moved - exact[i][j]))
            if gap > ILL_CONDITIONED_FACTOR * spread:
                return None  # a real disagreement: the rules are wrong somewhere
            if worst is None or gap > worst[3]:
                worst = (out_name, in_name, spread, gap)
    if worst is None:
        return None
    out_name, in_name, spread, gap = worst
    return (f"the point is ill-conditioned in floating point: changing the inputs in their last bit "
            f"already moves ∂{out_name}/∂{in_name} by {spread:.2g}, and AD (in floats) and the exact "
            f"derivative differ by {gap:.2g}")


def _finite_real(value: sympy.Expr) -> float | None:
    """``value`` as a float, or None when it is infinite, complex or undefined."""
    try:
        z = complex(value)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(z.real) and math.isfinite(z.imag)) or abs(z.imag) > 1e-20 * max(1.0, abs(z.real)):
        return None
    return z.real


def _undefined(trace: Trace, what: str) -> DomainError:
    """A DomainError naming the first node whose exact value or local partial is undefined at
    the (exact) point, where float rounding hid it: tan(pi/2) is 1.6e16 in floats."""
    exact = trace.exact_values
    for node in trace.nodes:
        if node.is_input:
            continue
        rule = primitive(node.op)
        args = [exact[x] if isinstance(x, str) else x for x in node.args]
        shown = ", ".join(f"{x} = {exact[x]}" for x in node.node_args)
        where = f"{node.id} = {node.text}: {shown}"
        if _finite_real(exact[node.id].evalf(30)) is None:
            return DomainError(f"{where}: {node.op} is undefined here (a pole or outside its domain)",
                               hint="evaluate at another point")
        for position, partial in enumerate(rule.partials):
            if isinstance(node.args[position], str):
                value = partial.subs(dict(zip(rule.symbols, args)), simultaneous=True)
                if _finite_real(value.evalf(30)) is None:
                    return DomainError(f"{where}: the derivative of {node.op} is undefined here",
                                       hint="evaluate at another point")
    return DomainError(f"{what} is undefined at this point", hint="evaluate at another point")


def finite_difference_jacobian(trace: Trace) -> tuple[list[list[float]], list[list[float]]]:
    """Central differences and an estimate of their error, per entry.

    Steps from 1e-2 down to 1e-9 (relative) are tried, each with its half for a Richardson
    extrapolation; the error estimate is the change on halving plus the round-off a step of
    that size suffers (eps·|f|/h), and each entry keeps the step
    where it is smallest, so fast oscillations (cos(20000 x³)) and flat regions both get a step
    that fits them.
    """
    x0 = [float(trace.point[name]) for name, _ in trace.inputs]
    n_out = len(trace.outputs)
    jac = [[0.0] * len(x0) for _ in range(n_out)]
    err = [[math.inf] * len(x0) for _ in range(n_out)]

    def central(j: int, h: float) -> list[float]:
        f_up, f_down = trace.output_values_along(j, x0[j] + h), trace.output_values_along(j, x0[j] - h)
        if any(isinstance(v, complex) for v in (*f_up, *f_down)):  # (-h)**0.5 in floats
            raise ValueError("a step leaves the domain")
        return [(u - d) / (2 * h) for u, d in zip(f_up, f_down)]

    f0 = trace.output_values(x0)
    for j, xj in enumerate(x0):
        scale = max(1.0, abs(xj))
        usable = False
        for e in range(2, 10):
            h = scale * 10.0 ** -e
            try:  # a step too wide for the domain (x = 0.005 in sqrt(x), h = 0.01): try a smaller one
                coarse, fine = central(j, h), central(j, h / 2)
            except (ValueError, TypeError, ZeroDivisionError, OverflowError):
                continue
            usable = True
            for i in range(n_out):
                roundoff = 4 * sys.float_info.epsilon * (abs(f0[i]) + 1) / h
                change = abs(fine[i] - coarse[i]) + roundoff
                if change < err[i][j]:  # Richardson extrapolation of the halved step
                    jac[i][j], err[i][j] = (4 * fine[i] - coarse[i]) / 3, change
        if not usable:
            raise ValueError("every step leaves the domain")
    return jac, err


def _max_error(a: list[list[float]], b: list[list[float]]) -> float:
    return max((abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb)), default=0.0)


def _first_mismatch(a, b, tolerance, trace: Trace):
    for i, (out_name, _) in enumerate(trace.outputs):
        for j, (in_name, _) in enumerate(trace.inputs):
            if abs(a[i][j] - b[i][j]) > tolerance(i, j):
                return f"∂{out_name}/∂{in_name}: {a[i][j]!r} vs {b[i][j]!r}"
    return None


def check_jacobian(trace: Trace, forward: list[list[float]], reverse: list[list[float]],
                   symbolic_limit: int = SYMBOLIC_LIMIT, symbolic_timeout: float = SYMBOLIC_TIMEOUT) -> Checks:
    """Compare the forward and reverse Jacobians with each other, SymPy and finite differences.

    Raises VerificationError on the first disagreement beyond tolerance.
    """
    def exact_tol(i, j):
        return EXACT_TOLERANCE * (1 + abs(forward[i][j]))

    bad = _first_mismatch(forward, reverse, exact_tol, trace)
    if bad:
        raise VerificationError(f"forward and reverse mode disagree at {bad}")
    fr_error = _max_error(forward, reverse)

    exact = None
    if len(trace) > symbolic_limit:
        symbolic = f"skipped ({len(trace)} nodes > {symbolic_limit}; raise --symbolic-limit)"
    else:
        try:
            with time_limit(symbolic_timeout):
                exact = symbolic_jacobian(trace)
        except (TimedOut, RecursionError):
            symbolic = f"skipped (SymPy took longer than {symbolic_timeout:g} s; raise --symbolic-timeout)"
    if exact is not None:
        bad = _first_mismatch(forward, exact, exact_tol, trace)
        if bad:
            try:
                with time_limit(symbolic_timeout):
                    ill = _ill_conditioned(trace, forward, exact, exact_tol)
            except (TimedOut, RecursionError):
                ill = None  # undecided: the disagreement stands
            if ill:
                raise DomainError(ill, hint="evaluate at another point")
            raise VerificationError(f"AD and SymPy's symbolic Jacobian disagree at {bad}")
        symbolic, symbolic_error = "pass", _max_error(forward, exact)
    else:
        symbolic_error = None

    try:
        fd, fd_err = finite_difference_jacobian(trace)
    except (ValueError, ZeroDivisionError, OverflowError):
        return Checks(fr_error, symbolic, symbolic_error,
                      "skipped (a step leaves the function's domain)", None)

    def fd_tol(i, j):
        return 10 * fd_err[i][j] + 1e-6 * (1 + abs(forward[i][j]))

    bad = _first_mismatch(forward, fd, fd_tol, trace)
    if bad and symbolic == "pass":  # exact agreement stands; the differences could not resolve this point
        return Checks(fr_error, symbolic, symbolic_error,
                      f"inconclusive at {bad} (the function varies too fast here for finite differences; "
                      "the exact check passed)", _max_error(forward, fd))
    if bad:
        raise VerificationError(f"AD and finite differences disagree at {bad}")
    return Checks(fr_error, symbolic, symbolic_error, "pass", _max_error(forward, fd))
