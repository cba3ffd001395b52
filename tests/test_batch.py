"""Grading a class: rosters, per-student points from the manifest, batch checking, exports.

The filled worksheets are written here from an independent key of Problem 1 (math module and
SymPy diff of the assignment's definitions, at each student's own point), never from derive's key.
"""

import csv
import json

import pytest
import sympy
from typer.testing import CliRunner

from conftest import problem1_graph
from derive.cli import app
from derive.errors import ProblemError
from derive.grading.roster import parse_shard, read_roster
from derive.grading.worksheet import read_answers

runner = CliRunner()


def independent_key(x1, x2) -> dict[tuple[str, str, str], float]:
    """Every cell of Problem 1's worksheet at (x1, x2): values, tangents by SymPy diff, and
    adjoints by differentiating y in a free symbol that replaces node k downstream."""
    s1, s2, t = sympy.symbols("s1 s2 t")
    v, steps = problem1_graph(s1, s2)
    for k, step in steps.items():
        v[k] = step(v)
    at = {s1: sympy.nsimplify(x1), s2: sympy.nsimplify(x2)}
    key = {("trace", "", f"v{k}"): float(e.subs(at).evalf(30)) for k, e in v.items()}
    for name, sym in (("x1", s1), ("x2", s2)):
        key.update({("forward", name, f"v{k}"): float(sympy.diff(e, sym).subs(at).evalf(30)) for k, e in v.items()})
    for k in range(12):
        w, steps = problem1_graph(at[s1], at[s2])
        if k in w:
            w[k] = t
        for j, step in steps.items():
            w[j] = t if j == k else step(w)
        for name, node in (("y1", 8), ("y2", 11)):
            key[("reverse", name, f"v{k}")] = float(sympy.diff(w[node], t).subs(t, key[("trace", "", f"v{k}")]).evalf(30))
    return key


def filled_csv(key: dict, student: str | None, change: dict | None = None, drop: int = 0) -> str:
    """A student's CSV as they would fill it (3 decimals); ``change`` plants answers, ``drop``
    leaves the last cells empty."""
    lines = ([f"id,{student}"] if student else []) + ["part,pass,node,value,line"]
    cells = list(key.items())
    for i, ((part, pass_, node), value) in enumerate(cells):
        written = (change or {}).get((part, pass_, node), f"{value:.3f}")
        lines.append(f"{part},{pass_},{node},{'' if i >= len(cells) - drop else written},")
    return "\n".join(lines) + "\n"


