"""Per-student variants of a scalar problem: each student gets their own point (and constants),
a blank worksheet and a key, in PDF and Markdown, plus a manifest.  Same seed, same variants.

Ranges come from the problem file's ``[variants]`` table (``x1 = [1, 4]`` for integers,
``x2 = [0.5, 2.0, 0.5]`` with a step); inputs without a range vary within 2 of their value,
in steps of 1/2.  A point where the problem leaves a function's domain is drawn again.  The sheets are
built in parallel, one process per core.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import sympy

from .errors import DeriveError, ProblemError
from .problems import Problem, load_problem
from .report import SheetOptions, atomic_write, write_report
from .roster import ManifestEntry, Student, anonymous_roster, in_shard, manifest_csv
from .scalar.solve import solve_scalar

MAX_DRAWS = 200


@dataclass(frozen=True)
class Variant:
    student: int
    seed: int
    values: dict[str, sympy.Expr]

    @property
    def point(self) -> str:
        return ";".join(f"{name}={value}" for name, value in self.values.items())


def _grid(low, high, step) -> list[sympy.Expr]:
    low, high, step = (Fraction(str(x)) for x in (low, high, step))
    count = int((high - low) / step)
    return [sympy.Rational(low + k * step) for k in range(count + 1)]


def ranges(problem: Problem) -> dict[str, list[sympy.Expr]]:
    """The values each input (and ranged constant) may take."""
    out = {}
    for name, value in {**problem.inputs, **{k: problem.constants[k] for k in problem.variants
                                            if k in problem.constants}}.items():
        spec = problem.variants.get(name)
        if spec is None:  # within 2 of the problem's value, in steps of 1/2
            centre = int(sympy.floor(value))
            spec = (centre - 2, centre + 2, 0.5)
        low, high, *rest = spec
        step = rest[0] if rest else (1 if all(float(x).is_integer() for x in (low, high)) else 0.1)
        grid = _grid(low, high, step)
        if not grid:
            raise ProblemError(f"variants.{name}: the range {list(spec)} holds no value")
        out[name] = grid
    return out


def draw_variants(problem: Problem, count: int, seed: int, digits: int = 3) -> list[Variant]:
    """``count`` distinct variants whose problem solves (resampled away from domain errors)."""
    grids = ranges(problem)
    seen: set[tuple] = set()
    variants = []
    for student in range(1, count + 1):
        variant_seed = random.Random(f"derive:{seed}:{student}").randrange(2**31)
        rng = random.Random(variant_seed)
        for _ in range(MAX_DRAWS):
            values = {name: rng.choice(grid) for name, grid in grids.items()}
            key = tuple(values.values())
            if key in seen:
                continue
            try:
                if degenerate(solve_scalar(problem.with_values(values), symbolic_limit=0), digits):
                    continue
            except DeriveError:
                continue
            seen.add(key)
            variants.append(Variant(student, variant_seed, values))
            break
        else:
            raise ProblemError(f"could not draw {count} distinct variants that stay inside every function's "
                               f"domain (stopped at student {student})",
                               hint="widen the ranges in [variants] or ask for fewer students")
    return variants


SATURATING = ("tanh", "sigmoid")


def degenerate(solution, digits: int = 3) -> str | None:
    """Why a drawn point makes a poor exercise, or None: an input (or constant) of 0 that
    [variants] allow_zero does not list; a tanh or σ so saturated that its value prints as 0, 1
    or −1 at the sheet's digits though the exact value is not (its derivative then prints as 0)."""
    problem = solution.problem
    varied = {**problem.inputs, **{k: v for k, v in problem.constants.items() if k in problem.variants}}
    for name, value in varied.items():
        if value == 0 and name not in problem.allow_zero:
            return f"{name} = 0"
    for node in solution.trace.nodes:
        if node.op in SATURATING:
            shown = round(node.value, digits)
            exact = node.op == "tanh" and node.value == 0 and all(
                solution.trace.by_id[a].value == 0 for a in node.node_args)
            if shown in (0.0, 1.0, -1.0) and not exact:
                return f"{node.id} = {node.text} prints as {shown:.{digits}f}"
    return None


def _build(spec: str, variant: Variant, out_dir: str, pdf: bool, options: SheetOptions) -> list[str]:
    """One student's blank sheet and key (run in a worker process)."""
    solution = solve_scalar(load_problem(spec).with_values(variant.values))
    student = options.student or f"student{variant.student:03d}"
    written = []
    for blank in (True, False):
        sheet = replace(options, blank=blank)
        stem = f"{student}-{'blank' if blank else 'key'}"
        for fmt in ("md", "tex", "csv"):
            written += [str(p) for p in write_report(solution, out_dir, fmt, pdf and fmt == "tex", sheet, stem=stem)]
    return written


def write_variants(spec: str, count: int, seed: int, out_dir: str | Path, pdf: bool = True,
                   options: SheetOptions = SheetOptions(), workers: int | None = None, progress=None,
                   students: list[Student] | None = None, shard: tuple[int, int] = (1, 1)) -> Path:
    """Write every student's sheets and the manifest; returns the manifest's path.

    ``students`` (a roster) names the sheets, else s001, s002, ...; with ``shard`` K/N only the
    students at 0-based index ≡ K−1 (mod N) are written, with the same variants as a whole run."""
    problem = load_problem(spec)
    if problem.kind != "scalar":
        raise ProblemError("variants are drawn for scalar problems")
    students = students or anonymous_roster(count)
    if not students:
        raise ProblemError("--count must be at least 1")
    variants = draw_variants(problem, len(students), seed, options.digits)
    chosen = [(v, s) for i, (v, s) in enumerate(zip(variants, students)) if in_shard(i, shard)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_build, spec, v, str(out_dir), pdf, replace(options, student=s.id)) for v, s in chosen]
        for future in futures:
            future.result()  # re-raises a worker's error
            if progress:
                progress()
    return _write_manifest(out_dir, [ManifestEntry(s.id, v.seed, v.values) for v, s in chosen], variants)


def _write_manifest(out_dir: Path, entries: list[ManifestEntry], variants: list[Variant]) -> Path:
    names = list(variants[0].values) if variants else []
    path = out_dir / "manifest.csv"
    atomic_write(path, manifest_csv(entries, names))
    return path
