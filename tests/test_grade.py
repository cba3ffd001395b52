"""Grading: the seed's worked solution gets exactly its four known slips, and nothing else."""

import json

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.errors import ProblemError
from derive.grading.grade import Answer, grade
from derive.grading.worksheet import read_answers

SEED = "tests/data/seed_worksheet.csv"


def test_the_seed_worked_solution_has_exactly_its_four_slips(problem1):
    result = grade(problem1, read_answers(SEED))
    findings = {(c.part, c.pass_, c.node): c.slip for c in result.cells if c.verdict not in ("correct", "rounding")}
    assert findings == {
        ("forward", "x2", "v6"): "sign",        # cos(3) × 6 is −5.940, written 5.940
        ("forward", "x2", "v7"): "carried",     # 2 × 5.940: right use of the wrong value above
        ("forward", "x2", "v8"): "arithmetic",  # 11.880 + 14.778 written = 2.898: terms wrong, result right
        ("reverse", "y1", "v7"): "arithmetic",  # 1 × 1 written = 0
    }
    assert len(result.cells) == 12 + 24 + 24
    score = result.score()
    assert score["first_wrong"] == {"forward:x2": "v6", "reverse:y1": "v7"}
    assert score["parts"]["trace"]["earned"] == 12
    assert score["parts"]["forward"]["earned"] == 24 - 1 - 0.5  # sign 0, carried 1, arithmetic-right 1/2


def test_verdict_kinds(problem1):
    def one(part, pass_, node, value, line=""):
        return next(c for c in grade(problem1, [Answer(part, pass_, node, value, line)]).cells
                    if (c.part, c.pass_, c.node) == (part, pass_, node))

    assert one("trace", "", "v6", "0.14112000805986721").verdict == "correct"
    assert one("trace", "", "v6", "0.141").verdict == "rounding"
    assert one("trace", "", "v6", "0.14").verdict == "review"  # fewer decimals than the sheet's 3: a human decides
    wrong = one("trace", "", "v6", "0.143")  # 0.142 is within the default ±1 in the last printed digit
    assert (wrong.verdict, wrong.slip, wrong.message) == ("wrong", None, "expected 0.141")
    assert one("trace", "", "v6", "").verdict == "missing"
    rule = one("forward", "x2", "v6", "0.847", "sin(v5) × 6 = 0.847")
    assert rule.slip == "rule" and "rule table" in rule.message


def test_unknown_cells_are_reported(problem1):
    with pytest.raises(ProblemError, match="no cell forward/x3/v2"):
        grade(problem1, [Answer("forward", "x3", "v2", "1", where="row 2")])


def test_an_unknown_pass_is_told_the_problems_names_and_a_mangled_greek_letter_the_encoding():
    """Excel's German CSV (Windows-1252) turns λ into ?: the error named no valid pass to write."""
    from derive import api

    solution = api.solve(functions=["λ*x"], at={"λ": "1.5", "x": "2"})._solved
    with pytest.raises(ProblemError) as caught:
        grade(solution, [Answer("forward", "?", "v0", "1", where="line 6")])
    assert "λ, x" in caught.value.hint and "y1" in caught.value.hint and "CSV UTF-8" in caught.value.hint


def test_weights_come_from_the_problem_file(tmp_path):
    spec = tmp_path / "p.toml"
    spec.write_text("[inputs]\nx = 2\n[outputs]\ny = 'x*x'\n[grading]\ntrace = 0\nforward = 1\nreverse = 3\n")
    answers = tmp_path / "a.csv"
    answers.write_text("part,pass,node,value,line\ntrace,,v0,2,\ntrace,,v1,5,\nforward,x,v0,1,\nforward,x,v1,4,\n"
                       "reverse,y,v1,1,\nreverse,y,v0,4,\n")
    result = CliRunner().invoke(app, ["check", str(spec), str(answers), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["score"]["parts"]["trace"] == {"earned": 1.0, "possible": 2, "weight": 0.0, "fraction": 0.5}
    assert data["score"]["total"] == 1.0  # the one wrong cell is in the trace, weighted 0
    assert {"part", "pass", "node", "given", "expected", "verdict", "kind", "message"} <= set(data["cells"][0])


def test_check_cli_exit_codes(tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["check", "problem1", SEED]).exit_code == 1
    key = tmp_path / "key.csv"
    assert runner.invoke(app, ["report", "problem1", "--format", "csv", "-o", str(tmp_path)]).exit_code == 0
    (tmp_path / "problem1.csv").rename(key)
    result = runner.invoke(app, ["check", "problem1", str(key)])
    assert result.exit_code == 0 and "Every cell is correct" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["check", "problem1", str(bad)])
    assert result.exit_code == 2 and "not a worksheet" in result.stderr


def test_a_line_of_rounded_numbers_is_not_an_arithmetic_slip():
    """tan(exp(0.4)): the key writes tan(1.492) = 12.636…; tan(1.492) alone is 12.665, which
    the rounding of 1.492 (from 1.49182…) explains.  Full credit, not half (issue 9: the key
    must pass its own grader)."""
    import math

    import sympy

    from derive.problems import Problem
    from derive.scalar.solve import solve_scalar

    solution = solve_scalar(Problem("t", {"y": sympy.Rational(2, 5)}, {"f": "tan(exp(y))"}))
    value = math.tan(math.exp(0.4))
    cell = next(c for c in grade(solution, [Answer("trace", "", "v2", repr(value), "tan(1.492) = 12.636")]).cells
                if c.node == "v2")
    assert cell.verdict == "correct" and cell.credit == 1.0
    stage = next(c for c in grade(solution, [Answer("trace", "", "v2", repr(value), "tan(1.400) = 12.636")]).cells
                 if c.node == "v2")
    assert stage.slip == "arithmetic"  # a stage beyond rounding is still caught
    assert stage.kind == stage.slip and stage.as_dict()["kind"] == "arithmetic"  # the old name and the JSON key
