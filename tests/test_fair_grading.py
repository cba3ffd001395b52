"""A simulated class (tests/classsim.py, written without derive's grader) graded by derive:
every error-free student scores 100% with no cell a student reads as wrong, whatever their
rounding habit, separator or spreadsheet; every planted slip costs; carried credit cannot be
gamed; every number a message prints is true."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest

from classsim import Habit, Slip, Student, classroom, fill, to_csv
from derive import api
from derive.grading.batch import grade_file
from derive.grading.grade import PUBLISHED, RIGHT, Answer, Policy, grade

#: Homework as courses write it: the assignment, Baydin's example, and problems of a TA's own
#: whose values are large enough for carried rounding to show (a product by 64, exp, tanh).
PROBLEMS = {
    "problem1": "problem1",
    "baydin": "baydin",
    "homework_a": (["exp(x1*x2)*log(1+x1**2) + tanh(x2)/x1", "sigmoid(x1 - 3*x2)*x1**2"], {"x1": "1.5", "x2": "0.7"}),
    "homework_b": (["x1*exp(x2)*sin(x1*x2) + sqrt(x1**2 + x2**2)"], {"x1": "2.5", "x2": "1.2"}),
    "homework_c": (["(x1 + x2)**3 * cos(x2) - x1/x2"], {"x1": "1.7", "x2": "2.3"}),
    "greek": (["λ*x**2 + tanh(α*x)"], {"λ": "0.5", "α": "1.5", "x": "0.8"}),
    # −λ is −1 at λ = 1: a sign slip there writes +1, a value that leaves a product unchanged
    "decay": (["λ*exp(-λ*x)", "log(1 + x**2)*tanh(λ)"], {"λ": "1", "x": "1.5"}),
}


def _solve(spec):
    if isinstance(spec, str):
        return api.solve(spec)._solved
    functions, at = spec
    return api.solve(functions=functions, at=at)._solved


@pytest.fixture(scope="module")
def solved():
    return {name: _solve(spec) for name, spec in PROBLEMS.items()}


def _rows(solution, student):
    trace = solution.trace
    point = {name: trace.by_id[node].value for name, node in trace.inputs}
    return fill(trace.nodes, trace.inputs, trace.outputs, point, student)


def _graded(tmp_path, solution, student, rows=None):
    path = tmp_path / f"{student.id}.csv"
    path.write_bytes(to_csv(_rows(solution, student) if rows is None else rows, student))
    return grade_file(solution, path).result


@pytest.mark.parametrize("name", PROBLEMS)
def test_every_error_free_student_scores_full_marks(tmp_path, solved, name):
    """Half-up and half-to-even rounders who carry what they wrote, with or without lines, Unicode
    or ASCII minus, Excel's dropped trailing zeros, decimal commas in a semicolon CSV with a BOM."""
    solution = solved[name]
    lost = []
    for student in classroom(40, seed=sum(map(ord, name))):
        result = _graded(tmp_path, solution, student)
        shown_wrong = [c for c in result.cells if c.verdict not in RIGHT or c.credit < 1]
        if shown_wrong or result.score()["total"] < 1:
            lost.append((student.habit, [(c.part, c.pass_, c.node, c.given, c.verdict, c.message)
                                         for c in shown_wrong][:3]))
    assert not lost, "\n".join(map(str, lost[:5])) + f"\n{len(lost)} of 40 students lost credit"


@pytest.mark.parametrize("name", ["problem1", "homework_a", "homework_c"])
def test_a_comma_sheet_scores_as_the_same_sheet_with_points(tmp_path, solved, name):
    solution = solved[name]
    for i, habit in enumerate([Habit(), Habit(lines=False), Habit(excel=True)]):
        with_points = _graded(tmp_path, solution, Student(f"p{i}", habit))
        with_commas = _graded(tmp_path, solution, Student(f"c{i}", replace(habit, comma=True)))
        assert [(c.verdict, c.credit) for c in with_commas.cells] == [(c.verdict, c.credit) for c in with_points.cells]
        assert with_commas.score()["total"] == 1


def test_decimal_commas_can_be_declared(solved):
    """--decimal-comma (Policy.decimal_comma) reads 1,649 as 1.649 whatever the sheet looks like;
    declared False, 1,649 (a thousands separator?) is for a person to look at."""
    solution = solved["homework_a"]
    answers = [Answer(*row) for row in _rows(solution, Student("d", Habit(comma=True)))]
    assert grade(solution, answers, policy=Policy(decimal_comma=True)).score()["total"] == 1
    assert grade(solution, answers).score()["total"] == 1  # inferred: no 1.649 anywhere, some 1,649
    declared_points = grade(solution, answers, policy=Policy(decimal_comma=False))
    assert declared_points.score()["total"] < 1 and declared_points.to_review > 0


