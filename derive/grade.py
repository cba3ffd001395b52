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

from .errors import DeriveError, ProblemError
from .handwriting import parse_line
from .scalar.rules import primitive
from .scalar.solve import ScalarSolution

PARTS = ("trace", "forward", "reverse")
CREDIT = {"correct": 1.0, "rounding": 1.0, "carried": 1.0, "arithmetic-right-result": 0.5}
TRIG = ("sin", "cos", "tan")


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


@dataclass(frozen=True)
class Answer:
    """One filled cell, as written."""

    part: str
    pass_: str  # the input (forward) or output (reverse) name; "" for the trace
    node: str
    value: str
    line: str = ""
    where: str = ""  # "row 7" of the file, for messages


@dataclass(frozen=True)
class CellVerdict:
    part: str
    pass_: str
    node: str
    given: str
    expected: float
    verdict: str  # correct, rounding, wrong, missing
    kind: str | None = None  # sign, carried, arithmetic, rule, degrees, chain, point, no-line
    message: str = ""
    credit: float = 0.0

    def as_dict(self) -> dict:
        return {"part": self.part, "pass": self.pass_, "node": self.node, "given": self.given,
                "expected": self.expected, "verdict": self.verdict, "kind": self.kind,
                "message": self.message, "credit": self.credit}


@dataclass
class Grade:
    cells: list[CellVerdict]
    weights: dict[str, float] = field(default_factory=lambda: {p: 1.0 for p in PARTS})
    notes: list[str] = field(default_factory=list)  # what a person should look at, beyond the cells

    @property
    def to_review(self) -> int:
        """Cells waiting for a person (their credit is 0 until regraded)."""
        return sum(c.verdict == "review" for c in self.cells)

    @property
    def all_correct(self) -> bool:
        return all(c.verdict in ("correct", "rounding") and c.credit >= 1.0 for c in self.cells)

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
        return {"cells": [c.as_dict() for c in self.cells], "score": self.score(), "notes": self.notes}


def to_look_at(result) -> list[str]:
    """What a person should look at in one graded file (a Grade, or a matrix AnswerCheck):
    cells for review (no credit until regraded) and the grader's notes."""
    review = result.to_review
    return ([f"{review} cell(s) for review: 0 credit until a person regrades them"] if review else []) \
        + list(result.notes)


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


def _recomputes(given: float, recomputed: float, decimals: int, policy: Policy) -> bool:
    """Whether a written value is what a recomputation from the student's own values gives."""
    return _close(given, recomputed, _tolerance(recomputed, decimals, policy) + 1e-3 * abs(recomputed))


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
            x = math.radians(x)
            if not derivative:
                return {"sin": math.sin, "cos": math.cos, "tan": math.tan}[op](x)
            return {"sin": math.cos(x), "cos": -math.sin(x), "tan": 1 / math.cos(x) ** 2}[op]

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

    def own_partial(self, owner, p, own_trace: dict[str, float] | None) -> float:
        """∂owner/∂arg evaluated at the student's own trace values (errors carried across parts:
        a wrong v6 in the trace, used correctly in ∂v7/∂x2, costs once)."""
        if not own_trace or not any(a in own_trace for a in owner.node_args):
            return p.value
        args = [own_trace.get(a, self.names[a]) if isinstance(a, str) else float(a) for a in owner.args]
        return float(primitive(p.op).partial_functions[p.position](*args))

    def recomputed(self, part: str, pass_: str, node: str, own: dict[str, float],
                   own_trace: dict[str, float] | None = None) -> float | None:
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
                return sum(self.own_partial(n, p, own_trace) * own.get(p.arg, self.forward[pass_].tangents[p.arg])
                           for p in n.partials)
            row = next(r for r in self.reverse[pass_].rows if r.node.id == node)
            adjoints = self.reverse[pass_].adjoints
            return (row.seed or 0.0) + sum(self.own_partial(t.owner, t.partial, own_trace)
                                           * own.get(t.owner.id, adjoints[t.owner.id]) for t in row.terms)
        except (ValueError, OverflowError, ZeroDivisionError):
            return None


