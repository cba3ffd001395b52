"""A precompiled TeX format of a sheet's preamble, so a sheet compiles in one pdflatex run that
does not load TikZ, amsmath and the fonts again.

The format is built once per preamble and TeX installation (the pdflatex binary: a format only
loads in the engine that dumped it) and kept in the user's cache folder
(``$XDG_CACHE_HOME/derive/tex`` or ``~/.cache/derive/tex``).  Building and using it run under
the same paranoid settings as any compile; the caller supplies the process runner.  When
anything about the cache fails, the caller compiles without it: the cache only saves time.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import files
from .errors import DeriveError

_BEGIN = re.compile(r"^\\begin\{document\}", re.MULTILINE)
#: Preamble lines that must run in every job: pdfTeX does not dump its glyph-to-Unicode table.
_PER_JOB = re.compile(r"glyphtounicode|\\pdfgentounicode")
#: What pdflatex says when a format file is damaged (then it is dropped and rebuilt next time).
BROKEN_FORMAT = "Fatal format file error"
#: What a log says when another pass would change the output.
RERUN = re.compile(r"Rerun (LaTeX|to get)|Label\(s\) may have changed|Table widths have changed")


def split_preamble(tex: str) -> tuple[str, str] | None:
    """``(preamble, body)`` of a LaTeX document, the per-job lines moved into the body; None
    when the document has no ``\\documentclass`` preamble to precompile."""
    match = _BEGIN.search(tex)
    if not match or "\\documentclass" not in tex[:match.start()]:
        return None
    preamble_lines, per_job = [], []
    for line in tex[:match.start()].splitlines():
        (per_job if _PER_JOB.search(line) else preamble_lines).append(line)
    return "\n".join(preamble_lines) + "\n", "\n".join(per_job) + "\n" + tex[match.start():]


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "derive" / "tex"


def format_key(preamble: str, pdflatex: str) -> str:
    """A name that changes with the preamble and with the engine binary."""
    binary = os.stat(os.path.realpath(pdflatex))
    digest = hashlib.sha256(f"{binary.st_size}:{binary.st_mtime_ns}:{os.path.realpath(pdflatex)}\n"
                            .encode() + preamble.encode("utf-8"))
    return digest.hexdigest()[:32]


def cached_format(preamble: str, pdflatex: str, run: Callable[[list[str], Path], object]) -> Path | None:
    """The cached format of ``preamble``, built now if it is missing; None when it cannot be
    built (the preamble does not dump, or the cache folder is not writable)."""
    try:
        folder = cache_folder()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / f"{format_key(preamble, pdflatex)}.fmt"
        if target.is_symlink() or (target.exists() and not target.is_file()):
            return None  # something else sits there: never built over, never read
        if target.is_file():
            return target
        with tempfile.TemporaryDirectory(prefix="derive-fmt-") as scratch:
            work = Path(scratch)
            (work / "preamble.tex").write_text(preamble + "\\dump\n", encoding="utf-8")
            run([pdflatex, "-ini", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                 "-jobname=sheet", "&pdflatex", "preamble.tex"], work)
            built = work / "sheet.fmt"
            if not built.is_file():
                return None
            files.copy_file(built, target)  # atomic (a concurrent build writes the same bytes), no debris
        return target
    except (OSError, DeriveError):  # no cache folder, a full disk, a build that timed out
        return None


def forget(path: Path | None) -> None:
    """Remove a cached format found damaged."""
    try:
        if path is not None:
            Path(path).unlink()
    except OSError:
        pass