@pytest.mark.parametrize("name", ["problem1", "homework_a", "homework_b", "greek"])
def test_every_planted_slip_costs(tmp_path, solved, name):
    solution = solved[name]
    rng = random.Random(sum(map(ord, name)))
    honest = _rows(solution, Student("h"))
    cells = [(p, q, n) for p, q, n, value, line in honest
             if line and abs(float(value.replace("−", "-"))) > 0.01]
    for i, student in enumerate(classroom(30, seed=7)):
        part, pass_, node = rng.choice(cells)
        student.slip = Slip(part, pass_, node, rng.choice(["sign", "offset"]))
        try:
            result = _graded(tmp_path, solution, student)
        except TypeError:  # the slip takes a later cell outside its domain (log of a negative)
            continue
        slipped = next(c for c in result.cells if (c.part, c.pass_, c.node) == (part, pass_, node))
        assert slipped.credit < 1 and slipped.verdict == "wrong", (student.slip, slipped)
        assert result.score()["total"] < 1


def test_a_sign_slip_that_writes_one_costs_its_cell_alone(tmp_path, solved):
    """At λ = 1 a student wrote +1 for −λ = −1 and carried it: every later cell was refused carried
    credit ("a wrong value that makes this step trivial", as a sheet of ones would be), and cells
    that do not depend on that value at all (a reverse pass where its factor is 0) were marked
    wrong though identical to a right sheet's: 83 % where the same slip elsewhere costs 3 %."""
    solution = solved["decay"]
    honest = _rows(solution, Student("h"))
    minus_ones = [(p, q, n) for p, q, n, value, line in honest if line and value.replace("−", "-") == "-1"]
    assert minus_ones  # the point has a −1 to slip on
    for student in classroom(6, seed=3):
        for part, pass_, node in minus_ones:
            student.slip = Slip(part, pass_, node, "sign")
            result = _graded(tmp_path, solution, student)
            lost = [(c.part, c.pass_, c.node, c.verdict, c.message) for c in result.cells if c.credit < 1]
            assert [c[:3] for c in lost] == [(part, pass_, node)], lost


def test_a_two_decimal_habit_is_judged_the_same_whatever_the_third_digit(tmp_path, solved):
    """0.48 for 0.4794 and 2.72 for 2.7183 get one verdict: the sheet asks for 3 decimals."""
    solution = solved["problem1"]
    result = _graded(tmp_path, solution, Student("two", Habit(digits=2)))
    verdicts = {c.verdict for c in result.cells if c.given and Decimal(c.given.replace("−", "-")) % 1 != 0
                and abs(float(c.given.replace("−", "-")) - c.expected) > 1e-9}
    assert verdicts == {"review"}
    def one(node, value):  # on a sheet of 2-decimal values
        cells = grade(solution, [Answer("trace", "", node, value), Answer("trace", "", "v6", "0.14")]).cells
        return next(c for c in cells if c.node == node and c.part == "trace")

    assert one("v10", "0.73").verdict == one("v3", "7.39").verdict == "review"  # 0.7311 and 7.3891


def test_a_sheet_of_zeros_scores_only_its_zeros(tmp_path, solved):
    """A 0 that kills every later term earns no carried credit: the sheet scores the share of
    cells whose right value is 0 (computed here by a student who makes no slip)."""
    solution = solved["problem1"]
    honest = _rows(solution, Student("h", Habit(lines=False)))
    zeros = [(p, q, n, "0", "") for p, q, n, _, _ in honest]
    result = _graded(tmp_path, solution, Student("z", Habit(lines=False)), zeros)
    parts = {}
    for p, q, n, value, _ in honest:
        parts.setdefault(p, []).append(float(value.replace("−", "-")) == 0)
    expected = sum(sum(v) / len(v) for v in parts.values()) / len(parts)
    assert result.score()["total"] == pytest.approx(expected) and result.score()["total"] < 0.5
    assert not any(c.verdict == "carried" for c in result.cells)


def test_the_published_key_handed_in_as_a_variant_earns_no_carried_credit(solved):
    base = solved["problem1"]
    variant = api.solve("problem1", at={"x1": "3", "x2": "0.5"})._solved
    key = [Answer(part, pass_, node, value) for part, pass_, node, value, _ in _rows(base, Student("k"))]
    result = grade(variant, key, others={PUBLISHED: {"x1": 2, "x2": 1}, "bob": {"x1": 1, "x2": 2}})
    assert not any(c.verdict == "carried" for c in result.cells)
    assert result.score()["total"] < 0.5 and "published point" in result.notes[0]


