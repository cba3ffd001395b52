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
import sympy

from ..errors import DeriveError, ProblemError, ShapeError, did_you_mean
from ..timing import TimedOut, time_limit
from ..userfiles import read_text
from .expr import size_value
from .evaluate import ANSWER_CONCRETE, NumpyBackend, SympyBackend, evaluate, run_forward
from .expr import M
from .shapes import shape_text, type_answer
from .solve import MatrixSolution
from .verify import EXACT_ENTRY_LIMIT, exact_variables, random_values

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
    lines = [f"# {solution.problem.title or solution.problem.name}: your answers, one formula each, checked",
             "# by meaning with 'derive check'. Write adjoints as <name>_bar, σ′ as dsigma, transposes as .T,",
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
        shape = model.shapes[name]
        want = text(right)
        if not answers.get(key, "").strip():  # absent, or left empty in the template
            if not right.is_const:  # L̄ = 1, R̄ = 1 go without saying
                items.append(AnswerVerdict(section, name, "", want, "missing", "no answer given"))
            continue
        given = answers[key]
        try:
            typed = type_answer(model, f"{section}.{name}", given)
        except ShapeError as exc:
            items.append(AnswerVerdict(section, name, given, want, "shape", str(exc)))
            continue
        except DeriveError as exc:
            items.append(AnswerVerdict(section, name, given, want, "invalid", str(exc)))
            continue
        if typed.shape != shape:
            hint = " (it is the transpose of the right shape: a transpose is missing)" \
                if typed.shape == (shape[1], shape[0]) else ""
            items.append(AnswerVerdict(section, name, given, want, "shape",
                                       f"the answer is {shape_text(typed.shape)}, the adjoint of {name} is "
                                       f"{shape_text(shape)}{hint}"))
            continue
        counterexample = _numeric_difference(solution, typed, right, environments, seeds)
        if counterexample:
            items.append(AnswerVerdict(section, name, given, want, "wrong",
                                       f"not equal to {want}: they differ at random values (seed "
                                       f"{counterexample['seed']}, entry {counterexample['entry']})",
                                       counterexample))
            continue
        exact = _exact_difference(solution, typed, right)
        if exact == UNDECIDED:  # a timeout is never a pass: random points at other scales, then a person
            counterexample = _numeric_difference(solution, typed, right, [
                _environment(solution, seed, scale) for seed in seeds for scale in FALLBACK_SCALES],
                [seed for seed in seeds for _ in FALLBACK_SCALES])
            if counterexample:
                items.append(AnswerVerdict(section, name, given, want, "wrong",
                                           f"not equal to {want}: they differ at random values (seed "
                                           f"{counterexample['seed']}, entry {counterexample['entry']})",
                                           counterexample))
            else:
                items.append(AnswerVerdict(section, name, given, want, "review",
                                           f"equal to {want} at random values, but the exact comparison took "
                                           f"longer than {EXACT_TIMEOUT:g} s: a person should look at it"))
            continue
        if exact and solution.model.abstract and not _exact_difference(solution, typed, right, abstract=False):
            shown = ", ".join(sorted(solution.model.abstract))
            items.append(AnswerVerdict(section, name, given, want, "review",
                                       f"right if {shown} is the function the numeric check uses, but {shown} is "
                                       f"abstract in this problem (write d{sorted(solution.model.abstract)[0]}(…) "
                                       f"for its derivative): a person should look at it"))
            continue
        if exact:
            items.append(AnswerVerdict(section, name, given, want, "wrong", exact))
            continue
        items.append(AnswerVerdict(section, name, given, want, "correct"))
    return AnswerCheck(items)


#: Time for the exact comparison of one answer; past it the verdict is numeric or "review".
EXACT_TIMEOUT = 10.0
#: What _exact_difference returns when it could not decide in time.
UNDECIDED = "undecided"
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


def _exact_difference(solution, typed: M, right: M, abstract: bool = True) -> str | None:
    """Exact comparison on the instantiated sizes (skipped, silently, where too large).  Smooth
    activations the problem names are concrete (an answer may write σ′(z) out as h ⊙ (1 − h));
    an abstract one stays abstract unless ``abstract`` is False."""
    model, sizes = solution.model, solution.problem.dims
    entries = sum(int(np.prod([size_value(d, sizes) for d in model.shapes[v]]))
                  for v in model.variables)
    if entries > EXACT_ENTRY_LIMIT:
        return None
    env = exact_variables(model, sizes)
    concrete = {k: v for k, v in model.concrete.items() if k not in model.abstract or not abstract}
    backend = SympyBackend(concrete, ANSWER_CONCRETE)
    try:
        with time_limit(EXACT_TIMEOUT):
            values = run_forward(model, env, backend, sizes)
            for adjoint in solution.derivation.adjoints:
                values[f"{adjoint.name}:bar"] = evaluate(adjoint.simplified, values, backend, sizes)
            difference = evaluate(typed, values, backend, sizes) - evaluate(right, values, backend, sizes)
            for index, entry in enumerate(difference):
                if sympy.expand(entry) != 0 and sympy.simplify(entry) != 0:
                    return f"differs from the derived result exactly at entry {index}"
    except (TimedOut, RecursionError):
        return UNDECIDED
    return None
