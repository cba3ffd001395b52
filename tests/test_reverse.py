"""Reverse mode: one pass per output; every adjoint of Problem 1 against SymPy diff."""

import pytest

from derive.render import lines
from derive.render.notation import TextNotation

from conftest import problem1_adjoints


def test_one_pass_per_output_in_reverse_order(problem1):
    assert [p.output for p in problem1.reverse] == ["y1", "y2"]
    assert [r.node.id for r in problem1.reverse[0].rows] == [f"v{i}" for i in range(11, -1, -1)]


def test_all_24_adjoints_match_sympy(problem1):
    expected = problem1_adjoints()
    for rpass in problem1.reverse:
        for node_id, value in rpass.adjoints.items():
            assert value == pytest.approx(expected[rpass.output][node_id], rel=1e-12, abs=1e-14), (rpass.output, node_id)


def test_corrected_adjoints_of_the_seed_slips(problem1):
    adjoints = problem1.reverse[0].adjoints
    assert adjoints["v7"] == 1.0  # the worked solution writes "1 × 1 = 0"
    assert round(adjoints["v5"], 3) == -1.980
    assert round(adjoints["v4"], 3) == -5.940


def test_reverse_rows_read_like_the_sheet(problem1):
    rows = {r.node: r for r in lines.reverse_rows(problem1.reverse[0], problem1.trace, TextNotation())}
    assert rows["v11"].expression == "v̄11 = ∂y1/∂v11"
    assert rows["v11"].evaluation == "0"
    assert rows["v8"].evaluation == "1"
    assert rows["v1"].expression == "v̄1 = v̄2 ∂v2/∂v1 + v̄4 ∂v4/∂v1 + v̄9 ∂v9/∂v1 + v̄10 ∂v10/∂v1"
    assert rows["v1"].evaluation.endswith(
        "= [7.389 × 2] + [−5.940 × 2] + [0 × 2] + [0 × 0.197] = 2.898")
    assert rows["v6"].evaluation == "1 × v0 = 1 × 2 = 2"


def test_output_that_feeds_another_node_gets_its_seed_plus_consumers():
    import derive

    sol = derive.solve(functions=["sin(x)", "sin(x)*x"], at={"x": 1})
    rpass = sol.reverse[0]  # y1 = sin(x) is node v1, also used by y2's product
    row = next(r for r in rpass.rows if r.node.id == "v1")
    assert row.seed == 1.0 and row.value == 1.0
    other = next(r for r in sol.reverse[1].rows if r.node.id == "v1")
    assert other.seed is None and other.value == pytest.approx(1.0)  # ∂(sin(x)·x)/∂sin(x) = x = 1
