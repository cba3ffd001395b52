"""Grading a filled worksheet of a scalar problem, cell by cell.

Each cell (a node's value in the trace, a tangent in a forward pass, an adjoint in a reverse
pass) gets a verdict: correct, rounding (within the policy's tolerance), wrong (with the expected
value), missing or review; and where the evidence shows it, the kind of slip:

- ``carried``: wrong only because an earlier wrong cell was used correctly (recomputing the cell
  from the student's own earlier values of the pass, and their trace values in the local
  partials, gives what they wrote);
- ``sign``: the negation of the expected value;
- ``arithmetic``: the line's terms are right but do not add up to the result written, or the
  result is right but the terms written are not;
- ``rule``: a term uses a local partial that is not the rule table's;
- ``degrees``: a sine, cosine or tangent computed with its argument in degrees;
- ``chain``: a chain-rule term with one of its two factors left out.

Credit: correct, rounding and carried 1; arithmetic with the right result 1/2; otherwise 0.
An answer that cannot be read unambiguously as a number is ``review`` (for a human), not wrong.
The :class:`Policy` sets the tolerance and whether evaluation lines are required.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from ..errors import DeriveError, ProblemError, UsageError
from ..functions import FUNCTIONS
from ..handwriting import parse_line
from ..scalar.rules import primitive
from ..scalar.solve import ScalarSolution

PARTS = ("trace", "forward", "reverse")
#: Local partials as textbooks write them from the node's own value v (a student who wrote v
#: in the trace uses it): tanh′ = 1 − v², σ′ = v(1 − v), exp′ = v (the table's field).
FROM_OUTPUT = {f.name: f.derivative_from_output for f in FUNCTIONS.values() if f.derivative_from_output}
CREDIT = {"correct": 1.0, "rounding": 1.0, "carried": 1.0, "arithmetic-right-result": 0.5}
#: The verdicts a student reads as right (full credit).
RIGHT = ("correct", "rounding", "carried")
#: The functions of an angle: a calculator in degree mode reads their argument as degrees.
TRIG = frozenset(f.name for f in FUNCTIONS.values() if f.angle)


@dataclass(frozen=True)
class Policy:
    """How generous the grader is. ``tolerance``: how far a value may be from the exact one, in
    units of the sheet's last printed digit (``digits`` decimals; 1: 0.963 and 0.965 pass for
    0.964); a value right only at a coarser precision than the sheet's is for a human to
    ``review`` (no credit until then); ``require_lines``: a
    right value whose evaluation line is missing earns ``line_credit`` of the cell."""

    tolerance: float = 1.0
    digits: int = 3
    require_lines: bool = False
    line_credit: float = 0.5
    decimal_comma: bool | None = None  # None: read from the sheet (a semicolon CSV, 1,649 with no 1.649)

    def __post_init__(self):
        for name in ("tolerance", "line_credit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise UsageError(f"Policy({name}={value!r}): a finite number at least 0")
        if self.line_credit > 1:
            raise UsageError(f"Policy(line_credit={self.line_credit!r}): at most 1")
        if isinstance(self.digits, bool) or not isinstance(self.digits, int) or not 0 <= self.digits <= 15:
            raise UsageError(f"Policy(digits={self.digits!r}): a whole number from 0 to 15")
        if not isinstance(self.require_lines, bool) or self.decimal_comma not in (None, True, False):
            raise UsageError("Policy(require_lines=..., decimal_comma=...): True or False (decimal_comma: or None)")


@dataclass(frozen=True)
class Answer:
    """One filled cell, as written."""

    part: str
    pass_: str  # the input (forward) or output (reverse) name; "" for the trace
    node: str
    value: str
    line: str = ""
    where: str = ""  # "row 7" of the file, for messages

    def __post_init__(self):
        for name in ("part", "pass_", "node", "value", "line", "where"):
            if not isinstance(getattr(self, name), str):
                raise UsageError(f"Answer({name}={getattr(self, name)!r}): a string (write '' for nothing)")


@dataclass(frozen=True)
class CellVerdict:
    part: str
    pass_: str
    node: str
    given: str
    expected: float
    verdict: str  # correct, rounding, carried, wrong, missing, review
    slip: str | None = None  # sign, carried, arithmetic, rule, degrees, chain, point, no-line
    message: str = ""
    credit: float = 0.0

    @property
    def kind(self) -> str | None:  # the old name of slip (the "kind" of the JSON), kept for derive.testing users
        return self.slip

    def as_dict(self) -> dict:
        return {"part": self.part, "pass": self.pass_, "node": self.node, "given": self.given,
                "expected": self.expected, "verdict": self.verdict, "kind": self.slip,
                "message": self.message, "credit": self.credit}


@dataclass
class Grade:
    cells: list[CellVerdict]
    weights: dict[str, float] = field(default_factory=lambda: {p: 1.0 for p in PARTS})
    notes: list[str] = field(default_factory=list)  # what a person should look at, beyond the cells
    private: list[str] = field(default_factory=list)  # for the instructor only (another student's id)

    @property
    def to_review(self) -> int:
        """Cells waiting for a person (their credit is 0 until regraded)."""
        return sum(c.verdict == "review" for c in self.cells)

    @property
    def all_correct(self) -> bool:
        """Every cell earned its full credit (right, right up to rounding, or carried)."""
        return all(c.verdict in RIGHT and c.credit >= 1.0 for c in self.cells)

    def score(self) -> dict:
        parts = {}
        for part in PARTS:
            cells = [c for c in self.cells if c.part == part]
            earned = sum(c.credit for c in cells)
            parts[part] = {"earned": earned, "possible": len(cells), "weight": self.weights.get(part, 1.0),
                           "fraction": earned / len(cells) if cells else 1.0}
        total_weight = sum(p["weight"] for p in parts.values()) or 1.0
        total = sum(p["weight"] * p["fraction"] for p in parts.values()) / total_weight
        first_wrong = {}
        for c in self.cells:
            key = f"{c.part}:{c.pass_}" if c.pass_ else c.part
            if c.verdict in ("wrong", "missing") and key not in first_wrong:
                first_wrong[key] = c.node
        return {"parts": parts, "total": total, "first_wrong": first_wrong}

    def as_dict(self) -> dict:
        """Everything, for the instructor's report (--json): the private notes too."""
        return {"cells": [c.as_dict() for c in self.cells], "score": self.score(),
                "notes": self.notes + self.private}

    def to_look_at(self, instructor: bool = True) -> list[str]:
        """What a person should look at in this file (the renderers print it as given)."""
        return to_look_at(self, instructor)


