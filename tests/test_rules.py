"""Every rule of the table against SymPy's diff of the primitive's plain definition.

Parametrized over the table itself: a new primitive is tested the moment it is added.
"""

import pytest
import sympy

from derive.forms import fill, slots_of

from derive.scalar.rules import FUNCTIONS, PRIMITIVES, primitive
from derive.errors import InternalError

POINTS = [(0.7, 1.3), (1.9, -0.4), (2.5, 0.6), (-0.8, 2.2)]


def _valid(name, x, y):
    if name in ("log", "sqrt") and x <= 0:
        return False
    if name == "pow" and x <= 0:
        return False
    return True


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_partials_equal_sympy_diff_of_the_reference(name):
    rule = PRIMITIVES[name]
    reference = rule.reference_definition
    for position, symbol in enumerate(rule.symbols):
        ours = rule.partials[position].rewrite(sympy.exp) if name == "sigmoid" else rule.partials[position]
        theirs = sympy.diff(reference, symbol)
        for x, y in POINTS:
            if not _valid(name, x, y):
                continue
            at = dict(zip(rule.symbols, (sympy.Float(x, 30), sympy.Float(y, 30))))
            expected = complex(theirs.subs(at).evalf(30))
            got = complex(ours.subs(at).evalf(30))
            assert got == pytest.approx(expected, rel=1e-20, abs=1e-25), (name, position, x, y)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_float_implementations_agree_with_sympy(name):
    rule = PRIMITIVES[name]
    for x, y in POINTS:
        if not _valid(name, x, y):
            continue
        args = (x, y)[: rule.arity]
        at = dict(zip(rule.symbols, args))
        assert rule.value_function(*args) == pytest.approx(float(rule.reference_definition.subs(at).evalf(20)), rel=1e-13)
        for position, fn in enumerate(rule.partial_functions):
            assert fn(*args) == pytest.approx(float(rule.partials[position].subs(at).evalf(20)), rel=1e-13)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive_has_text_latex_and_rule_label(name):
    rule = PRIMITIVES[name]
    args = ["p", "q"][: rule.arity]
    for form in (rule.text, rule.latex, rule.evaluation_latex):
        assert slots_of(form) == {str(i) for i in range(rule.arity)}, form
        assert fill(form, args)
    assert rule.rule.endswith("Rule")


def test_user_functions_are_exactly_the_non_operator_primitives():
    assert set(FUNCTIONS) == set(PRIMITIVES) - {"add", "sub", "mul", "div", "neg"}


def test_missing_rule_names_the_primitive():
    with pytest.raises(InternalError, match="no differentiation rule for primitive 'lgamma'"):
        primitive("lgamma")


def test_sigmoid_float_is_stable_for_large_arguments():
    fn = PRIMITIVES["sigmoid"].value_function
    assert fn(-800.0) == pytest.approx(0.0, abs=1e-300)
    assert fn(800.0) == 1.0
    assert fn(0.0) == 0.5
