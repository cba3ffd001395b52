"""The Wengert list: the seed's numbering, values, reuse of identical sub-expressions."""

import math

import pytest
import sympy

from derive.errors import DomainError, LimitError, ProblemError
from derive.parse import Limits
from derive.problems import load_problem
from derive.scalar.trace import build_trace
from derive.scalar.solve import solve_scalar

from conftest import problem1_values

SEED_DEFINITIONS = {
    "v0": "x1", "v1": "x2", "v2": "2*v1", "v3": "exp(v2)", "v4": "v1**2", "v5": "3*v4",
    "v6": "sin(v5)", "v7": "v0*v6", "v8": "v3 + v7", "v9": "v0*v1", "v10": "sigmoid(v1)",
    "v11": "v9 + v10",
}


def test_problem1_numbering_is_the_seeds(problem1):
    assert [n.id for n in problem1.trace.nodes] == [f"v{i}" for i in range(12)]
    assert {n.id: n.text for n in problem1.trace.nodes} == SEED_DEFINITIONS
    assert problem1.trace.outputs == [("y1", "v8"), ("y2", "v11")]
    assert problem1.trace.inputs == [("x1", "v0"), ("x2", "v1")]


def test_problem1_latex_definitions(problem1):
    latex = {n.id: n.latex for n in problem1.trace.nodes}
    assert latex["v2"] == "2 v_{1}"
    assert latex["v3"] == "e^{v_{2}}"
    assert latex["v4"] == "v_{1}^{2}"
    assert latex["v6"] == r"\sin(v_{5})"
    assert latex["v7"] == "v_{0} v_{6}"
    assert latex["v10"] == r"\sigma(v_{1})"


def test_problem1_values_match_independent_computation(problem1):
    expected = problem1_values()
    for node in problem1.trace.nodes:
        assert node.value == pytest.approx(expected[node.id], rel=1e-14, abs=1e-15)


def test_exact_values_are_sympy(problem1):
    exact = problem1.trace.exact_values
    assert exact["v6"] == sympy.sin(3)
    assert exact["v3"] == sympy.exp(2)
    assert float(exact["v10"].evalf(30)) == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-15)


def test_rules_shown_are_the_seeds(problem1):
    rules = {n.id: n.rule for n in problem1.trace.nodes}
    assert rules["v2"] == rules["v3"] == rules["v10"] == "Chain Rule"
    assert rules["v7"] == rules["v9"] == "Product Rule"
    assert rules["v8"] == rules["v11"] == "Sum Rule"
    assert rules["v0"] == "-"


def test_identical_subexpressions_become_one_node():
    trace = build_trace({"x": sympy.Integer(1)}, {"y": "sin(x)*sin(x) + sin(x)"})
    assert [n.text for n in trace.nodes] == ["x", "sin(v0)", "v1*v1", "v2 + v1"]


def test_constants_stay_literals_and_fractions_stay_exact():
    trace = build_trace({"x": sympy.Integer(2)}, {"y": "3/2*x + pi"})
    assert [n.text for n in trace.nodes] == ["x", "(3/2)*v0", "v1 + pi"]
    assert trace.nodes[1].args[0] == sympy.Rational(3, 2)


def test_depth_order_and_baydin_numbering_reproduce_baydin_et_al():
    # Baydin et al. (2018), table 2: f = ln x1 + x1 x2 - sin x2 at (2, 5)
    sol = solve_scalar(load_problem("baydin"), numbering="baydin", order="depth")
    got = {n.id: (n.text, n.value) for n in sol.trace.nodes}
    assert [n.id for n in sol.trace.nodes] == ["v-1", "v0", "v1", "v2", "v3", "v4", "v5"]
    assert got["v1"] == ("log(v-1)", pytest.approx(math.log(2)))
    assert got["v2"] == ("v-1*v0", 10.0)
    assert got["v3"] == ("sin(v0)", pytest.approx(math.sin(5)))
    assert got["v4"] == ("v1 + v2", pytest.approx(math.log(2) + 10))
    assert got["v5"] == ("v4 - v3", pytest.approx(math.log(2) + 10 - math.sin(5)))
    assert sol.jacobian[0] == pytest.approx([1 / 2 + 5, 2 - math.cos(5)])


def test_baydin_numbering_with_written_order_keeps_values():
    sol = solve_scalar(load_problem("baydin"), numbering="baydin")
    assert [n.id for n in sol.trace.nodes][:2] == ["v-1", "v0"]
    values = sorted(round(n.value, 9) for n in sol.trace.nodes)
    expected = sorted(round(v, 9) for v in (2, 5, math.log(2), 10, math.sin(5), math.log(2) + 10,
                                             math.log(2) + 10 - math.sin(5)))
    assert values == expected


@pytest.mark.parametrize("expr, point, message", [
    ("log(x)", -1, "v1 = log(v0): v0 = -1.0 is outside the domain of log"),
    ("sqrt(x)", -4, "v1 = sqrt(v0): v0 = -4.0 is outside the domain of sqrt"),
    ("1/x", 0, "v1 = 1/v0: v0 = 0.0: division by zero"),
    ("relu(x)", 0, "v1 = relu(v0): v0 = 0.0: relu is not differentiable at 0"),
    ("abs(x)", 0, "v1 = abs(v0): v0 = 0.0: abs is not differentiable at 0"),
    ("sqrt(x)", 0, "v1 = sqrt(v0): v0 = 0.0: sqrt is not differentiable at 0"),
    ("exp(x)", 1000, "v1 = exp(v0): v0 = 1000.0: the value overflows"),
    ("x**0.5", -1, "v1 = v0**(1/2): v0 = -1.0 is outside the domain of pow"),
    ("x*x", 10**200, "v1 = v0*v0: v0 = 1e+200: the value overflows"),  # an infinite product, named once
    ("x**x", 0, "v1 = v0**v0: v0 = 0.0: its derivative divides by zero here"),  # 0**0 = 1; x·x^(x−1) does not
])
def test_domain_errors_name_node_operation_and_value(expr, point, message):
    with pytest.raises(DomainError) as info:
        build_trace({"x": sympy.Integer(point)}, {"y": expr})
    assert info.value.message == message


def test_constant_output_is_refused():
    with pytest.raises(ProblemError, match="is a constant"):
        build_trace({"x": sympy.Integer(1)}, {"y": "2*pi"})


def test_node_limit():
    outputs = {"y1": "sin(x)", "y2": "cos(x)", "y3": "tan(x)", "y4": "exp(x)"}
    with pytest.raises(LimitError, match="the trace has more than 4 nodes"):
        build_trace({"x": sympy.Integer(1)}, outputs, limits=Limits(max_nodes=4))