def to_look_at(result, instructor: bool = True) -> list[str]:
    """What a person should look at in one graded file (a Grade, or a matrix AnswerCheck):
    cells for review (no credit until regraded) and the grader's notes; the notes meant for the
    instructor only (another student's id) unless ``instructor`` is False."""
    review = result.to_review
    return ([f"{review} cell(s) for review: 0 credit until a person regrades them"] if review else []) \
        + list(result.notes) + (list(getattr(result, "private", [])) if instructor else [])


def worksheet_cells(solution: ScalarSolution) -> list[tuple[str, str, str]]:
    """Every cell of the worksheet, (part, pass, node), in the sheet's order."""
    out = [("trace", "", node.id) for node in solution.trace.nodes]
    out += [("forward", p.input, row.node.id) for p in solution.forward for row in p.rows]
    out += [("reverse", p.output, row.node.id) for p in solution.reverse for row in p.rows]
    return out


def _tolerance(expected: float, written_decimals: int, policy: Policy | None = None) -> float:
    """Half a unit of the last digit written, or the policy's units of the sheet's last printed
    digit, whichever is wider; a value written to fewer decimals than the sheet asks gets no more
    room than the sheet's own (else 7 for 7.389 would pass as "rounded to 0 decimals")."""
    policy = policy or Policy()
    written = max(written_decimals, policy.digits)
    return max(0.5 * 10.0 ** (-written), policy.tolerance * 10.0 ** (-policy.digits)) \
        + 1e-9 * max(1.0, abs(expected))


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance


def _written(value: float, decimals: int) -> float:
    """The rounding of a number written with ``decimals`` decimals: right at the digits written."""
    return 0.5 * 10.0 ** (-decimals) + 1e-9 * max(1.0, abs(value))


def _line_close(a: float, b: float, written_decimals: int, spread: float = 0.0) -> bool:
    """Agreement of two stages of a hand-written line, which carries rounded intermediates
    (``spread``: how far rounding of the numbers written may move the stage)."""
    return abs(a - b) <= 0.5 * 10.0 ** (-written_decimals) + 2e-3 * max(1.0, abs(b)) + 2 * spread


