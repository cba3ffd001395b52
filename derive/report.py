"""Solution sheets: fill the Jinja2 templates (sandboxed), write files safely, compile PDFs; and
the other files a solved problem is written to (its graph drawn, its backward pass as NumPy code).

The PDF is compiled by latexmk + pdflatex under the fixed name ``sheet.tex`` in a private scratch
folder (no user-derived name ever reaches a command line), without shell escape, with paranoid
file access and with TeX's caches kept in that folder; the compile is bounded in time and killed
with its whole process group.  The PDF is copied into place only when the compile succeeded; a
failed compile removes the previous PDF (it no longer matches the new .tex) and keeps the log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import files, sandbox, texfigures, texformat
from .errors import Interrupted, ProblemError, ReportError, UsageError, inert
from .render import latex as latex_render
from .render import markdown as markdown_render
from .grading.roster import ID_HINT, STUDENT_ID

FORMATS = ("tex", "md", "json", "csv")
TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-pictures lmodern latexmk"
COMPILE_TIMEOUT = 180  # seconds
TEMPLATE_SIZE = 2**20  # bytes of a user's template


@dataclass(frozen=True)
class SheetOptions:
    """What the user may set on a sheet; None means "from the problem"."""

    digits: int = 3
    diag: bool = False
    blank: bool = False
    hide: frozenset = frozenset()
    title: str | None = None
    author: str | None = None
    course: str | None = None
    date: str | None = None
    numbering: str = "zero"
    order: str = "postorder"
    student: str | None = None  # the id printed on a student's own sheet
    student_name: str | None = None  # the roster's name beside the id
    key: bool = True  # a solution sheet is an answer key and says so on every page (a blank never does)

    def __post_init__(self):
        """A wrong argument is a UsageError (a DeriveError) here, not a crash deep in a template."""
        from .scalar.trace import NUMBERINGS, ORDERS

        if isinstance(self.digits, bool) or not isinstance(self.digits, int) or not 0 <= self.digits <= 15:
            raise UsageError(f"digits must be an integer from 0 to 15, not {self.digits!r}")
        for name in ("diag", "blank", "key"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if not isinstance(self.hide, (set, frozenset)) or not self.hide <= HIDDEN:
            raise UsageError(f"hide must be a set of {', '.join(map(repr, sorted(HIDDEN)))}, not {self.hide!r}")
        for name in ("title", "author", "course", "date", "student", "student_name"):
            check_text(getattr(self, name), name)
        if self.student is not None and not STUDENT_ID.fullmatch(self.student):
            raise UsageError(f"student '{inert(self.student[:80])}' is not a valid student id", hint=ID_HINT)
        if self.numbering not in NUMBERINGS or self.order not in ORDERS:
            raise UsageError(f"numbering must be one of {NUMBERINGS} and order one of {ORDERS}, "
                             f"not {self.numbering!r} and {self.order!r}")


HIDDEN = frozenset({"rules", "expressions"})


def check_text(value, name: str) -> None:
    """``value`` is None or text a sheet can hold: a string that is valid Unicode (a title passed
    in Latin-1 on a UTF-8 terminal reaches Python as lone surrogates) without NUL characters."""
    if value is None:
        return
    if not isinstance(value, str):
        raise UsageError(f"{name} must be text, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"the {name} is not UTF-8 text: {inert(value.encode('utf-8', 'backslashreplace').decode()[:80])}",
                         hint="the terminal passed bytes in another encoding: use a UTF-8 locale, "
                              "or write the text in the problem file") from None
    if "\x00" in value:
        raise UsageError(f"the {name} holds a NUL character")


def _builtin_template(name: str) -> str:
    """A template shipped in the wheel (package derive.templates), or in a source checkout's
    top-level templates/ folder (an editable install does not map that package)."""
    try:
        folder = resources.files("derive.templates")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / "templates"
    return folder.joinpath(name).read_text(encoding="utf-8")


def read_template(path: str | Path) -> str:
    """A user's template file: a regular file of UTF-8 text, at most TEMPLATE_SIZE bytes."""
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would hang or never end
            raise ReportError(f"--template {path}: not a regular file")
        with open(path, "rb") as handle:
            data = handle.read(TEMPLATE_SIZE + 1)
    except FileNotFoundError:
        raise ReportError(f"--template {path}: no such file") from None
    except OSError as exc:
        raise ReportError(f"--template {path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > TEMPLATE_SIZE:
        raise ReportError(f"--template {path}: larger than {TEMPLATE_SIZE // 2**20} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ReportError(f"--template {path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
                          hint="a template is a text file in UTF-8") from None
    if "\x00" in text:
        raise ReportError(f"--template {path}: a binary file (it holds NUL bytes)",
                          hint="a template is a text file in UTF-8")
    return text


def render_sheet(solution, fmt: str, options: SheetOptions = SheetOptions(),
                 template: str | Path | None = None) -> str:
    """The whole sheet of a scalar or matrix solution as text in ``fmt`` (tex, md or json)."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown format '{fmt}'", hint="use one of: " + ", ".join(FORMATS))
    module = latex_render if fmt == "tex" else markdown_render
    settings = dict(vars(options))
    if solution.engine == "matrix" and (fmt == "csv" or (settings["blank"] and fmt == "json")):
        raise ReportError("a matrix problem's blank handout is LaTeX (PDF) or Markdown, not CSV or JSON",
                          hint="students type formulas in the TOML written beside it: see derive check")
    if fmt == "csv":
        from .grading.worksheet import blank_csv

        return blank_csv(solution, key=not settings["blank"], digits=settings["digits"], student=settings["student"])
    if solution.engine == "matrix":
        settings.pop("hide")
        settings.pop("student")
        if fmt == "json":
            from .render.matrix import matrix_json

            return json.dumps(matrix_json(solution), indent=2, ensure_ascii=False) + "\n"
        context = module.matrix_context(solution, **settings)
    else:
        if fmt == "json":
            return solution.to_json() + "\n"
        settings.pop("diag")
        context = module.context(solution, **settings)
    if template is not None:  # a user's template: sandboxed, in a child bounded in time and memory
        return sandbox.render_bounded(fmt, read_template(template), context, str(template))
    sheet = "worksheet" if fmt == "md" and settings.get("blank") and solution.engine == "scalar" else solution.engine
    name = f"{sheet}.{fmt}.j2"
    return sandbox.render(sandbox.compile_template(fmt, _builtin_template(name), name),
                          {**context, "cell": markdown_render.cell}, name)


def write_report(solution, out_dir: str | Path, fmt: str = "tex", pdf: bool = False,
                 options: SheetOptions = SheetOptions(), template: str | Path | None = None,
                 stem: str | None = None, keep_log: bool = False) -> list[Path]:
    """Write the sheet (and with ``pdf`` its compiled PDF); returns the paths written.
    Files are named after the problem (problem1.tex, problem1-blank.pdf) unless ``stem`` is given.
    The compile's .log is kept beside the PDF when the compile fails, or with ``keep_log``."""
    if pdf and fmt != "tex":
        raise ReportError("--pdf makes a PDF from LaTeX", hint="drop --format or use --format tex")
    if not isinstance(options, SheetOptions):
        raise UsageError(f"options must be a SheetOptions, not {type(options).__name__}")
    if stem is not None:  # one name inside out_dir, as the CLI's ids are
        files.check_stem(stem)
    with interrupted_by_signals() if pdf else contextlib.nullcontext():
        # A built-in sheet's pdflatex starts now and loads its format while the sheet is rendered.
        preamble = builtin_preamble(solution.engine, options.blank) if pdf and template is None else None
        try:
            warm = WarmTeX(preamble) if preamble else None
        except OSError:  # no room for a scratch folder: the compile below says so
            warm = None
        try:
            with files.reading(template, what="template"):
                return _write_report(solution, out_dir, fmt, pdf, options, template, stem, keep_log, warm)
        finally:
            if warm is not None:
                warm.close()


class _Signalled(BaseException):
    """Raised by the signal handler: like KeyboardInterrupt, no ``except DeriveError`` on the way
    (a cache that only saves time) can take it for an ordinary failure."""


@contextlib.contextmanager
def interrupted_by_signals():
    """SIGTERM and SIGHUP raise Interrupted here, as Ctrl-C raises KeyboardInterrupt, so that TeX is
    killed and the scratch folders are removed on the way out; by default they would end the
    process where it stands and leave derive-tex-* folders behind.  Only where nobody else
    handles them (a variants worker ignores them: its parent decides)."""
    import threading

    wanted = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    if threading.current_thread() is not threading.main_thread() \
            or any(signal.getsignal(s) is not signal.SIG_DFL for s in wanted):
        yield
        return

    def stop(signum, frame):
        raise _Signalled(signum)

    previous = {s: signal.signal(s, stop) for s in wanted}
    try:
        yield
    except _Signalled as exc:
        raise Interrupted(f"interrupted by {signal.Signals(exc.args[0]).name}; no PDF was written") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _write_report(solution, out_dir, fmt, pdf, options, template, stem, keep_log, warm) -> list[Path]:
    text = with_deep_stack(render_sheet, solution, fmt, options, template)  # fails before anything is written
    out_dir = files.ensure_folder(out_dir)
    stem = stem or f"{solution.problem.name}{'-blank' if options.blank else ''}"
    path = files.write_text(out_dir / f"{stem}.{fmt}", text)
    written = [path]
    if solution.engine == "matrix" and options.blank:  # the handout's answer file, to fill in
        from .grading.answers import answer_template

        written.append(out_dir / f"{stem}.toml")
        files.write_text(written[-1], answer_template(solution))
    if pdf:
        written.append(compile_pdf(path, keep_log=keep_log, warm=warm))
    return written


#: Room for the recursive printers: an expression as deep as --max-depth lets through (the
#: Python parser itself stops near 3,000 levels) prints, instead of meeting Python's own limit.
DEEP_RECURSION = 20_000
DEEP_STACK = 256 * 2**20


def with_deep_stack(call, *args):
    """``call(*args)`` in a thread with a large stack and recursion limit, so that a depth the
    parser's --max-depth hint admitted never meets a second, lower limit in the renderers."""
    import sys
    import threading

    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call(*args)
        except BaseException as exc:  # handed to the calling thread as it is
            outcome["error"] = exc

    try:
        old_stack = threading.stack_size(DEEP_STACK)
    except (ValueError, RuntimeError):  # a platform that cannot: render in this thread
        return call(*args)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, DEEP_RECURSION))
    try:
        worker = threading.Thread(target=run, daemon=True)
        try:
            worker.start()
        finally:
            threading.stack_size(old_stack)
        worker.join()
    except RuntimeError:  # no memory for the stack (a tight address-space limit): this thread
        worker = None
    finally:
        sys.setrecursionlimit(old_limit)
    if worker is None:
        return call(*args)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _tex_environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"openin_any": "p", "openout_any": "p", "shell_escape": "f", "TEXINPUTS": ".:",
                # TeX's caches (fonts made by mktexpk, luatex's cache) and its per-user
                # configuration stay in the scratch folder, never in $HOME/.texlive*.
                "TEXMFVAR": str(scratch / "texmf-var"), "TEXMFCONFIG": str(scratch / "texmf-config"),
                "TEXMFCACHE": str(scratch / "texmf-var")})
    return env


