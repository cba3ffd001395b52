"""Grading platforms: what a student sees on Gradescope (private, at the instructor's feedback
level, never an answer key), who handed a submission in, rosters as LMSs export them, overrides of
review cells, and the gradebook imports of Canvas and Moodle.

Worksheets are filled from the independent key of tests/test_batch.py (SymPy diff of the
assignment's definitions), never from derive's own key; formats are checked against the platforms'
documented fields (Gradescope's autograder specs and submission_metadata.json, Canvas's and
Moodle's gradebook imports).
"""

import csv
import json
import os
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.errors import ProblemError
from derive.grading.grade import CellVerdict, Grade
from derive.grading.gradescope import _shares, results
from derive.grading.batch import Submission
from derive.grading.roster import match_id, read_roster
from test_batch import course, filled_csv, independent_key, manifest_points  # noqa: F401  (a fixture)

runner = CliRunner()
BASE = independent_key(2, 1)  # problem1's own point


def check(*args):
    return runner.invoke(app, ["check", "problem1", *map(str, args)])


def visible_text(data: dict) -> str:
    """Everything of a results.json a student can see (hidden tests are for instructors), with
    Markdown's escapes undone."""
    tests = [t for t in data["tests"] if t.get("visibility") != "hidden"]
    return plain(json.dumps({"output": data.get("output", ""), "tests": tests}, ensure_ascii=False))


def plain(markdown: str) -> str:
    return markdown.replace("\\", "")


# -- what the student sees -----------------------------------------------------------------

def test_another_students_id_and_copying_stay_with_the_instructor(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "work.csv").write_text(filled_csv(independent_key(*points["ada_l"]), "bob.k"))  # ada's sheet as bob's
    out = tmp_path / "results.json"
    result = check(sub, "--manifest", course / "sheets" / "manifest.csv", "--gradescope", out, "--feedback", "full")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    seen = visible_text(data)
    assert "ada_l" not in seen and "another student" not in seen and "copied" not in seen
    hidden = [t for t in data["tests"] if t.get("visibility") == "hidden"]
    assert len(hidden) == 1 and "ada_l" in plain(hidden[0]["output"]) and "score" not in hidden[0]
    assert data["stdout_visibility"] == "hidden"  # the terminal report (stdout) is the instructor's
    assert "ada_l" in result.stdout  # the instructor's own report has everything


@pytest.mark.parametrize("level", ["full", "verdicts", "score", None])
def test_feedback_levels_choose_what_the_student_sees(tmp_path, level):
    sheet = tmp_path / "s.csv"
    expected = BASE[("trace", "", "v8")]
    sheet.write_text(filled_csv(BASE, None, {("trace", "", "v8"): "1.000"}))
    out = tmp_path / "r.json"
    result = check(sheet, "--gradescope", out, *(["--feedback", level] if level else []))
    assert result.exit_code == 1
    data = json.loads(out.read_text())
    trace = data["tests"][0]
    shown = f"{abs(expected):.3f}"
    assert (shown in trace["output"]) == (level == "full")  # the expected value only at full
    assert ("v8" in trace["output"]) == (level != "score")  # the cell and its verdict, not at score
    assert ("wrong" in trace["output"]) == (level != "score")
    assert ("tags" in trace) == (level != "score")
    assert shown in result.stdout  # the instructor's report keeps the expected value at every level


def test_slip_kinds_are_tags_and_a_part_with_full_marks_is_a_passed_test():
    cells = [CellVerdict("trace", "", "v1", "1.5", 1.0, "wrong", "point", "", 0.0),
             CellVerdict("trace", "", "v2", "3.000", 2.0, "wrong", "sign", "", 0.0),
             CellVerdict("forward", "x2", "v2", "3.000", 2.0, "wrong", "carried", "", 1.0),
             CellVerdict("forward", "x2", "v3", "2.000", 2.0, "carried", None, "", 1.0),
             CellVerdict("reverse", "y", "v3", "1", 1.0, "correct", None, "", 1.0)]
    data = results(Submission("s.csv", "s", Grade(cells)), "verdicts")
    by_name = {t["name"]: t for t in data["tests"]}
    assert by_name["trace"]["tags"] == ["point", "sign"] and by_name["trace"]["status"] == "failed"
    assert by_name["forward"]["status"] == "passed" and by_name["forward"]["score"] == by_name["forward"]["max_score"]
    assert by_name["forward"]["tags"] == [] and "wrong" not in by_name["forward"]["output"]
    assert data["output_format"] == "md" and all(t["output_format"] == "md" for t in data["tests"])