def grade(solution: ScalarSolution, answers: list[Answer], weights: dict[str, float] | None = None,
          policy: Policy | None = None, others: dict[str, dict] | None = None) -> Grade:
    """Verdicts for every cell of the worksheet (missing cells included).  ``others`` maps the
    other students of a manifest to their points, to tell a copied sheet from a slip."""
    policy = policy or Policy()
    expect = Expectations(solution)
    by_key: dict[tuple[str, str, str], Answer] = {}
    valid = set(expect.cells())
    for answer in answers:
        key = (answer.part, answer.pass_, answer.node)
        if key not in valid:
            raise ProblemError(f"{answer.where or 'a row'}: no cell {answer.part}/{answer.pass_ or '-'}/{answer.node} "
                               "in this problem", hint="part is trace, forward or reverse; pass is an input "
                               "(forward) or output (reverse) name, empty for the trace")
        if key in by_key:
            raise ProblemError(f"{answer.where}: the cell {answer.part}/{answer.pass_ or '-'}/{answer.node} "
                               "is given twice")
        by_key[key] = answer
    elsewhere, copied = _other_point(expect, by_key, policy, others or {})
    own: dict[tuple[str, str], dict[str, float]] = {}
    cells = []
    for key in expect.cells():
        part, pass_, node = key
        answer = by_key.get(key)
        verdict = _judge(expect, part, pass_, node, answer, own.setdefault((part, pass_), {}), policy,
                         own.get(("trace", "")) if part != "trace" else None, carry=copied is None)
        if node in elsewhere and part == "trace":
            verdict = replace(verdict, kind="point", message=f"not this sheet's point: {node} = {_fmt(verdict.expected)} "
                              + (f"here; the values written are {copied}'s point" if copied else "here"))
        if policy.require_lines and verdict.credit > 0 and answer is not None and not answer.line.strip() \
                and expect.has_line(part, pass_, node):
            verdict = replace(verdict, kind=verdict.kind or "no-line", credit=verdict.credit * policy.line_credit,
                              message=(verdict.message + "; " if verdict.message else "")
                              + f"no evaluation line: {policy.line_credit:g} of the credit")
        cells.append(verdict)
    notes = []
    if copied:
        notes.append(f"the inputs written are the point of student {copied}: another student's sheet? "
                     "No carried credit was given")
    elif elsewhere:
        notes.append(f"the inputs written ({', '.join(sorted(elsewhere))}) are not this sheet's point: a slip, or "
                     "the wrong manifest? The cells computed from them kept their carried credit")
    return Grade(cells, {**{p: 1.0 for p in PARTS}, **(weights or {})}, notes)


def _other_point(expect: Expectations, by_key: dict, policy: Policy,
                 others: dict[str, dict]) -> tuple[set[str], str | None]:
    """The input nodes written with values other than this sheet's point (beyond the rounding of
    the digits written), and the student among ``others`` (id -> that student's input values,
    from the manifest) whose point they are, if any.  Inputs are given on the sheet, not
    computed: a slip copying one earns no credit for that cell but keeps carried credit for what
    follows; a sheet at another student's exact point earns no carried credit."""
    wrong, written = set(), {}
    for name, node_id in expect.trace.inputs:
        answer = by_key.get(("trace", "", node_id))
        read = read_value(answer.value) if answer is not None and answer.value.strip() else None
        if read is None:
            continue
        written[name] = read
        value = expect.trace.by_id[node_id].value
        coarse = max(_tolerance(value, read[1], policy), _written(value, read[1]))
        if not _close(read[0], value, coarse):
            wrong.add(node_id)
    if not wrong or len(written) < len(expect.trace.inputs):
        return wrong, None
    for student, values in others.items():
        try:
            if all(_close(given, float(values[name]), _written(given, d))
                   for name, (given, d) in written.items()):
                return wrong, student
        except (KeyError, TypeError, ValueError):
            continue
    return wrong, None


