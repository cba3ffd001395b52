"""The grading policy: tolerance, weights, answers read without guessing, the degrees and chain
slips, and required lines.  Expected values come from the math module at Problem 1's point
(x1, x2) = (2, 1), never from derive's key."""

import json
import math

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.grading.grade import Answer, Policy, grade, read_value

runner = CliRunner()
V5 = 3.0  # 3 x2^2 at x2 = 1


@pytest.mark.parametrize("text, value, decimals", [
    ("0.964", 0.964, 3), ("−0.990", -0.990, 3), ("≈0.964", 0.964, 3), ("~ 0.964", 0.964, 3),
    ("1.41e-1", 0.141, 3), ("1.41E-1", 0.141, 3), ("1.41 × 10^-1", 0.141, 3), ("1.41x10^{-1}", 0.141, 3),
    ("1.41 * 10**-1", 0.141, 3), ("1/2", 0.5, 6), ("-3/4", -0.75, 6), ("0,25", 0.25, 2), ("2", 2.0, 0),
])
def test_answers_read_where_unambiguous(text, value, decimals):
    got = read_value(text)
    assert got is not None and got[0] == pytest.approx(value) and got[1] == decimals


@pytest.mark.parametrize("text", ["1,250", "about 0.96", "0.9.6", "1/0", "sin(3)", "0.96?", "1e999"])
def test_answers_that_would_need_a_guess_are_not_read(text):
    assert read_value(text) is None


def one(problem1, part, pass_, node, value, line="", policy=None):
    cells = grade(problem1, [Answer(part, pass_, node, value, line)], policy=policy).cells
    return next(c for c in cells if (c.part, c.pass_, c.node) == (part, pass_, node))


def test_unreadable_is_review_not_wrong(problem1):
    v6 = math.sin(V5)
    assert one(problem1, "trace", "", "v6", f"≈{v6:.3f}").verdict in ("correct", "rounding")
    assert one(problem1, "trace", "", "v6", f"{v6:.3f}".replace(".", ",")).verdict in ("correct", "rounding")
    cell = one(problem1, "trace", "", "v6", "about 0.14")
    assert (cell.verdict, cell.credit) == ("review", 0.0) and "human" in cell.message
    assert not grade(problem1, [Answer("trace", "", "v6", "1,141")]).all_correct


def test_tolerance_in_units_of_the_last_printed_digit(problem1):
    v6 = math.sin(V5)  # 0.14112...
    off_by_one = f"{round(v6, 3) + 0.001:.3f}"
    assert one(problem1, "trace", "", "v6", off_by_one).verdict == "rounding"
    assert one(problem1, "trace", "", "v6", off_by_one, policy=Policy(tolerance=0.5)).verdict == "wrong"
    assert one(problem1, "trace", "", "v6", f"{round(v6, 3) + 0.002:.3f}").verdict == "wrong"
    assert one(problem1, "trace", "", "v6", f"{round(v6, 3) + 0.002:.3f}", policy=Policy(tolerance=3)).verdict \
        == "rounding"
    coarse = one(problem1, "trace", "", "v6", f"{v6:.2f}")  # right at 2 decimals; the sheet asks for 3
    assert (coarse.verdict, coarse.credit) == ("review", 0.0) and "asks for 3" in coarse.message


def test_a_key_rounded_to_integers_does_not_score_full_marks(problem1):
    """Rounding every value to 0 decimals was 'correct at the precision written' and scored 100%."""
    from derive.grading.grade import Expectations, worksheet_cells

    expect = Expectations(problem1)
    answers = [Answer(*cell, str(round(expect.value(*cell)))) for cell in worksheet_cells(problem1)]
    result = grade(problem1, answers)
    assert result.score()["total"] < 0.9
    v7 = next(c for c in result.cells if (c.part, c.node) == ("trace", "v7"))  # 0.282 written as 0
    assert v7.verdict in ("wrong", "review") and v7.credit == 0