def manifest_points(path) -> dict[str, tuple[float, float]]:
    return {r["id"]: (float(sympy.Rational(r["x1"])), float(sympy.Rational(r["x2"])))
            for r in csv.DictReader(path.open())}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Three students from a roster, their sheets (no PDF) and manifest."""
    root = tmp_path_factory.mktemp("course")
    (root / "roster.csv").write_text("id,name,email\nada_l,Ada Lovelace,ada@example.org\nbob.k,Bob,\ncy-3,Cy,\n")
    # seed 125: points drawn per id put cy-3 at (3/2, 1/2), where the tests' planted slips were chosen
    result = runner.invoke(app, ["variants", "problem1", "--roster", str(root / "roster.csv"), "--seed", "125",
                                 "--no-pdf", "--workers", "1", "-o", str(root / "sheets")])
    assert result.exit_code == 0, result.output
    return root


def test_roster_names_every_file_and_the_id_is_on_every_sheet(course):
    sheets = course / "sheets"
    for sid in ("ada_l", "bob.k", "cy-3"):
        for kind in ("blank", "key"):
            for ext in ("md", "tex", "csv"):
                assert (sheets / f"{sid}-{kind}.{ext}").is_file()
    assert (sheets / "ada_l-blank.csv").read_text().splitlines()[:2] == ["id,ada_l", "part,pass,node,value,line"]
    md = (sheets / "ada_l-blank.md").read_text()
    assert "**Student:** ada\\_l" in md and "<!-- derive: student=ada_l -->" in md
    assert read_answers(sheets / "ada_l-blank.md").student == "ada_l"
    assert read_answers(sheets / "cy-3-blank.csv").student == "cy-3"
    tex = (sheets / "ada_l-key.tex").read_text()
    assert "Student: ada" in tex and "Student: ada_l" not in tex  # the underscore is escaped for TeX
    rows = list(csv.reader((sheets / "manifest.csv").open()))
    assert rows[0] == ["id", "seed", "x1", "x2"] and [r[0] for r in rows[1:]] == ["ada_l", "bob.k", "cy-3"]


@pytest.mark.parametrize("text, message", [
    ("name\nAda\n", "'id' column"),
    ("id\n../etc\n", "not a valid student id"),
    ("id\n.hidden\n", "not a valid student id"),
    ("id\n-rf\n", "not a valid student id"),
    ("id\n" + "a" * 65 + "\n", "not a valid student id"),
    ("id\nab cd\n", "not a valid student id"),
    ("id\nann\nbo\nann\n", "already on row 2"),
])
def test_bad_rosters_are_refused(tmp_path, text, message):
    (tmp_path / "roster.csv").write_text(text)
    with pytest.raises(ProblemError, match=message):
        read_roster(tmp_path / "roster.csv")
    result = runner.invoke(app, ["variants", "problem1", "--roster", str(tmp_path / "roster.csv"), "--no-pdf",
                                 "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.stderr


def test_shards_write_their_students_and_their_manifests_concatenate(tmp_path):
    whole = tmp_path / "whole"
    assert runner.invoke(app, ["variants", "problem1", "--count", "5", "--seed", "3", "--no-pdf", "--workers", "1",
                               "-o", str(whole)]).exit_code == 0
    parts = []
    for k in (1, 2):
        out = tmp_path / f"shard{k}"
        assert runner.invoke(app, ["variants", "problem1", "--count", "5", "--seed", "3", "--no-pdf", "--workers", "1",
                                   "--shard", f"{k}/2", "-o", str(out)]).exit_code == 0
        parts.append((out / "manifest.csv").read_text().splitlines())
    assert [line.split(",")[0] for line in parts[0][1:]] == ["s001", "s003", "s005"]
    assert not (tmp_path / "shard1" / "s002-blank.md").exists() and (tmp_path / "shard2" / "s002-blank.md").exists()
    concatenated = parts[0] + parts[1][1:]  # what `tail -n +2` gives
    full = (whole / "manifest.csv").read_text().splitlines()
    assert concatenated[0] == full[0] and sorted(concatenated[1:]) == sorted(full[1:])
    for bad in ("0/2", "3/2", "1-2", "x"):
        with pytest.raises(ProblemError):
            parse_shard(bad)


def test_check_grades_each_worksheet_at_its_students_point(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    manifest = str(course / "sheets" / "manifest.csv")
    ada = tmp_path / "ada.csv"
    ada.write_text(filled_csv(independent_key(*points["ada_l"]), "ada_l"))
    assert runner.invoke(app, ["check", "problem1", str(ada), "--manifest", manifest]).exit_code == 0
    # the same sheet at the base point would be wrong: never graded there silently
    result = runner.invoke(app, ["check", "problem1", str(ada)])
    assert result.exit_code == 2 and "--manifest" in result.stderr
    # Ada's answers under Bob's id are wrong at Bob's point
    (tmp_path / "swap.csv").write_text(filled_csv(independent_key(*points["ada_l"]), "bob.k"))
    assert runner.invoke(app, ["check", "problem1", str(tmp_path / "swap.csv"), "--manifest", manifest]).exit_code == 1
    for student, message in (("zed", "'zed' is not in the manifest"), (None, "no student id")):
        (tmp_path / "x.csv").write_text(filled_csv(independent_key(2, 1), student))
        result = runner.invoke(app, ["check", "problem1", str(tmp_path / "x.csv"), "--manifest", manifest])
        assert result.exit_code == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_markdown_worksheet_carries_the_id_to_the_checker(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    key = independent_key(*points["cy-3"])
    out, part, pass_ = [], None, ""
    for line in (course / "sheets" / "cy-3-blank.md").read_text().splitlines():
        if "<!-- derive: part=" in line:
            part, _, rest = line.partition("part=")[2].partition(" pass=")
            part, pass_ = part.split()[0].rstrip("-").strip(), rest.split()[0] if rest else ""
        cells = line.split("|")
        if part and line.startswith("| v"):
            cells[-3] = f" {key[(part, pass_, cells[1].strip())]:.3f} "
            line = "|".join(cells)
        out.append(line)
    (tmp_path / "cy.md").write_text("\n".join(out) + "\n")
    result = runner.invoke(app, ["check", "problem1", str(tmp_path / "cy.md"), "--manifest",
                                 str(course / "sheets" / "manifest.csv")])
    assert result.exit_code == 0, result.output


def test_batch_reports_the_class_and_lists_what_could_not_be_read(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.csv").write_text(filled_csv(independent_key(*points["ada_l"]), "ada_l"))
    bob = independent_key(*points["bob.k"])
    (subs / "b.csv").write_text(filled_csv(bob, "bob.k", {("trace", "", "v8"): "1.000"}))
    (subs / "c.csv").write_text(filled_csv(independent_key(*points["cy-3"]), "cy-3", drop=12))
    (subs / "notes.txt").write_text("not collected: not .csv/.md/.toml")
    (subs / "nested").mkdir()
    manifest = str(course / "sheets" / "manifest.csv")
    result = runner.invoke(app, ["check", "problem1", str(subs), "--manifest", manifest,
                                 "--csv", str(tmp_path / "grades.csv")])
    assert result.exit_code == 0, result.output  # every file graded, whatever the scores
    rows = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert list(rows[0]) == ["id", "total", "trace", "forward", "reverse", "needs_review", "file"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["ada_l"]["total"] == "100.0"
    assert by_id["bob.k"]["trace"] == f"{100 * 11 / 12:.1f}" and by_id["bob.k"]["forward"] == "100.0"
    assert by_id["cy-3"]["reverse"] == "50.0" and by_id["cy-3"]["trace"] == "100.0"
    assert "ada_l" in result.stdout and "3 graded" in result.stdout

    (subs / "broken.md").write_text("just some notes\n")
    (tmp_path / "dupe.csv").write_text(filled_csv(bob, "bob.k"))
    result = runner.invoke(app, ["check", "problem1", str(subs), str(tmp_path / "dupe.csv"), str(tmp_path / "gone.csv"),
                                 "--manifest", manifest, "--json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert [s["id"] for s in data["submissions"]] == ["ada_l", "cy-3"]  # two files claim bob.k: neither wins
    assert sorted(e["file"].rsplit("/", 1)[1] for e in data["errors"]) == ["b.csv", "broken.md", "dupe.csv", "gone.csv"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("derive: error: ") for line in errors)
    assert sum("'bob.k' is claimed by 2 files" in line for line in errors) == 2
    # one file keeps today's exit codes
    assert runner.invoke(app, ["check", "problem1", str(subs / "b.csv"), "--manifest", manifest]).exit_code == 1


def test_gradescope_and_canvas_exports(course, tmp_path):
    points = manifest_points(course / "sheets" / "manifest.csv")
    manifest = str(course / "sheets" / "manifest.csv")
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "work.csv").write_text(filled_csv(independent_key(*points["bob.k"]), "bob.k", drop=12))
    results = tmp_path / "results" / "results.json"
    result = runner.invoke(app, ["check", "problem1", str(sub), "--manifest", manifest, "--gradescope", str(results),
                                 "--canvas", str(tmp_path / "canvas.csv"), "--assignment", "Homework 3"])
    assert result.exit_code == 0, result.output
    data = json.loads(results.read_text())
    assert data["score"] == pytest.approx(100 * (1 + 1 + 0.5) / 3, abs=0.01) and data["max_score"] == 100
    assert [t["name"] for t in data["tests"]] == ["trace", "forward", "reverse"]
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(100, abs=0.02)
    reverse = data["tests"][2]
    assert reverse["score"] == pytest.approx(50 / 3, abs=0.01) and "missing" in reverse["output"]
    assert all(set(t) >= {"name", "score", "max_score", "output"} for t in data["tests"])
    canvas = list(csv.reader((tmp_path / "canvas.csv").open()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 3"]
    assert canvas[2][2] == "bob.k" and canvas[2][5] == "83.3"
    # an unreadable submission still gets a results.json that says why (and exit 2)
    (sub / "work.csv").write_text("id,bob.k\nnot,a,worksheet\n")
    result = runner.invoke(app, ["check", "problem1", str(sub / "work.csv"), "--manifest", manifest,
                                 "--gradescope", str(results)])
    assert result.exit_code == 2 and "header" in json.loads(results.read_text())["output"]
    (sub / "other.csv").write_text("part,pass,node,value,line\n")
    result = runner.invoke(app, ["check", "problem1", str(sub), str(sub / "work.csv"), "--gradescope", str(results)])
    assert result.exit_code == 2 and "hand in one" in result.stderr
    assert "hand in one" in json.loads(results.read_text())["output"]


def test_hostile_file_names_and_ids_stay_data(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "=HYPERLINK(1).csv").write_text(filled_csv(independent_key(2, 1), None))
    (subs / "evil.csv").write_text('id,"a\nb"\npart,pass,node,value,line\n')
    (subs / "bad\nname.md").write_text("nothing\n")
    result = runner.invoke(app, ["check", "problem1", str(subs), "--csv", str(tmp_path / "g.csv")])
    assert result.exit_code == 2
    rows = list(csv.reader((tmp_path / "g.csv").open()))
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[1][1] == "100.0"  # not a formula for a spreadsheet
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("derive: error: ") for e in errors)
    assert any("not a valid student id" in e for e in errors)


def test_matrix_answers_in_a_batch_and_for_gradescope(tmp_path):
    (tmp_path / "a.toml").write_text('[adjoints]\nh = "r + W2.T @ (y - s)"\n[gradients]\nW1 = "z_bar @ x.T"\n')
    (tmp_path / "b.toml").write_text('[adjoints]\nh = "W2 @ (y - s)"\n')
    result = runner.invoke(app, ["check", "problem2", str(tmp_path), "--csv", str(tmp_path / "g.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((tmp_path / "g.csv").open()))
    assert rows[0] == ["id", "total", "adjoints", "gradients", "needs_review", "file"] and [r[0] for r in rows[1:]] == ["a", "b"]
    # one adjoint and two gradients: each typed answer weighs the same, tests add up to the score
    (tmp_path / "m.toml").write_text('[dims]\nN = 2\n[variables]\nx = "N"\nw = "N"\n[equations]\n'
                                     'z = "w.T @ x"\nL = "0.5 * z**2"\n[derive]\nloss = "L"\nwrt = ["w", "x"]\n')
    (tmp_path / "one.toml").write_text('[adjoints]\nz = "z"\n')
    result = runner.invoke(app, ["check", str(tmp_path / "m.toml"), str(tmp_path / "one.toml"), "--gradescope",
                                 str(tmp_path / "r.json")])
    data = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 1
    assert data["score"] == pytest.approx(100 / 3, abs=0.01)
    assert [(t["name"], t["score"], t["max_score"]) for t in data["tests"]] == [
        ("adjoints", 33.33, 33.33), ("gradients", 0.0, 66.67)]


def test_count_and_roster_are_exclusive(tmp_path):
    (tmp_path / "r.csv").write_text("id\nann\n")
    result = runner.invoke(app, ["variants", "problem1", "--roster", str(tmp_path / "r.csv"), "--count", "3",
                                 "--no-pdf", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not both" in result.stderr


def test_the_visible_student_line_stands_in_for_a_deleted_marker(course):
    text = (course / "sheets" / "ada_l-blank.md").read_text()
    from derive.grading.worksheet import read_markdown

    assert read_markdown(text.replace("<!-- derive: student=ada_l -->", "")).student == "ada_l"
    assert read_markdown(text.replace("**Student:** ada\\_l", "Student: zed")).student == "ada_l"  # the marker wins


def test_a_copied_sheet_or_a_wrong_manifest_earns_no_carried_credit_and_is_flagged(course, tmp_path):
    """Variants exist so that copying shows: a classmate's correct sheet handed in under another id
    scored about 90% (the inputs wrong, everything after them 'carried'). Inputs are given on the
    sheet, not computed: values of another point are flagged, and nothing is carried from them."""
    points = manifest_points(course / "sheets" / "manifest.csv")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "copied.csv").write_text(filled_csv(independent_key(*points["ada_l"]), "bob.k"))  # ada's work as bob's
    (subs / "honest.csv").write_text(filled_csv(independent_key(*points["cy-3"]), "cy-3",
                                                change={("trace", "", "v6"): "1,250"}))
    result = runner.invoke(app, ["check", "problem1", str(subs), "--manifest", str(course / "sheets" / "manifest.csv"),
                                 "--json"])
    data = json.loads(result.stdout)
    by_id = {s["id"]: s for s in data["submissions"]}
    copied = by_id["bob.k"]
    ada, bob = independent_key(*points["ada_l"]), independent_key(*points["bob.k"])
    same = {part: [abs(round(ada[k], 3) - bob[k]) <= 0.0015 for k in ada if k[0] == part]
            for part in ("trace", "forward", "reverse")}  # cells whose value is the same at both points
    assert copied["total"] == pytest.approx(sum(sum(v) / len(v) for v in same.values()) / 3)
    assert not any(c["kind"] == "carried" for c in copied["cells"])
    moved = {f"v{i}" for i, (a, b) in enumerate(zip(points["ada_l"], points["bob.k"])) if a != b}
    assert moved and {c["node"] for c in copied["cells"] if c["kind"] == "point"} == moved
    assert any("the point of student ada_l" in note for note in copied["notes"])  # the instructor report
    assert by_id["cy-3"]["notes"] == []
    table = runner.invoke(app, ["check", "problem1", str(subs), "--manifest", str(course / "sheets" / "manifest.csv")])
    lines = [line for line in table.stdout.splitlines() if line.startswith("To look at:")]
    assert any("bob.k" in line and "the point of student ada_l" in line for line in lines), table.stdout
    assert any("cy-3" in line and "1 cell(s) for review" in line for line in lines), table.stdout


def test_an_honest_slip_copying_an_input_keeps_carried_credit_and_is_flagged(tmp_path):
    """A review of the copied-sheet rule: one miscopied input (x2 = 1.5 for 1) is not another
    student's sheet; the work that follows it consistently keeps its carried credit, the input
    cell earns none, and a person is asked to look. An input rounded coarser than the sheet asks
    (pi/4 as 0.79) is not another point at all."""
    from derive.grading.grade import Answer, grade
    from derive import api

    slip = independent_key(2, 1.5)
    answers = [Answer(part, pass_, node, f"{value:.3f}") for (part, pass_, node), value in slip.items()]
    result = grade(api.solve("problem1"), answers)
    kinds = {(c.part, c.pass_, c.node): c.slip for c in result.cells}
    assert kinds[("trace", "", "v1")] == "point" and "carried" in kinds.values()
    assert "a slip, or the wrong manifest?" in result.notes[0]
    assert result.score()["total"] > 0.6

    rounded = grade(api.solve(functions=["sin(x)*x"], at={"x": "pi/4"}),
                    [Answer("trace", "", "v0", "0.79")])
    assert rounded.notes == [] and rounded.cells[0].slip != "point"
