"""Typed matrix answers, judged by meaning."""

from pathlib import Path

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


def _check(tmp_path, problem, answers):
    from derive.api import solve
    from derive.matrix.answers import check_answers

    path = tmp_path / "answers.toml"
    path.write_text(answers)
    return {(i.part, i.name): i for i in check_answers(solve(problem)._solved, path).items}


TANH_NET = """[dims]
N = 3
K = 2
[variables]
x = "N"
W = "K x N"
[equations]
Z = "W @ x"
H = "tanh(Z)"
L = "sum(H)"
[derive]
loss = "L"
wrt = ["W"]
"""


def test_an_activation_derivative_written_out_is_right_when_the_activation_is_named(tmp_path):
    """σ′(z) ⊙ h̄ written h ⊙ (1 − h) ⊙ h̄ (or tanh′ as 1 − H²) was 'wrong': the exact comparison
    replaced every activation by an unrelated polynomial, even a named one."""
    named = tmp_path / "p2s.toml"
    named.write_text((Path(__file__).parent.parent / "derive" / "builtin" / "problem2.toml").read_text()
                     .replace("[equations]", '[functions]\nsigma = "sigmoid"\n\n[equations]'))
    assert _check(tmp_path, str(named), '[adjoints]\nz = "h * (1 - h) * h_bar"\n')[("adjoints", "z")].verdict \
        == "correct"
    assert _check(tmp_path, str(named), '[adjoints]\nz = "h * (1 + h) * h_bar"\n')[("adjoints", "z")].verdict \
        == "wrong"
    net = tmp_path / "tanh.toml"
    net.write_text(TANH_NET)
    assert _check(tmp_path, str(net), '[adjoints]\nZ = "(1 - H**2) * H_bar"\n')[("adjoints", "Z")].verdict \
        == "correct"
    abstract = _check(tmp_path, "problem2", '[adjoints]\nz = "h * (1 - h) * h_bar"\n')[("adjoints", "z")]
    assert abstract.verdict == "review" and "abstract" in abstract.message  # σ is abstract in problem2
