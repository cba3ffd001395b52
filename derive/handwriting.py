"""Evaluation lines as people write them by hand, parsed safely and evaluated.

The notation of a worked solution: numbers, node names standing for their values (``v6``),
``+ − - × · * /``, powers ``^``, brackets ``[ ] ( ) { }``, every function of the rule table
(sin, cos, tan, exp, log, ln, sqrt, tanh, σ, sigmoid, relu, abs, pow(a, b)) and sign, H and Abs
that printed partials use, the constants e and π, numbers such as 1.5e−05, implicit products (``2v1``,
``σ(v1)(1 − σ(v1))``) and chains of stages (``2v1 × 0 = 2 × 0 = 0``).  A small recursive-descent
parser over a whitelist of tokens: nothing is ever evaluated as code.

It sits below the renderers and grading, which both read lines with it: the grader reads the
lines students write, the sheets read their own lines back (render/lines.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import ParseError, excerpt, inert
from .scalar.rules import ALIASES, FLOAT_FUNCTIONS, FUNCTIONS, primitive

_TOKEN = re.compile(r"""
    (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+−]?\d+)?)
  | (?P<name>v-\d+|[A-Za-zσπ][A-Za-z0-9_]*)
  | (?P<op>[-+−×·*/^=])
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<comma>,)
  | (?P<space>\s+)
