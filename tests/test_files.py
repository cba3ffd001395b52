"""Safe file writing: complete files or none, never through a link, modes from the umask, and one
'cannot write to PATH: reason' error (exit 2) for every way a write can fail."""

import errno
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

import derive
from derive import files
from derive.cli import app
from derive.errors import ReportError

runner = CliRunner()


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_files_follow_the_umask(tmp_path, umask_022):
    # mkstemp makes 0600 files: a co-TA or a web server could not read the sheets.
    result = runner.invoke(app, ["report", "problem1", "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "problem1.md").stat().st_mode) == 0o644
    os.umask(0o027)
    assert stat.S_IMODE(files.write_text(tmp_path / "x.csv", "a\n").stat().st_mode) == 0o640


def test_a_link_is_never_written_through(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "problem1.log").symlink_to(target)
    (tmp_path / ".problem1.pdf.part").symlink_to(target)  # the old fixed temporary name
    with pytest.raises(ReportError, match=r"cannot write to .*problem1.log: it is a symbolic link"):
        files.write_text(tmp_path / "problem1.log", "log")
    files.write_bytes(tmp_path / "problem1.pdf", b"%PDF")  # its temporary file is a fresh, random name
    assert target.read_text() == "keep me" and (tmp_path / "problem1.pdf").read_bytes() == b"%PDF"
    assert files.remove_file(tmp_path / "problem1.log") and target.read_text() == "keep me"


@pytest.mark.parametrize("target, reason", [("fifo", "it is not a regular file"),
                                            ("/proc/version", "cannot write to /proc/version")])
def test_special_files_are_refused(tmp_path, target, reason):
    # (a FIFO stands for a device node: the old code replaced either with a regular file)
    if target == "fifo":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)
    mode = os.stat(target).st_mode
    result = runner.invoke(app, ["graph", "problem1", "--format", "dot", "-o", target])
    assert result.exit_code == 2 and reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "internal error" not in result.stderr
    assert os.stat(target).st_mode == mode  # still what it was, not replaced by a regular file


@pytest.mark.parametrize("command", [["report", "problem1", "--format", "md"],
                                     ["variants", "problem1", "--count", "1", "--no-pdf"]])
def test_output_folder_that_is_a_file(tmp_path, command):
    (tmp_path / "out").write_text("a file")
    result = runner.invoke(app, [*command, "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"cannot write to {tmp_path / 'out'}: it is a file, not a folder" in result.stderr
    assert (tmp_path / "out").read_text() == "a file"


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "sheet.tex"
    path.write_text("old")

    class Full:
        def __init__(self, fd, mode):
            os.close(fd)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fdopen", Full)
    with pytest.raises(ReportError, match="cannot write to .*sheet.tex: no space left on device"):
        files.write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["sheet.tex"]


def test_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    # As root a chmod'ed folder stays writable, so the refusal is simulated where it happens.
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    result = runner.invoke(app, ["report", "problem1", "--format", "md", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert f"cannot write to {tmp_path / 'problem1.md'}: permission denied" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_output_hints_never_say_remove_and_a_file_name_is_not_made_a_folder(tmp_path):
    """`report -o key.pdf` made a folder called key.pdf; `graph -o DIR` hinted "remove it" (the
    user's folder). Both are one line that says what to give instead."""
    from typer.testing import CliRunner

    from derive.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["report", "problem1", "-o", str(tmp_path / "key.pdf")])
    assert result.exit_code == 2 and "names a file" in result.stderr and not (tmp_path / "key.pdf").exists()
    result = runner.invoke(app, ["graph", "problem1", "--format", "dot", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "it is a folder" in result.stderr and "remove" not in result.stderr
    assert "give a file name" in result.stderr


def test_a_single_files_new_parent_folder_may_look_like_a_file_name(tmp_path):
    from typer.testing import CliRunner

    from derive.cli import app

    result = CliRunner().invoke(app, ["graph", "problem1", "--format", "dot", "-o", str(tmp_path / "figs.tex" / "g.dot")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "figs.tex" / "g.dot").is_file()


# -- an output never overwrites an input (issue 19) --------------------------------------------
def _problem_file(folder):
    path = folder / "p.toml"
    path.write_text((Path(derive.__file__).parent / "builtin" / "problem2.toml").read_text())
    return path


@pytest.mark.parametrize("command", [
    lambda p: ["codegen", str(p), "-o", str(p)],
    lambda p: ["graph", str(p), "--format", "dot", "-o", str(p)],
    lambda p: ["codegen", str(p), "-o", str(p.parent / "link.toml")],  # the same file by another name
])
def test_an_output_that_names_the_problem_file_is_refused(tmp_path, command):
    problem = _problem_file(tmp_path)
    os.link(problem, tmp_path / "link.toml")
    before = problem.read_text()
    result = CliRunner().invoke(app, command(problem))
    assert result.exit_code == 2 and "problem file" in result.stderr and len(result.stderr.splitlines()) == 1
    assert problem.read_text() == before


def test_a_sheet_that_would_overwrite_its_template_is_refused(tmp_path):
    template = tmp_path / "problem1.md"  # report -o tmp_path --format md writes problem1.md
    template.write_text("# {{ title }}\n")
    result = CliRunner().invoke(app, ["report", "problem1", "--format", "md", "--template", str(template),
                                      "-o", str(tmp_path)])
    assert result.exit_code == 2 and "template" in result.stderr
    assert template.read_text() == "# {{ title }}\n"


@pytest.mark.parametrize("stem", ["../../x", "/tmp/x", "a/b", "..", ".hidden", "-o", "a\\b"])
def test_a_library_stem_stays_in_the_output_folder(tmp_path, stem):
    from derive.report import write_report

    out = tmp_path / "a" / "b"
    with pytest.raises(derive.UsageError):
        write_report(derive.solve("problem1"), out, "md", stem=stem)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
