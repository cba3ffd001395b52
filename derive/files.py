"""Writing files safely: every file derive writes is complete or absent, never written through a
link, and gets the mode the umask gives (0666 & ~umask), like any other tool's output.

A file is written to a temporary file with an unpredictable name (``mkstemp``, which creates it
exclusively and so never follows a planted link) in the target folder, then renamed over the
target (``os.replace`` replaces a link itself, never its target).  Targets that are not regular
files (device nodes, FIFOs, folders, links) are refused.  Every OS failure (a read-only folder,
a full disk, ``-o`` an existing file where a folder is expected) becomes one
``cannot write to PATH: reason`` error and leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import ReportError

_HINTS = {"EACCES": "check the folder's permissions or write elsewhere with -o",
          "EPERM": "check the folder's permissions or write elsewhere with -o",
          "EROFS": "write elsewhere with -o", "ENOSPC": "free some space or write elsewhere with -o",
          "EDQUOT": "free some space or write elsewhere with -o"}


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows (no window in which a
    thread would create files with a wrong mode)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: What to do instead, by what stands in the way (never "remove it": it may be the user's work).
_INSTEAD = {"it is a folder": "give a file name inside it, e.g. DIR/name.ext",
            "it is a file, not a folder": "this command writes several files: give a folder",
            "it is not a folder": "this command writes several files: give a folder"}


def _error(path: Path, exc: OSError | str) -> ReportError:
    if isinstance(exc, str):
        return ReportError(f"cannot write to {path}: {exc}", hint=_INSTEAD.get(exc, "write somewhere else"))
    reason = exc.strerror or str(exc)
    reason = reason[:1].lower() + reason[1:]
    return ReportError(f"cannot write to {path}: {reason}", hint=_HINTS.get(errno.errorcode.get(exc.errno, "")))


#: Suffixes that name a file: a new folder called key.pdf is almost surely a mistake.
_FILE_SUFFIXES = frozenset({".pdf", ".tex", ".md", ".csv", ".json", ".toml", ".svg", ".png", ".py", ".txt"})


def ensure_folder(folder: str | Path, output: bool = True) -> Path:
    """``folder`` (created with its parents) or a ReportError saying why it cannot be one;
    ``output``: it is the -o folder of a command that writes several files."""
    folder = Path(folder)
    if output and folder.suffix.lower() in _FILE_SUFFIXES and not folder.is_dir():  # -o key.pdf is a file
        raise ReportError(f"cannot write to {folder}: this command writes several files into a folder, and "
                          f"{folder.name} names a file", hint="give a folder with -o; the files are named after the problem")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise _error(folder, "it is a file, not a folder") from None
    except OSError as exc:
        raise _error(folder, exc) from None
    if not folder.is_dir():
        raise _error(folder, "it is not a folder")
    return folder


def check_stem(stem: str) -> str:
    """A name for files inside an output folder (``stem.tex``): one path component that stays in
    the folder, never ``../x``, an absolute path, a hidden file or something an option parser reads."""
    from .errors import UsageError

    if not isinstance(stem, str):
        raise UsageError(f"stem must be text, not {type(stem).__name__}")
    if (not stem or stem in (".", "..") or stem[0] in ".-" or len(stem) > 200
            or any(c in stem for c in "/\\\0:") or not stem.isprintable()):
        raise UsageError(f"{stem[:80]!r} cannot name a file inside the output folder",
                         hint="a stem is one file name, without '/', '\\' or ':', not starting with '.' or '-'")
    return stem


def _refuse_non_regular(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _error(path, exc) from None
    if stat.S_ISLNK(mode):
        raise _error(path, "it is a symbolic link")
    if stat.S_ISDIR(mode):
        raise _error(path, "it is a folder")
    if not stat.S_ISREG(mode):
        raise _error(path, "it is not a regular file")


#: The files the running command reads (its problem file, its template): never written over.
_INPUTS: contextvars.ContextVar[tuple[tuple[int, int, str], ...]] = contextvars.ContextVar("derive_inputs", default=())


@contextlib.contextmanager
def reading(*paths: str | Path | None, what: str = "input") -> Iterator[None]:
    """While in this block, no file derive writes may be one of ``paths`` (a problem file named
    as the output of ``codegen -o``, a template as the sheet it makes): that write is refused."""
    known = []
    for path in paths:
        if path is None:
            continue
        try:
            info = os.stat(path)
        except (OSError, ValueError):  # not a file (a built-in problem's name): nothing to protect
            continue
        known.append((info.st_dev, info.st_ino, f"{what} {path}"))
    token = _INPUTS.set(_INPUTS.get() + tuple(known))
    try:
        yield
    finally:
        _INPUTS.reset(token)


def _refuse_input(path: Path) -> None:
    try:
        info = os.stat(path)
    except OSError:
        return
    for device, inode, what in _INPUTS.get():
        if (info.st_dev, info.st_ino) == (device, inode):
            raise ReportError(f"cannot write to {path}: it is the {what} this command reads",
                              hint="write the output elsewhere (-o)")


def _write(path: str | Path, fill: Callable[[BinaryIO], None], mode: int | None = None) -> Path:
    path = Path(path)
    ensure_folder(path.parent, output=False)
    _refuse_non_regular(path)
    _refuse_input(path)
    try:
        fd, staged = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise _error(path, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~current_umask() if mode is None else mode)  # mkstemp makes 0600; follow the umask
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
        # No fsync: os.replace after a complete write already means a killed run leaves the old
        # file or the new one; fsync-ing every sheet would only add cost against power loss.
        os.replace(staged, path)
    except OSError as exc:
        Path(staged).unlink(missing_ok=True)
        raise _error(path, exc) from None
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str, mode: int | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path.  ``mode``: the file's mode
    (a private cache's 0600) instead of the one the umask gives."""
    data = text.encode("utf-8")
    return _write(path, lambda handle: handle.write(data), mode)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    return _write(path, lambda handle: handle.write(data))


def copy_file(source: str | Path, path: str | Path, mode: int | None = None) -> Path:
    """Copy ``source`` (a file derive made, e.g. in a scratch folder) to ``path`` atomically."""
    def fill(handle: BinaryIO) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle)

    return _write(path, fill, mode)


def remove_file(path: str | Path) -> bool:
    """Remove a regular file (a link is removed itself, never its target); True if one was removed."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _error(path, exc) from None
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _error(path, exc) from None
    return True
