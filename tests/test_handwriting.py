"""Hand-written evaluation lines: the seed's notation, parsed without eval."""

import math

import pytest

from derive.errors import ParseError
from derive.grading.grade import read_value
from derive.handwriting import parse_line

NAMES = {"v0": 2.0, "v1": 1.0, "v5": 3.0, "v6": math.sin(3)}


@pytest.mark.parametrize("line, values", [
    ("2v1 × 0 = 2 × 0 = 0", [0, 0, 0]),
    ("cos(v5) × 6 = 5.940", [6 * math.cos(3), 5.94]),
    ("σ(v1)(1 − σ(v1)) × 1 = 0.197", [math.exp(-1) / (1 + math.exp(-1)) ** 2, 0.197]),
    ("σ(1) = 1/(1+e^{-1}) = 0.731", [1 / (1 + math.exp(-1)), 1 / (1 + math.exp(-1)), 0.731]),
    ("[7.389 × 2] + [−5.940 × 2v1] + [0 × v0] = 2.898", [14.778 - 11.88, 2.898]),
    ("e^{v5} · 2 = 40.171", [2 * math.exp(3), 40.171]),
    ("-1.980 × 3 = -5.940", [-5.94, -5.94]),
    ("v0 * v6 / 2", [math.sin(3)]),
])
def test_lines_evaluate_stage_by_stage(line, values):
    stages = parse_line(line, NAMES)
    assert [s.value for s in stages] == pytest.approx(values, rel=1e-12, abs=1e-12)


def test_terms_and_factors():
    stage = parse_line("v0 × 0 + v6 × 1", NAMES)[0]
    assert [t.value for t in stage.terms] == pytest.approx([0, math.sin(3)])
    assert stage.terms[1].factors == pytest.approx((math.sin(3), 1.0))


@pytest.mark.parametrize("line", ["__import__('os')", "v0.__class__", "v9 + 1", "(1 + 2", "1 +", "lambda: 1",
                                  "x = ", "1 # 2"])
def test_bad_lines_are_parse_errors(line):
    with pytest.raises(ParseError):
        parse_line(line, NAMES)


def test_numbers():
    """A value cell is read by the grader's one reader: the number and the decimals written."""
    assert read_value("−5.940") == (-5.94, 3) and read_value("2") == (2.0, 0)
    assert read_value("5,9") == (5.9, 1) and read_value("1,250") is None  # a thousands separator?
    assert read_value("1e" + "9" * 5000) is None  # Python's int() of it raised: internal error (exit 3)


@pytest.mark.parametrize("line, value", [
    ("pow(2, 3) × v1", 8.0),               # every rule-table function reads back (pow was missing)
    ("1.000e−05 × 2", 2e-5),               # a number as the tables print small ones
    ("2v-1 + 1", 2 * 5.0 + 1),             # Baydin's node names
    ("sign(−2) + H(v1) + Abs(−3)", 3.0),   # what printed partials of abs and relu use
    ("relu(−1) + sigmoid(0) + ln(e)", 1.5),
])
def test_every_printed_function_and_number_reads_back(line, value):
    (stage,) = parse_line(line, {**NAMES, "v-1": 5.0})
    assert stage.value == pytest.approx(value, rel=1e-12)


def test_a_stage_knows_how_far_rounding_of_its_numbers_can_move_it():
    (stage,) = parse_line("tan(1.492)", {})
    assert stage.spread == pytest.approx(abs(math.tan(1.4925) - math.tan(1.492)), rel=1e-6)
    assert parse_line("2 × 3", {})[0].spread == 0  # integers are written only when exact
