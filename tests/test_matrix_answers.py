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


def test_a_timed_out_exact_comparison_is_never_a_pass(tmp_path, monkeypatch):
    # issue 13: z_bar + (sum(b1)/10**6)**999 * z_bar equals z_bar to double precision near 1;
    # the exact check times out; it was graded correct.
    from derive.matrix import answers

    monkeypatch.setattr(answers, "EXACT_TIMEOUT", 1e-3)
    items = check(tmp_path, '[gradients]\nb1 = "z_bar + (sum(b1)/1000000)**999 * z_bar"\n'
                            'W2 = "y_bar @ h.T + 1e-30 * y_bar @ h.T"\n')
    assert items["b1"].verdict == "wrong"  # seen at random values of a larger scale
    assert items["W2"].verdict == "review" and "a person should look" in items["W2"].message


def test_a_tiny_wrong_term_is_wrong_when_the_exact_check_decides(tmp_path):
    items = check(tmp_path, '[gradients]\nb1 = "z_bar + (sum(b1)/1000000)**3 * z_bar"\n'
                            'W2 = "y_bar @ h.T + 1e-30 * y_bar @ h.T"\n')
    assert items["b1"].verdict == "wrong" and items["W2"].verdict == "wrong"