def test_degrees_for_radians(problem1):
    cell = one(problem1, "trace", "", "v6", f"{math.sin(math.radians(V5)):.3f}")
    assert (cell.verdict, cell.slip) == ("wrong", "degrees")
    # ∂v6/∂x2 = cos(v5) × ∂v5/∂x2 with ∂v5/∂x2 = 6 x2 = 6, the cosine taken in degrees
    cell = one(problem1, "forward", "x2", "v6", f"{math.cos(math.radians(V5)) * 6:.3f}")
    assert (cell.verdict, cell.slip) == ("wrong", "degrees")


def test_missing_chain_rule_factor(problem1):
    # ∂v3/∂x2 = exp(v2) × ∂v2/∂x2 = e² × 2; without the factor 2: e²
    cell = one(problem1, "forward", "x2", "v3", f"{math.exp(2):.3f}")
    assert (cell.verdict, cell.slip) == ("wrong", "chain") and "missing" in cell.message
    # v̄5 for y1 = v̄6 × cos(v5), v̄6 = x1 = 2: without v̄6 it is cos(3)
    cell = one(problem1, "reverse", "y1", "v5", f"{math.cos(V5):.3f}")
    assert (cell.verdict, cell.slip) == ("wrong", "chain")


def test_required_lines_earn_half_without_their_line(problem1):
    policy = Policy(require_lines=True)
    v8 = math.exp(2) + 2 * math.sin(V5)
    bare = one(problem1, "trace", "", "v8", f"{v8:.3f}", policy=policy)
    assert (bare.verdict, bare.slip, bare.credit) == ("rounding", "no-line", 0.5)
    lined = one(problem1, "trace", "", "v8", f"{v8:.3f}", f"7.389 + 0.282 = {v8:.3f}", policy=policy)
    assert lined.credit == 1.0
    assert one(problem1, "trace", "", "v0", "2", policy=policy).credit == 1.0  # an input has no line
    assert one(problem1, "trace", "", "v8", f"{v8:.3f}").credit == 1.0  # not required by default


def test_weights_tolerance_and_lines_from_the_command_line_and_the_problem_file(tmp_path):
    answers = tmp_path / "a.csv"
    answers.write_text("part,pass,node,value,line\ntrace,,v0,2,\ntrace,,v1,5,\nforward,x,v0,1,\nforward,x,v1,4,\n"
                       "reverse,y,v1,1,\nreverse,y,v0,4,\n")
    spec = tmp_path / "p.toml"
    spec.write_text("[inputs]\nx = 2\n[outputs]\ny = 'x*x'\n")

    def total(*options, problem=spec):
        result = runner.invoke(app, ["check", str(problem), str(answers), "--json", *options])
        assert result.exit_code == 1, result.output
        return json.loads(result.stdout)["score"]["total"]

    assert total() == pytest.approx((0.5 + 1 + 1) / 3)  # trace v1 = x·x = 4, not 5
    assert total("--weight", "trace=2") == pytest.approx((2 * 0.5 + 1 + 1) / 4)
    # inputs and the reverse seed need no line; v1's tangent and v0's adjoint do
    assert total("--require-lines") == pytest.approx((0.5 + 0.75 + 0.75) / 3)
    spec.write_text("[inputs]\nx = 2\n[outputs]\ny = 'x*x'\n[grading]\nweights = {trace = 2}\nrequire_lines = true\n")
    assert total() == pytest.approx((2 * 0.5 + 0.75 + 0.75) / 4)
    assert total("--no-require-lines", "--weight", "trace=0") == pytest.approx(1.0)
    for bad in (["--weight", "trace"], ["--weight", "middle=2"], ["--weight", "trace=-1"], ["--tolerance", "-1"]):
        result = runner.invoke(app, ["check", str(spec), str(answers), *bad])
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    spec.write_text("[inputs]\nx = 2\n[outputs]\ny = 'x*x'\n[grading]\ntolerance = 'lots'\n")
    assert runner.invoke(app, ["check", str(spec), str(answers)]).exit_code == 2


