"""Every function of the table, walked: folds on a constant, prints, reads back, differentiates."""

import math

import pytest
import sympy

from derive.parse import parse_expression
from derive.scalar.rules import ALIASES, FOLD, FUNCTIONS, PRIMITIVES


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("point", ["1/2", "2", "-3/4"])
def test_every_function_folds_on_a_constant(name, point):
    """sigmoid(2) and relu(2) were refused as "undefined (not a real number)": the class-backed
    functions had no finiteness assumption.  A constant in the domain folds to the number."""
    primitive = PRIMITIVES[name]
    arguments = [point] * primitive.arity
    reference = sympy.lambdify(primitive.symbols, primitive.reference_definition, "mpmath")
    exact = [sympy.Rational(sympy.sympify(point))] * primitive.arity
    expected = complex(reference(*exact))
    if expected.imag != 0 or not math.isfinite(expected.real):
        pytest.skip(f"{name}({point}) is outside the domain")
    tree = parse_expression(f"{name}({', '.join(arguments)})", frozenset(), FUNCTIONS, ALIASES, FOLD)
    assert tree.op == "num"
    assert float(tree.value) == pytest.approx(expected.real, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_of_a_folded_constant_is_a_real_float(name):
    """sigmoid(sin(2)) evaluated through rewrite(exp), which rewrote sin(2) as complex exponentials
    and float() refused the result."""
    primitive = PRIMITIVES[name]
    inner = [sympy.sin(2) + 2] * primitive.arity
    value = FOLD[name](*inner)
    expected = primitive.reference_definition.subs(dict(zip(primitive.symbols, inner))).evalf(30)
    assert float(value) == pytest.approx(float(expected), rel=1e-12)