def test_point_detection_prefers_an_exact_match_and_reads_integers_as_exact(solved):
    variant = api.solve("problem1", at={"x1": "3", "x2": "0.5"})._solved
    at_bob = [Answer(part, pass_, node, value) for part, pass_, node, value, _ in
              _rows(api.solve("problem1", at={"x1": "2", "x2": "1"})._solved, Student("b"))]
    others = {"ann": {"x1": "2.4", "x2": "1"}, "bob": {"x1": "2", "x2": "1"}}  # 2 is not 2.4 ± 0.5
    result = grade(variant, at_bob, others=others)
    assert any("student bob" in note for note in result.private) and not any("bob" in n for n in result.notes)
    assert not any("ann" in note for note in result.private)


# -- every number a message prints is true ----------------------------------------------------

@pytest.fixture(scope="module")
def product():
    """v2 = e^a = 1.4999…, v3 = e^b = 1.0989…, v4 = v2 · v3 = 1.6483…: a student who carries
    1.500 and 1.099 writes 1.500 × 1.099 = 1.649 (the product is 1.6485)."""
    return api.solve(functions=["exp(a)*exp(b)"], at={"a": "0.405465", "b": "0.0943"})._solved


def test_a_product_of_rounded_operands_is_right(product):
    answers = [Answer("trace", "", "v2", "1.500", "exp(0.405465) = 1.500"),
               Answer("trace", "", "v3", "1.099", "exp(0.0943) = 1.099"),
               Answer("trace", "", "v4", "1.649", "1.500 × 1.099 = 1.649")]
    v4 = next(c for c in grade(product, answers).cells if c.node == "v4" and c.part == "trace")
    assert v4.verdict in ("correct", "rounding") and v4.credit == 1


def test_arithmetic_quoted_back_is_computed_from_the_numbers_written(product):
    answers = [Answer("trace", "", "v2", "1.500"), Answer("trace", "", "v3", "1.099"),
               Answer("trace", "", "v4", "1.700", "1.500 × 1.099 = 1.700")]
    v4 = next(c for c in grade(product, answers).cells if c.node == "v4" and c.part == "trace")
    assert v4.slip == "arithmetic" and "1.500 × 1.099 = 1.6485, not 1.700" in v4.message


def test_a_negative_product_is_quoted_exactly():
    sol = api.solve(functions=["tanh(a)*b"], at={"a": "0.3815", "b": "-3"})._solved  # tanh(a) = 0.36395…
    answers = [Answer("trace", "", "v2", "0.364"), Answer("trace", "", "v3", "−1.200", "0.364 × (−3) = −1.200")]
    v3 = next(c for c in grade(sol, answers).cells if c.node == "v3" and c.part == "trace")
    assert "0.364 × (−3) = −1.092, not −1.200" in v3.message


# -- through the command line and the batch ----------------------------------------------------

def test_a_rounding_student_exits_0_and_a_comma_sheet_is_read(tmp_path, solved):
    from typer.testing import CliRunner

    from derive.cli import app

    runner = CliRunner()
    problem = tmp_path / "hw.toml"
    problem.write_text('[inputs]\nx1 = 1.7\nx2 = 2.3\n\n[outputs]\ny1 = "(x1 + x2)**3 * cos(x2) - x1/x2"\n')
    for i, habit in enumerate([Habit(excel=True), Habit(comma=True), Habit(rounding="half_even", lines=False)]):
        student = Student(f"r{i}", habit)
        path = tmp_path / f"r{i}.csv"
        path.write_bytes(to_csv(_rows(solved["homework_c"], student), student))
        result = runner.invoke(app, ["check", str(problem), str(path)])
        assert result.exit_code == 0, result.output
    path = tmp_path / "c.csv"
    student = Student("c", Habit(comma=True))
    path.write_bytes(to_csv(_rows(solved["problem1"], student), student).replace(b";", b"\t"))  # tabs, no hint
    assert runner.invoke(app, ["check", "problem1", str(path), "--decimal-comma"]).exit_code == 0


def test_the_published_key_as_a_variant_through_the_batch(tmp_path, solved):
    from derive.grading.roster import ManifestEntry

    import sympy

    manifest = {"ann": ManifestEntry("ann", 1, {"x1": sympy.Integer(3), "x2": sympy.Rational(1, 2)}),
                "bob": ManifestEntry("bob", 2, {"x1": sympy.Integer(1), "x2": sympy.Integer(3)})}
    student = Student("ann")
    path = tmp_path / "ann.csv"
    path.write_bytes(to_csv(_rows(solved["problem1"], student), student, with_id=True))  # the base point's key
    submission = grade_file(solved["problem1"], path, manifest, lambda p: api.solve(p)._solved)
    assert not any(c.verdict == "carried" for c in submission.result.cells)
    assert submission.result.score()["total"] < 0.5
    assert any("published point" in note for note in submission.result.notes)


# -- found by a reviewer attacking the grader ---------------------------------------------------

