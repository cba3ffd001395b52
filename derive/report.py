"""Solution sheets: fill the Jinja2 templates, write files atomically, compile PDFs.

The PDF is compiled by latexmk + pdflatex in a scratch directory, without shell escape and
with paranoid file access, and moved into place (with its .log) only when it succeeded: a
failed run never leaves a truncated or stale PDF behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from .errors import ReportError
from .render import latex as latex_render
from .render import markdown as markdown_render

FORMATS = ("tex", "md", "json", "csv")
TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-pictures latexmk"
COMPILE_TIMEOUT = 180  # seconds


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


def _environment(fmt: str, loader: jinja2.BaseLoader) -> jinja2.Environment:
    if fmt == "tex":  # delimiters that leave TeX's braces alone
        return jinja2.Environment(
            loader=loader, block_start_string=r"\BLOCK{", block_end_string="}",
            variable_start_string=r"\VAR{", variable_end_string="}",
            comment_start_string=r"\#{", comment_end_string="}",
            line_statement_prefix="%%", line_comment_prefix="%#",
            trim_blocks=True, lstrip_blocks=True, autoescape=False,
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True, autoescape=False,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _builtin_template(name: str) -> str:
    """A template shipped in the wheel (package derive.templates), or in a source checkout's
    top-level templates/ folder (an editable install does not map that package)."""
    try:
        folder = resources.files("derive.templates")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / "templates"
    return folder.joinpath(name).read_text(encoding="utf-8")


def load_template(fmt: str, path: str | Path | None = None, kind: str = "scalar") -> jinja2.Template:
    """The built-in template of a format, or a user's own template file."""
    try:
        if path is not None:
            path = Path(path)
            if not path.is_file():
                raise ReportError(f"--template {path}: no such file")
            source = path.read_text(encoding="utf-8")
        else:
            source = _builtin_template(f"{kind}.{fmt}.j2")
        return _environment(fmt, jinja2.BaseLoader()).from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"template {path or fmt}: line {exc.lineno}: {exc.message}") from None


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
    kind = "worksheet" if fmt == "md" and settings.get("blank") and solution.kind == "scalar" else solution.kind
    try:
        return load_template(fmt, template, kind).render(**context, cell=markdown_render.cell)
    except jinja2.UndefinedError as exc:
        raise ReportError(f"template {template or fmt}: {exc.message}") from None


def atomic_write(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(solution, out_dir: str | Path, fmt: str = "tex", pdf: bool = False,
                 options: SheetOptions = SheetOptions(), template: str | Path | None = None,
                 stem: str | None = None) -> list[Path]:
    """Write the sheet (and with ``pdf`` its compiled PDF); returns the paths written.
    Files are named after the problem (problem1.tex, problem1-blank.pdf) unless ``stem`` is given."""
    if pdf and fmt != "tex":
        raise ReportError("--pdf makes a PDF from LaTeX", hint="drop --format or use --format tex")
    text = render_sheet(solution, fmt, options, template)  # fails before anything is written
    out_dir = Path(out_dir)
    stem = stem or f"{solution.problem.name}{'-blank' if options.blank else ''}"
    path = out_dir / f"{stem}.{fmt}"
    atomic_write(path, text)
    written = [path]
    if solution.kind == "matrix" and options.blank:  # the handout's answer file, to fill in
        from .matrix.answers import answer_template

        written.append(out_dir / f"{stem}.toml")
        atomic_write(written[-1], answer_template(solution))
    if pdf:
        written.append(compile_pdf(path))
    return written


def _tex_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"openin_any": "p", "openout_any": "p", "shell_escape": "f", "TEXINPUTS": ".:"})
    return env


def compile_pdf(tex_path: Path) -> Path:
    """Compile ``tex_path`` with latexmk/pdflatex; the PDF appears beside it only on success."""
    latexmk, pdflatex = shutil.which("latexmk"), shutil.which("pdflatex")
    if not latexmk or not pdflatex:
        missing = "latexmk" if pdflatex else "pdflatex"
        raise ReportError(f"no TeX engine: {missing} is not installed; the LaTeX source is in {tex_path}",
                          hint=f"run 'make setup' or 'apt-get install {TEX_PACKAGES}'")
    pdf_path = tex_path.with_suffix(".pdf")
    with tempfile.TemporaryDirectory(prefix="derive-tex-") as scratch:
        work = Path(scratch) / tex_path.name
        shutil.copyfile(tex_path, work)
        command = [latexmk, "-pdf", "-silent", "-interaction=nonstopmode", "-halt-on-error",
                   "-pdflatex=pdflatex -no-shell-escape -interaction=nonstopmode -halt-on-error %O %S",
                   work.name]
        try:
            result = subprocess.run(command, cwd=scratch, env=_tex_environment(), capture_output=True,
                                    text=True, errors="replace", timeout=COMPILE_TIMEOUT,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ReportError(f"LaTeX did not finish within {COMPILE_TIMEOUT} s; the source is in {tex_path}") from None
        built = work.with_suffix(".pdf")
        if result.returncode != 0 or not built.is_file():
            log = work.with_suffix(".log")
            excerpt = log_errors(log.read_text(errors="replace") if log.is_file() else result.stdout)
            raise ReportError(f"LaTeX failed on {tex_path}: {excerpt}",
                              hint="the .tex file was kept; fix it or the template and run again")
        staged = pdf_path.with_name(f".{pdf_path.name}.part")
        shutil.copyfile(built, staged)
        os.replace(staged, pdf_path)
        shutil.copyfile(work.with_suffix(".log"), tex_path.with_suffix(".log"))  # for overfull-box hunting
    return pdf_path


def log_errors(log: str, context: int = 2) -> str:
    """The first error of a TeX log with the lines after it (where TeX says what it read)."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r".*:\d+: ", line):
            return " | ".join(x.strip() for x in lines[i:i + 1 + context] if x.strip())
    return "see the log: " + " | ".join(lines[-3:])