def test_a_wrong_trace_value_used_correctly_later_costs_once(problem1):
    v6_in_degrees = f"{math.sin(math.radians(V5)):.3f}"
    answers = [Answer("trace", "", "v6", v6_in_degrees),
               Answer("forward", "x1", "v7", v6_in_degrees),   # ∂v7/∂x1 = v6 · 1 + v0 · 0, with their v6
               Answer("reverse", "y1", "v0", v6_in_degrees)]   # v̄0 = v̄7 · v6 + v̄9 · v1 with v̄9 = 0
    cells = {(c.part, c.pass_, c.node): c for c in grade(problem1, answers).cells}
    assert cells[("trace", "", "v6")].slip == "degrees" and cells[("trace", "", "v6")].credit == 0
    for key in (("forward", "x1", "v7"), ("reverse", "y1", "v0")):
        assert (cells[key].slip, cells[key].credit) == ("carried", 1.0)
    # the right value of those cells is still right
    right = f"{math.sin(V5):.3f}"
    cells = {(c.part, c.pass_, c.node): c for c in grade(problem1, [answers[0], Answer("forward", "x1", "v7", right)]).cells}
    assert cells[("forward", "x1", "v7")].verdict in ("correct", "rounding")


@pytest.mark.parametrize("text, reason", [
    ("1,250", "could be 1250 (a thousands separator) or 1.250 (a decimal comma)"),
    ("≈ 1,250", "could be 1250"), ("1/0", "a fraction over 0"), ("1e999", "exponent is out of range"),
    ("about 0.96", "derive reads numbers such as 0.964"),
])
def test_a_review_says_why_the_cell_was_not_read(problem1, text, reason):
    # a sheet whose other values are written with decimal points: its 1,250 is ambiguous
    cells = grade(problem1, [Answer("trace", "", "v6", text), Answer("trace", "", "v3", "7.389")]).cells
    cell = next(c for c in cells if c.node == "v6" and c.part == "trace")
    assert cell.verdict == "review" and reason in cell.message and "human" in cell.message


def test_a_right_line_with_a_result_of_the_wrong_sign_says_so(problem1):
    """v̇6 = cos(v5) v̇5 in the x2 pass: the line's terms give the right value, the result
    written is its negation (a copying slip, not a wrong rule): the message says the line is right."""
    expected = math.cos(V5) * 6.0  # v̇5 = 6 x2 = 6 at x2 = 1
    right_line = one(problem1, "forward", "x2", "v6", f"{-expected:.3f}", line="cos(v5) × 6")
    assert right_line.slip == "sign" and "the line is right" in right_line.message
    wrong_line = one(problem1, "forward", "x2", "v6", f"{-expected:.3f}", line="-cos(v5) × 6")
    assert wrong_line.slip == "sign" and wrong_line.message.startswith("the sign is wrong")


def test_a_sign_lost_inside_the_line_is_placed_there(problem1):
    """'−sin…' style: the line starts right and flips its sign at a later stage; the message
    names the stage, not 'the line is right'."""
    expected = math.cos(V5) * 6.0
    cell = one(problem1, "forward", "x2", "v6", f"{-expected:.3f}",
               line=f"cos(v5) × 6 = {-expected:.3f}")
    assert cell.slip == "sign" and cell.message.startswith("the sign is lost inside the line: cos(v5) × 6 ≈ −5.940")


def test_a_carried_error_names_where_it_came_from(problem1):
    """A wrong trace value (v5 written as 4, not 3) used correctly in the x2 pass: the pass's cells
    are carried from the trace, not from 'this pass'."""
    answers = [Answer("trace", "", "v5", "4"), Answer("forward", "x2", "v5", "6"),
               Answer("forward", "x2", "v6", f"{math.cos(4) * 6:.3f}")]
    cells = {(c.part, c.pass_, c.node): c for c in grade(problem1, answers).cells}
    carried = cells[("forward", "x2", "v6")]
    assert carried.slip == "carried" and "of the trace;" in carried.message


def test_a_huge_exponent_in_times_ten_form_is_said_to_be_out_of_range(problem1):
    cell = one(problem1, "trace", "", "v6", "1.41 × 10^400")
    assert cell.verdict == "review" and "exponent is out of range" in cell.message
