"""No cell or line a student writes stops the grader: whatever is in a worksheet, every cell
gets a verdict (a cell derive cannot judge is that cell's 'review' with a reason), never an
exception (exit 3 for the whole class).  Bounded: a fixed number of generated sheets."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive import api
from derive.grading.grade import Answer, grade

VERDICTS = {"correct", "rounding", "carried", "wrong", "missing", "review"}

#: Pieces of hostile and unlucky writing, found by an attack campaign on the grader.
HOSTILE = [
    "0.197 × 1e308 × 5", "exp(2) = 7.389 + 0e400", "1e308 * 1e308", "2" + "^2" * 1500, "(" * 200 + "1" + ")" * 200,
    "1/0", "0^-1", "(-8)^(1/3)", "log(0)", "sqrt(-1)", "v1^1e308", "σ(1e308) × 1", "exp(1e6)", "tan(π/2)",
    "1e-400", "−0", "nan", "inf", "1,5,5", "7,389 + 0,479 = 7,868", "= = =", "×××", "\x1b]0;title\x07", "\u202e1.5",
    "v999", "v-1", "pow(2, 1e4)", "2 × (3", "[1 × v6] + [0 × v1]", "e^e^e^e", "0.5.5", "1e", "−−−3",
]


@pytest.fixture(scope="module")
def sheets():
    return {"problem1": api.solve("problem1")._solved,
            "root": api.solve(functions=["x1**0.5 * x2"], at={"x1": "4", "x2": "3"})._solved}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_cell_or_line_stops_the_grader(sheets, data):
    solution = sheets[data.draw(st.sampled_from(sorted(sheets)))]
    cells = [("trace", "", n.id) for n in solution.trace.nodes] + \
        [("forward", p.input, r.node.id) for p in solution.forward for r in p.rows] + \
        [("reverse", p.output, r.node.id) for p in solution.reverse for r in p.rows]
    text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.lists(st.sampled_from(HOSTILE + ["v6", "2", "×", "+", "=", "(", ")", "1e308", "−"]),
                              max_size=12).map(" ".join))
    chosen = data.draw(st.lists(st.sampled_from(cells), unique=True, max_size=len(cells)))
    value = st.one_of(text, st.decimals(-1e4, 1e4, places=3).map(str), st.sampled_from(["0.141", "−5.940", "2"]))
    answers = [Answer(*cell, data.draw(value), data.draw(text)) for cell in chosen]
    result = grade(solution, answers)
    assert {c.verdict for c in result.cells} <= VERDICTS
    assert 0.0 <= result.score()["total"] <= 1.0


@pytest.mark.parametrize("line", ["0.197 × 1e308 × 5 = 0.197", "exp(2) = 7.389 + 0e400", "2" + "^2" * 1500])
def test_lines_that_overflowed_or_recursed(sheets, line):
    result = grade(sheets["problem1"], [Answer("forward", "x2", "v10", "0.197", line),
                                        Answer("trace", "", "v3", "7.389", line)])
    assert {c.verdict for c in result.cells} <= VERDICTS


def test_a_sign_slip_on_an_input_under_a_fractional_power(sheets):
    """v0 = −4 under x1**0.5: the recomputation is complex; the cells are judged, not a TypeError."""
    solution = sheets["root"]
    answers = [Answer("trace", "", "v0", "−4"), Answer("trace", "", "v2", "5", "(−4)^0.5 = 5"),
               Answer("forward", "x1", "v2", "0.7", "0.5 × (−4)^(−0.5) × 1 = 0.7")]
    result = grade(solution, answers)
    assert {c.verdict for c in result.cells} <= VERDICTS
