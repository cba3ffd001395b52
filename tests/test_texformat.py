"""The cached format of a sheet's preamble: split, keyed, built once, and never required."""

import shutil
import subprocess


from derive import texformat

DOC = "\\documentclass{article}\n\\input{glyphtounicode}\n\\pdfgentounicode=1\n\\usepackage{amsmath}\n" \
      "\\begin{document}\n$a^2$\n\\end{document}\n"


def test_split_keeps_the_per_job_lines_in_the_body():
    preamble, body = texformat.split_preamble(DOC)
    assert preamble.startswith("\\documentclass{article}") and "amsmath" in preamble
    assert "glyphtounicode" not in preamble and "pdfgentounicode" not in preamble
    assert body.index("\\pdfgentounicode=1") < body.index("\\begin{document}")
    assert texformat.split_preamble("\\begin{document}x\\end{document}") is None
    assert texformat.split_preamble("no document at all") is None


def test_the_key_follows_the_preamble():
    pdflatex = shutil.which("pdflatex")
    assert texformat.format_key("a", pdflatex) == texformat.format_key("a", pdflatex)
    assert texformat.format_key("a", pdflatex) != texformat.format_key("b", pdflatex)


def _run(command, cwd):
    return subprocess.run(command, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)


def test_a_format_is_built_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    preamble, _ = texformat.split_preamble(DOC)
    pdflatex = shutil.which("pdflatex")
    built = texformat.cached_format(preamble, pdflatex, _run)
    assert built is not None and built.parent == tmp_path / "derive" / "tex" and built.stat().st_size > 0
    calls = []
    assert texformat.cached_format(preamble, pdflatex, lambda c, w: calls.append(c)) == built
    assert calls == []  # reused, not rebuilt


def test_an_unusable_cache_means_no_format(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert texformat.cached_format("\\documentclass{article}\n", shutil.which("pdflatex"), _run) is None


def test_a_preamble_that_does_not_dump_gives_no_format(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert texformat.cached_format("\\documentclass{article}\n\\undefinedmacro\n", shutil.which("pdflatex"),
                                   _run) is None
