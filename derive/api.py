"""The library interface: load a problem, solve it, and show the result in Jupyter.

    >>> import derive
    >>> sol = derive.solve("problem1")
    >>> sol.jacobian                       # rows are outputs, columns inputs
    >>> sol.to_json()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy

from .errors import ProblemError
from .parse import Limits
from .problems import MatrixProblem, Problem, inline_problem, load_problem, parse_value
from .scalar.solve import solve_scalar
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


class _Result:
    """An engine's result, seen through (attributes pass to it), with LaTeX for Jupyter."""

    def __init__(self, solved, digits: int = 3):
        self._solved = solved
        self.digits = digits

    def __getattr__(self, name):
        return getattr(self._solved, name)


class Solution(_Result):
    """A solved scalar problem: the Jacobian as LaTeX in Jupyter."""

    def _repr_latex_(self) -> str:
        from .render import lines  # the sheet's notation, loaded only when Jupyter asks
        from .render.notation import LatexNotation

        nt = LatexNotation(self.digits)
        return ("$$" + lines.jacobian_symbols(self._solved, nt) + " = "
                + lines.jacobian(self._solved, nt) + "$$")


class MatrixResult(_Result):
    """A solved matrix problem: its adjoint equations as LaTeX in Jupyter."""

    def _repr_latex_(self) -> str:
        from .render.matrix import LatexPrinter

        printer = LatexPrinter()
        rows = [rf"{printer.bar(a.name)} &= {printer(a.simplified)}" for a in self._solved.derivation.adjoints]
        rows += [rf"{printer.bar(g.name)} &= {printer(g.expr)}" for g in self._solved.derivation.gradients]
        return r"$$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$"


def solve(problem: str | Problem | MatrixProblem | None = None, *, functions: Sequence[str] = (),
          at: Mapping[str, object] | None = None, numbering: str = "zero", order: str = "postorder",
          limits: Limits = Limits(), symbolic_limit: int = SYMBOLIC_LIMIT,
          symbolic_timeout: float = SYMBOLIC_TIMEOUT, seed: int = 0,
          exact_limit: int | None = None) -> Solution | MatrixResult:
    """Load and solve a problem: a scalar one (trace, both AD modes, Jacobian) or a matrix one
    (backprop equations, proved); raises a DeriveError subclass on bad input."""
    loaded = load(problem, functions=functions, at=at)
    if isinstance(loaded, MatrixProblem):
        from .matrix.solve import solve_matrix  # NumPy loads only for matrix problems

        options = {} if exact_limit is None else {"exact_limit": exact_limit}
        return MatrixResult(solve_matrix(loaded, limits, seed=seed, exact_timeout=symbolic_timeout, **options))
    return Solution(solve_scalar(loaded, numbering, order, limits, symbolic_limit, symbolic_timeout))
