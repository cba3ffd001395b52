"""The fast compile of a built-in sheet: a pdflatex started on the format while the sheet is
rendered (report.WarmTeX), and graph drawings typeset once and reused (derive/texfigures.py).
Both only save time: the pages they give are the pages of a compile without them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from derive import api, texfigures, texformat
from derive.report import SheetOptions, WarmTeX, builtin_preamble, compile_pdf, render_sheet, write_report


@pytest.fixture(scope="module")
def _module_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _own_cache(_module_cache, monkeypatch):
    """Never the user's ~/.cache: one cache for this module (tests that need a fresh one set theirs)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(_module_cache))


@pytest.fixture(scope="module")
def _compiled_once(tmp_path_factory):
    """A cache after one compile of problem1's sheet from an empty cache (cache/) and that sheet
    (a/problem1.pdf): where the tests of damaged caches start.  Compiled once for the module (a
    cold compile builds the format: seconds); each test damages its own copy (_start_from)."""
    folder = tmp_path_factory.mktemp("compiled-once")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        write_report(api.solve("problem1"), folder / "a", pdf=True)
    return folder


def _start_from(compiled_once: Path, tmp_path: Path, monkeypatch) -> None:
    """This test's own copy of _compiled_once (modes and times kept) as its cache and tmp_path/a."""
    for name in ("cache", "a"):
        shutil.copytree(compiled_once / name, tmp_path / name, symlinks=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _words(pdf: Path) -> list[str]:
    return sorted(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
                  .stdout.split())


def _characters(pdf: Path) -> list[str]:
    """The page's characters, sorted, for comparing two compiles of one sheet: pdftotext reads a
    drawing's labels in its content stream's order and breaks words by gaps, both of which differ
    for a drawing placed from the cache where the pixels (compared with _pages) are the same."""
    return sorted("".join(_words(pdf)))


def _pages(pdf: Path, folder: Path) -> list[np.ndarray]:
    """Each page as a grey image at 50 dpi (pdftoppm's PGM output, read with NumPy)."""
    stem = folder / pdf.stem
    subprocess.run(["pdftoppm", "-gray", "-r", "50", str(pdf), str(stem)], check=True)
    images = []
    for path in sorted(folder.glob(f"{pdf.stem}-*.pgm")):
        magic, size, _, pixels = path.read_bytes().split(b"\n", 3)
        width, height = map(int, size.split())
        images.append(np.frombuffer(pixels, dtype=np.uint8).reshape(height, width))
    return images


@pytest.mark.parametrize("name", ["problem1", "problem2"])
@pytest.mark.parametrize("blank", [False, True])
def test_the_preamble_of_a_builtin_sheet_is_known_before_it_is_rendered(name, blank):
    """WarmTeX is started on this prediction; a wrong one would silently lose the warm start."""
    solution = api.solve(name)
    tex = render_sheet(solution, "tex", SheetOptions(blank=blank))
    assert builtin_preamble(solution.engine, blank) == texformat.split_preamble(tex)[0]


def test_a_builtin_sheet_is_typeset_by_the_engine_started_before_it(tmp_path, monkeypatch):
    went = []
    original = WarmTeX.go
    monkeypatch.setattr(WarmTeX, "go", lambda self: went.append(self) or original(self))
    write_report(api.solve("problem1"), tmp_path, pdf=True)
    assert len(went) == 1 and "Jacobian" in " ".join(_words(tmp_path / "problem1.pdf"))


def test_an_engine_started_on_another_preamble_is_stopped_and_not_used(tmp_path):
    write_report(api.solve("problem1"), tmp_path)
    warm = WarmTeX("\\documentclass{article}\n")
    process = warm.process
    assert process is not None and process.poll() is None  # loaded, waiting for its go
    try:
        compile_pdf(tmp_path / "problem1.tex", warm=warm)
        assert warm.process is None and process.poll() is not None
    finally:
        warm.close()
    assert "Jacobian" in " ".join(_words(tmp_path / "problem1.pdf"))
    assert not warm.scratch.exists()


def test_an_unused_engine_is_killed_and_its_folder_removed():
    warm = WarmTeX(builtin_preamble("scalar", False))
    process = warm.process
    warm.close()
    assert process.poll() is not None and not warm.scratch.exists()


def test_drawings_are_typeset_once_and_give_the_same_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, second = tmp_path / "first", tmp_path / "second"
    write_report(api.solve("problem1"), first, pdf=True)
    assert list(texfigures.cache_folder().glob("*.pdf")) == []  # a sheet compiled once costs nothing more
    assert len(list(texfigures.cache_folder().glob("*.seen"))) == 1
    write_report(api.solve("problem1"), first, pdf=True)  # the second compile typesets them for the cache
    cached = list(texfigures.cache_folder().glob("*.pdf"))
    assert len(cached) == 1  # both graphs, one page each
    info = subprocess.run(["pdfinfo", str(cached[0])], capture_output=True, text=True, check=True).stdout
    assert "Pages:           2" in info
    starts, placed = [], []
    monkeypatch.setattr("derive.report._start_tex", _recording(starts))
    place = texfigures.Figures.place
    monkeypatch.setattr(texfigures.Figures, "place", lambda self, scratch: placed.append(place(self, scratch))
                        or placed[-1])
    write_report(api.solve("problem1"), second, pdf=True)
    assert starts == []  # no pdflatex beside the sheet's
    assert len(placed) == 1 and placed[0].count("\\includegraphics[page=") == 2  # the drawings came from the cache
    assert "tikzpicture" in (second / "problem1.tex").read_text()  # the user's .tex draws them itself
    a, b = (d / "problem1.pdf" for d in (first, second))
    assert _characters(a) == _characters(b)
    pages_a, pages_b = _pages(a, tmp_path), _pages(b, tmp_path / "second")
    assert len(pages_a) == len(pages_b)
    for x, y in zip(pages_a, pages_b):
        assert x.shape == y.shape
        assert np.count_nonzero(np.abs(x.astype(int) - y) > 64) < 0.001 * x.size  # anti-aliasing at most


def _recording(starts):
    from derive import report

    original = report._start_tex

    def start(command, scratch, stdin=subprocess.DEVNULL):
        if command[-1] == "figures.tex":
            starts.append(command)
        return original(command, scratch, stdin)

    return start


def test_a_broken_cached_drawing_is_dropped_and_the_sheet_still_compiles(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for _ in range(2):
        write_report(api.solve("problem1"), tmp_path / "a", pdf=True)
    (cached,) = texfigures.cache_folder().glob("*.pdf")
    cached.write_bytes(b"%PDF-1.5 not really\n")
    write_report(api.solve("problem1"), tmp_path / "b", pdf=True)
    assert _characters(tmp_path / "a" / "problem1.pdf") == _characters(tmp_path / "b" / "problem1.pdf")
    assert not cached.exists() or cached.read_bytes() != b"%PDF-1.5 not really\n"


def test_drawings_are_kept_only_when_every_picture_has_its_page(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    body = "\\begin{document}\n\\begin{tikzpicture}\\draw (0,0)--(1,1);\\end{tikzpicture}\n" * 2
    figures = texfigures.Figures(body, "key")
    assert len(figures.pictures) == 2 and figures.place(tmp_path) is None
    built = tmp_path / "figures.pdf"
    built.write_bytes(b"%PDF")
    figures.store(built, "Output written on figures.pdf (1 page, 900 bytes).")
    assert not figures.path.exists()
    figures.store(built, "Output written on figures.pdf (2 pages, 900 bytes).")
    assert figures.path.exists()
    assert figures.place(tmp_path).count("\\includegraphics[page=") == 2


def test_the_drawing_cache_is_pruned_to_its_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(texfigures, "LIMIT", 3)
    built = tmp_path / "figures.pdf"
    built.write_bytes(b"%PDF")
    for n in range(5):
        texfigures.Figures(f"\\begin{{document}}\\begin{{tikzpicture}}{n}\\end{{tikzpicture}}", "k").store(
            built, "Output written on figures.pdf (1 page, 9 bytes).")
    assert len(list(texfigures.cache_folder().glob("*.pdf"))) == 3
    for n in range(10, 16):  # marks of sheets compiled once are counted apart: they push no drawing out
        assert not texfigures.Figures(f"\\begin{{document}}\\begin{{tikzpicture}}{n}\\end{{tikzpicture}}", "k").wanted()
    assert len(list(texfigures.cache_folder().glob("*.pdf"))) == 3
    assert len(list(texfigures.cache_folder().glob("*.seen"))) == 3


@pytest.mark.parametrize("name", ["problem1", "attention"])
def test_the_fast_compile_gives_the_pages_latexmk_gives(name, builtin, tmp_path, monkeypatch):
    """The warm engine and the cached drawings change nothing on the page: the same words (a
    placed drawing's labels may be read in another order) and pixel for pixel (up to anti-aliasing) what a bare latexmk makes of the same .tex, on the
    first compile, the second (drawings typeset beside the sheet) and the next (from the cache)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    solution = builtin(name)
    for run in ("first", "second", "next"):
        write_report(solution, tmp_path / run, pdf=True)
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sheet.tex").write_text((tmp_path / "first" / f"{name}.tex").read_text())
    subprocess.run(["latexmk", "-pdf", "-silent", "-interaction=nonstopmode", "sheet.tex"], cwd=slow,
                   capture_output=True, check=True)
    reference = _pages(slow / "sheet.pdf", slow)
    assert len(list(texfigures.cache_folder().glob("*.pdf"))) == 1
    for run in ("first", "second", "next"):
        pdf = tmp_path / run / f"{name}.pdf"
        assert _characters(pdf) == _characters(slow / "sheet.pdf"), run
        pages = _pages(pdf, tmp_path / run)
        assert len(pages) == len(reference)
        for x, y in zip(pages, reference):
            assert x.shape == y.shape
            assert np.count_nonzero(np.abs(x.astype(int) - y) > 64) < 0.001 * x.size, run


def test_the_cache_never_writes_through_a_planted_link(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    figures = texfigures.Figures("\\begin{document}\\begin{tikzpicture}x\\end{tikzpicture}", "k")
    figures.path.parent.mkdir(parents=True)
    victim = tmp_path / "victim"
    figures.path.with_suffix(".seen").symlink_to(victim)
    figures.path.symlink_to(victim)
    assert not figures.wanted() and not victim.exists()  # a link where the entry goes: left alone
    figures.path.unlink()
    assert figures.wanted() and not victim.exists()  # the linked mark counts as a mark; nothing is created
    assert figures.place(tmp_path) is None  # a linked entry is never read


def test_a_full_temporary_disk_is_a_report_error_not_a_crash(tmp_path, monkeypatch):
    """Writing into the scratch folder raised OSError (exit 3); it is one ReportError naming TMPDIR."""
    import errno

    import derive.report as report
    from derive.errors import ReportError

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_report(api.solve("problem1"), tmp_path)
    original = report.shutil.copyfile

    def full(source, target, *args, **kwargs):
        if str(target).endswith("sheet.tex"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(source, target, *args, **kwargs)

    monkeypatch.setattr(report.shutil, "copyfile", full)
    with pytest.raises(ReportError, match="No space left on device") as info:
        compile_pdf(tmp_path / "problem1.tex")
    assert "TMPDIR" in info.value.hint


def test_the_drawing_cache_step_failing_only_costs_the_cache(tmp_path, monkeypatch, _compiled_once):
    import derive.report as report

    _start_from(_compiled_once, tmp_path, monkeypatch)  # its compile left the mark
    original = report._start_tex

    def start(command, scratch, stdin=subprocess.DEVNULL):
        if command[-1] == "figures.tex":
            raise OSError(28, "No space left on device")
        return original(command, scratch, stdin)

    monkeypatch.setattr(report, "_start_tex", start)
    write_report(api.solve("problem1"), tmp_path / "b", pdf=True)
    assert _characters(tmp_path / "a" / "problem1.pdf") == _characters(tmp_path / "b" / "problem1.pdf")


def test_a_damaged_cached_format_is_dropped_and_the_sheet_still_compiles(tmp_path, monkeypatch, _compiled_once):
    _start_from(_compiled_once, tmp_path, monkeypatch)
    (fmt,) = texformat.cache_folder().glob("*.fmt")
    fmt.write_bytes(b"garbage")
    write_report(api.solve("problem1"), tmp_path / "b", pdf=True)  # was: "Fatal format file error" on every run
    assert _characters(tmp_path / "a" / "problem1.pdf") == _characters(tmp_path / "b" / "problem1.pdf")
    assert not fmt.exists() or fmt.read_bytes() != b"garbage"


def test_folders_where_cache_files_go_are_left_alone_without_debris(tmp_path, monkeypatch):
    """A folder sitting at a format's or a drawing's path: never built over, no .part files left,
    no rebuild on every compile."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    solution = api.solve("problem1")
    write_report(solution, tmp_path / "a", pdf=True)
    write_report(solution, tmp_path / "a", pdf=True)
    (fmt,) = texformat.cache_folder().glob("*.fmt")
    (drawing,) = texfigures.cache_folder().glob("*.pdf")
    for path in (fmt, drawing):
        path.unlink()
        path.mkdir()
    drawing.with_suffix(".seen").touch()
    for _ in range(2):
        write_report(solution, tmp_path / "b", pdf=True)
    assert "Jacobian" in " ".join(_words(tmp_path / "b" / "problem1.pdf"))
    assert list(texformat.cache_folder().rglob("*.part")) == []
    assert fmt.is_dir() and drawing.is_dir()


def test_the_drawing_key_covers_format_per_job_lines_and_every_picture():
    body = "\\input{glyphtounicode}\n\\begin{document}\\begin{tikzpicture}a\\end{tikzpicture}"
    key = texfigures.Figures(body, "format-1").path
    assert texfigures.Figures(body, "format-2").path != key
    assert texfigures.Figures(body.replace("glyphtounicode", "other"), "format-1").path != key
    assert texfigures.Figures(body.replace("}a\\end", "}b\\end"), "format-1").path != key
    assert texfigures.Figures(body + "\\begin{tikzpicture}c\\end{tikzpicture}", "format-1").path != key
    assert texfigures.Figures(body, "format-1").path == key


def test_only_an_error_about_the_drawings_drops_them():
    """'figures.pdf' appears in every log that places the drawings (<figures.pdf, page 1>); a
    failing sheet once emptied the cache and compiled twice on that alone."""
    from derive.report import _DRAWING_FAILED

    log = "(./sheet.tex <figures.pdf, page 1> <figures.pdf, page 2>\n! Undefined control sequence.\n"
    assert _DRAWING_FAILED.search(log) is None
    assert _DRAWING_FAILED.search("!pdfTeX error: pdflatex (file ./figures.pdf): xpdf: reading PDF image failed")
    assert _DRAWING_FAILED.search("! LaTeX Error: File `figures.pdf' not found.")


# -- caches trust nothing (issue 19) ------------------------------------------------------------
def _first_format(tmp_path, monkeypatch, compiled_once):
    _start_from(compiled_once, tmp_path, monkeypatch)
    (fmt,) = texformat.cache_folder().glob("*.fmt")
    return fmt


@pytest.mark.parametrize("damage", ["truncated", "empty", "truncated with a matching digest"])
def test_a_truncated_or_empty_format_is_rebuilt_not_a_permanent_failure(tmp_path, monkeypatch, damage,
                                                                         _compiled_once):
    fmt = _first_format(tmp_path, monkeypatch, _compiled_once)
    whole = fmt.read_bytes()
    fmt.write_bytes(b"" if damage == "empty" else whole[:100_000])
    if damage.endswith("digest"):  # pdflatex itself says "Could not undump": dropped, not kept for ever
        import hashlib

        fmt.with_suffix(".sha256").write_text(hashlib.sha256(fmt.read_bytes()).hexdigest())
    for run in ("b", "c"):
        write_report(api.solve("problem1"), tmp_path / run, pdf=True)
        assert _characters(tmp_path / "a" / "problem1.pdf") == _characters(tmp_path / run / "problem1.pdf")
    assert texformat.verified(fmt) and fmt.stat().st_size > len(whole) // 2  # built again, whole (a dump
    # made in another minute need not be the same bytes: TeX stamps its formats with the time)


def test_a_format_writable_by_others_or_owned_by_another_user_is_not_used(tmp_path, monkeypatch, _compiled_once):
    import os

    fmt = _first_format(tmp_path, monkeypatch, _compiled_once)
    fmt.chmod(0o666)  # anyone could have replaced it
    assert not texformat.verified(fmt)
    write_report(api.solve("problem1"), tmp_path / "b", pdf=True)
    assert texformat.verified(fmt) and fmt.stat().st_mode & 0o777 == 0o600  # rebuilt, private
    if os.geteuid() == 0:
        os.chown(fmt, 12345, 12345)
        assert not texformat.verified(fmt)
    texformat.cache_folder().chmod(0o777)  # a folder others may write into holds nothing trusted
    assert texformat.cached_format("\\documentclass{article}\n", "/usr/bin/pdflatex", None) is None


def test_pruning_never_follows_a_linked_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(texfigures, "LIMIT", 0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "thesis.pdf").write_bytes(b"%PDF precious")
    texformat.cache_folder().mkdir(parents=True)
    texfigures.cache_folder().symlink_to(elsewhere)
    built = tmp_path / "figures.pdf"
    built.write_bytes(b"%PDF")
    figures = texfigures.Figures("\\begin{document}\\begin{tikzpicture}x\\end{tikzpicture}", "k")
    assert not figures.wanted()
    figures.store(built, "Output written on figures.pdf (1 page, 9 bytes).")
    texfigures._prune(texfigures.cache_folder())
    assert sorted(p.name for p in elsewhere.iterdir()) == ["thesis.pdf"]


def test_a_relative_xdg_cache_home_is_ignored_and_an_empty_home_is_not_the_root(tmp_path, monkeypatch):
    import pwd
    import types

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert texformat.cache_folder() == tmp_path / "home" / ".cache" / "derive" / "tex"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "")
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: types.SimpleNamespace(pw_dir="/"))  # a user whose home is /
    assert texformat.cache_folder() is None
    assert texformat.cached_format("\\documentclass{article}\n", "/usr/bin/pdflatex", None) is None
    assert texfigures.Figures("\\begin{document}\\begin{tikzpicture}x\\end{tikzpicture}", "k").wanted() is False


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_a_terminated_pdf_compile_leaves_no_scratch_folder(tmp_path, signal_name):
    """SIGTERM or SIGHUP ended derive where it stood: derive-tex-* and derive-fmt-* stayed in TMPDIR."""
    import os
    import signal
    import sys
    import time

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # A TeX that is still running when the signal comes, whatever the machine's speed: each TeX
    # program says it started, then works for a minute (the signal decides, not a sleep's length).
    tex = tmp_path / "bin"
    tex.mkdir()
    started = tmp_path / "tex-started"
    for program in ("pdflatex", "latexmk"):
        fake = tex / program
        fake.write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 60\n")
        fake.chmod(0o755)
    process = subprocess.Popen([sys.executable, "-m", "derive", "report", "problem1", "--pdf", "-o", str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(scratch), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                                    "PATH": f"{tex}{os.pathsep}{os.environ['PATH']}"})
    deadline = time.time() + 60
    while not (started.exists() and list(scratch.glob("derive-*"))) and time.time() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the compile ended before it could be interrupted"
    process.send_signal(getattr(signal, signal_name))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and f"interrupted by {signal_name}" in err and len(err.splitlines()) == 1, err
    assert list(scratch.iterdir()) == []