class Expectations:
    """The right value of every cell, its chain-rule terms, and how to recompute it from a
    student's own earlier values."""

    def __init__(self, solution: ScalarSolution):
        self.solution = solution
        self.trace = solution.trace
        self.forward = {p.input: p for p in solution.forward}
        self.reverse = {p.output: p for p in solution.reverse}
        self.names = {node.id: node.value for node in self.trace.nodes}

    def cells(self) -> list[tuple[str, str, str]]:
        return worksheet_cells(self.solution)

    def value(self, part: str, pass_: str, node: str) -> float:
        if part == "trace":
            return self.trace.by_id[node].value
        if part == "forward":
            return self.forward[pass_].tangents[node]
        return self.reverse[pass_].adjoints[node]

    def terms(self, part: str, pass_: str, node: str) -> list[tuple[float, float]]:
        """(local partial, incoming value) of each chain-rule term, for rule detection."""
        if part == "forward":
            row = next(r for r in self.forward[pass_].rows if r.node.id == node)
            return [(t.partial.value, t.incoming) for t in row.terms]
        if part == "reverse":
            row = next(r for r in self.reverse[pass_].rows if r.node.id == node)
            return [(t.partial.value, t.incoming) for t in row.terms]
        return []

    def _row(self, part: str, pass_: str, node: str):
        rows = (self.forward[pass_] if part == "forward" else self.reverse[pass_]).rows
        return next(r for r in rows if r.node.id == node)

    def has_line(self, part: str, pass_: str, node: str) -> bool:
        """Whether the sheet asks for an evaluation line in this cell (inputs and seeds have none)."""
        if part == "trace":
            return not self.trace.by_id[node].is_input
        return bool(self._row(part, pass_, node).terms)

    def in_degrees(self, part: str, pass_: str, node: str, own: dict[str, float]) -> float | None:
        """The cell as a calculator in degree mode gives it: sin, cos and tan (and their local
        partials) of arguments read as degrees; None when no trigonometric function is involved."""
        def trig(op: str, x: float, derivative: bool) -> float:
            row = primitive(op)
            return (row.partial_functions[0] if derivative else row.value_function)(math.radians(x))

        try:
            if part == "trace":
                n = self.trace.by_id[node]
                if n.op not in TRIG:
                    return None
                arg = n.args[0]
                return trig(n.op, own.get(arg, self.names[arg]) if isinstance(arg, str) else float(arg), False)
            row = self._row(part, pass_, node)
            if not any(t.partial.op in TRIG for t in row.terms):
                return None
            seed = getattr(row, "seed", None) or 0.0
            return seed + sum(t.incoming * (trig(t.partial.op, self.names[t.partial.operands[0]], True)
                                            if t.partial.op in TRIG else t.partial.value) for t in row.terms)
        except (ValueError, ZeroDivisionError, OverflowError, KeyError):
            return None

    def without_a_factor(self, part: str, pass_: str, node: str) -> list[tuple[str, float]]:
        """The cell with one chain-rule term missing a factor (its local partial, or the tangent or
        adjoint it multiplies): what a student who forgot that factor writes."""
        if part == "trace":
            return []
        row = self._row(part, pass_, node)
        total = row.value
        out = []
        for t in row.terms:
            partial = f"∂{t.owner.id}/∂{t.partial.arg}"
            incoming = f"∂{t.partial.arg}/∂{pass_}" if part == "forward" else f"v̄{t.owner.id[1:]}"
            if abs(t.incoming) not in (0.0, 1.0):
                out.append((f"× {incoming}", total - t.value + t.partial.value))
            if abs(t.partial.value) not in (0.0, 1.0):
                out.append((f"× {partial}", total - t.value + t.incoming))
        return out

    def own_partial(self, owner, p, own_trace: dict[str, float] | None, from_output: bool = False) -> float:
        """∂owner/∂arg evaluated at the student's own trace values (errors carried across parts:
        a wrong v6 in the trace, used correctly in ∂v7/∂x2, costs once); ``from_output``: written
        from the student's own value of the node, as textbooks write tanh′ = 1 − v², σ′ = v(1 − v)."""
        if from_output and own_trace and owner.id in own_trace and p.op in FROM_OUTPUT:
            return FROM_OUTPUT[p.op](own_trace[owner.id])
        if not own_trace or not any(a in own_trace for a in owner.node_args):
            return p.value
        args = [own_trace.get(a, self.names[a]) if isinstance(a, str) else float(a) for a in owner.args]
        return float(primitive(p.op).partial_functions[p.position](*args))

    def recomputed(self, part: str, pass_: str, node: str, own: dict[str, float],
                   own_trace: dict[str, float] | None = None, from_output: bool = False) -> float | None:
        """The cell from the student's own earlier values of the same part and pass, and (for
        the passes) the local partials at their own trace values."""
        n = self.trace.by_id[node]
        try:
            if part == "trace":
                if n.is_input:
                    return None
                args = [own.get(a, self.names[a]) if isinstance(a, str) else float(a) for a in n.args]
                return float(primitive(n.op).value_function(*args))
            if part == "forward":
                if n.is_input:
                    return None
                return sum(self.own_partial(n, p, own_trace, from_output)
                           * own.get(p.arg, self.forward[pass_].tangents[p.arg])
                           for p in n.partials)
            row = next(r for r in self.reverse[pass_].rows if r.node.id == node)
            adjoints = self.reverse[pass_].adjoints
            return (row.seed or 0.0) + sum(self.own_partial(t.owner, t.partial, own_trace, from_output)
                                           * own.get(t.owner.id, adjoints[t.owner.id]) for t in row.terms)
        except (ValueError, OverflowError, ZeroDivisionError, TypeError):
            return None

    def interval(self, part: str, pass_: str, node: str, own: dict[str, float], own_h: dict[str, float],
                 own_trace: dict[str, float] | None, trace_h: dict[str, float], partial_h: float,
                 from_output: bool = False):
        """The cell recomputed from the student's own earlier values, with how far it may move
        when each of those values moves within the rounding of its last digit (first order, one
        recomputation per value used: bounded by the cell's fan-in), plus the rounding of each
        local partial and term written at the sheet's digits.  (value, spread, used) where
        ``used`` lists ((part, pass), node, value written) of each own value used;
        None when the cell is not recomputed (an input, a seed) or undefined there."""
        value = self.recomputed(part, pass_, node, own, own_trace, from_output)
        if value is None or not math.isfinite(value):
            return None
        n = self.trace.by_id[node]
        if part == "trace":
            own_keys, trace_keys = list(n.node_args), []
            right = self.names
        elif part == "forward":
            own_keys, trace_keys = [p.arg for p in n.partials], [*n.node_args, n.id]
            right = self.forward[pass_].tangents
        else:
            row = self._row(part, pass_, node)
            own_keys = [t.owner.id for t in row.terms]
            trace_keys = [a for t in row.terms for a in (*t.owner.node_args, t.owner.id)]
            right = self.reverse[pass_].adjoints
        spread, used = 0.0, []
        for keys, values, halves, rights, is_own in ((own_keys, own, own_h, right, True),
                                                     (trace_keys, own_trace or {}, trace_h, self.names, False)):
            for key in dict.fromkeys(keys):
                if key not in values:
                    continue
                used.append(((part, pass_) if is_own else ("trace", ""), key, values[key]))
                step = halves.get(key, 0.0)
                if not step:
                    continue
                moved = self.recomputed(part, pass_, node, {**own, key: own[key] + step} if is_own else own,
                                        {**own_trace, key: own_trace[key] + step} if not is_own else own_trace,
                                        from_output)
                if moved is None or not math.isfinite(moved):
                    return None
                spread += abs(moved - value)
        if part != "trace":
            terms = n.partials if part == "forward" else self._row(part, pass_, node).terms
            incoming = [own.get(p.arg, right.get(p.arg, 0.0)) for p in terms] if part == "forward" \
                else [own.get(t.owner.id, right.get(t.owner.id, 0.0)) for t in terms]
            spread += sum((abs(x) + 1.0) * partial_h for x in incoming)
        return value, spread if math.isfinite(spread) else math.inf, used