@pytest.mark.parametrize("weights", [[1, 1, 1], [1, 2, 4], [3, 3, 1], [1, 1, 1, 1, 1, 1, 1], [0, 0, 0], [0, 1, 0]])
def test_the_tests_maxima_add_up_to_max_score_exactly(weights):
    shares = _shares(weights)
    assert sum(Decimal(str(s)) for s in shares) == Decimal(100)
    fair = weights if sum(weights) else [1] * len(weights)
    assert all(abs(s - 100 * w / sum(fair)) <= 0.01 for s, w in zip(shares, fair))


def test_gradescope_always_writes_results(tmp_path):
    out = tmp_path / "r.json"
    photo = tmp_path / "photo"
    photo.mkdir()
    (photo / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff")
    (photo / "work.pdf").write_bytes(b"%PDF-1.4")
    result = check(photo, "--gradescope", out)
    data = json.loads(out.read_text())
    assert result.exit_code == 2 and data["score"] == 0 and "upload the .csv or .md worksheet" in data["output"]
    assert "work.pdf" in plain(data["output"])

    copies = tmp_path / "copies"
    copies.mkdir()
    (copies / "x.csv").write_text(filled_csv(BASE, None, {("trace", "", "v8"): "1.000"}))
    (copies / "x (1).csv").write_text(filled_csv(BASE, None))
    result = check(copies, "--gradescope", out)
    data = json.loads(out.read_text())
    assert result.exit_code == 0 and data["score"] == 100
    assert "graded x (1).csv" in plain(data["output"]) and "x.csv not graded" in plain(data["output"])

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "work.csv").write_bytes(b"part,pass,node,value,line\ntrace,,v0,\xff\xfe2,\n")
    result = check(broken, "--gradescope", out)
    data = json.loads(out.read_text())
    assert result.exit_code == 2 and data["score"] == 0 and "UTF-8" in data["output"]


# -- who handed it in ------------------------------------------------------------------------

