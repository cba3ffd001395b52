"""The safe parser: the grammar, exact numbers, errors with columns, hostile input, limits."""

import os

import pytest
import sympy

from derive.errors import LimitError, ParseError
from derive.parse import Limits, parse_expression
from derive.scalar.rules import ALIASES, FOLD, FUNCTIONS

NAMES = frozenset({"x1", "x2", "x"})


def parse(text, **kw):
    return parse_expression(text, NAMES, FUNCTIONS, ALIASES, FOLD, **kw)


def test_caret_is_power_with_power_precedence():
    tree = parse("x^2 + 1")
    assert tree.op == "add" and tree.args[0].op == "pow"


def test_numbers_are_exact():
    assert parse("3/2").value == sympy.Rational(3, 2)
    assert parse("0.1").value == sympy.Rational(1, 10)
    assert parse("-2").value == -2
    assert parse("2*pi").value == 2 * sympy.pi
    assert parse("e").value == sympy.E


def test_aliases():
    assert parse("ln(x)").op == "log"
    assert parse("σ(x)").op == "sigmoid"
    assert parse("pow(x, 3)").op == "pow"


@pytest.mark.parametrize("text, message", [
    ("exp(2*x3)", "unknown name 'x3' at column 7"),
    ("sinn(x)", "unknown function 'sinn' at column 1"),
    ("x +", "invalid syntax"),
    ("sin(x, x)", "sin() takes 1 argument, got 2"),
    ("", "empty expression"),
])
def test_errors_say_where(text, message):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert message in info.value.message


def test_did_you_mean():
    with pytest.raises(ParseError) as info:
        parse("sinn(x)")
    assert info.value.hint == "did you mean 'sin'?"
    with pytest.raises(ParseError) as info:
        parse_expression("a1 + a3", frozenset({"a1", "b2"}), FUNCTIONS)
    assert info.value.hint == "did you mean 'a1'?"


def test_columns_account_for_carets():
    with pytest.raises(ParseError) as info:
        parse("x^2 + y")
    assert "at column 7" in info.value.message


HOSTILE = [
    ("__import__('os').system('touch /tmp/pwned')", "attribute access"),
    ("x.__class__", "attribute access"),
    ("().__class__.__bases__", "attribute access"),
    ("(lambda: 1)()", "lambda"),
    ("[i for i in x]", "comprehensions"),
    ("sin(i for i in x)", "comprehensions"),
    ("f'{x}'", "f-strings"),
    ("(y := 2)", "assignment expressions"),
    ("x[0]", "subscripts"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("exec('1')", "unknown function 'exec'"),
    ("sin(x=1)", "keyword arguments"),
    ("sin(*x)", "starred arguments"),
    ("'a'", "string literals"),
    ("x if x else 1", "conditional expressions"),
    ("x < 1", "comparisons"),
    ("x @ x", "operator '@'"),
    ("True", "this constant"),
    ("import os", "invalid syntax"),
]


@pytest.mark.parametrize("text, what", HOSTILE)
def test_hostile_input_is_refused_before_anything_runs(text, what, tmp_path):
    marker = "/tmp/pwned"
    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(ParseError) as info:
        parse(text)
    assert what in info.value.message
    assert not os.path.exists(marker)


def test_deep_nesting_is_a_limit_error_not_a_recursion_error():
    with pytest.raises(LimitError, match="nested too deeply"):
        parse("(" * 10_000 + "x" + ")" * 10_000, limits=Limits(max_length=10**6))
    with pytest.raises(LimitError):
        parse("-" * 100_000 + "x", limits=Limits(max_length=10**6))
    with pytest.raises(LimitError, match="more than 5 levels"):
        parse("sin(sin(sin(sin(sin(sin(x))))))", limits=Limits(max_depth=5))


def test_length_and_exponent_limits():
    with pytest.raises(LimitError, match="characters long"):
        parse("x+" * 20 + "x", limits=Limits(max_length=10))
    with pytest.raises(LimitError, match="exponent 99999999"):
        parse("x**99999999")
    with pytest.raises(LimitError, match="exponent"):
        parse("2**99999999")
    assert parse("x**9", limits=Limits(max_exponent=10)).op == "pow"


def test_python_syntax_warnings_are_not_printed(recwarn):
    with pytest.raises(ParseError):
        parse("1if x else 2")  # Python warns "invalid decimal literal" while parsing this
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


@pytest.mark.parametrize("text", ["x * sqrt(1 - 2)", "x * log(cos(2))", "x * (-8)**(1/3)", "x * (0 - 1)**0.5"])
def test_constants_that_are_not_real_numbers_are_refused(text):
    # found by the property tests: SymPy folds these to complex numbers
    with pytest.raises(ParseError, match="not a real number"):
        parse(text)