def _cell_name(part: str, pass_: str, node: str) -> str:
    """How a cell is named in a message: v6, ∂v6/∂x2, v̄6."""
    if part == "forward":
        return f"∂{node}/∂{pass_}"
    if part == "reverse":
        return f"v̄{node[1:]}" if node.startswith("v") else f"{node}̄"
    return node


def grade(solution: ScalarSolution, answers: list[Answer], weights: dict[str, float] | None = None,
          policy: Policy | None = None, others: dict[str, dict] | None = None) -> Grade:
    """Verdicts for every cell of the worksheet (missing cells included).  ``others`` maps the
    other students of a manifest to their points (and :data:`PUBLISHED` to the problem's own
    point), to tell a copied sheet from a slip."""
    policy = policy or Policy()
    expect = Expectations(solution)
    by_key: dict[tuple[str, str, str], Answer] = {}
    valid = set(expect.cells())
    for answer in answers:
        key = (answer.part, answer.pass_, answer.node)
        if key not in valid:
            inputs = ", ".join(name for name, _ in expect.trace.inputs)
            outputs = ", ".join(name for name, _ in expect.trace.outputs)
            hint = (f"part is trace, forward or reverse; pass is an input for forward ({inputs}), an output for "
                    f"reverse ({outputs}), empty for the trace")
            if "?" in answer.pass_ or "\ufffd" in answer.pass_:  # λ saved by Excel as Windows-1252
                hint += "; a ? where a letter was written: save the sheet as CSV UTF-8"
            raise ProblemError(f"{answer.where or 'a row'}: no cell {answer.part}/{answer.pass_ or '-'}/{answer.node} "
                               "in this problem", hint=hint)
        if key in by_key:
            raise ProblemError(f"{answer.where}: the cell {answer.part}/{answer.pass_ or '-'}/{answer.node} "
                               "is given twice")
        by_key[key] = answer
    reading = Reading.of(list(by_key.values()), policy, getattr(answers, "decimal_comma", None),
                         tuple(node for _, node in expect.trace.inputs))
    elsewhere, copied = _other_point(expect, by_key, policy, others or {}, reading)
    sheet = _Sheet(expect, policy, reading, carry=copied is None)
    cells = []
    for key in expect.cells():
        part, pass_, node = key
        answer = by_key.get(key)
        try:
            verdict = sheet.judge(part, pass_, node, answer)
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:  # one cell, never the sheet
            verdict = CellVerdict(part, pass_, node, answer.value if answer else "", expect.value(*key), "review",
                                  message=f"derive could not judge this cell ({type(exc).__name__}); "
                                          "for a human to look at")
        if node in elsewhere and part == "trace":
            verdict = replace(verdict, slip="point", message=f"not this sheet's point: {node} = "
                              f"{_fmt(verdict.expected)} here")
        if policy.require_lines and verdict.credit > 0 and answer is not None \
                and expect.has_line(part, pass_, node) and not sheet.shows_work(answer):
            verdict = replace(verdict, slip=verdict.slip or "no-line", credit=verdict.credit * policy.line_credit,
                              message=(verdict.message + "; " if verdict.message else "")
                              + ("no evaluation line" if not answer.line.strip() else
                                 "the line does not compute the value written")
                              + f": {policy.line_credit:g} of the credit")
        if reading.comma and verdict.message:  # the numbers a message quotes, in the sheet's own separator
            verdict = replace(verdict, message=_COMMA_DECIMALS_SHOWN.sub(",", verdict.message))
        cells.append(verdict)
    notes, private = [], []
    if copied == PUBLISHED:
        notes.append("the inputs written are the problem's own published point, not this sheet's: "
                     "no carried credit was given")
    elif copied:
        notes.append("the inputs written are another student's point: no carried credit was given")
        private.append(f"the inputs written are the point of student {copied}: another student's sheet?")
    elif elsewhere:
        notes.append(f"the inputs written ({', '.join(sorted(elsewhere))}) are not this sheet's point: a slip, or "
                     "the wrong manifest? The cells computed from them kept their carried credit")
    return Grade(cells, {**{p: 1.0 for p in PARTS}, **(weights or {})}, notes, private)


#: The key of ``others`` that stands for the problem's own (published) point.
PUBLISHED = "(the problem's published point)"