def _limit_cpu() -> None:  # in the TeX process before exec: its children inherit the bound
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (COMPILE_TIMEOUT, COMPILE_TIMEOUT + 5))


def _start_tex(command: list[str], scratch: Path, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    """Start a TeX program in its own process group, in ``scratch``, with its CPU time bounded
    (so even a pdflatex orphaned by a killed derive cannot spin for ever)."""
    return subprocess.Popen(command, cwd=scratch, env=_tex_environment(scratch), stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True, preexec_fn=_limit_cpu)


def _finish_tex(process: subprocess.Popen, feed: str | None = None) -> tuple[int, str]:
    """Wait for a started TeX program (sending ``feed`` on its stdin); it is killed with its whole
    group on timeout or interruption, and afterwards (latexmk may leave a child behind)."""
    try:
        output, _ = process.communicate(feed, timeout=COMPILE_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise ReportError(f"LaTeX did not finish within {COMPILE_TIMEOUT} s") from None
    except BaseException:
        _kill_group(process)
        raise
    _kill_group(process)
    return process.returncode, output


def _run_tex(command: list[str], scratch: Path) -> tuple[int, str]:
    return _finish_tex(_start_tex(command, scratch))


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


#: An error line of pdflatex about the placed drawings (not its "<figures.pdf, page 1>" notes).
_DRAWING_FAILED = re.compile(r"^!.*figures\.pdf", re.MULTILINE)
#: Most pdflatex passes over a sheet compiled with its cached format (latexmk's own default is 5;
#: the built-in sheets settle in one: their tables have fixed column widths).
MAX_PASSES = 3
_PDFLATEX_OPTIONS = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-fmt=sheet"]


class WarmTeX:
    """A pdflatex started on the cached format of the preamble a sheet is expected to have, before
    the sheet is written: it loads the format (TikZ, amsmath, the fonts) while derive renders the
    sheet, then waits on its standard input.  ``compile_pdf`` tells it to go only when the sheet's
    preamble is the one expected; otherwise it is killed and the compile runs as without it.  It
    owns the scratch folder the compile runs in; ``close`` kills it and removes the folder."""

    #: What pdflatex runs first, after loading the format: wait for a line on the terminal (the
    #: go; scroll mode is the one where TeX may read it), then typeset sheet.tex in nonstop mode.
    #: Nothing else is changed (an \endlinechar=-1 here would join every line of the sheet).
    FIRST_LINE = r"\read16to\derivego\nonstopmode\input{sheet.tex}"

    def __init__(self, preamble: str):
        self.preamble, self.process, self.format = preamble, None, None
        self._folder = tempfile.TemporaryDirectory(prefix="derive-tex-")
        self.scratch = Path(self._folder.name)
        pdflatex = shutil.which("pdflatex")
        fmt = texformat.cached_format(preamble, pdflatex, _run_tex) if pdflatex and shutil.which("latexmk") else None
        self.format = fmt
        if fmt is None:
            return
        try:
            shutil.copyfile(fmt, self.scratch / "sheet.fmt")
            self.process = _start_tex([pdflatex, "-no-shell-escape", "-interaction=scrollmode", "-halt-on-error",
                                       "-fmt=sheet", "-jobname=sheet", self.FIRST_LINE],
                                      self.scratch, stdin=subprocess.PIPE)
        except OSError:  # the warm start only saves time
            self.process = None

    def ready_for(self, preamble: str) -> bool:
        return self.process is not None and preamble == self.preamble

    def go(self) -> tuple[int, str]:
        process, self.process = self.process, None
        return _finish_tex(process, "go\n")

    def cancel(self) -> None:
        if self.process is not None:
            _kill_group(self.process)
            self.process = None

    def close(self) -> None:
        self.cancel()
        self._folder.cleanup()


def builtin_preamble(engine: str, blank: bool) -> str | None:
    """The preamble a built-in LaTeX sheet of a scalar or matrix solution (``engine``) will have
    (as split_preamble gives it): the template's lines before \\begin{document}, rendered on their
    own.  None if they cannot be."""
    source = _builtin_template(f"{engine}.tex.j2")
    end = source.find("\n\\begin{document}")
    if end < 0:
        return None
    try:
        head = sandbox.render(sandbox.compile_template("tex", source[:end + 1], engine), {"blank": blank}, engine)
    except ReportError:
        return None
    split = texformat.split_preamble(head + "\\begin{document}\n")
    return split[0] if split else None


def _compile(work: Path, latexmk: str, pdflatex: str, warm: WarmTeX | None = None) -> tuple[int, str]:
    """Run TeX on ``sheet.tex`` in its scratch folder.  With the cached format of its preamble
    (derive/texformat.py), pdflatex runs directly (the first pass on ``warm`` when it was started
    on this preamble), as many passes as its log asks for; without one (a preamble that does not
    dump, no cache folder), latexmk decides the passes.  A built-in sheet's graph pictures come
    from the cache of drawings (derive/texfigures.py), or are put there by a second pdflatex."""
    scratch = work.parent
    split = texformat.split_preamble(work.read_text(encoding="utf-8", errors="replace"))
    warmed = split is not None and warm is not None and warm.ready_for(split[0])
    if warm is not None and not warmed:
        warm.cancel()
    fmt = texformat.cached_format(split[0], pdflatex, _run_tex) if split and not warmed else None
    if not warmed and fmt is None:
        return _latexmk(latexmk, scratch)
    if fmt is not None:
        shutil.copyfile(fmt, scratch / "sheet.fmt")
    figures = texfigures.Figures(split[1], texformat.format_key(split[0], pdflatex)) if warmed else None
    placed = figures.place(scratch) if figures is not None else None
    work.write_text(placed or split[1], encoding="utf-8")
    job = None
    if figures is not None and placed is None and figures.wanted():  # drawn for the cache, beside the sheet
        try:
            (scratch / "figures.tex").write_text(figures.source(), encoding="utf-8")
            job = _start_tex([pdflatex, *_PDFLATEX_OPTIONS, "figures.tex"], scratch)
        except OSError:  # a full disk: the cache only saves time
            job = None
    try:
        returncode, output = _passes(work, pdflatex, warm if warmed else None)
    except BaseException:
        if job is not None:
            _kill_group(job)  # the cache can wait: the sheet's own error (or Ctrl-C) goes first
        raise
    if job is not None:
        try:
            figures.store(scratch / "figures.pdf", _finish_tex(job)[1])
        except ReportError:  # the drawings' own compile timed out: the cache only saves time
            pass
    if placed is not None and returncode != 0 and _DRAWING_FAILED.search(output):  # a cached drawing
        figures.forget()                                                          # that does not serve: redraw
        work.write_text(split[1], encoding="utf-8")
        returncode, output = _passes(work, pdflatex, None)
    if returncode != 0 and texformat.BROKEN_FORMAT.search(output):  # a damaged cached format: drop it
        texformat.forget(warm.format if warmed else fmt)
        work.write_text(split[0] + split[1], encoding="utf-8")  # the whole document again
        return _latexmk(latexmk, scratch)
    return returncode, output


def _latexmk(latexmk: str, scratch: Path) -> tuple[int, str]:
    return _run_tex([latexmk, "-pdf", "-silent", "-interaction=nonstopmode", "-halt-on-error",
                     "-pdflatex=pdflatex -no-shell-escape -interaction=nonstopmode -halt-on-error %O %S",
                     "sheet.tex"], scratch)


def _passes(work: Path, pdflatex: str, warm: WarmTeX | None) -> tuple[int, str]:
    """pdflatex over ``work`` with the format sheet.fmt (the first pass on ``warm`` when given),
    as many passes as its log asks for, at most MAX_PASSES."""
    for n in range(MAX_PASSES):
        if n == 0 and warm is not None:
            returncode, output = warm.go()
        else:
            returncode, output = _run_tex([pdflatex, *_PDFLATEX_OPTIONS, "sheet.tex"], work.parent)
        log = work.with_suffix(".log")
        if returncode != 0 or not texformat.RERUN.search(log.read_text(errors="replace") if log.is_file() else ""):
            break
    return returncode, output


def compile_pdf(tex_path: Path, keep_log: bool = False, warm: WarmTeX | None = None) -> Path:
    """Compile ``tex_path`` with pdflatex (see _compile; in ``warm``'s scratch folder when given);
    the PDF appears beside it only on success.  On failure the previous PDF is removed (it would
    contradict the new .tex) and the log kept."""
    tex_path = Path(tex_path)
    pdf_path, log_path = tex_path.with_suffix(".pdf"), tex_path.with_suffix(".log")
    latexmk, pdflatex = shutil.which("latexmk"), shutil.which("pdflatex")
    if not latexmk or not pdflatex:
        missing = "latexmk" if pdflatex else "pdflatex"
        raise ReportError(f"no TeX engine: {missing} is not installed; the LaTeX source is in {tex_path}"
                          + _removed(pdf_path), hint=f"run 'make setup' or 'apt-get install {TEX_PACKAGES}'")
    try:
        return _compile_in_scratch(tex_path, pdf_path, log_path, latexmk, pdflatex, keep_log, warm)
    except OSError as exc:  # the scratch folder (TMPDIR) is full or unwritable
        raise ReportError(f"cannot compile {tex_path}: {exc.strerror or exc}" + _removed(pdf_path),
                          hint=f"the compile runs in a temporary folder under {tempfile.gettempdir()}: "
                               "free some space there, or point TMPDIR at another folder") from None


def _compile_in_scratch(tex_path: Path, pdf_path: Path, log_path: Path, latexmk: str, pdflatex: str,
                        keep_log: bool, warm: WarmTeX | None) -> Path:
    with contextlib.ExitStack() as stack:
        if warm is None:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="derive-tex-")))
        else:
            scratch = warm.scratch
        work = scratch / "sheet.tex"  # a fixed name: the user's file name never reaches TeX
        shutil.copyfile(tex_path, work)
        log = work.with_suffix(".log")
        try:
            returncode, output = _compile(work, latexmk, pdflatex, warm)
        except ReportError as exc:
            if log.is_file():
                files.copy_file(log, log_path)
            raise ReportError(f"{exc.message}; the source is in {tex_path}" + _removed(pdf_path)) from None
        built = work.with_suffix(".pdf")
        if returncode != 0 or not built.is_file():
            excerpt = log_errors(log.read_text(errors="replace") if log.is_file() else output)
            if "Unable to read an entire line" in output:  # said on the terminal only, not in the log
                excerpt = "a line of the sheet is longer than TeX can read (about 200,000 characters)"
            if log.is_file():
                files.copy_file(log, log_path)
            raise ReportError(f"LaTeX failed on {tex_path}: {excerpt}" + _removed(pdf_path),
                              hint=f"the .tex and its log {log_path.name} were kept; fix it or the template and run again")
        files.copy_file(built, pdf_path)
        if keep_log:
            files.copy_file(log, log_path)
        else:
            files.remove_file(log_path)  # a log of an earlier run would describe another PDF
    return pdf_path


