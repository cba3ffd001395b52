"""Per-student variants of a scalar problem: each student gets their own point (and constants),
a blank worksheet and a key, in PDF and Markdown, plus a manifest.  Same seed, same variants.

Ranges come from the problem file's ``[variants]`` table (``x1 = [1, 4]`` for integers,
``x2 = [0.5, 2.0, 0.5]`` with a step); inputs without a range vary within 2 of their value,
in steps of 1/2.  A value is drawn by its index in the range (never by building the list of values,
which may hold 10^15 of them).  A point where the problem leaves a function's domain is drawn again.

A student's point depends on the seed, the problem and their id only (adding, removing or
reordering students moves no one's point), so two students may share a point on a small grid.

The sheets are built in parallel, one process per core.  Workers die with the parent (even when it
is killed with SIGKILL) and ignore Ctrl-C, SIGTERM and SIGHUP, which the parent handles: it
cancels the sheets not started, lets the running ones finish and rolls the manifest (written
before any sheet) back to the students finished.  One run at a time writes into a folder (a
lock), and a manifest already there that gives a student another point is never overwritten.
"""

from __future__ import annotations

import contextlib
import csv
import io
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
from typing import TYPE_CHECKING

import sympy

from .. import files
from ..errors import DeriveError, DomainError, Interrupted, ProblemError, ReportError, UsageError, VerificationError
from ..functions import FUNCTIONS
from ..problems import Problem, check_moved_point, load_problem
from .roster import (ManifestEntry, Student, anonymous_roster, check_id, in_shard, manifest_csv, parse_shard,
                     read_roster)
from ..scalar.solve import solve_scalar
from ..userfiles import read_text

if TYPE_CHECKING:  # the sheets (Jinja2, TeX) load only when sheets are written: PrairieLearn's
    from ..report import SheetOptions  # runtime draws variants without them

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

    @property
    def written(self) -> dict[str, str]:
        """The values that are not whole as decimals (5/2 as 2.5): ranges are typed in decimals,
        and a student's sheet prints its point as the instructor's problem file would."""
        return {name: text for name, value in self.values.items() if (text := _terminating_decimal(value))}


def _terminating_decimal(value: sympy.Expr) -> str | None:
    """A rational that is not whole and whose decimal expansion ends (denominator 2^a 5^b), written
    out exactly (-1/4 as -0.25); None otherwise."""
    if not value.is_Rational or value.is_Integer:
        return None
    p, q = abs(int(value.p)), int(value.q)
    twos = fives = 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    if q != 1:
        return None
    places = max(twos, fives)
    digits = p * 10 ** places // int(value.q)  # exact: value.q divides 10^places
    return f"{'-' if value < 0 else ''}{digits // 10 ** places}.{digits % 10 ** places:0{places}d}"


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
    if not all(isinstance(x, int) or math.isfinite(x) for x in (low, high, step)):  # float(10**400) overflows
        raise ProblemError(f"{where}: bounds and step must be finite numbers")
    if max(abs(low), abs(high)) > MAX_MAGNITUDE:
        if not explicit:
            raise ProblemError(f"{name} is more than {MAX_MAGNITUDE:.0e} from zero: too far to vary around it",
                               hint=f"give its range in the problem file: [variants] {name} = [low, high]")
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


def variant_seed(seed: int, problem: Problem, student_id: str) -> int:
    """The seed of one student's draws: a function of the run's seed, the problem and the
    student's id only, so adding, removing or reordering students moves no one's point."""
    return random.Random(f"derive:{seed}:{problem.name}:{student_id}").randrange(2**31)