def test_the_submitter_comes_from_gradescopes_metadata(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    autograder = tmp_path / "autograder"
    (autograder / "submission").mkdir(parents=True)
    # ada hands in a sheet that carries bob's id: graded as ada's, at ada's point
    (autograder / "submission" / "work.csv").write_text(filled_csv(independent_key(*points["ada_l"]), "bob.k"))
    metadata = {"id": 1, "created_at": "2026-12-04T10:00:00-08:00", "assignment": {"title": "HW"},
                "users": [{"email": "Ada@Example.org", "id": 1234, "name": "Ada Lovelace"}]}
    (autograder / "submission_metadata.json").write_text(json.dumps(metadata))
    out = autograder / "results" / "results.json"
    result = check(autograder / "submission", "--manifest", course / "sheets" / "manifest.csv",
                   "--roster", course / "roster.csv", "--gradescope", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["score"] == 100
    assert "bob" not in visible_text(data)
    hidden = next(t for t in data["tests"] if t.get("visibility") == "hidden")
    assert "'bob.k'" in plain(hidden["output"]) and "handed in by 'ada_l'" in plain(hidden["output"])


def test_two_files_claiming_one_id_are_both_reported(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "mine.csv").write_text(filled_csv(independent_key(*points["cy-3"]), "cy-3"))
    (subs / "theirs.csv").write_text(filled_csv(independent_key(*points["cy-3"]), "cy-3", drop=5))
    result = check(subs, "--manifest", course / "sheets" / "manifest.csv", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 2 and data["submissions"] == []
    assert len(data["errors"]) == 2 and all("claimed by 2 files" in e["error"] for e in data["errors"])


def test_links_and_a_students_manifest_csv_are_reported_never_graded_in_silence(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    manifest = course / "sheets" / "manifest.csv"
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ada.csv").write_text(filled_csv(independent_key(*points["ada_l"]), "ada_l"))
    key = tmp_path / "key.csv"
    key.write_text(filled_csv(independent_key(*points["bob.k"]), "bob.k"))
    os.symlink(key, subs / "bob.csv")  # a link to the key
    os.symlink(manifest, subs / "cy.csv")  # a link to the manifest
    (subs / "manifest.csv").write_text("just a student's file named manifest.csv\n")
    result = check(subs, "--manifest", manifest, "--json", "--csv", tmp_path / "g.csv")
    data = json.loads(result.stdout)
    assert result.exit_code == 2 and [s["id"] for s in data["submissions"]] == ["ada_l"]
    errors = {e["file"].rsplit("/", 1)[1]: e["error"] for e in data["errors"]}
    assert "symbolic link" in errors["bob.csv"] and "symbolic link" in errors["cy.csv"]
    assert "manifest.csv" in errors and "seed" not in result.stdout.split('"errors"')[0]
    # the instructor's manifest, met in the folder it grades, is named as what it is
    result = check(course / "sheets", "--manifest", manifest, "--json")
    errors = {e["file"].rsplit("/", 1)[1]: e["error"] for e in json.loads(result.stdout)["errors"]}
    assert "input of the run" in errors["manifest.csv"]


# -- one file never stops the class ----------------------------------------------------------

def test_a_bug_on_one_file_is_that_files_line_and_grades_are_still_written(tmp_path, monkeypatch):
    import derive.grading.grade as grade_module

    real = grade_module.grade
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.csv").write_text(filled_csv(BASE, None))
    (subs / "b.csv").write_text(filled_csv(BASE, None, {("trace", "", "v8"): "7.000"}))

    def flaky(solution, answers, **options):
        if any(a.value == "7.000" for a in answers):
            raise OverflowError("(34, 'Numerical result out of range')")
        return real(solution, answers, **options)

    monkeypatch.setattr(grade_module, "grade", flaky)
    result = check(subs, "--csv", tmp_path / "g.csv")
    assert result.exit_code == 2, result.output
    rows = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert [r["id"] for r in rows] == ["a"]
    assert "b.csv: could not be graded: internal error (OverflowError" in result.stderr


def test_a_file_name_that_is_not_utf8_never_exits_3(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    name = os.fsdecode(b"M\xfcller.csv")
    (subs / name).write_text(filled_csv(BASE, None))
    (subs / os.fsdecode(b"bad\xff.csv")).write_text("nothing\n")
    result = check(subs, "--csv", tmp_path / "g.csv", "--json")
    assert result.exit_code == 2, result.output
    rows = list(csv.reader((tmp_path / "g.csv").open(encoding="utf-8")))
    assert rows[1][0] == "M\\xfcller" and rows[1][1] == "100.0"
    single = tmp_path / "one"
    single.mkdir()
    (single / name).write_text(filled_csv(BASE, None))
    result = check(single, "--gradescope", tmp_path / "r.json")
    assert result.exit_code == 0 and json.loads((tmp_path / "r.json").read_text())["score"] == 100


@pytest.mark.parametrize("source", ["fifo", "zero", "huge cell", "field limit"])
def test_rosters_and_manifests_go_through_the_file_checks(tmp_path, source):
    path = tmp_path / "roster.csv"
    if source == "fifo":
        os.mkfifo(path)
    elif source == "zero":
        path = "/dev/zero"
    elif source == "huge cell":
        path.write_text("id,name\nann," + "x" * 20_000 + "\n")
    else:
        path.write_text('id,name\nann,"' + "x" * 200_000 + '"\n')  # over csv's own field limit
    for args in (["check", "problem1", str(tmp_path), "--manifest", str(path)],
                 ["variants", "problem1", "--roster", str(path), "--no-pdf", "-o", str(tmp_path / "out")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output
    with pytest.raises(ProblemError):
        read_roster(path)


def test_outputs_that_name_an_input_are_refused(course, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text((course / "sheets" / "manifest.csv").read_text())
    before = manifest.read_text()
    sheet = tmp_path / "s.csv"
    sheet.write_text(filled_csv(BASE, None))
    result = check(sheet, "--manifest", manifest, "--csv", manifest)
    assert result.exit_code == 2 and "--manifest" in result.stderr and manifest.read_text() == before
    result = check(sheet, "--gradescope", sheet)
    assert result.exit_code == 2 and "graded file" in result.stderr and "part,pass" in sheet.read_text()
    result = check(sheet, "--csv", tmp_path / "g.csv", "--canvas", tmp_path / "g.csv")
    assert result.exit_code == 2 and "--csv" in result.stderr


# -- spreadsheets and terminals -----------------------------------------------------------------

def test_formula_guard_and_inert_names_everywhere(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ada\r=2+5.csv").write_text(filled_csv(BASE, None))
    (subs / "\x1b]0;owned\x07\x1b[2J\u202egpj.csv").write_text("not a worksheet\n")
    result = check(subs, "--csv", tmp_path / "g.csv", "--canvas", tmp_path / "c.csv",
                   "--assignment", '=HYPERLINK("http://x","y")')
    assert result.exit_code == 2
    raw = (tmp_path / "g.csv").read_text()
    assert "\r" not in raw and not any(line.startswith("=") for line in raw.splitlines())
    assert "ada\\r=2+5" in raw
    canvas = list(csv.reader((tmp_path / "c.csv").open()))
    assert canvas[0][-1].startswith("'=")
    assert "\x1b" not in result.output and "\x07" not in result.output and "\u202e" not in result.output
    assert "\\x1b]0;owned\\x07" in result.stderr and "\\u202e" in result.stderr


# -- rosters ------------------------------------------------------------------------------------

def test_canvas_export_and_email_ids_are_rosters(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text('Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (1234)\n'
                      '    Points Possible,,,,,10.00\n'
                      '"Lovelace, Ada",101,00123,ada@uni.edu,Sec 1,9.00\n'
                      '"Student, Test",999,,,Sec 1,\n'
                      '"Hopper, Grace",102,00456,grace@uni.edu,Sec 1,\n')
    students = read_roster(export)
    assert [(s.id, s.name, s.email) for s in students] == [("00123", "Lovelace, Ada", "ada@uni.edu"),
                                                            ("00456", "Hopper, Grace", "grace@uni.edu")]
    emails = tmp_path / "emails.csv"
    emails.write_text("id,name\nada.l+cs@uni.edu,Ada\n")
    assert read_roster(emails)[0].id == "ada.l+cs@uni.edu"
    emails.write_text("id\nAda\nada\n")
    with pytest.raises(ProblemError, match="another case"):
        read_roster(emails)


def test_an_id_that_lost_its_leading_zeros_is_matched_with_a_note(course, tmp_path):
    assert match_id("123", {"00123", "456"}) == ("00123", match_id("123", {"00123"})[1])
    assert "leading zeros" in match_id("123", {"00123"})[1]
    assert match_id("123", {"0123", "00123"})[0] is None  # two candidates: no guess
    manifest = tmp_path / "manifest.csv"
    rows = (course / "sheets" / "manifest.csv").read_text().splitlines()
    manifest.write_text("\n".join([rows[0], rows[1].replace("ada_l", "00123", 1)]) + "\n")
    points = manifest_points(course / "sheets" / "manifest.csv")
    sheet = tmp_path / "s.csv"
    sheet.write_text(filled_csv(independent_key(*points["ada_l"]), "123"))
    result = runner.invoke(app, ["check", "problem1", str(sheet), "--manifest", str(manifest), "--json"])
    assert result.exit_code == 0, result.output
    assert any("'123' was matched to '00123'" in note for note in json.loads(result.stdout)["notes"])


# -- review queue and gradebooks -------------------------------------------------------------

def test_overrides_resolve_review_cells_and_provisional_grades_stay_out_of_gradebooks(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    v3 = BASE[("trace", "", "v3")]
    comma = f"{v3:.3f}".replace(".", ",")
    assert len(comma.split(",")[1]) == 3 and abs(v3) >= 1  # '1,234' could be a thousands separator: review
    (subs / "ada@uni.edu.csv").write_text(filled_csv(BASE, None, {("trace", "", "v3"): comma}))
    (subs / "grace.csv").write_text(filled_csv(BASE, None))
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\nada@uni.edu,Ada,ada@uni.edu\ngrace,Grace,grace@uni.edu\n")
    files = {name: tmp_path / f"{name}.csv" for name in ("g", "c", "m")}
    args = [subs, "--roster", roster, "--csv", files["g"], "--canvas", files["c"], "--moodle", files["m"],
            "--assignment", "HW 1"]
    result = check(*args)
    assert result.exit_code == 0, result.output
    grades = {r["id"]: r for r in csv.DictReader(files["g"].open())}
    assert grades["ada@uni.edu"]["needs_review"] == "1" and grades["grace"]["needs_review"] == "0"
    canvas = list(csv.reader(files["c"].open()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 1"]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "100"
    assert [r[2] for r in canvas[2:]] == ["grace"]  # ada's total is provisional: held out
    assert "provisional" in result.stderr and "ada@uni.edu" in result.stderr
    moodle = list(csv.reader(files["m"].open()))
    assert moodle == [["Email address", "ID number", "HW 1"], ["grace@uni.edu", "grace", "100.0"]]

    overrides = tmp_path / "overrides.csv"
    overrides.write_text(f"id,part,pass,node,credit,note\nada@uni.edu,trace,,v3,1,{comma} is a decimal comma\n")
    result = check(*args, "--overrides", overrides)
    assert result.exit_code == 0, result.output
    grades = {r["id"]: r for r in csv.DictReader(files["g"].open())}
    assert grades["ada@uni.edu"]["needs_review"] == "0" and grades["ada@uni.edu"]["total"] == "100.0"
    moodle = list(csv.reader(files["m"].open()))
    assert ["ada@uni.edu", "ada@uni.edu", "100.0"] in moodle and "provisional" not in result.stderr
    for bad, message in (("ada,trace,,v99,1,", "no cell"), ("ada,trace,,v3,2,", "from 0 to 1")):
        overrides.write_text("id,part,pass,node,credit,note\n" + bad + "\n")
        result = check(*args, "--overrides", overrides)
        assert result.exit_code == 2 and message in result.stderr


def test_gradescope_finds_an_unzipped_folder_and_reports_a_broken_setup(course, tmp_path):
    sub = tmp_path / "submission"
    (sub / "hw1").mkdir(parents=True)
    (sub / "__MACOSX").mkdir()
    (sub / "__MACOSX" / "._work.csv").write_text("resource fork")
    (sub / "hw1" / "work.csv").write_text(filled_csv(BASE, None))
    (tmp_path / "submission_metadata.json").write_text("{not json")
    out = tmp_path / "r.json"
    result = check(sub, "--gradescope", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["score"] == 100 and "submitter is unknown" in plain(data["tests"][-1]["output"])
    (tmp_path / "bad-manifest.csv").write_text("no,manifest\n")
    result = check(sub, "--gradescope", out, "--manifest", tmp_path / "bad-manifest.csv")
    data = json.loads(out.read_text())
    assert result.exit_code == 2 and data["score"] == 0 and "could not grade" in data["output"]


def test_no_file_name_exits_3(tmp_path):
    """A bounded fuzzer over hostile file names (bytes a zip may carry: controls, escapes,
    non-UTF-8, formula starts, bidirectional marks): every batch and every Gradescope run ends in
    0 or 2, with its outputs written."""
    import random

    rng = random.Random(19)
    alphabet = [b"\x1b", b"\r", b"\n", b"\x07", b"\xff", b"\xfc", b"=", b"+", b"-", b"@", b" ", b"(1)", b"'",
                b'"', b",", b"\xe2\x80\xae", b"a", b"7", b".", b"\t", b"%", b"\\"]
    for round_ in range(6):
        subs = tmp_path / f"subs{round_}"
        subs.mkdir()
        for i in range(4):
            name = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) + rng.choice([b".csv", b".md"])
            text = filled_csv(BASE, None) if i % 2 else rng.choice(["", "part,pass,node\n", "\x00", "id,=1\n"])
            try:
                (subs / os.fsdecode(name)).write_text(text)
            except OSError:
                continue
        result = check(subs, "--csv", tmp_path / "g.csv", "--json")
        assert result.exit_code in (0, 2), result.output
        assert (tmp_path / "g.csv").is_file()
        result = check(subs, "--gradescope", tmp_path / "r.json")
        assert result.exit_code in (0, 1, 2), result.output
        assert "score" in json.loads((tmp_path / "r.json").read_text())
        (tmp_path / "g.csv").unlink()


def test_expected_values_can_wait_for_the_due_date(tmp_path):
    sheet = tmp_path / "s.csv"
    sheet.write_text(filled_csv(BASE, None, {("trace", "", "v8"): "1.000"}))
    out = tmp_path / "r.json"
    assert check(sheet, "--gradescope", out, "--answers-after-due-date").exit_code == 1
    data = json.loads(out.read_text())
    shown = f"{abs(BASE[('trace', '', 'v8')]):.3f}"
    now = [t for t in data["tests"] if t.get("visibility") != "after_due_date"]
    later = [t for t in data["tests"] if t.get("visibility") == "after_due_date"]
    assert shown not in json.dumps(now) and data["visibility"] == "visible"
    assert len(later) == 1 and shown in later[0]["output"] and "max_score" not in later[0]
    assert sum(t.get("max_score", 0) for t in data["tests"]) == 100
