"""Per-student variants of a scalar problem: each student gets their own point (and constants),
a blank worksheet and a key, in PDF and Markdown, plus a manifest.  Same seed, same variants.

Ranges come from the problem file's ``[variants]`` table (``x1 = [1, 4]`` for integers,
``x2 = [0.5, 2.0, 0.5]`` with a step); inputs without a range vary within 2 of their value,
in steps of 1/2.  A value is drawn by its index in the range (never by building the list of values,
which may hold 10^15 of them).  A point where the problem leaves a function's domain is drawn again.

The sheets are built in parallel, one process per core.  Workers die with the parent (even when it
is killed with SIGKILL) and ignore Ctrl-C, which the parent handles: it cancels the sheets not
started, lets the running ones finish and writes the manifest of the students finished, only.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import signal
import sys
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import sympy

from . import files
from .errors import DeriveError, DomainError, ProblemError, ReportError, VerificationError
from .problems import Problem, check_moved_point, load_problem
from .report import SheetOptions, write_report
from .roster import ManifestEntry, Student, anonymous_roster, in_shard, manifest_csv
from .scalar.solve import solve_scalar

MAX_DRAWS = 200
MAX_MAGNITUDE = 10**12  # largest |low| or |high| of a [variants] range


@dataclass(frozen=True)
class Variant:
    student: int
    seed: int
    values: dict[str, sympy.Expr]

    @property
    def point(self) -> str:
        return ";".join(f"{name}={value}" for name, value in self.values.items())


@dataclass(frozen=True)
class Range:
    """The values low, low + step, ..., up to high: ``count`` of them, drawn by index."""

    low: Fraction
    step: Fraction
    count: int

    def value(self, index: int) -> sympy.Expr:
        return sympy.Rational(self.low + index * self.step)


def _range(name: str, spec, explicit: bool) -> Range:
    low, high, *rest = spec
    step = rest[0] if rest else (1 if all(float(x).is_integer() for x in (low, high)) else 0.1)
    where = f"variants.{name} = {list(spec)}"
    if not all(math.isfinite(float(x)) for x in (low, high, step)):
        raise ProblemError(f"{where}: bounds and step must be finite numbers")
    if explicit and max(abs(low), abs(high)) > MAX_MAGNITUDE:
        raise ProblemError(f"{where}: bounds must lie within ±{MAX_MAGNITUDE:.0e}",
                           hint="a point far from zero overflows most functions")
    low, high, step = (Fraction(str(x)) for x in (low, high, step))
    if step <= 0:
        raise ProblemError(f"{where}: the step must be positive")
    if low > high:
        raise ProblemError(f"{where}: low must not exceed high")
    return Range(low, step, int((high - low) / step) + 1)


def ranges(problem: Problem) -> dict[str, Range]:
    """The values each input (and ranged constant) may take."""
    out = {}
    for name, value in {**problem.inputs, **{k: problem.constants[k] for k in problem.variants
                                            if k in problem.constants}}.items():
        spec = problem.variants.get(name)
        explicit = spec is not None
        if spec is None:  # within 2 of the problem's value, in steps of 1/2
            centre = int(sympy.floor(value))
            spec = (centre - 2, centre + 2, 0.5)
        out[name] = _range(name, spec, explicit)
    return out


def draw_variants(problem: Problem, count: int, seed: int, digits: int = 3) -> list[Variant]:
    """``count`` distinct variants whose problem solves (resampled away from domain errors)."""
    grids = ranges(problem)
    points = math.prod(grid.count for grid in grids.values())
    if count > points:  # no draw can help: say so, rather than blame the domain after 200 tries
        raise ProblemError(f"the ranges hold only {points} distinct points, fewer than the {count} students",
                           hint="widen the ranges in [variants] (or their steps) or ask for fewer students")
    seen: set[tuple] = set()
    variants = []
    for student in range(1, count + 1):
        variant_seed = random.Random(f"derive:{seed}:{student}").randrange(2**31)
        rng = random.Random(variant_seed)
        for _ in range(MAX_DRAWS):
            values = {name: grid.value(rng.randrange(grid.count)) for name, grid in grids.items()}
            key = tuple(values.values())
            if key in seen:
                continue
            try:
                if degenerate(solve_scalar(problem.with_values(values), symbolic_limit=0), digits):
                    continue
            except (DomainError, VerificationError):  # this point is outside a domain: draw again
                continue  # (a parse error or a limit is the problem's, and says so)
            seen.add(key)
            variants.append(Variant(student, variant_seed, values))
            break
        else:
            raise ProblemError(f"could not draw {count} distinct variants that stay inside every function's "
                               f"domain and are not degenerate (stopped at student {student})",
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
        sheet = replace(options, blank=blank, key=not blank)
        stem = f"{student}-{'blank' if blank else 'key'}"
        for fmt in ("md", "tex", "csv"):
            written += [str(p) for p in write_report(solution, out_dir, fmt, pdf and fmt == "tex", sheet, stem=stem)]
    return written


class Interrupted(ReportError):
    """Ctrl-C (SIGINT) or SIGTERM during a variants run: the manifest lists the students finished."""

    exit_code = 130


def _die_with(parent: int) -> None:
    """Worker initializer: killed when the parent dies (Linux), deaf to Ctrl-C and SIGTERM sent to
    the process group (the parent decides what an interruption means: the sheets being written
    finish, so no half-compiled scratch folder is left behind)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above: go now
        os._exit(1)


