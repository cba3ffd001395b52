"""Forward mode: one pass per input; every tangent of Problem 1 against SymPy diff."""

import pytest

from derive.render import lines
from derive.render.notation import TextNotation

from conftest import problem1_tangents


def test_one_pass_per_input(problem1):
    assert [p.input for p in problem1.forward] == ["x1", "x2"]
    assert all(len(p.rows) == 12 for p in problem1.forward)


def test_all_24_tangents_match_sympy(problem1):
    expected = problem1_tangents()
    for fpass in problem1.forward:
        for node_id, value in fpass.tangents.items():
            assert value == pytest.approx(expected[fpass.input][node_id], rel=1e-12, abs=1e-14), (fpass.input, node_id)


def test_corrected_values_of_the_seed_slips(problem1):
    # The worked solution prints +5.940 and +11.880 here; cos(3) < 0 makes both negative.
    tangents = problem1.forward[1].tangents
    assert round(tangents["v6"], 3) == -5.940
    assert round(tangents["v7"], 3) == -11.880
    assert round(tangents["v8"], 3) == 2.898


def test_forward_rows_read_like_the_sheet(problem1):
    rows = {r.node: r for r in lines.forward_rows(problem1.forward[0], problem1.trace, TextNotation())}
    assert rows["v7"].expression == "∂v7/∂x1 = ∂v7/∂v0 ∂v0/∂x1 + ∂v7/∂v6 ∂v6/∂x1"
    assert rows["v7"].rule == "Product Rule"
    assert rows["v7"].evaluation == "v6 × 1 + v0 × 0 = 0.141 × 1 + 2 × 0 = 0.141"
    assert rows["v4"].evaluation == "2v1 × 0 = 2 × 0 = 0"
    assert rows["v8"].expression == "∂v8/∂x1 = ∂v3/∂x1 + ∂v7/∂x1"
    rows2 = {r.node: r for r in lines.forward_rows(problem1.forward[1], problem1.trace, TextNotation())}
    assert rows2["v6"].evaluation == "cos(v5) × 6 = −0.990 × 6 = −5.940"
    assert rows2["v8"].evaluation == "14.778 − 11.880 = 2.898"