def draw_variants(problem: Problem, count: int, seed: int, digits: int = 3,
                  ids: list[str] | None = None, class_size: int | None = None) -> list[Variant]:
    """One variant per student (``ids``, else s001, s002, ...) whose problem solves, drawn from
    the student's own stream (see variant_seed) and drawn again away from domain errors and
    degenerate points.  Students draw independently: on a small grid two may share a point, and a
    class (``class_size``, of which ``ids`` may be a shard) larger than the grid is refused."""
    grids = ranges(problem)
    ids = ids if ids is not None else [s.id for s in anonymous_roster(count)]
    points = math.prod(grid.count for grid in grids.values())
    size = max(class_size or 0, len(ids))
    if size > points:  # most students would share a point: say so before writing anything
        raise ProblemError(f"the ranges hold only {points} distinct points, fewer than the {size} students",
                           hint="widen the ranges in [variants] (or their steps) or ask for fewer students")
    variants = []
    for student, sid in enumerate(ids, start=1):
        own_seed = variant_seed(seed, problem, sid)
        rng = random.Random(own_seed)
        for _ in range(MAX_DRAWS):
            values = {name: grid.value(rng.randrange(grid.count)) for name, grid in grids.items()}
            try:
                if degenerate(solve_scalar(problem.with_values(values), symbolic_limit=0), digits):
                    continue
            except (DomainError, VerificationError):  # this point is outside a domain: draw again
                continue  # (a parse error or a limit is the problem's, and says so)
            variants.append(Variant(student, own_seed, values))
            break
        else:
            raise ProblemError(f"could not draw a variant for student {sid} that stays inside every function's "
                               f"domain and is not degenerate in {MAX_DRAWS} draws",
                               hint="widen the ranges in [variants]")
    return variants


#: Functions whose printed value may round to 0 or ±1 at a drawn point (the table's ``saturates``).
SATURATING = frozenset(f.name for f in FUNCTIONS.values() if f.saturates)


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
            exact = node.value == 0 and all(solution.trace.by_id[a].value == 0 for a in node.node_args)  # tanh(0)
            if shown in (0.0, 1.0, -1.0) and not exact:
                return f"{node.id} = {node.text} prints as {shown:.{digits}f}"
    return None


def _build(spec: str, variant: Variant, out_dir: str, pdf: bool, options: SheetOptions) -> list[str]:
    """One student's blank sheet and key (run in a worker process)."""
    with files.reading(spec, what="problem file"):
        return _build_sheets(spec, variant, out_dir, pdf, options)


def _build_sheets(spec: str, variant: Variant, out_dir: str, pdf: bool, options: SheetOptions) -> list[str]:
    from ..report import write_report

    solution = solve_scalar(load_problem(spec).with_values(variant.values, variant.written))
    student = options.student or f"student{variant.student:03d}"
    written = []
    for blank in (True, False):
        sheet = replace(options, blank=blank, key=not blank)
        stem = f"{student}-{'blank' if blank else 'key'}"
        for fmt in ("md", "tex", "csv"):
            written += [str(p) for p in write_report(solution, out_dir, fmt, pdf and fmt == "tex", sheet, stem=stem)]
    return written



def _die_with(parent: int) -> None:
    """Worker initializer: killed when the parent dies (Linux), deaf to Ctrl-C, SIGTERM and SIGHUP sent to
    the process group (the parent decides what an interruption means: the sheets being written
    finish, so no half-compiled scratch folder is left behind)."""
    for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):  # a hang-up
        signal.signal(signum, signal.SIG_IGN)  # reaches the whole foreground group, workers too
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


def check_students(students: list[Student]) -> None:
    """Ids become file names: each is a valid id (never ``../x``), and no two differ only in case
    (``Ada`` and ``ada`` name one file on macOS and Windows)."""
    seen: dict[str, str] = {}
    for student in students:
        if not isinstance(student, Student):
            raise UsageError(f"students must be derive.grading.roster.Student objects, not {type(student).__name__}")
        check_id(student.id, "student")
        folded = student.id.casefold()
        if folded in seen:
            same = "twice" if seen[folded] == student.id else f"as '{seen[folded]}' and '{student.id}'"
            raise ProblemError(f"the id '{student.id}' is given {same}: their files would be one file "
                               "on macOS and Windows", hint="every student needs an id of their own, whatever the case")
        seen[folded] = student.id