@dataclass(frozen=True)
class Reading:
    """How the numbers of one sheet are read: its decimal separator (a sheet written in a
    decimal-comma locale: ``1,649``, ``7,389 + 0,479 = 7,868``) and the number of decimals most
    of its values are written to (``habit``).  On a sheet whose habit meets the sheet's digits, a
    shorter value is one whose trailing zeros a spreadsheet dropped (0.48 for 0.480)."""

    comma: bool = False
    habit: int = 0
    digits: int = 3

    @classmethod
    def of(cls, answers: list[Answer], policy: Policy, declared: bool | None = None,
           inputs: tuple[str, ...] = ()) -> Reading:
        """The reading of a sheet: its separator declared by the file, by the policy, or inferred
        (no 1.649 anywhere and some 1,649); its habit from the values it computes (the inputs it
        copies are left out)."""
        given = {("trace", node) for node in inputs}
        comma = policy.decimal_comma if policy.decimal_comma is not None else declared
        if comma is None:
            values = [a.value.strip() for a in answers] + [a.line for a in answers]
            points = any(_POINT_DECIMAL.search(v) for v in values)
            comma = not points and any(_COMMA_DECIMAL.search(v) for v in values)
        decimals = sorted(read[1] for a in answers if (a.part, a.node) not in given
                          if (read := read_value(a.value, comma=comma)) is not None and read[1] > 0)
        # the most decimals that a quarter of the values carry: a spreadsheet drops the trailing
        # zeros of some values (3.32 for 3.320) and exact values are short (6.25), but a habit
        # shows in many cells, and one long value does not make a 2-decimal sheet a 3-decimal one
        habit = max((d for d in decimals if sum(x >= d for x in decimals) >= len(decimals) / 4), default=0)
        return cls(bool(comma), habit, policy.digits)

    def value(self, text: str) -> tuple[float, int] | None:
        return read_value(text, comma=self.comma)

    def decimals(self, written: int) -> int:
        """The decimals a value stands for: as written, or the sheet's habit where a shorter
        value lost its trailing zeros."""
        return max(written, self.habit) if self.habit >= self.digits else written

    def line(self, text: str) -> str:
        return _COMMA_BETWEEN_DIGITS.sub(".", text) if self.comma else text


_COMMA_DECIMALS_SHOWN = re.compile(r"(?<=\d)\.(?=\d)")
_POINT_DECIMAL = re.compile(r"\d\.\d")
_COMMA_DECIMAL = re.compile(r"\d,\d")
_COMMA_BETWEEN_DIGITS = re.compile(r"(?<=\d),(?=\d)")


def _half(decimals: int) -> float:
    return 0.5 * 10.0 ** (-decimals)


