"""Typed matrix answers judged by meaning: shapes first, then equality with the derived result,
numerically at random values and exactly on the instantiated sizes.

    [adjoints]                         [gradients]
    h = "r + W2.T @ (y - s)"           W1 = "z_bar @ x.T"
    z = "dsigma(z) * h_bar"

A wrong answer gets a counterexample (the values at which the two differ) and a hint.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DeriveError, ProblemError, ShapeError, did_you_mean
from ..userfiles import read_text
from ..matrix.evaluate import ANSWER_CONCRETE, NumpyBackend, SympyBackend, evaluate, run_forward
from ..matrix.expr import WRITTEN_OUT, M, size_value
from ..matrix.shapes import shape_text, type_answer
from ..matrix.solve import MatrixSolution
from ..matrix.verify import (EXACT_ENTRY_LIMIT, PRECISIONS, Budget, compare, distinct_nodes, exact_variables, random_points,
                     random_values)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class AnswerVerdict:
    part: str  # adjoints or gradients
    name: str
    given: str
    expected: str
    verdict: str  # correct, wrong, shape, missing, invalid, review (undecided: a person looks)
    message: str = ""
    counterexample: dict | None = None

    def as_dict(self) -> dict:
        return {"part": self.part, "pass": "", "node": self.name, "given": self.given, "expected": self.expected,
                "verdict": self.verdict, "kind": "shape" if self.verdict == "shape" else None,
                "message": self.message, "counterexample": self.counterexample}


@dataclass
class AnswerCheck:
    items: list[AnswerVerdict]

    notes: tuple = ()  # a grade's notes for a person; typed answers have none beyond review items

    @property
    def all_correct(self) -> bool:
        return all(item.verdict == "correct" for item in self.items)

    @property
    def to_review(self) -> int:
        """Answers waiting for a person (no credit until then)."""
        return sum(item.verdict == "review" for item in self.items)

    def score(self) -> dict:
        right = sum(item.verdict == "correct" for item in self.items)
        return {"correct": right, "possible": len(self.items), "total": right / len(self.items) if self.items else 1.0}

    def as_dict(self) -> dict:
        return {"cells": [item.as_dict() for item in self.items], "score": self.score()}


def _expected(solution: MatrixSolution) -> dict[tuple[str, str], M]:
    derivation = solution.derivation
    out = {("adjoints", a.name): a.simplified for a in derivation.adjoints if not a.is_loss}
    out.update({("gradients", g.name): g.expr for g in derivation.gradients})
    return out


def answer_template(solution: MatrixSolution) -> str:
    """The TOML file a student fills in: one empty formula per adjoint and gradient to give."""
    used = sorted({node.function for _, e in solution.model.equations for node in e.walk()
                   if node.op == "fn" and node.function not in WRITTEN_OUT})  # log′ = 1 ⊘ a, … are written out
    derivatives = "".join(f"{name}′ as d{name}, " for name in used)
    lines = [f"# {solution.problem.title or solution.problem.name}: your answers, one formula each, checked",
             f"# by meaning with 'derive check'. Write adjoints as <name>_bar, {derivatives}transposes as .T,",
             "# matrix products as @ and elementwise products as *; diag(v) @ u is accepted.", ""]
    for section in ("adjoints", "gradients"):
        lines.append(f"[{section}]")
        for (part, name), right in _expected(solution).items():
            if part == section and not (section == "adjoints" and right.is_const):
                shape = shape_text(solution.model.shapes[name])
                what = f"the adjoint of {name}" if section == "adjoints" else f"the gradient of the loss in {name}"
                lines.append(f'{name} = ""    # {what}, {shape}')
        lines.append("")
    return "\n".join(lines)


def read_answer_file(path: str | Path) -> dict[tuple[str, str], str]:
    path = Path(path)
    text = read_text(path, "answer file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(f"{path}: invalid TOML: {exc}") from None
    answers = {}
    for section, table in data.items():
        if section not in ("adjoints", "gradients") or not isinstance(table, dict):
            raise ProblemError(f"{path}: unknown table [{section}]",
                               hint=did_you_mean(section, ["adjoints", "gradients"]) or "use [adjoints] and [gradients]")
        for name, text in table.items():
            if not isinstance(text, str):
                raise ProblemError(f"{path}: {section}.{name} must be a formula in quotes")
            answers[(section, name)] = text
    return answers


def check_answers(solution: MatrixSolution, path: str | Path, seeds: tuple[int, ...] = (11, 12, 13)) -> AnswerCheck:
    from ..render.matrix import TextPrinter  # the expected formula, as text, for the report

    text = TextPrinter()
    expected = _expected(solution)
    answers = read_answer_file(path)
    for key in answers:
        if key not in expected:
            section, name = key
            choices = [n for s, n in expected if s == section]
            raise ProblemError(f"{path}: {section}.{name}: there is no such {section[:-1]} to answer",
                               hint=did_you_mean(name, choices) or f"{section}: " + ", ".join(choices))
    model = solution.model
    environments = [_environment(solution, seed) for seed in seeds]
    items = []
    for key, right in expected.items():
        section, name = key
        want = text(right)
        if not answers.get(key, "").strip():  # absent, or left empty in the template
            if not right.is_const:  # L̄ = 1, R̄ = 1 go without saying
                items.append(AnswerVerdict(section, name, "", want, "missing", "no answer given"))
            continue
        given = answers[key]
        try:
            items.append(_judge_answer(solution, section, name, given, right, want, environments, seeds))
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:  # e.g. 1000 ** 999 ** 1e-320
            items.append(AnswerVerdict(section, name, given, want, "review",
                                       f"the grader could not judge this answer ({type(exc).__name__}: "
                                       f"{_clip(str(exc))}): a person should look at it"))
    return AnswerCheck(items)


def _judge_answer(solution: MatrixSolution, section: str, name: str, given: str, right: M, want: str,
                  environments, seeds) -> AnswerVerdict:
    """One typed answer's verdict: its shape, then numeric and exact equality with ``right``."""
    def verdict(outcome: str, message: str = "", counterexample: dict | None = None) -> AnswerVerdict:
        return AnswerVerdict(section, name, given, want, outcome, message, counterexample)

    def differs(counterexample: dict) -> AnswerVerdict:
        return verdict("wrong", f"not equal to {want}: they differ at random values (seed {counterexample['seed']}, "
                                f"entry {counterexample['entry']})", counterexample)

    model = solution.model
    shape = model.shapes[name]
    try:
        typed = type_answer(model, f"{section}.{name}", given)
    except ShapeError as exc:
        hint = _product_hint(model, section, name, given, shape)
        return verdict("shape", f"{exc.message} (hint: {hint})" if hint else str(exc))
    except DeriveError as exc:
        if any(sign in given for sign in _LATEX):
            return verdict("invalid", f'{section}.{name} = "{_clip(given)}" looks like LaTeX: write it in Python '
                                      f"syntax, e.g. (P - Y)/B")
        return verdict("invalid", str(exc))
    if typed.shape != shape:
        hint = " (it is the transpose of the right shape: a transpose is missing)" \
            if typed.shape == (shape[1], shape[0]) else ""
        hint = hint or (f" (hint: {product})" if (product := _product_hint(model, section, name, given, shape)) else "")
        return verdict("shape", f"the answer is {shape_text(typed.shape)}, the adjoint of {name} is "
                                f"{shape_text(shape)}{hint}")
    counterexample = _numeric_difference(solution, typed, right, environments, seeds)
    if counterexample:
        return differs(counterexample)
    exact = _judge(solution, abstract=True).decide(typed, right)
    if exact.verdict == "undecided":  # never a pass: random points at other scales, then a person
        counterexample = _numeric_difference(solution, typed, right, [
            _environment(solution, seed, scale) for seed in seeds for scale in FALLBACK_SCALES],
            [seed for seed in seeds for _ in FALLBACK_SCALES])
        if counterexample:
            return differs(counterexample)
        return verdict("review", f"equal to {want} at random values, but the exact comparison could not decide "
                                 f"({exact.reason}): a person should look at it")
    if exact.verdict == "differs" and model.abstract \
            and _judge(solution, abstract=False).decide(typed, right).verdict == "holds":
        shown = ", ".join(sorted(model.abstract))
        return verdict("review", f"right if {shown} is the function the numeric check uses, but {shown} is abstract "
                                 f"in this problem (write d{sorted(model.abstract)[0]}(…) for its derivative): a "
                                 f"person should look at it")
    if exact.verdict == "differs":
        return verdict("wrong", exact.reason)
    return verdict("correct")