def _judge(expect: Expectations, part: str, pass_: str, node: str, answer: Answer | None,
           own: dict[str, float], policy: Policy = Policy(),
           own_trace: dict[str, float] | None = None, carry: bool = True) -> CellVerdict:
    expected = expect.value(part, pass_, node)
    base = dict(part=part, pass_=pass_, node=node, expected=expected)
    if answer is None or not answer.value.strip():
        return CellVerdict(given="", verdict="missing", message="no value given", **base)
    read = read_value(answer.value)
    if read is None:
        return CellVerdict(given=answer.value, verdict="review", message=f"not read as a number: "
                           f"{unread_reason(answer.value)}; for a human to look at", **base)
    given, d = read
    own[node] = given
    tolerance = _tolerance(expected, d, policy)
    stages = _stages(expect, answer)
    shown = f"{expected:.{max(d, 3)}f}".replace("-", "−")

    if _close(given, expected, 1e-9 * max(1.0, abs(expected))) or _close(given, expected, tolerance):
        exact = _close(given, expected, 1e-9 * max(1.0, abs(expected)))
        if stages and len(stages) > 1 and not _consistent(stages, expected, d):
            return CellVerdict(given=answer.value, verdict="wrong", kind="arithmetic",
                               message=f"the result is right but the terms written are not ({stages[0].text} "
                                       f"is {_fmt(stages[0].value)}, not {shown})",
                               credit=CREDIT["arithmetic-right-result"], **base)
        return CellVerdict(given=answer.value, verdict="correct" if exact else "rounding",
                           credit=CREDIT["correct"], **base)

    if d < policy.digits and _close(given, expected, _written(expected, d)):
        return CellVerdict(given=answer.value, verdict="review",
                           message=f"right only to the {d} decimal(s) written; the sheet asks for {policy.digits}: "
                                   f"{shown}", **base)
    recomputed = expect.recomputed(part, pass_, node, {k: v for k, v in own.items() if k != node}, own_trace) \
        if carry else None
    if recomputed is not None and not _close(recomputed, expected, tolerance) \
            and _recomputes(given, recomputed, d, policy):
        source = "the trace above" if part == "trace" else _carried_from(expect, part, pass_, node, own, given, d, policy)
        return CellVerdict(given=answer.value, verdict="wrong", kind="carried",
                           message=f"consistent with the earlier wrong value(s) of {source}; "
                                   f"the right value is {shown}", credit=CREDIT["carried"], **base)
    if expected != 0 and _close(given, -expected, tolerance):
        flipped = next((st for st in stages[1:] if _line_close(st.value, -expected, d, st.spread)), None) \
            if stages and _line_close(stages[0].value, expected, d, stages[0].spread) else None
        if flipped is not None:
            message = f"the sign is lost inside the line: {stages[0].text} = {shown}, not {flipped.text}"
        elif stages and _consistent(stages, expected, d):
            message = f"the line is right ({stages[0].text} = {shown}) but the result written has the wrong sign"
        else:
            message = f"the sign is wrong: expected {shown}"
        return CellVerdict(given=answer.value, verdict="wrong", kind="sign", message=message, **base)
    in_degrees = expect.in_degrees(part, pass_, node, {k: v for k, v in own.items() if k != node})
    if in_degrees is not None and not _close(in_degrees, expected, tolerance) and _close(given, in_degrees, tolerance):
        return CellVerdict(given=answer.value, verdict="wrong", kind="degrees",
                           message=f"computed in degrees; the argument is in radians: expected {shown}", **base)
    for dropped, value in expect.without_a_factor(part, pass_, node):
        if not _close(value, expected, tolerance) and _close(given, value, tolerance):
            return CellVerdict(given=answer.value, verdict="wrong", kind="chain",
                               message=f"a chain-rule factor is missing ({dropped}): expected {shown}", **base)
    if stages and len(stages) > 1 and _line_close(stages[0].value, expected, d, stages[0].spread):
        return CellVerdict(given=answer.value, verdict="wrong", kind="arithmetic",
                           message=f"the terms are right but do not add up to the result written: "
                                   f"{stages[0].text} = {shown}", **base)
    rule = _rule_slip(expect, part, pass_, node, stages, d)
    if rule:
        return CellVerdict(given=answer.value, verdict="wrong", kind="rule", message=rule, **base)
    return CellVerdict(given=answer.value, verdict="wrong", message=f"expected {shown}", **base)


def _carried_from(expect: Expectations, part: str, pass_: str, node: str, own: dict[str, float], given: float,
                  d: int, policy: Policy) -> str:
    """Where a carried error in a pass comes from: the pass's own earlier cells (recomputing with
    the right trace values still gives what was written), or else the student's trace values."""
    alone = expect.recomputed(part, pass_, node, {k: v for k, v in own.items() if k != node}, None)
    if alone is not None and _recomputes(given, alone, d, policy):
        return "this pass"
    return "the trace"


_PLAIN = re.compile(r"[-+]?(\d+(?:\.(\d*))?|\.(\d+))(?:e([-+]?\d+))?", re.IGNORECASE)
_TIMES_TEN = re.compile(r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:×|x|\*|·)\s*10\s*(?:\^|\*\*)\s*\{?\s*([-+]?\d+)\s*\}?")
_FRACTION = re.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_DECIMAL_COMMA = re.compile(r"([-+]?\d+),(\d+)")


#: The longest value cell read as a number (longer ones go to a person as 'review').
MAX_VALUE_LENGTH = 100


def read_value(text: str) -> tuple[float, int] | None:
    """A written answer as (value, decimals of its last written digit), or None when it cannot be
    read without guessing.  Read: 0.964, −0.964, ≈0.964, 1.41e-1, 1.41 × 10^-1, 1/2 (exact: 6
    decimals), 0,25 (a decimal comma, unless it could be a thousands separator: 1,250)."""
    if len(text) > MAX_VALUE_LENGTH:  # nobody writes a number that long; int() of it would raise
        return None
    t = _normalized(text)
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


def _normalized(text: str) -> str:
    """A value cell with its minus signs made ASCII, a leading ≈, ~, = or ≃ removed, and
    1.41 × 10^-1 written 1.41e-1 (one reading for read_value and unread_reason)."""
    t = text.strip().replace("−", "-").replace("\u2212", "-").replace("–", "-")
    t = re.sub(r"^(?:≈|~|=|≃)\s*", "", t).strip()
    if (m := _TIMES_TEN.fullmatch(t)) is not None:
        t = f"{m.group(1)}e{int(m.group(2))}"
    return t


def unread_reason(text: str) -> str:
    """Why ``read_value`` did not read ``text``, in words a student understands."""
    if len(text) > MAX_VALUE_LENGTH:
        return f"longer than {MAX_VALUE_LENGTH} characters"
    t = _normalized(text)
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
                        f"∂{node}/∂· = {_fmt(partial)}")
    return None


def _fmt(x: float) -> str:
    return (f"{x:.3f}" if not math.isclose(x, round(x)) else str(int(round(x)))).replace("-", "−")