class _Sheet:
    """One worksheet being judged cell by cell, in the sheet's order: what the student wrote so
    far (each value with the rounding it carries) and how to read it."""

    def __init__(self, expect: Expectations, policy: Policy, reading: Reading, carry: bool):
        self.expect, self.policy, self.reading, self.carry = expect, policy, reading, carry
        self.own: dict[tuple[str, str], dict[str, float]] = {}
        self.rounding: dict[tuple[str, str], dict[str, float]] = {}  # half a unit of each value's last digit
        self.right: dict[tuple[tuple[str, str], str], bool] = {}  # each value judged right (up to rounding)
        self._stages: dict[Answer, list] = {}

    def stages(self, answer: Answer):
        """The stages of a cell's line, parsed once (the verdict and the line check both read them);
        [] for no line or one that cannot be read."""
        if answer not in self._stages:
            try:
                self._stages[answer] = parse_line(self.reading.line(answer.line), self.expect.names,
                                                  precision=self.policy.digits) if answer.line.strip() else []
            except (DeriveError, ArithmeticError, ValueError, RecursionError):
                self._stages[answer] = []
        return self._stages[answer]

    def shows_work(self, answer: Answer) -> bool:
        """Whether a cell's line is an evaluation that reaches the value written: at least one
        computation and the result, readable, the computation agreeing with the value (a line of
        "42", "xxxx" or "1/0 = 0.497" is no line)."""
        read = self.reading.value(answer.value)
        stages = self.stages(answer)
        if read is None or len(stages) < 2:
            return False
        given, written = read
        d = self.reading.decimals(written)
        return all(_line_close(stage.value, given, d, stage.spread) for stage in stages)

    def judge(self, part: str, pass_: str, node: str, answer: Answer | None) -> CellVerdict:
        verdict = self._judge(part, pass_, node, answer)
        self.right[((part, pass_), node)] = verdict.verdict in ("correct", "rounding") or (
            verdict.verdict == "wrong" and verdict.slip == "arithmetic" and verdict.credit > 0)
        return verdict

    def _judge(self, part: str, pass_: str, node: str, answer: Answer | None) -> CellVerdict:
        expect, policy = self.expect, self.policy
        own = self.own.setdefault((part, pass_), {})
        own_h = self.rounding.setdefault((part, pass_), {})
        expected = expect.value(part, pass_, node)
        base = dict(part=part, pass_=pass_, node=node, expected=expected)
        if answer is None or not answer.value.strip():
            return CellVerdict(given="", verdict="missing", message="no value given", **base)
        read = self.reading.value(answer.value)
        if read is None:
            return CellVerdict(given=answer.value, verdict="review", message=f"not read as a number: "
                               f"{unread_reason(answer.value, self.reading.comma)}; for a human to look at", **base)
        given, written = read
        d = self.reading.decimals(written)
        own[node] = given
        own_h[node] = _half(max(d, policy.digits)) if not (written == 0 and _is_input(expect, part, node)) else 0.0
        tolerance = _tolerance(expected, d, policy)
        stages = self.stages(answer)
        shown = f"{expected:.{max(d, policy.digits)}f}".replace("-", "−")
        exact = _close(given, expected, 1e-9 * max(1.0, abs(expected)))

        if exact or (d >= policy.digits and _close(given, expected, tolerance)):
            if stages and len(stages) > 1 and not _consistent(stages, expected, d):
                return CellVerdict(given=answer.value, verdict="wrong", slip="arithmetic",
                                   message=f"the result is right but the terms written are not ({stages[0].text} "
                                           f"{_equals(stages[0].value, d, expected)}, not {shown})",
                                   credit=CREDIT["arithmetic-right-result"], **base)
            return CellVerdict(given=answer.value, verdict="correct" if exact else "rounding",
                               credit=CREDIT["correct"], **base)
        coarse = CellVerdict(given=answer.value, verdict="review",
                             message=f"written to {written} decimal(s) where the sheet asks for {policy.digits}: "
                                     "a person will look at it", **base)
        if d < policy.digits and _close(given, expected, _written(expected, written)):
            return coarse  # judged the same whatever the next digit is: 0.48 for 0.4794 as 2.72 for 2.7183
        follows = self.follows(part, pass_, node, given, d, stages)
        if follows is not None and d < policy.digits and follows[0] != "wrong":
            return coarse  # right from coarse values: as coarse as they are
        if follows is None and written < policy.digits and _close(given, expected, _written(expected, written)):
            return coarse  # an integer on a 3-decimal sheet, right only at 0 decimals
        if follows is not None:
            verdict, message = follows
            credit = CREDIT["correct"] if verdict != "wrong" else 0.0
            if verdict == "carried":
                message += f"; the right value is {shown}"
            return CellVerdict(given=answer.value, verdict=verdict, slip="carried" if verdict != "rounding" else None,
                               message=message, credit=credit, **base)
        if expected != 0 and _close(given, -expected, tolerance):
            flipped = next((st for st in stages[1:] if _line_close(st.value, -expected, d, st.spread)), None) \
                if stages and _line_close(stages[0].value, expected, d, stages[0].spread) else None
            if flipped is not None:
                message = (f"the sign is lost inside the line: {stages[0].text} "
                           f"{_equals(stages[0].value, d, -expected)}, not {flipped.text}")
            elif stages and _consistent(stages, expected, d):
                message = (f"the line is right ({stages[0].text} {_equals(stages[0].value, d, given)}) "
                           "but the result written has the wrong sign")
            else:
                message = f"the sign is wrong: expected {shown}"
            return CellVerdict(given=answer.value, verdict="wrong", slip="sign", message=message, **base)
        in_degrees = expect.in_degrees(part, pass_, node, {k: v for k, v in own.items() if k != node})
        if in_degrees is not None and not _close(in_degrees, expected, tolerance) and _close(given, in_degrees, tolerance):
            return CellVerdict(given=answer.value, verdict="wrong", slip="degrees",
                               message=f"computed in degrees; the argument is in radians: expected {shown}", **base)
        for dropped, value in expect.without_a_factor(part, pass_, node):
            if not _close(value, expected, tolerance) and _close(given, value, tolerance):
                return CellVerdict(given=answer.value, verdict="wrong", slip="chain",
                                   message=f"a chain-rule factor is missing ({dropped}): expected {shown}", **base)
        if stages and len(stages) > 1 and _line_close(stages[0].value, expected, d, stages[0].spread):
            last = stages[-2]
            return CellVerdict(given=answer.value, verdict="wrong", slip="arithmetic",
                               message=f"the terms are right but do not add up to the result written: "
                                       f"{last.text} {_equals(last.value, d, given)}, not {stages[-1].text}", **base)
        rule = _rule_slip(expect, part, pass_, node, stages, d)
        if rule:
            return CellVerdict(given=answer.value, verdict="wrong", slip="rule", message=rule, **base)
        return CellVerdict(given=answer.value, verdict="wrong", message=f"expected {shown}", **base)

    def follows(self, part: str, pass_: str, node: str, given: float, d: int, stages) -> tuple[str, str] | None:
        """Whether the value written follows from the student's own earlier values (each standing
        for the interval its last digit allows, and local partials rounded to the sheet's digits
        as the sheet asks), or from the numbers of its own line.  (verdict, message): ``rounding``
        when those values are right up to their rounding, ``carried`` when an earlier value was
        wrong, ``wrong`` when that wrong value makes this step trivial; None otherwise."""
        expect, policy = self.expect, self.policy
        expected = expect.value(part, pass_, node)
        tolerance = _tolerance(expected, d, policy)
        own = {k: v for k, v in self.own[(part, pass_)].items() if k != node}
        own_h = self.rounding[(part, pass_)]
        own_trace = self.own.get(("trace", "")) if part != "trace" else None
        trace_h = self.rounding.get(("trace", ""), {})
        for from_output in (False, True) if part != "trace" else (False,):
            interval = expect.interval(part, pass_, node, own, own_h, own_trace, trace_h, _half(policy.digits),
                                       from_output)
            if interval is None:
                continue
            recomputed, spread, used = interval
            if _gives(given, recomputed, spread, d):
                wrong = [(where, key) for where, key, _ in used if not self.right.get((where, key), True)]
                if not wrong:
                    return "rounding", "follows from the rounded values written before it"
                if self._follows_without(wrong, part, pass_, node, given, d, own, own_trace, from_output):
                    return "rounding", "follows from the values written before it; the wrong one plays no part"
                return self._carried(part, pass_, node, used, given, d)
        if stages and len(stages) > 1:
            last = stages[-2]
            if _gives(given, last.value, last.spread, d) \
                    and all(_close(st.value, expected, tolerance + st.spread) for st in stages[:-1]):
                return "rounding", "follows from the numbers of its line"
        return None

    def _follows_without(self, wrong, part: str, pass_: str, node: str, given: float, d: int, own: dict,
                         own_trace: dict | None, from_output: bool) -> bool:
        """Whether the value written also follows when the wrong values it was recomputed from are
        replaced by the right ones: then they play no part (a factor times 0, a trace value a
        partial does not read) and the cell is right, whatever was written before it."""
        own, own_trace = dict(own), dict(own_trace) if own_trace is not None else None
        for (where_part, where_pass), key in wrong:
            target = own if (where_part, where_pass) == (part, pass_) else own_trace
            if target is not None:
                target[key] = self.expect.value(where_part, where_pass, key)
        interval = self.expect.interval(part, pass_, node, own, self.rounding[(part, pass_)], own_trace,
                                        self.rounding.get(("trace", ""), {}), _half(self.policy.digits), from_output)
        return interval is not None and _gives(given, interval[0], interval[1], d)

    def _carried(self, part: str, pass_: str, node: str, used, given: float, d: int) -> tuple[str, str] | None:
        if not self.carry:
            return None
        unit = 10.0 ** (-self.policy.digits)
        for (where_part, where_pass), key, value in used:
            if self.right.get(((where_part, where_pass), key), True):
                continue
            right = self.expect.value(where_part, where_pass, key)
            kills = abs(value) <= 10 * unit and abs(value) < abs(right) / 10  # 0, 1e-9, 0.001 for 2.898
            identity = abs(value - 1) <= unit and abs(right - 1) > unit  # 1 × v = v, v^1 = v
            sign = abs(value + right) <= unit  # +1 written for −1: an honest sign slip, not a shortcut
            if (kills or identity) and not sign:  # 0 × p = 0, 0 + v = v, 1 × v = v: the step is spared its work
                return ("wrong", f"follows from {_cell_name(where_part, where_pass, key)} = {_fmt(value)} written "
                                 "earlier, a wrong value that makes this step trivial: no carried credit")
        source = "the trace above" if part == "trace" else self._source(part, pass_, node, given, d)
        return "carried", f"follows from the earlier wrong value(s) of {source}"

    def _source(self, part: str, pass_: str, node: str, given: float, d: int) -> str:
        """Where a carried error in a pass comes from: the pass's own earlier cells (recomputing
        with the right trace values still gives what was written), or else the student's trace."""
        own = {k: v for k, v in self.own[(part, pass_)].items() if k != node}
        alone = self.expect.interval(part, pass_, node, own, self.rounding[(part, pass_)], None, {},
                                     _half(self.policy.digits))
        if alone is not None and _gives(given, alone[0], alone[1], d):
            return "this pass"
        return "the trace"


