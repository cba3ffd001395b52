"""Solving a matrix problem: typed equations, the derivation, and its verification."""

from __future__ import annotations

from dataclasses import dataclass

from ..parse import Limits
from ..problems import MatrixProblem
from .backprop import Derivation, derive
from .shapes import Model, build_model
from .verify import EXACT_ENTRY_LIMIT, MatrixChecks, check


@dataclass(frozen=True)
class MatrixSolution:
    problem: MatrixProblem
    model: Model
    derivation: Derivation
    checks: MatrixChecks

    engine = "matrix"  # which engine solved it (the "kind" of derive solve --json)
    kind = engine  # the old name, kept for derive.api users


def solve_matrix(problem: MatrixProblem, limits: Limits = Limits(), seed: int = 0, exact: bool = True,
                 exact_limit: int = EXACT_ENTRY_LIMIT) -> MatrixSolution:
    """Derive one adjoint per named node and the gradients, then prove them (exactly and
    numerically); a disagreement raises VerificationError.  The exact proof is bounded by
    ``exact_limit`` (variable entries) and a count of work, never by time."""
    model = build_model(problem, limits)
    derivation = derive(model)
    return MatrixSolution(problem, model, derivation, check(derivation, seed, exact, exact_limit))