""", re.VERBOSE)

#: Functions a line may call, with their number of arguments: every function of the rule table
#: and its aliases (so every primitive reads back), and those printed partials use (sign, H, Abs).
_ARITY = {**FUNCTIONS, **{alias: FUNCTIONS[name] for alias, name in ALIASES.items()},
          "sign": 1, "H": 1, "Heaviside": 1, "Abs": 1}
_FUNCTIONS = {
    **{name: primitive(ALIASES.get(name, name)).value_function for name in _ARITY if name in FUNCTIONS
       or name in ALIASES},
    "sign": FLOAT_FUNCTIONS["sign"], "H": FLOAT_FUNCTIONS["Heaviside"],
    "Heaviside": FLOAT_FUNCTIONS["Heaviside"], "Abs": abs,
}
_CONSTANTS = {"e": math.e, "π": math.pi, "pi": math.pi}
_CLOSING = {"(": ")", "[": "]", "{": "}"}

#: Bounds on one hand-written line (the recursive-descent parser recurses once per bracket).
MAX_LINE_LENGTH = 5_000
MAX_LINE_DEPTH = 100


@dataclass(frozen=True)
class Term:
    """One additive term of a stage: its value and the values of its top-level factors."""

    value: float
    factors: tuple[float, ...]


@dataclass(frozen=True)
class Stage:
    value: float
    terms: tuple[Term, ...]
    text: str
    spread: float = 0.0  # how far the value may move within the rounding of the numbers written


def parse_line(text: str, names: dict[str, float], precision: int | None = None) -> list[Stage]:
    """The stages of a line ("a = b = c"), each evaluated with node names as their values.  With
    ``precision``, a number written with fewer decimals stands for no wider an interval than
    one written to ``precision`` decimals (1.3 in a line of a 3-decimal sheet is 1.300)."""
    if len(text) > MAX_LINE_LENGTH:
        raise ParseError(f"the line is {len(text):,} characters long, more than {MAX_LINE_LENGTH:,}")
    tokens = _tokenize(text)
    pieces = [piece.strip() for piece in text.split("=")]
    stages, current = [], []
    for token in tokens:
        if token == ("op", "="):
            stages.append(current)
            current = []
        else:
            current.append(token)
    stages.append(current)
    out = []
    for stage_tokens, piece in zip(stages, pieces):
        if not stage_tokens:
            raise ParseError(f"empty side of '=' in '{excerpt(text)}'")
        parser = _Parser(stage_tokens, names, text)
        terms = parser.sum_terms()
        if parser.pos != len(stage_tokens):
            raise ParseError(f"unexpected '{stage_tokens[parser.pos][1]}' in '{excerpt(text)}'")
        value = sum(t.value for t in terms)
        if not all(math.isfinite(x) for t in terms for x in (t.value, *t.factors)) or not math.isfinite(value):
            raise ParseError(f"'{excerpt(piece)}' overflows (its value is not a finite number)")
        out.append(Stage(value, tuple(terms), piece, _spread(stage_tokens, names, text, value, precision)))
    return out


def stage_value(text: str) -> float:
    """The value of one stage written without "=" ("0.135 + 0.282"), numbers as written."""
    if len(text) > MAX_LINE_LENGTH:
        raise ParseError(f"the line is {len(text):,} characters long, more than {MAX_LINE_LENGTH:,}")
    tokens = _tokenize(text)
    parser = _Parser(tokens, {}, text)
    terms = parser.sum_terms()
    if parser.pos != len(tokens):
        raise ParseError(f"unexpected '{tokens[parser.pos][1]}' in '{excerpt(text)}'")
    return sum(t.value for t in terms)


#: Most numbers in a stage whose rounding is taken into account (each costs one re-parse).
_MAX_SPREAD_NUMBERS = 64


def _half_unit(number: str) -> float:
    """Half a unit of the last digit written: 0.0005 for 0.597, 5e-9 for 1.000e−05; 0 for an
    integer, which is written only when exact."""
    mantissa, _, exponent = number.replace("−", "-").lower().partition("e")
    if "." not in mantissa:
        return 0.0 if not exponent else 0.5 * 10.0 ** int(exponent)
    return 0.5 * 10.0 ** (-len(mantissa.split(".", 1)[1]) + int(exponent or 0))


def _spread(tokens: list, names: dict[str, float], text: str, value: float, precision: int | None = None) -> float:
    """First-order bound on the stage's change when each number written moves by half a unit
    of its last digit: tan(1.492) may stand for anything from tan(1.4915) to tan(1.4925)."""
    spread = 0.0
    if sum(tag == "number" for tag, _ in tokens) > _MAX_SPREAD_NUMBERS:
        return spread  # a re-parse per number: bounded, a line this long is judged as written
    for i, (tag, number) in enumerate(tokens):
        step = _half_unit(number) if tag == "number" else 0.0
        if step and precision is not None:
            step = min(step, 0.5 * 10.0 ** (-precision))
        if not step:
            continue
        moved = [*tokens[:i], ("number", repr(float(number.replace("−", "-")) + step)), *tokens[i + 1:]]
        try:
            spread += abs(sum(t.value for t in _Parser(moved, names, text).sum_terms()) - value)
        except (ParseError, ArithmeticError, ValueError):
            continue
    return spread if math.isfinite(spread) else 0.0


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ParseError(f"unexpected {inert(repr(text[pos]))} at column {pos + 1} of '{excerpt(text, pos + 1)}'",
                             hint="write numbers, node names, + − × / ^, brackets and functions")
        tag = match.lastgroup
        if tag != "space":
            value = match.group(tag)
            if tag == "op":
                value = {"−": "-", "·": "*", "×": "*"}.get(value, value)
            tokens.append((tag, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens, names, text):
        self.tokens, self.names, self.text, self.pos, self.depth = tokens, names, text, 0, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def sum_terms(self) -> list[Term]:
        terms = [self.term()]
        while self.peek()[1] in ("+", "-"):
            sign = self.take()[1]
            term = self.term()
            terms.append(term if sign == "+" else Term(-term.value, term.factors))
        return terms

    def term(self) -> Term:
        sign = 1.0
        while self.peek()[1] in ("+", "-"):
            sign *= -1.0 if self.take()[1] == "-" else 1.0
        negative_base = sign < 0 and self.peek()[0] == "number" and self._after_peek() == "^"
        if negative_base:  # −0.500^2: a negative value put in for v, as students write (−0.500)^2
            sign = 1.0
        factors = [self.power(negative_base)]
        while True:
            tag, value = self.peek()
            if value == "*":
                self.take()
                factors.append(self.power())
            elif value == "/":
                self.take()
                divisor = self.power()
                if divisor == 0:
                    raise ParseError(f"division by zero in '{excerpt(self.text)}'")
                factors[-1] = factors[-1] / divisor
            elif tag in ("number", "name", "open"):  # implicit product: 2v1, σ(v1)(1 − σ(v1))
                factors.append(self.power())
            else:
                break
        value = sign * math.prod(factors)
        return Term(value, tuple(factors))

    def _after_peek(self):
        return self.tokens[self.pos + 1][1] if self.pos + 1 < len(self.tokens) else None

    def power(self, negative_base: bool = False) -> float:
        base = -self.atom() if negative_base else self.atom()
        if self.peek()[1] == "^":
            self.take()
            exponent = self.signed_atom()
            try:
                value = base ** exponent
            except (OverflowError, ZeroDivisionError, ValueError):
                raise ParseError(f"the power in '{excerpt(self.text)}' is undefined") from None
            if isinstance(value, complex):  # (-1)^0.5: Python answers with a complex number
                raise ParseError(f"the power in '{excerpt(self.text)}' is not a real number")
            return float(value)
        return base

    def signed_atom(self) -> float:
        if self.peek()[1] in ("+", "-"):
            return -self.signed_atom() if self.take()[1] == "-" else self.signed_atom()
        return self.power()

    def arguments(self, arity: int) -> list[float]:
        """A call's arguments: one bracketed group, or (a, b) for pow."""
        if arity == 1:
            return [self.atom()]
        opening = self.take()
        values = [sum(t.value for t in self.sum_terms())]
        while self.peek()[0] == "comma":
            self.take()
            values.append(sum(t.value for t in self.sum_terms()))
        if self.take() != ("close", _CLOSING.get(opening[1], ")")) or len(values) != arity:
            raise ParseError(f"a call with {arity} arguments is not closed properly in '{self.text}'")
        return values

    def atom(self) -> float:
        tag, value = self.take()
        if tag == "number":
            return float(value.replace("−", "-"))
        if tag == "open":
            self.depth += 1
            if self.depth > MAX_LINE_DEPTH:
                raise ParseError(f"brackets nested more than {MAX_LINE_DEPTH} deep in '{excerpt(self.text)}'")
            inner = sum(t.value for t in self.sum_terms())
            self.depth -= 1
            closing = self.take()
            if closing != ("close", _CLOSING[value]):
                raise ParseError(f"unbalanced '{value}' in '{excerpt(self.text)}'")
            return inner
        if tag == "name":
            if value in _FUNCTIONS and self.peek()[0] == "open":
                arguments = self.arguments(_ARITY[value])
                try:
                    result = _FUNCTIONS[value](*arguments)
                    if isinstance(result, complex):
                        raise ValueError
                    return float(result)
                except (ValueError, OverflowError, ZeroDivisionError, TypeError):
                    shown = ", ".join(f"{x:g}" for x in arguments)
                    raise ParseError(f"{value}({shown}) is undefined in '{excerpt(self.text)}'") from None
            if value in self.names:
                return float(self.names[value])
            if value in _CONSTANTS:
                return _CONSTANTS[value]
            raise ParseError(f"unknown name '{excerpt(value)}' in '{excerpt(self.text)}'",
                             hint="use node names such as v6, numbers and functions")
        raise ParseError(f"expected a number or a name in '{excerpt(self.text)}'" if tag is None
                         else f"unexpected '{value}' in '{excerpt(self.text)}'")