#: Signs that an answer was typed in LaTeX (\frac, ^{…}, \odot, \top, \bar).
_LATEX = ("\\", "^{", "_{", "$")


def _product_hint(model, section: str, name: str, given: str, shape: tuple) -> str:
    """Where swapping one @ for * (or * for @) gives the right shape: the hint to use the other
    product (⊙ is *, the matrix product is @)."""
    for wrong, right, what in (("@", "*", "use * for the elementwise (Hadamard) product, @ for the matrix product"),
                               ("*", "@", "use @ for the matrix product, * for the elementwise (Hadamard) product")):
        places = [i for i, c in enumerate(given) if c == wrong and given[i - 1:i + 1] != "**"
                  and given[i:i + 2] != "**"]
        for i in places[:8]:
            try:
                typed = type_answer(model, f"{section}.{name}", given[:i] + right + given[i + 1:])
            except DeriveError:
                continue
            if typed.shape == shape:
                return what
    return ""


def _clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


#: Scales of the random values tried when the exact comparison cannot decide: a wrong term too
#: small to see at values near 1 ((sum(b1)/10**6)**999) shows at large ones.
FALLBACK_SCALES = (1e-3, 10.0, 1e3, 1e6)


def _environment(solution: MatrixSolution, seed: int, scale: float = 1.0) -> dict:
    model, derivation, sizes = solution.model, solution.derivation, solution.problem.dims
    backend = NumpyBackend(model.concrete)
    with np.errstate(all="ignore"):
        start = {name: value * scale for name, value in random_values(derivation, seed).items()}
        env = run_forward(model, start, backend, sizes)
        for adjoint in derivation.adjoints:
            env[f"{adjoint.name}:bar"] = evaluate(adjoint.simplified, env, backend, sizes)
    return env


