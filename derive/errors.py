"""The project's exceptions.

The engines raise these; only the CLI turns them into a one-line message and an exit code
(``exit_code``): 2 for bad input or usage, 1 for a failed verification, 3 for a bug in derive.
"""

from __future__ import annotations

import difflib
import re
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


class UsageError(DeriveError, TypeError):
    """A library function was called with an argument of the wrong type or value."""


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


class Interrupted(ReportError):
    """Ctrl-C, SIGTERM or SIGHUP: the work stopped cleanly (TeX killed, scratch folders removed;
    variants' manifest lists the students finished)."""

    exit_code = 130


_CONTROL = {**{c: f"\\x{c:02x}" for c in range(32)}, 0x7F: "\\x7f",
            **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)}, ord("\n"): "\\n", ord("\t"): " ",
            ord("\r"): "\\r",
            **{c: f"\\u{c:04x}" for c in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))}}


def inert(text: str) -> str:
    """User text made safe to print on one terminal line: control characters (ANSI escapes,
    newlines, carriage returns) become visible escapes such as ``\\x1b``."""
    return str(text).translate(_CONTROL)


def excerpt(text: str, column: int | None = None, width: int = 80) -> str:
    """At most ``width`` characters of user text, on one line, around ``column`` (1-based)."""
    text = inert(text)
    if len(text) <= width:
        return text
    center = (column or 1) - 1
    start = max(0, min(center - width // 2, len(text) - width))
    return ("…" if start else "") + text[start:start + width] + ("…" if start + width < len(text) else "")


def quoted(text: str, message: str = "") -> str:
    """User text in an error message: quoted, on one line, cut around the column the message
    names ("at column 12") when it is long."""
    match = re.search(r"at column (\d+)", message)
    return '"' + excerpt(text, int(match.group(1)) if match else None) + '"'


def one_line(text: str, width: int = 2000) -> str:
    """A message on one line, long ones cut in the middle (a message never floods the terminal)."""
    text = inert(text)
    if len(text) <= width:
        return text
    return text[: width // 2] + " … " + text[-width // 2:]


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt name, or None when nothing is close."""
    choices = list(choices)
    swapped = [c for c in choices if len(c) == len(name) and c != name and sorted(c) == sorted(name)]
    close = swapped[:1] or difflib.get_close_matches(name, choices, n=1, cutoff=0.5)  # tahn is tanh, not tan
    return f"did you mean '{close[0]}'?" if close else None