def _gives(given: float, recomputed: float, spread: float, d: int) -> bool:
    """Whether a value written to ``d`` decimals is ``recomputed`` within the rounding of its last
    digit and the ``spread`` of the values it was recomputed from."""
    return abs(given - recomputed) <= _half(d) + spread + 1e-9 * max(1.0, abs(given))


def _is_input(expect: Expectations, part: str, node: str) -> bool:
    return part == "trace" and expect.trace.by_id[node].is_input


def _other_point(expect: Expectations, by_key: dict, policy: Policy, others: dict[str, dict],
                 reading: Reading | None = None) -> tuple[set[str], str | None]:
    """The input nodes written with values other than this sheet's point (beyond the rounding of
    the digits written; an integer is exact), and the point among ``others`` (id -> that
    student's input values, from the manifest; :data:`PUBLISHED` -> the problem's own point)
    whose values they are, an exact match preferred.  Inputs are given on the sheet, not
    computed: a slip copying one earns no credit for that cell but keeps carried credit for what
    follows; a sheet at another known point earns no carried credit."""
    reading = reading or Reading(digits=policy.digits)
    wrong, written = set(), {}
    for name, node_id in expect.trace.inputs:
        answer = by_key.get(("trace", "", node_id))
        read = reading.value(answer.value) if answer is not None and answer.value.strip() else None
        if read is None:
            continue
        written[name] = read
        value = expect.trace.by_id[node_id].value
        coarse = max(_tolerance(value, read[1], policy), _written(value, read[1]))
        if not _close(read[0], value, coarse):
            wrong.add(node_id)
    if not wrong or len(written) < len(expect.trace.inputs):
        return wrong, None

    def matches(values: dict, exact: bool) -> bool:
        try:
            return all(_close(given, float(values[name]), 1e-9 * max(1.0, abs(given)) if exact or d == 0
                              else _written(given, d)) for name, (given, d) in written.items())
        except (KeyError, TypeError, ValueError, OverflowError):
            return False

    for exact in (True, False):
        for student, values in others.items():
            if matches(values, exact):
                return wrong, student

    def near(values: dict) -> bool:  # a copied point with a digit changed (1.3001 for 1.3)
        try:
            return all(abs(given - float(values[name])) <= max(0.01, 0.01 * abs(float(values[name])))
                       for name, (given, _) in written.items())
        except (KeyError, TypeError, ValueError, OverflowError):
            return False

    return wrong, next((student for student, values in others.items() if near(values)), None)