def _numeric_difference(solution, typed: M, right: M, environments, seeds) -> dict | None:
    backend = NumpyBackend(solution.model.concrete)
    sizes = solution.problem.dims
    for env, seed in zip(environments, seeds):
        with np.errstate(all="ignore"):
            ours, theirs = evaluate(right, env, backend, sizes), evaluate(typed, env, backend, sizes)
        ours, theirs = np.broadcast_to(ours, theirs.shape), theirs
        if not np.isfinite(ours).all():
            continue  # the right answer is not defined here (overflow at a large scale): no evidence
        if not np.allclose(theirs, ours, rtol=1e-8, atol=1e-10):
            index = np.unravel_index(np.argmax(np.abs(theirs - ours)), theirs.shape)
            return {"seed": seed, "entry": [int(i) for i in index], "expected": float(ours[index]),
                    "given": float(theirs[index])}
    return None


@dataclass(frozen=True)
class Decision:
    verdict: str  # holds, differs, undecided
    reason: str = ""


class ExactJudge:
    """The exact comparison of typed answers with the derived results on the instantiated sizes:
    the same certified evaluation at random rational points as the proofs (verify.compare), with
    work counted, never timed.  Smooth activations the problem names are concrete (an answer may
    write σ′(z) out as h ⊙ (1 − h)); an abstract one stays abstract unless ``abstract`` is False.
    One judge serves every answer file of a class: the symbolic values and the points' memos are
    shared."""

    def __init__(self, solution: MatrixSolution, abstract: bool):
        model, self.sizes = solution.model, solution.problem.dims
        entries = sum(int(np.prod([size_value(d, self.sizes) for d in model.shapes[v]]))
                      for v in model.variables)
        self.too_large = entries > EXACT_ENTRY_LIMIT
        concrete = {k: v for k, v in model.concrete.items() if k not in model.abstract or not abstract}
        self.backend = SympyBackend(concrete, ANSWER_CONCRETE)
        self.solution = solution
        self.values: dict | None = None
        self.points = random_points()

    def _values(self) -> dict:
        if self.values is None:
            model = self.solution.model
            values = run_forward(model, exact_variables(model, self.sizes), self.backend, self.sizes)
            for adjoint in self.solution.derivation.adjoints:
                values[f"{adjoint.name}:bar"] = evaluate(adjoint.simplified, values, self.backend, self.sizes)
            self.values = values
        return self.values

    def decide(self, typed: M, right: M) -> Decision:
        """holds, differs (with the entry), or undecided (with the reason); skipped (holds) where
        the sizes are beyond the exact limit: the numeric comparison has decided then."""
        if self.too_large:
            return Decision("holds")
        try:
            values = self._values()
            given, wanted = evaluate(typed, values, self.backend, self.sizes), evaluate(right, values, self.backend,
                                                                                        self.sizes)
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
            return Decision("undecided", f"the answer cannot be evaluated exactly: {type(exc).__name__}")
        if distinct_nodes([*given, *wanted], ANSWER_SIZE_LIMIT) > ANSWER_SIZE_LIMIT:
            return Decision("undecided", "the answer is too large to compare exactly")
        budget = Budget(ANSWER_SIZE_LIMIT * len(PRECISIONS) * len(self.points) * 2)  # cannot run out
        for index, (ours, theirs) in enumerate(zip(given, wanted)):
            decision = compare(ours, theirs, self.points, budget)
            if decision.verdict == "differs":
                return Decision("differs", f"differs from the derived result exactly at entry {index}")
            if decision.verdict == "undecided":
                return Decision("undecided", decision.reason)
        return Decision("holds")


#: Most distinct sub-expressions of an answer and its derived result on the instantiated sizes
#: for the exact comparison (its work is at most this × points × precisions): counted, never timed.
ANSWER_SIZE_LIMIT = 50_000

_JUDGES: dict = {}


def _judge(solution: MatrixSolution, abstract: bool) -> ExactJudge:
    """The judge of ``solution`` (kept for the last few solutions: a class is graded against one)."""
    key = (id(solution), abstract)
    if key not in _JUDGES or _JUDGES[key].solution is not solution:
        if len(_JUDGES) >= 8:
            _JUDGES.clear()
        _JUDGES[key] = ExactJudge(solution, abstract)
    return _JUDGES[key]
