"""Problems: built-ins, TOML files and inline expressions, and their error messages."""

import pytest
import sympy

from derive.errors import ProblemError
from derive.problems import builtin_names, inline_problem, load_problem, parse_assignment, problem_from_toml

GOOD = """
title = "Three inputs"
[inputs]
a = 1
b = "3/2"
c = 0.25
[outputs]
f = "a*b + sin(c)"
g = "exp(a) / b"
"""


def test_builtins():
    assert {"problem1", "baydin"} <= set(builtin_names())
    p = load_problem("problem1")
    assert list(p.inputs) == ["x1", "x2"] and list(p.outputs) == ["y1", "y2"]


def test_toml_keeps_order_and_exact_values():
    p = problem_from_toml(GOOD, "three")
    assert list(p.inputs) == ["a", "b", "c"]
    assert p.inputs["b"] == sympy.Rational(3, 2) and p.inputs["c"] == sympy.Rational(1, 4)
    assert list(p.outputs) == ["f", "g"]


def test_at_overrides_and_unknown_names():
    p = load_problem("problem1").with_values({"x2": sympy.Integer(3)})
    assert p.inputs == {"x1": 2, "x2": 3}
    with pytest.raises(ProblemError, match="'x3' is not an input") as info:
        load_problem("problem1").with_values({"x3": sympy.Integer(3)})
    assert "did you mean" in info.value.hint


def test_inline():
    p = inline_problem(["x*y", "sin(x)"], [("x", "2"), ("y", "pi/4")])
    assert list(p.outputs) == ["y1", "y2"] and list(p.inputs) == ["x", "y"]
    assert p.inputs["y"] == sympy.pi / 4
    assert parse_assignment(" x1 = 2 ") == ("x1", "2")
    with pytest.raises(ProblemError, match="not of the form name=value"):
        parse_assignment("x1")


@pytest.mark.parametrize("text, message", [
    ("title = \n", "invalid TOML"),
    ("[inputs]\nx = 1\n[outputs]\ny = 'x'\n[outptus]\n", "unknown key 'outptus'"),
    ("title = 3\n[inputs]\nx = 1\n[outputs]\ny = 'x'\n", "'title' must be a string"),
    ("[outputs]\ny = 'x'\n", "the [inputs] table is missing"),
    ("[inputs]\nx = 1\n", "the [outputs] table is missing"),
    ("[inputs]\nx = true\n[outputs]\ny = 'x'\n", "must be a number, not a boolean"),
    ("[inputs]\nx = 1\n[outputs]\ny = 3\n", "must be an expression in quotes"),
    ("[inputs]\nx = 1\n[outputs]\nx = 'x'\n", "is both an input and an output"),
    ("[inputs]\n'x-1' = 1\n[outputs]\ny = 'x'\n", "name 'x-1' is not allowed"),
    ("[inputs]\nsin = 1\n[outputs]\ny = 'sin'\n", "is reserved"),
    ("[inputs]\nx = 'y'\n[outputs]\ny = 'x'\n", "unknown name 'y'"),
    ("[inputs]\nx = 1\nx = 2\n[outputs]\ny = 'x'\n", "invalid TOML"),
])
def test_toml_errors(text, message):
    with pytest.raises(ProblemError) as info:
        problem_from_toml(text, "bad", "bad.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("bad.toml")


def test_toml_syntax_error_has_line_and_column():
    with pytest.raises(ProblemError, match=r"line 2, column \d+"):
        problem_from_toml("title = 'x'\nfoo bar\n", "bad")


def test_unknown_key_did_you_mean():
    with pytest.raises(ProblemError) as info:
        problem_from_toml("[inputs]\nx = 1\n[outputs]\ny = 'x'\n[outptus]\n", "bad")
    assert info.value.hint == "did you mean 'outputs'?"


def test_missing_problem():
    with pytest.raises(ProblemError, match="no problem named 'problme1'") as info:
        load_problem("problme1")
    assert info.value.hint == "did you mean 'problem1'?"


def test_an_input_named_e_is_the_input_and_pi_stays_reserved():
    """Issue 21: e is Euler's number only where the problem does not declare it."""
    from derive.scalar.solve import solve_scalar

    problem = problem_from_toml("[inputs]\ne = 2\nx = 1\n[outputs]\ny = 'e * x + 0 * e'\n", "e")
    assert solve_scalar(problem).jacobian_forward == [[1.0, 2.0]]  # ∂y/∂e = x = 1, ∂y/∂x = e = 2
    with pytest.raises(ProblemError, match="is reserved"):
        problem_from_toml("[inputs]\npi = 2\n[outputs]\ny = 'pi'\n", "pi")


def test_an_unquoted_greek_key_gets_the_hint_to_quote_it(tmp_path):
    """λ = 0.5 is not TOML (a bare key is a-z, 0-9, _ and -): the error says to write "λ" = 0.5."""
    from derive.errors import ProblemError
    from derive.problems import load_problem

    path = tmp_path / "greek.toml"
    path.write_text('[inputs]\nλ = 0.5\n[outputs]\ny = "λ*2"\n', encoding="utf-8")
    with pytest.raises(ProblemError) as info:
        load_problem(str(path))
    assert '"λ" = …' in info.value.hint
