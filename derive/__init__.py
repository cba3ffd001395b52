"""derive: derive, check and typeset derivatives the way a deep-learning course teaches them.

``derive.solve("problem1")`` builds the evaluation trace, runs forward and reverse mode, and
checks the Jacobian against SymPy and finite differences.
"""

from .api import Solution, load, solve
from .errors import (DeriveError, DomainError, LimitError, ParseError, ProblemError, ReportError, UsageError,
                     VerificationError)
from .parse import Limits

__all__ = ["solve", "load", "Solution", "MatrixResult", "Limits", "DeriveError", "ParseError", "ProblemError",
           "DomainError", "LimitError", "VerificationError", "ReportError", "UsageError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "MatrixResult":  # defined on first use: NumPy loads only for matrix problems
        from . import api

        return api.MatrixResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