MANIFEST = "manifest.csv"


def _earlier_manifest(path: Path, names: list[str]) -> dict[str, ManifestEntry]:
    """The entries of a manifest an earlier run left in the folder (empty when there is none)."""
    if not os.path.lexists(path):
        return {}
    rows = list(csv.reader(io.StringIO(read_text(path, "manifest"))))
    if not rows or rows[0] != ["id", "seed", *names]:
        raise ProblemError(f"{path} is the manifest of another problem or of another derive "
                           f"(columns {','.join(rows[0]) if rows else 'none'}, not id,seed,{','.join(names)})",
                           hint="write into another folder (-o): its sheets would not match this manifest")
    return {row[0]: ManifestEntry(row[0], int(row[1]) if row[1].isdigit() else row[1], dict(zip(names, row[2:])))
            for row in rows[1:] if row}


def _disagreements(earlier: dict[str, ManifestEntry], entries: list[ManifestEntry]) -> list[str]:
    return [e.id for e in entries if e.id in earlier and
            [str(earlier[e.id].seed), *map(str, earlier[e.id].values.values())] !=
            [str(e.seed), *map(str, e.values.values())]]


def _manifest(out_dir: Path, earlier: dict[str, ManifestEntry], entries: list[ManifestEntry],
              names: list[str], order: dict[str, int]) -> Path:
    """manifest.csv: this run's students in roster order (workers finish in any order), then the
    students of earlier runs into the same folder whose sheets are still there."""
    ours = {e.id for e in entries}
    kept = [e for e in earlier.values() if e.id not in ours]
    return files.write_text(out_dir / MANIFEST, manifest_csv(sorted(entries, key=lambda e: order[e.id]) + kept, names))


@contextlib.contextmanager
def _folder_lock(out_dir: Path):
    """One variants run at a time per folder: a second one is refused, so two runs cannot leave a
    manifest that disagrees with the sheets."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; runs into one folder are the user's care
        yield
        return
    path = out_dir / ".derive-variants.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise ReportError(f"cannot lock {out_dir}: {exc.strerror or exc}",
                          hint="write into a folder of your own (-o)") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ReportError(f"another derive variants run is writing into {out_dir}",
                              hint="wait for it to finish, or write into another folder (-o)") from None
        yield
    finally:
        os.close(fd)


def write_class_variants(spec: str, count: int | None, roster: str | Path | None, shard: str, seed: int,
                         out_dir: str | Path, pdf: bool, options: SheetOptions, workers: int | None = None,
                         progress=None) -> Path:
    """``derive variants``: the sheets of ``count`` anonymous students (default 30) or of a
    ``roster`` file's (not both), the students of ``shard`` ("K/N") only; ``progress(label, total)``
    is a context manager giving a callable to advance.  Returns the manifest's path."""
    if roster and count:
        raise ProblemError("give --count or --roster, not both", hint="a roster has one sheet per student")
    students = read_roster(roster) if roster else anonymous_roster(count or 30)
    part = parse_shard(shard)
    with (progress or (lambda *_: contextlib.nullcontext()))(
            "sheets", sum(in_shard(i, part) for i in range(len(students)))) as advance:
        return write_variants(spec, len(students), seed, out_dir, pdf, options, workers, progress=advance,
                              students=students, shard=part)


