"""The library interface: load a problem, solve it, and show the result in Jupyter.

    >>> import derive
    >>> sol = derive.solve("problem1")
    >>> sol.jacobian                       # rows are outputs, columns inputs
    >>> sol.to_json()
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import sympy

from .errors import ProblemError
from .parse import Limits
from .problems import MatrixProblem, Problem, inline_problem, load_problem, parse_value
from .scalar.solve import ScalarSolution, solve_scalar
from .scalar.verify import SYMBOLIC_LIMIT, SYMBOLIC_TIMEOUT


def load(problem: str | Problem | MatrixProblem | None = None, *, functions: Sequence[str] = (),
         at: Mapping[str, object] | None = None) -> Problem | MatrixProblem:
    """A problem from a built-in name or TOML path, or inline ``functions`` with ``at`` values."""
    values = {name: value if isinstance(value, sympy.Basic) else parse_value(value, f"at {name}")
              for name, value in (at or {}).items()}
    if problem is None:
        return inline_problem(list(functions), [(k, str(v)) for k, v in values.items()]) if functions \
            else _no_problem()
    loaded = load_problem(problem) if isinstance(problem, str) else problem
    if isinstance(loaded, MatrixProblem):
        if values:
            raise ProblemError(f"--at does not apply to {loaded.name}, a matrix problem",
                               hint="matrix problems are checked at random values; edit [dims] for sizes")
        return loaded
    return loaded.with_values(values)


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
          exact_limit: int | None = None) -> Solution | "MatrixResult":
    """Load and solve a problem: a scalar one (trace, both AD modes, Jacobian) or a matrix one
    (backprop equations, proved); raises a DeriveError subclass on bad input."""
    loaded = load(problem, functions=functions, at=at)
    if isinstance(loaded, MatrixProblem):
        from .matrix.solve import solve_matrix  # NumPy loads only for matrix problems

        options = {} if exact_limit is None else {"exact_limit": exact_limit}
        return _as(_matrix_result_class(), solve_matrix(loaded, limits, seed=seed, **options))
    return _as(Solution, solve_scalar(loaded, numbering, order, limits, symbolic_limit, symbolic_timeout))