@pytest.fixture(scope="module")
def hw():
    """A TA's homework: v2 = e^v1, v3 = v0·v2, v4 = v0·v1, v5 = tanh v4, v6 = v3 + v5, v7 = v0²,
    v8 = 1 + v7, v9 = ln v8, v10 = v9·v1."""
    return api.solve(functions=["x1*exp(x2) + tanh(x1*x2)", "log(1 + x1**2) * x2"],
                     at={"x1": "1.3", "x2": "-0.7"})._solved


def _answers(solution, habit=Habit(), change=None):
    rows = _rows(solution, Student("s", habit))
    return [Answer(p, q, n, *(change or {}).get((p, q, n), (v, line))) for p, q, n, v, line in rows]


def _cell(result, part, pass_, node):
    return next(c for c in result.cells if (c.part, c.pass_, c.node) == (part, pass_, node))


def test_rough_numbers_in_a_line_do_not_pass_the_precision_rule(hw):
    """e^−0.7 is 0.4966: a line of 2-decimal numbers on a 3-decimal sheet does not make 0.49 right."""
    result = grade(hw, _answers(hw, change={("trace", "", "v2"): ("0.49", "exp(−0.7) = 0.49"),
                                            ("trace", "", "v3"): ("0.6", "1.3 × 0.5 = 0.6")}))
    assert _cell(result, "trace", "", "v2").credit < 1 and _cell(result, "trace", "", "v3").credit < 1


@pytest.mark.parametrize("value", ["1e-9", "0.001", "-0.001", "1"])
def test_a_near_trivial_value_everywhere_earns_no_carried_credit(hw, value):
    cells = [(p, q, n) for p, q, n, _, _ in _rows(hw, Student("s"))]
    result = grade(hw, [Answer(p, q, n, value) for p, q, n in cells])
    assert result.score()["total"] < 0.4 and not any(c.verdict == "carried" for c in result.cells)


def test_a_copied_point_with_one_digit_changed_earns_no_carried_credit(solved):
    variant = api.solve("problem1", at={"x1": "3", "x2": "0.5"})._solved
    key = _answers(solved["problem1"], change={("trace", "", "v0"): ("2.0001", "")})
    result = grade(variant, key, others={PUBLISHED: {"x1": 2, "x2": 1}})
    assert not any(c.verdict == "carried" for c in result.cells) and result.score()["total"] < 0.5


def test_a_wrong_seed_of_minus_one_is_one_slip_carried_after(hw):
    """A sign slip in a seed: the adjoints after it follow from it and keep their credit."""
    student = Student("s", Habit(lines=False))
    rows = _rows(hw, student)
    seed = next((p, q, n) for p, q, n, v, _ in rows if p == "reverse" and q == "y1" and v == "1")
    student.slip = Slip(*seed, "sign")
    result = grade(hw, [Answer(*row) for row in _rows(hw, student)])
    lost = [c for c in result.cells if c.credit < 1]
    assert [(c.part, c.pass_, c.node) for c in lost] == [seed]


def test_a_wrong_tanh_used_through_one_minus_its_square_costs_once(hw):
    """v5 = tanh(v4) written wrong, and ∂v5/∂v4 = 1 − v5² worked from that written v5: carried."""
    wrong_v5 = -0.712
    partial = 1 - wrong_v5 ** 2
    change = {("trace", "", "v5"): (f"{wrong_v5}", "")}
    for name, tangent in (("x1", hw.forward[0].tangents["v4"]), ("x2", hw.forward[1].tangents["v4"])):
        change[("forward", name, "v5")] = (f"{partial * tangent:.3f}", "")
    result = grade(hw, _answers(hw, Habit(lines=False), change))
    lost = [(c.part, c.pass_, c.node) for c in result.cells if c.credit < 1]
    assert lost == [("trace", "", "v5")], lost


def test_required_lines_must_compute_the_value(hw):
    policy = Policy(require_lines=True)
    for line, credit in [("42", 0.5), ("xxxx", 0.5), ("1/0 = 0.497", 0.5), ("exp(−0.7) = 0.497", 1.0)]:
        result = grade(hw, [Answer("trace", "", "v2", "0.497", line)], policy=policy)
        assert _cell(result, "trace", "", "v2").credit == credit, line


def test_a_negative_value_put_in_a_power_reads_as_students_mean_it():
    sol = api.solve(functions=["x**2"], at={"x": "-0.5"})._solved
    cell = _cell(grade(sol, [Answer("trace", "", "v1", "0.250", "−0.500^2 = 0.250")]), "trace", "", "v1")
    assert cell.verdict == "correct" and cell.credit == 1


def test_a_comma_sheets_messages_keep_its_commas(hw):
    answers = _answers(hw, Habit(comma=True), change={("trace", "", "v3"): ("0,700", "1,300 × 0,497 = 0,700")})
    message = _cell(grade(hw, answers), "trace", "", "v3").message
    assert "1,300 × 0,497 = 0,6461" in message and "0.6461" not in message
