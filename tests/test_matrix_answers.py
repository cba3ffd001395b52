"""Typed matrix answers, judged by meaning."""

from derive.matrix.answers import check_answers
from derive.matrix.solve import solve_matrix
from derive.problems import load_problem


def check(tmp_path, text):
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return {item.name: item for item in check_answers(solve_matrix(load_problem("problem2"), exact=False), path).items}


def test_the_seeds_formulas_are_correct(tmp_path):
    items = check(tmp_path, open("tests/data/seed_answers.toml").read())
    assert {name: item.verdict for name, item in items.items()} == {n: "correct" for n in items}


def test_missing_transpose_is_a_shape_error_with_the_hint(tmp_path):
    item = check(tmp_path, '[adjoints]\nh = "W2 @ (y - s)"\n')["h"]
    assert item.verdict == "shape"
    assert "W2 @ (y - s): (M×K) @ (K×1) expected, got (M×K) @ (M×1)" in item.message
    assert "a transpose (.T) may be missing" in item.message


def test_equal_in_meaning_but_written_differently_is_correct(tmp_path):
    items = check(tmp_path, '[adjoints]\nh = "W2.T @ y - W2.T @ s + r"\n[gradients]\nW1 = "(dsigma(z) * h_bar) @ x.T"\n')
    assert items["h"].verdict == "correct" and items["W1"].verdict == "correct"


def test_a_wrong_answer_gets_a_counterexample(tmp_path):
    item = check(tmp_path, '[adjoints]\nh = "W2.T @ (y - s)"\n')["h"]  # forgets r
    assert item.verdict == "wrong" and item.counterexample and "not equal to r + W2ᵀ (y − s)" in item.message
    transposed = check(tmp_path, '[gradients]\nW1 = "x @ z_bar.T"\n')["W1"]
    assert transposed.verdict == "shape" and "a transpose is missing" in transposed.message