def _removed(pdf_path: Path) -> str:
    return f"; removed the old {pdf_path}, which no longer matched" if files.remove_file(pdf_path) else ""


def log_errors(log: str, context: int = 2) -> str:
    """The first error of a TeX log with the lines after it (where TeX says what it read)."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r".*:\d+: ", line):
            return " | ".join(x.strip() for x in lines[i:i + 1 + context] if x.strip())
    return "see the log: " + " | ".join(lines[-3:])


def write_code(solution, output: str | Path | None) -> Path:
    """A matrix problem's forward and backward pass as a self-contained NumPy module, run at the
    check point before anything is written, then written to ``output`` (default
    outputs/NAME_gradients.py); returns its path."""
    from .matrix.codegen import generate, self_check

    if solution.engine != "matrix":
        raise ProblemError(f"codegen writes matrix problems' backward passes; {solution.problem.name} is scalar",
                           hint="try derive codegen problem2")
    output = Path(output) if output else Path("outputs") / f"{solution.problem.name}_gradients.py"
    source = generate(solution.derivation)
    self_check(solution.derivation, source)
    files.write_text(output, source)
    return output


def write_graph(solution, output: str | Path | None, fmt: str = "svg", adjoint: bool = False) -> Path:
    """The computational graph drawn (scalar problems: or their backpropagation graph, ``adjoint``)
    as dot, svg, png or TikZ, written to ``output`` (default outputs/NAME-graph.FMT); returns its
    path."""
    from .render import graph as graph_render  # Graphviz is looked for only when a graph is drawn

    suffix = "-adjoint" if adjoint else "-graph"
    output = Path(output) if output else Path("outputs") / f"{solution.problem.name}{suffix}.{fmt}"
    if solution.engine == "matrix":
        if adjoint:
            raise ProblemError("--adjoint draws a scalar problem's backpropagation graph",
                               hint="a matrix problem's adjoints are equations: derive solve or report")
        graph_render.check_size(len(solution.model.variables) + len(solution.model.equations))
        tikz = graph_render.matrix_tikz(solution.model) if fmt == "tikz" else ""
        dot = graph_render.matrix_dot(solution.model)
    else:
        graph_render.check_size(len(solution.trace.nodes))
        tikz = graph_render.tikz(solution.trace, adjoint) if fmt == "tikz" else ""
        dot = graph_render.dot_source(solution.trace, adjoint)
    if fmt == "tikz":
        files.write_text(output, tikz + "\n")
    elif fmt == "dot":
        files.write_text(output, dot)
    else:
        files.write_bytes(output, graph_render.render(dot, fmt))
    return output
