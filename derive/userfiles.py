"""Reading the files users hand us (worksheets, typed answers): regular files only, bounded in
size, decoded strictly, every failure a :class:`ProblemError` that names the file (and the line).

A FIFO with no writer would block ``open`` for ever and ``/dev/zero`` never ends: the file is
opened non-blocking and checked with ``fstat`` before a byte is read.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from .errors import ProblemError

#: The largest file read, in bytes (a filled worksheet of a 20,000-node problem is ~2 MB).
MAX_FILE_BYTES = 10 * 1024 * 1024


def read_text(path: str | Path, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a regular file of at most ``max_bytes``: UTF-8 (a BOM is dropped) or UTF-16
    with its BOM (what spreadsheets export as "Unicode text")."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ProblemError(f"{path}: cannot read the {what}: not a regular file",
                               hint="give the path of a file (not a folder, device or pipe)")
        if info.st_size > max_bytes:
            raise ProblemError(f"{path}: the {what} is {info.st_size:,} bytes, more than the limit of "
                               f"{max_bytes:,}", hint="a worksheet or answer file is far smaller: is it the right file?")
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:  # the file grew while we read it
        raise ProblemError(f"{path}: the {what} is more than {max_bytes:,} bytes")
    return decode(data, path, what)


def decode(data: bytes, path: str | Path, what: str = "file") -> str:
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n" if encoding != "utf-16" else "\n".encode("utf-16-le")) + 1
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise ProblemError(f"{path}: line {line}: the {what} is not {name} text "
                           f"(byte {exc.start + 1} cannot be decoded)",
                           hint="save it as UTF-8 text (CSV UTF-8 in a spreadsheet)") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ProblemError(f"{path}: line {line}: the {what} holds a NUL character: is it a binary file?",
                           hint="save it as UTF-8 text (CSV UTF-8 in a spreadsheet)")
    return text