WORKER_DIED = "a worker process died before its sheets were written"
WORKER_HINT = ("from a script, call write_variants under `if __name__ == '__main__':` (workers are spawned and "
               "import the script again) or pass workers=1; otherwise the system may have run out of memory")


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the workers still alive in a broken pool, so none goes on writing sheets that the
    manifest will not list (the pool keeps its processes in a private table; if that changes,
    they still die with this process)."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        try:
            process.kill()
        except (OSError, AttributeError):
            pass


def _pool(workers: int) -> ProcessPoolExecutor:
    # spawn: workers are the parent's own children (their parent-death signal then fires when it
    # dies; a forkserver's workers would outlive it) and start clean, never forked from a
    # process running the progress bar's thread.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with, initargs=(os.getpid(),))


def _manifest(out_dir: Path, entries: list[ManifestEntry], names: list[str], order: dict[str, int]) -> Path:
    """manifest.csv of the students written, in roster order (workers finish in any order)."""
    return files.write_text(out_dir / "manifest.csv", manifest_csv(sorted(entries, key=lambda e: order[e.id]), names))


def write_variants(spec: str, count: int, seed: int, out_dir: str | Path, pdf: bool = True,
                   options: SheetOptions = SheetOptions(), workers: int | None = None, progress=None,
                   students: list[Student] | None = None, shard: tuple[int, int] = (1, 1)) -> Path:
    """Write every student's sheets and the manifest; returns the manifest's path.

    ``students`` (a roster) names the sheets, else s001, s002, ...; with ``shard`` K/N only the
    students at 0-based index ≡ K−1 (mod N) are written, with the same variants as a whole run.
    When a sheet fails (or the run is interrupted) the manifest lists only the students whose
    sheets were written."""
    problem = load_problem(spec)
    if problem.kind != "scalar":
        raise ProblemError("variants are drawn for scalar problems")
    students = students or anonymous_roster(count)
    if not students:
        raise ProblemError("--count must be at least 1")
    variants = draw_variants(problem, len(students), seed, options.digits)
    for variant in variants:  # a statement that writes the point literally would print the wrong one
        check_moved_point(problem, problem.with_values(variant.values))
    chosen = [(v, s) for i, (v, s) in enumerate(zip(variants, students)) if in_shard(i, shard)]
    names = list(variants[0].values) if variants else []
    order = {s.id: i for i, s in enumerate(students)}
    out_dir = files.ensure_folder(out_dir)
    workers = workers or os.cpu_count() or 1
    finished: list[ManifestEntry] = []
    pending: dict = {}
    stop: list[int] = []  # the signals received: Ctrl-C and SIGTERM are noted, never raised mid-step
    handlers = _note_signals(stop)
    pool = _pool(workers) if workers > 1 else None  # one worker: the sheets are written in this process
    try:
        for v, s in chosen:
            if stop:
                break
            if pool is None:
                _build(spec, v, str(out_dir), pdf, replace(options, student=s.id))
                finished.append(ManifestEntry(s.id, v.seed, v.values))
                if progress:
                    progress()
                continue
            pending[pool.submit(_build, spec, v, str(out_dir), pdf, replace(options, student=s.id))] = \
                ManifestEntry(s.id, v.seed, v.values)
        while pending and not stop:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            for future in done:
                entry = pending.pop(future)
                try:
                    future.result()  # re-raises a worker's error
                except BrokenProcessPool:
                    _kill_workers(pool)  # they ignore SIGTERM, so the pool's own terminate would not stop them
                    if stop:  # the workers died of the same Ctrl-C or SIGTERM (sent to the group)
                        raise Interrupted("interrupted") from None
                    raise ReportError(WORKER_DIED, hint=WORKER_HINT) from None
                finished.append(entry)
                if progress:
                    progress()
        if stop:
            raise Interrupted("interrupted")
    except DeriveError as exc:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # sheets being written finish; no new ones start
        for future, entry in pending.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                finished.append(entry)
        path = _manifest(out_dir, finished, names, order)
        total = len(chosen)
        if isinstance(exc, Interrupted):
            raise Interrupted(f"interrupted: wrote {len(finished)} of {total} students; {path} lists them") from None
        exc.message = f"{exc.message}; wrote {len(finished)} of {total} students, {path} lists them"
        raise exc from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return _manifest(out_dir, finished, names, order)


def _note_signals(stop: list[int]) -> dict:
    """Ctrl-C and SIGTERM append to ``stop`` instead of raising wherever the main thread happens to
    be (between taking a finished sheet off the queue and listing it, say); the loop then stops
    and the manifest lists exactly what was written.  Returns the handlers to put back."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, lambda received, frame: stop.append(received))
            for signum in (signal.SIGINT, signal.SIGTERM)}