_PLAIN = re.compile(r"[-+]?(\d+(?:\.(\d*))?|\.(\d+))(?:e([-+]?\d+))?", re.IGNORECASE)
_TIMES_TEN = re.compile(r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:×|x|\*|·)\s*10\s*(?:\^|\*\*)\s*\{?\s*([-+]?\d+)\s*\}?")
_FRACTION = re.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_DECIMAL_COMMA = re.compile(r"([-+]?\d+),(\d+)")


#: The longest value cell read as a number (longer ones go to a person as 'review').
MAX_VALUE_LENGTH = 100


def read_value(text: str, comma: bool = False) -> tuple[float, int] | None:
    """A written answer as (value, decimals of its last written digit), or None when it cannot be
    read without guessing.  Read: 0.964, −0.964, ≈0.964, 1.41e-1, 1.41 × 10^-1, 1/2 (exact: 6
    decimals), 0,25 (a decimal comma, unless it could be a thousands separator: 1,250)."""
    if len(text) > MAX_VALUE_LENGTH:  # nobody writes a number that long; int() of it would raise
        return None
    t = _normalized(text, comma)
    if (m := _PLAIN.fullmatch(t.replace(" ", ""))) is not None:
        written = len(m.group(2) or m.group(3) or "")
        exponent = int(m.group(4) or 0)
        if abs(exponent) > 300:
            return None
        return float(m.group(0)), written - exponent
    if (m := _FRACTION.fullmatch(t)) is not None:
        return (int(m.group(1)) / int(m.group(2)), 6) if int(m.group(2)) else None
    if (m := _DECIMAL_COMMA.fullmatch(t)) is not None:
        whole, frac = m.groups()
        if len(frac) == 3 and whole.lstrip("+-") not in ("0", ""):
            return None  # 1,250: a thousands separator or a decimal comma
        return float(f"{whole}.{frac}"), len(frac)
    return None


def _normalized(text: str, comma: bool = False) -> str:
    """A value cell with its minus signs made ASCII, a leading ≈, ~, = or ≃ removed, a decimal
    comma made a point on a comma sheet (1,649 is 1.649), and 1.41 × 10^-1 written 1.41e-1 (one
    reading for read_value and unread_reason)."""
    t = text.strip().replace("−", "-").replace("\u2212", "-").replace("–", "-")
    t = re.sub(r"^(?:≈|~|=|≃)\s*", "", t).strip()
    if comma and "." not in t:
        t = t.replace(",", ".")
    if (m := _TIMES_TEN.fullmatch(t)) is not None:
        t = f"{m.group(1)}e{int(m.group(2))}"
    return t


def unread_reason(text: str, comma: bool = False) -> str:
    """Why ``read_value`` did not read ``text``, in words a student understands."""
    if len(text) > MAX_VALUE_LENGTH:
        return f"longer than {MAX_VALUE_LENGTH} characters"
    t = _normalized(text, comma)
    if (m := _DECIMAL_COMMA.fullmatch(t)) is not None:
        whole, frac = m.groups()
        return f"'{t}' could be {whole}{frac} (a thousands separator) or {whole}.{frac} (a decimal comma)"
    if (m := _FRACTION.fullmatch(t)) is not None and int(m.group(2)) == 0:
        return "a fraction over 0"
    if (m := _PLAIN.fullmatch(t.replace(" ", ""))) is not None:
        return "its exponent is out of range"
    return "derive reads numbers such as 0.964, −0.964, 1.41e-1, 1.41 × 10^-1, 1/2 or 0,25"


def _stages(expect: Expectations, answer: Answer):
    if not answer.line.strip():
        return []
    try:
        return parse_line(answer.line, expect.names)
    except DeriveError:
        return []


def _consistent(stages, expected: float, d: int) -> bool:
    """Every stage agrees with the value, within the rounding of the numbers the stage writes."""
    return all(_line_close(stage.value, expected, d, stage.spread) for stage in stages)


def _rule_slip(expect: Expectations, part: str, pass_: str, node: str, stages, d: int) -> str | None:
    """A written term that multiplies the right incoming value by a wrong local partial."""
    if not stages:
        return None
    written = stages[0].terms
    for partial, incoming in expect.terms(part, pass_, node):
        if incoming == 0 or any(_line_close(t.value, partial * incoming, d) for t in written):
            continue
        for t in written:
            if any(_line_close(f, incoming, d) for f in t.factors) and not _line_close(t.value / incoming, partial, d):
                return (f"a local partial is not the rule table's: {_fmt(t.value / incoming)} was used where "
                        f"the rule gives {_fmt(partial)}")
    return None


def _equals(x: float, decimals: int, other: float) -> str:
    """"= x" or "≈ x" as a message prints a value it states, true and to the digits needed to see
    the point: exact where x is a short decimal (1.500 × 1.099 = 1.6485, never 1.648; 1 × 1 = 1),
    else at the sheet's digits after "≈", and more where that would print ``other``
    (the value it is set against)."""
    decimals = max(decimals, 3)
    for places in range(0, decimals + 4):
        if abs(round(x, places) - x) <= 1e-9 * max(1.0, abs(x)):
            return "= " + f"{x:.{places}f}".replace("-", "−")
    places = decimals
    while places < decimals + 8 and f"{x:.{places}f}" == f"{other:.{places}f}":
        places += 1
    return "≈ " + f"{x:.{places}f}".replace("-", "−")


def _fmt(x: float) -> str:
    return (f"{x:.3f}" if not math.isclose(x, round(x)) else str(int(round(x)))).replace("-", "−")