def write_variants(spec: str, count: int, seed: int, out_dir: str | Path, pdf: bool = True,
                   options: SheetOptions | None = None, workers: int | None = None, progress=None,
                   students: list[Student] | None = None, shard: tuple[int, int] = (1, 1)) -> Path:
    """Write every student's sheets and the manifest; returns the manifest's path.

    ``students`` (a roster) names the sheets, else s001, s002, ...; a student's point depends on
    ``seed``, the problem and their id only.  With ``shard`` K/N only the students at 0-based index
    ≡ K−1 (mod N) are written.  The manifest is written before the sheets, and when a sheet fails
    (or the run is interrupted) it is rewritten to list only the students whose sheets were
    written.  A manifest already in the folder that gives one of these students another point is
    never overwritten: the run is refused; one that agrees keeps its other students' lines."""
    from ..report import SheetOptions

    options = SheetOptions() if options is None else options
    problem = load_problem(spec)
    if problem.engine != "scalar":
        raise ProblemError("variants are drawn for scalar problems")
    if not isinstance(options, SheetOptions):
        raise UsageError(f"options must be a SheetOptions, not {type(options).__name__}")
    students = list(students) if students else anonymous_roster(count)
    if not students:
        raise ProblemError("--count must be at least 1")
    check_students(students)
    chosen_students = [s for i, s in enumerate(students) if in_shard(i, shard)]
    variants = draw_variants(problem, len(chosen_students), seed, options.digits, [s.id for s in chosen_students],
                             class_size=len(students))
    for variant in variants:  # a statement that writes the point literally would print the wrong one
        check_moved_point(problem, problem.with_values(variant.values))
    chosen = list(zip(variants, chosen_students))
    names = list(problem.inputs) + [k for k in problem.variants if k in problem.constants]
    names = list(variants[0].values) if variants else names
    order = {s.id: i for i, s in enumerate(students)}
    out_dir = files.ensure_folder(out_dir)
    with _folder_lock(out_dir), files.reading(spec, what="problem file"):
        earlier = _earlier_manifest(out_dir / MANIFEST, names)
        planned = [ManifestEntry(s.id, v.seed, v.values) for v, s in chosen]
        differ = _disagreements(earlier, planned)
        if differ:
            raise ProblemError(f"{out_dir / MANIFEST} gives {len(differ)} of these students other points "
                               f"(first {differ[0]}): another seed, problem or derive version wrote into this folder",
                               hint="write into another folder (-o), or run again with the seed of that manifest")
        _manifest(out_dir, earlier, planned, names, order)  # first: no sheet ever exists without its line
        return _write_sheets(spec, chosen, out_dir, pdf, options, workers, progress, earlier, names, order)


def _write_sheets(spec, chosen, out_dir: Path, pdf: bool, options: SheetOptions, workers, progress,
                  earlier, names, order) -> Path:
    workers = workers or os.cpu_count() or 1
    finished: list[ManifestEntry] = []
    pending: dict = {}
    stop: list[int] = []  # the signals received: Ctrl-C, SIGTERM and SIGHUP are noted, never raised mid-step
    handlers = _note_signals(stop)
    pool = _pool(workers) if workers > 1 else None  # one worker: the sheets are written in this process
    try:
        for v, s in chosen:
            if stop:
                break
            if pool is None:
                _build(spec, v, str(out_dir), pdf, replace(options, student=s.id, student_name=s.name or None))
                finished.append(ManifestEntry(s.id, v.seed, v.values))
                if progress:
                    progress()
                continue
            sheet = replace(options, student=s.id, student_name=s.name or None)
            pending[pool.submit(_build, spec, v, str(out_dir), pdf, sheet)] = ManifestEntry(s.id, v.seed, v.values)
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
    except BaseException as exc:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # sheets being written finish; no new ones start
        for future, entry in pending.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                finished.append(entry)
        path = _manifest(out_dir, earlier, finished, names, order)  # rolled back to the sheets written
        if not isinstance(exc, DeriveError):
            raise
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
    return out_dir / MANIFEST


def _note_signals(stop: list[int]) -> dict:
    """Ctrl-C and SIGTERM append to ``stop`` instead of raising wherever the main thread happens to
    be (between taking a finished sheet off the queue and listing it, say); the loop then stops
    and the manifest lists exactly what was written.  Returns the handlers to put back."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, lambda received, frame: stop.append(received))
            for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM))}
