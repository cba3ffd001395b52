"""A precompiled TeX format of a sheet's preamble, so a sheet compiles in one pdflatex run that
does not load TikZ, amsmath and the fonts again.

The format is built once per preamble and TeX installation (the pdflatex binary: a format only
loads in the engine that dumped it) and kept in the user's cache folder
(``$XDG_CACHE_HOME/derive/tex`` or ``~/.cache/derive/tex``).  Building and using it run under
the same paranoid settings as any compile; the caller supplies the process runner.  When
anything about the cache fails, the caller compiles without it: the cache only saves time.

The cache trusts nothing it finds: its folders and files are used only when they are the user's
own (owner, not a link, writable by nobody else), and a format only when it has the SHA-256
written beside it when it was built (a truncated or empty one, which pdflatex refuses with
"Could not undump", is dropped and built again).  A relative ``XDG_CACHE_HOME`` is ignored, as
the XDG specification says, and an empty ``HOME`` never puts the cache at ``/``.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import files
from .errors import DeriveError

_BEGIN = re.compile(r"^\\begin\{document\}", re.MULTILINE)
#: Preamble lines that must run in every job: pdfTeX does not dump its glyph-to-Unicode table.
_PER_JOB = re.compile(r"glyphtounicode|\\pdfgentounicode")
#: What pdflatex says when a format file is damaged (then it is dropped and rebuilt next time).
BROKEN_FORMAT = re.compile(r"Fatal format file error|Could not undump")
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


def _home() -> Path | None:
    """The user's home folder: $HOME when it is an absolute path, else the password database's."""
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home):
        try:
            import pwd

            home = pwd.getpwuid(os.geteuid()).pw_dir
        except (ImportError, KeyError, OSError):
            return None
    return Path(home) if os.path.isabs(home) and str(Path(home)) != Path(home).anchor else None


def cache_folder() -> Path | None:
    """derive's TeX cache, or None when the user has no cache folder (no home but ``/``)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is invalid and is ignored
        home = _home()
        if home is None:
            return None
        base = home / ".cache"
    return Path(base) / "derive" / "tex"


def _own(info: os.stat_result) -> bool:
    return (not hasattr(os, "geteuid") or info.st_uid == os.geteuid()) and not info.st_mode & 0o022


def trusted_folder(folder: Path | None) -> bool:
    """Create ``folder`` (mode 0700) if needed; whether it and derive's folders above it (up to the
    ``derive`` one in the cache base) are real folders of the user's own, writable by nobody else."""
    if folder is None:
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        top = next((p for p in (folder, *folder.parents) if p.name == "derive"), folder)
        for path in (folder, *folder.parents):
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or not _own(info):
                return False
            if path == top:
                return True
    except OSError:
        return False
    return False


def trusted_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a link) of the user's own, writable by nobody else."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and _own(info)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keep(built: Path, target: Path) -> None:
    """Put ``built`` in the cache as ``target`` (mode 0600, atomic: a concurrent build writes the
    same bytes), with its SHA-256 beside it for verified()."""
    digest = _digest(built)
    files.copy_file(built, target, mode=0o600)
    files.write_text(target.with_suffix(".sha256"), digest + "\n", mode=0o600)


def verified(target: Path) -> bool:
    """Whether a cached file (a format, a drawing) is the user's own and whole: its SHA-256 is the
    one keep() wrote beside it (an empty or truncated format is not)."""
    sidecar = target.with_suffix(".sha256")
    if not (trusted_file(target) and trusted_file(sidecar)):
        return False
    try:
        return sidecar.read_text(encoding="ascii").strip() == _digest(target)
    except (OSError, UnicodeDecodeError):
        return False


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
        if not trusted_folder(folder):
            return None  # no cache folder, or one that is not the user's own alone
        target = folder / f"{format_key(preamble, pdflatex)}.fmt"
        if target.is_symlink() or (target.exists() and not target.is_file()):
            return None  # something else sits there: never built over, never read
        if verified(target):
            return target
        forget(target)  # damaged, truncated, not the user's own, or of a derive without digests
        with tempfile.TemporaryDirectory(prefix="derive-fmt-") as scratch:
            work = Path(scratch)
            (work / "preamble.tex").write_text(preamble + "\\dump\n", encoding="utf-8")
            run([pdflatex, "-ini", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                 "-jobname=sheet", "&pdflatex", "preamble.tex"], work)
            built = work / "sheet.fmt"
            if not built.is_file():
                return None
            keep(built, target)
        return target if verified(target) else None
    except (OSError, DeriveError):  # no cache folder, a full disk, a build that timed out
        return None


def forget(path: Path | None) -> None:
    """Remove a cached file found damaged (and its digest); a link is removed, never followed."""
    if path is None:
        return
    for stale in (Path(path), Path(path).with_suffix(".sha256")):
        try:
            if stale.is_symlink() or stale.is_file():
                stale.unlink()
        except OSError:
            pass
