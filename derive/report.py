"""Solution sheets: fill the Jinja2 templates (sandboxed), write files safely, compile PDFs.

The PDF is compiled by latexmk + pdflatex under the fixed name ``sheet.tex`` in a private scratch
folder (no user-derived name ever reaches a command line), without shell escape, with paranoid
file access and with TeX's caches kept in that folder; the compile is bounded in time and killed
with its whole process group.  The PDF is copied into place only when the compile succeeded; a
failed compile removes the previous PDF (it no longer matches the new .tex) and keeps the log.
"""

from __future__ import annotations

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

from . import files, sandbox, texformat
from .errors import ReportError
from .render import latex as latex_render
from .render import markdown as markdown_render

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
    if solution.kind == "matrix" and (fmt == "csv" or (settings["blank"] and fmt == "json")):
        raise ReportError("a matrix problem's blank handout is LaTeX (PDF) or Markdown, not CSV or JSON",
                          hint="students type formulas in the TOML written beside it: see derive check")
    if fmt == "csv":
        from .worksheet import blank_csv

        return blank_csv(solution, key=not settings["blank"], digits=settings["digits"], student=settings["student"])
    if solution.kind == "matrix":
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
    kind = "worksheet" if fmt == "md" and settings.get("blank") and solution.kind == "scalar" else solution.kind
    name = f"{kind}.{fmt}.j2"
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
    text = render_sheet(solution, fmt, options, template)  # fails before anything is written
    out_dir = files.ensure_folder(out_dir)
    stem = stem or f"{solution.problem.name}{'-blank' if options.blank else ''}"
    path = files.write_text(out_dir / f"{stem}.{fmt}", text)
    written = [path]
    if solution.kind == "matrix" and options.blank:  # the handout's answer file, to fill in
        from .matrix.answers import answer_template

        written.append(out_dir / f"{stem}.toml")
        files.write_text(written[-1], answer_template(solution))
    if pdf:
        written.append(compile_pdf(path, keep_log=keep_log))
    return written


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


def _run_tex(command: list[str], scratch: Path) -> tuple[int, str]:
    """Run latexmk in its own process group, killed whole on timeout or interruption. Its CPU
    time is bounded too, so even a pdflatex orphaned by a killed derive cannot spin for ever."""
    process = subprocess.Popen(command, cwd=scratch, env=_tex_environment(scratch), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                               start_new_session=True, preexec_fn=_limit_cpu)
    try:
        output, _ = process.communicate(timeout=COMPILE_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise ReportError(f"LaTeX did not finish within {COMPILE_TIMEOUT} s") from None
    except BaseException:
        _kill_group(process)
        raise
    _kill_group(process)  # latexmk may leave a viewer or a stray child behind: none survives
    return process.returncode, output


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


#: Most pdflatex passes over a sheet compiled with its cached format (latexmk's own default is 5;
#: the built-in sheets settle in two: longtable measures its columns in the first).
MAX_PASSES = 3


def _compile(work: Path, latexmk: str, pdflatex: str) -> tuple[int, str]:
    """Run TeX on ``sheet.tex`` in its scratch folder.  With the cached format of its preamble
    (derive/texformat.py), pdflatex runs directly, as many passes as its log asks for; without
    one (a preamble that does not dump, no cache folder), latexmk decides the passes."""
    scratch = work.parent
    split = texformat.split_preamble(work.read_text(encoding="utf-8", errors="replace"))
    fmt = texformat.cached_format(split[0], pdflatex, _run_tex) if split else None
    if fmt is None:
        return _run_tex([latexmk, "-pdf", "-silent", "-interaction=nonstopmode", "-halt-on-error",
                         "-pdflatex=pdflatex -no-shell-escape -interaction=nonstopmode -halt-on-error %O %S",
                         "sheet.tex"], scratch)
    shutil.copyfile(fmt, scratch / "sheet.fmt")
    work.write_text(split[1], encoding="utf-8")
    for _ in range(MAX_PASSES):
        returncode, output = _run_tex([pdflatex, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                                       "-fmt=sheet", "sheet.tex"], scratch)
        log = work.with_suffix(".log")
        if returncode != 0 or not texformat.RERUN.search(log.read_text(errors="replace") if log.is_file() else ""):
            break
    return returncode, output


def compile_pdf(tex_path: Path, keep_log: bool = False) -> Path:
    """Compile ``tex_path`` with pdflatex (see _compile); the PDF appears beside it only on success.
    On failure the previous PDF is removed (it would contradict the new .tex) and the log kept."""
    tex_path = Path(tex_path)
    pdf_path, log_path = tex_path.with_suffix(".pdf"), tex_path.with_suffix(".log")
    latexmk, pdflatex = shutil.which("latexmk"), shutil.which("pdflatex")
    if not latexmk or not pdflatex:
        missing = "latexmk" if pdflatex else "pdflatex"
        raise ReportError(f"no TeX engine: {missing} is not installed; the LaTeX source is in {tex_path}"
                          + _removed(pdf_path), hint=f"run 'make setup' or 'apt-get install {TEX_PACKAGES}'")
    with tempfile.TemporaryDirectory(prefix="derive-tex-") as scratch:
        scratch = Path(scratch)
        work = scratch / "sheet.tex"  # a fixed name: the user's file name never reaches latexmk
        shutil.copyfile(tex_path, work)
        log = work.with_suffix(".log")
        try:
            returncode, output = _compile(work, latexmk, pdflatex)
        except ReportError as exc:
            if log.is_file():
                files.copy_file(log, log_path)
            raise ReportError(f"{exc.message}; the source is in {tex_path}" + _removed(pdf_path)) from None
        built = work.with_suffix(".pdf")
        if returncode != 0 or not built.is_file():
            excerpt = log_errors(log.read_text(errors="replace") if log.is_file() else output)
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
