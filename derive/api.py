"""The library interface: load a problem, solve it, and show the result in Jupyter.

    >>> import derive
    >>> sol = derive.solve("problem1")
    >>> sol.jacobian                       # rows are outputs, columns inputs
    >>> sol.to_json()
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import sympy

from .errors import ProblemError, UsageError
from .parse import Limits, is_real_number
from .problems import MatrixProblem, Problem, inline_problem, load_problem, parse_value, written_decimal
from .scalar.solve import ScalarSolution, solve_scalar
from .scalar.verify import SYMBOLIC_LIMIT, SYMBOLIC_TIMEOUT

if TYPE_CHECKING:  # NumPy loads only for matrix problems
    from .matrix.solve import MatrixSolution


def load(problem: str | Problem | MatrixProblem | None = None, *, functions: Sequence[str] = (),
         at: Mapping[str, object] | None = None, limits: Limits = Limits()) -> Problem | MatrixProblem:
    """A problem from a built-in name or TOML path, or inline ``functions`` with ``at`` values."""
    problem, functions, at = _checked_problem(problem, functions, at)
    if not isinstance(limits, Limits):
        raise UsageError(f"limits must be a derive.Limits, not {type(limits).__name__}")
    values = {name: value if isinstance(value, sympy.Basic) else parse_value(value, f"at {name}", limits)
              for name, value in (at or {}).items()}
    written = {name: written_decimal(value) for name, value in (at or {}).items() if written_decimal(value)}
    if problem is None:
        return inline_problem(list(functions), [(k, written.get(k) or str(v)) for k, v in values.items()], limits) \
            if functions else _no_problem()
    loaded = load_problem(problem, limits) if isinstance(problem, str) else problem
    if isinstance(loaded, MatrixProblem):
        if values:
            raise ProblemError(f"--at does not apply to {loaded.name}, a matrix problem",
                               hint="matrix problems are checked at random values; edit [dims] for sizes")
        return loaded
    return loaded.with_values(values, written)


def _checked_problem(problem, functions, at):
    """The arguments of load(), checked: a wrong type is a UsageError (a DeriveError and a
    TypeError), never an AttributeError from deep inside."""
    if isinstance(problem, os.PathLike):
        problem = os.fspath(problem)
    if not (problem is None or isinstance(problem, (str, Problem, MatrixProblem))):
        raise UsageError(f"problem must be a built-in name, a TOML path or a Problem, not {type(problem).__name__}",
                         hint="e.g. derive.solve('problem1') or derive.solve(functions=['x*sin(x)'], at={'x': 1})")
    if isinstance(functions, (str, bytes)) or not isinstance(functions, Sequence) \
            or not all(isinstance(f, str) for f in functions):
        raise UsageError("functions must be a list of expression strings",
                         hint="e.g. functions=['x1*x2', 'sin(x1)']")
    if at is not None and not (isinstance(at, Mapping) and all(isinstance(k, str) for k in at)):
        raise UsageError("at must be a mapping of input names to values", hint="e.g. at={'x1': 2, 'x2': '1/2'}")
    for name, value in (at or {}).items():
        if not isinstance(value, (int, float, str, sympy.Basic)) or isinstance(value, bool):
            raise UsageError(f"at[{name!r}] must be a number or a constant expression string, "
                             f"not {type(value).__name__}")
        if isinstance(value, sympy.Basic) and not (value.is_number and is_real_number(value)):
            raise UsageError(f"at[{name!r}] = {value} is not a real number")
    return problem, list(functions), at


def _check_option(name: str, value, types, choices=None, minimum=None) -> None:
    if isinstance(value, bool) or not isinstance(value, types):
        named = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise UsageError(f"{name} must be {named}, not {type(value).__name__}")
    if choices is not None and value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{name} must be at least {minimum}, not {value!r}")


def _no_problem():
    raise ProblemError("no problem given", hint="name a problem (derive problems) or give -f EXPR --at x=1")


@dataclass(frozen=True)
class Solution(ScalarSolution):
    """A solved scalar problem (a plain :class:`ScalarSolution`, copyable and picklable), shown
    in Jupyter as its Jacobian in LaTeX with ``digits`` decimals."""

    digits: int = 3

    @property
    def _solved(self) -> ScalarSolution:  # the engine's result (this object itself)
        return self

    def _repr_latex_(self) -> str:
        from .render import lines  # the sheet's notation, loaded only when Jupyter asks
        from .render.notation import LatexNotation

        nt = LatexNotation(self.digits)
        return "$$" + lines.jacobian_symbols(self, nt) + " = " + lines.jacobian(self, nt) + "$$"


@functools.cache
def _matrix_result_class():
    """:class:`MatrixResult`, defined on first use so that NumPy loads only for matrix problems."""
    from .matrix.solve import MatrixSolution

    @dataclass(frozen=True)
    class MatrixResult(MatrixSolution):
        """A solved matrix problem (a plain :class:`MatrixSolution`, copyable and picklable), shown
        in Jupyter as its adjoint equations in LaTeX."""

        digits: int = 3

        @property
        def _solved(self):  # the engine's result (this object itself)
            return self

        def _repr_latex_(self) -> str:
            from .render.matrix import LatexPrinter

            printer = LatexPrinter()
            rows = [rf"{printer.bar(a.name)} &= {printer(a.simplified)}" for a in self.derivation.adjoints]
            rows += [rf"{printer.bar(g.name)} &= {printer(g.expr)}" for g in self.derivation.gradients]
            return r"$$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$"

    MatrixResult.__module__, MatrixResult.__qualname__ = __name__, "MatrixResult"  # pickle finds it here
    return MatrixResult


def __getattr__(name: str):
    if name == "MatrixResult":
        return _matrix_result_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _as(cls, solved, **extra):
    return cls(**{f.name: getattr(solved, f.name) for f in fields(solved)}, **extra)


def solve(problem: str | Problem | MatrixProblem | None = None, *, functions: Sequence[str] = (),
          at: Mapping[str, object] | None = None, numbering: str = "zero", order: str = "postorder",
          limits: Limits = Limits(), symbolic_limit: int = SYMBOLIC_LIMIT,
          symbolic_timeout: float = SYMBOLIC_TIMEOUT, seed: int = 0,
          exact_limit: int | None = None) -> Solution | MatrixSolution:
    """Load and solve a problem: a scalar one (trace, both AD modes, Jacobian) or a matrix one
    (backprop equations, proved); raises a DeriveError subclass on bad input."""
    from .scalar.trace import NUMBERINGS, ORDERS

    _check_option("numbering", numbering, str, NUMBERINGS)
    _check_option("order", order, str, ORDERS)
    _check_option("symbolic_limit", symbolic_limit, int, minimum=0)
    _check_option("symbolic_timeout", symbolic_timeout, (int, float), minimum=0)
    _check_option("seed", seed, int)
    if exact_limit is not None:
        _check_option("exact_limit", exact_limit, int, minimum=0)
    loaded = load(problem, functions=functions, at=at, limits=limits)
    if isinstance(loaded, MatrixProblem):
        from .matrix.solve import solve_matrix  # NumPy loads only for matrix problems

        options = {} if exact_limit is None else {"exact_limit": exact_limit}
        return _as(_matrix_result_class(), solve_matrix(loaded, limits, seed=seed, **options))
    return _as(Solution, solve_scalar(loaded, numbering, order, limits, symbolic_limit, symbolic_timeout))
