"""The project's exceptions.

The engines raise these; only the CLI turns them into a one-line message and an exit code
(``exit_code``): 2 for bad input or usage, 1 for a failed verification, 3 for a bug in derive.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DeriveError(Exception):
    """Base of every error the tool reports to a user.

    ``hint`` is an optional second sentence telling the user what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class ParseError(DeriveError):
    """An expression could not be parsed, or used something outside the grammar."""


class ProblemError(DeriveError):
    """A problem (built-in name, TOML file or inline expressions) is malformed."""


class ShapeError(DeriveError):
    """Matrix shapes do not fit together."""


class DomainError(DeriveError):
    """A node's value or local derivative is undefined at the evaluation point."""


class LimitError(DeriveError):
    """An input exceeds one of the configured size limits."""


class VerificationError(DeriveError):
    """Two independent computations of the same derivative disagree."""

    exit_code = 1


class InternalError(DeriveError):
    """A bug in derive, not in the input: e.g. an operation the parser admits has no rule."""

    exit_code = 3

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint or "a bug in derive: run with --debug for the traceback and report it")


class ReportError(DeriveError):
    """A report could not be written or compiled."""


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else None
