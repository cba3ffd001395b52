"""Cached drawings: the graph pictures of a built-in sheet are typeset once and then reused.

TikZ is most of a sheet's typesetting time (about 0.17 s of 0.3 s for Problem 1's two graphs).
The pictures derive draws are self-contained (their styles and macros are in the picture or in
the preamble), so the pictures of a sheet are typeset once per format into a PDF with one page
per picture, kept in the cache folder under a hash of the format, the sheet's per-job lines and
the pictures' source; a later compile of a sheet with the same pictures places those pages with
``\\includegraphics`` instead of running TikZ again (every variant of a problem has the same
graphs).  Pictures are cached on their second compile, so a sheet compiled once (the usual case
for a new problem) pays nothing: the first leaves a mark; the second has them typeset by
another pdflatex beside the sheet's own pass, which draws them itself.  If a pass with cached
pictures fails, the entry is removed and the sheet is compiled with its pictures inline.  Like
the format, the cache only saves time, and trusts nothing it finds (see texformat): an entry is
placed only when it is the user's own and its digest matches; pruning happens only in a folder of
the user's own that is not a link.  Used for built-in sheets only (see report.WarmTeX): a
user's template may draw pictures that depend on macros of its body.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from . import texformat
from .errors import ReportError

PICTURE = re.compile(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.DOTALL)
#: Cached sets kept; beyond this the least recently used are removed.
LIMIT = 400
_PAGES = re.compile(r"Output written on figures\.pdf \((\d+) pages?")


def cache_folder() -> Path | None:
    base = texformat.cache_folder()
    return base / "figures" if base is not None else None


class Figures:
    """The pictures of one sheet body (as texformat.split_preamble gives it) compiled with the
    format of key ``format_key``."""

    def __init__(self, body: str, format_key: str):
        self.body = body
        self.pictures = PICTURE.findall(body)
        self.head = body[:body.find("\\begin{document}")]  # the per-job lines (glyphtounicode)
        digest = hashlib.sha256("\0".join([format_key, self.head, *self.pictures]).encode("utf-8"))
        self.folder = cache_folder()
        self.path = self.folder / f"{digest.hexdigest()[:32]}.pdf" if self.folder else None  # None: no cache

    def place(self, scratch: Path) -> str | None:
        """The body with its pictures replaced by the cached pages (copied into ``scratch`` as
        figures.pdf), or None when there are no pictures or they are not cached."""
        if not self.pictures or not texformat.trusted_folder(self.folder):
            return None
        if not texformat.verified(self.path):  # not cached, not the user's own alone, or not whole
            if texformat.trusted_file(self.path):
                texformat.forget(self.path)  # damaged: drawn again by this sheet, for the cache
            return None
        try:
            shutil.copyfile(self.path, scratch / "figures.pdf")
            os.utime(self.path, follow_symlinks=False)  # recently used: kept when the cache is pruned
        except OSError:
            return None
        pages = iter(range(1, len(self.pictures) + 1))
        return PICTURE.sub(lambda _: rf"\includegraphics[page={next(pages)}]{{figures.pdf}}", self.body)

    def wanted(self) -> bool:
        """Whether to typeset the pictures for the cache now: on their second compile, since the
        first leaves a mark, so a sheet compiled once costs nothing more."""
        if not self.pictures or not texformat.trusted_folder(self.folder) or self.path.is_symlink() \
                or (self.path.exists() and not self.path.is_file()):
            return False  # nothing to draw, no folder of the user's own, or something else sits there
        mark = self.path.with_suffix(".seen")
        try:
            os.close(os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # never through a link
        except FileExistsError:
            return True
        except OSError:
            return False
        _prune(mark.parent)  # marks are bounded too
        return False

    def source(self) -> str:
        """A document (for the sheet's format) with each picture on a page of its own size: the
        box pdflatex ships out is the box the picture makes in the sheet."""
        pages = "".join(rf"\setbox0=\hbox{{{picture}}}" "\n"
                        r"\pdfpagewidth=\wd0 \pdfpageheight=\dimexpr\ht0+\dp0\relax\shipout\box0" "\n"
                        for picture in self.pictures)
        return f"{self.head}\\begin{{document}}\n\\hoffset=-1in \\voffset=-1in\n{pages}\\end{{document}}\n"

    def store(self, built: Path, output: str) -> None:
        """Keep ``built`` (the PDF of ``source()``) when pdflatex wrote one page per picture."""
        pages = _PAGES.search(output)
        if not pages or int(pages.group(1)) != len(self.pictures) or not built.is_file():
            return
        if not texformat.trusted_folder(self.folder):
            return
        try:
            texformat.keep(built, self.path)
            self.path.with_suffix(".seen").unlink(missing_ok=True)
            _prune(self.folder)
        except (OSError, ReportError):
            pass

    def forget(self) -> None:
        texformat.forget(self.path)


def _prune(folder: Path) -> None:
    """Keep the LIMIT most recently used drawing sets, and as many marks (counted apart: sheets
    compiled once must not push real drawings out).  Only in a folder of the user's own that is
    not a link: pruning never removes files somewhere a planted link points."""
    if not texformat.trusted_folder(folder):
        return
    for pattern in ("*.pdf", "*.seen"):
        entries = []
        for path in folder.glob(pattern):
            try:
                entries.append((path.lstat().st_mtime, path))
            except OSError:
                continue
        for _, path in sorted(entries)[:max(0, len(entries) - LIMIT)]:
            if pattern == "*.pdf":
                texformat.forget(path)  # with its digest
                continue
            try:
                path.unlink()
            except OSError:
                pass
