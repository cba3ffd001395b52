"""Variants that would make a poor exercise are drawn again: an input of 0 (unless [variants]
allow_zero lists it) and a tanh or σ whose value prints as 0, 1 or −1 at the sheet's digits."""

import math

import pytest

from derive.errors import ProblemError
from derive.problems import problem_from_toml
from derive.grading.variants import draw_variants


def test_zero_inputs_are_drawn_again_unless_allowed():
    toml = "[inputs]\nx = 1\nw = 1\n[outputs]\ny = 'x*w + x'\n[variants]\nx = [-1, 1]\nw = [1, 3]\n"
    drawn = draw_variants(problem_from_toml(toml, "p"), 6, seed=2)
    assert all(v.values["x"] != 0 for v in drawn) and len(drawn) == 6
    allowed = draw_variants(problem_from_toml(toml + "allow_zero = ['x']\n", "p"), 9, seed=2)
    assert any(v.values["x"] == 0 for v in allowed)  # 0 is drawn (each student draws on their own)
    with pytest.raises(ProblemError, match="allow_zero"):
        problem_from_toml(toml + "allow_zero = ['z']\n", "p")


def test_saturated_activations_are_drawn_again():
    toml = "[inputs]\nx = 1\n[outputs]\ny = 'tanh(x) + sigmoid(2*x)'\n[variants]\nx = [-8, 8]\n"
    drawn = draw_variants(problem_from_toml(toml, "p"), 6, seed=1)
    for v in drawn:
        x = float(v.values["x"])
        for value in (math.tanh(x), 1 / (1 + math.exp(-2 * x))):  # independent of derive
            assert round(value, 3) not in (0.0, 1.0, -1.0)
    assert {abs(float(v.values["x"])) for v in drawn} <= {1, 2, 3}  # each student draws on their own
    saturated = toml.replace("x = [-8, 8]", "x = [4, 8]")
    with pytest.raises(ProblemError, match="could not draw"):
        draw_variants(problem_from_toml(saturated, "p"), 2, seed=1)  # tanh(4..8) all print as 1.000
    # at 5 digits, tanh(4) = 0.99933 and σ(8) = 0.99966 are no longer 1
    assert len(draw_variants(problem_from_toml(toml, "p"), 8, seed=1, digits=5)) == 8
