"""The matrix rule tables, tested over the tables themselves: every elementwise derivative
against SymPy's diff, and every VJP rule through a small network checked exactly and numerically."""

import math

import numpy as np
import pytest
import sympy

import dataclasses

from derive.matrix.rules import ELEMENTWISE, OPS
from derive.matrix.solve import solve_matrix
from derive.problems import problem_from_toml

X = sympy.Symbol("x", real=True)
POINTS = [0.3, 0.7, 1.3, 2.1]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_derivative_is_sympys(name):
    kind = ELEMENTWISE[name]
    for p in POINTS:
        expected = float(sympy.diff(kind.sympy_f(X), X).subs(X, p).evalf(30))
        assert float(kind.sympy_df(X).subs(X, p).evalf(30)) == pytest.approx(expected, rel=1e-12)
        assert float(kind.numpy_f(np.array([p]))[0]) == pytest.approx(float(kind.sympy_f(X).subs(X, p).evalf(30)),
                                                                      rel=1e-12)
        assert float(kind.numpy_df(np.array([p]))[0]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_generated_source_is_the_numpy_callables_own(name):
    """Generated code copies the NumPy implementation's source (inspect.getsource): executed, the
    copy gives the callable's values."""
    from derive.functions import numpy_source

    kind = ELEMENTWISE[name]
    x = np.array(POINTS + [-1.7, -0.2])
    for function in (kind.numpy_f, kind.numpy_df):
        namespace = {"np": np, "math": math}
        exec(numpy_source(function, "copied"), namespace)  # noqa: S102  (the project's own source)
        with np.errstate(invalid="ignore", divide="ignore"):  # log and sqrt of the negative points: nan both
            assert np.allclose(namespace["copied"](x), function(x), rtol=1e-12, equal_nan=True)


#: One small network per VJP rule of the table (and per elementwise function).
CASES = {
    "add": "L = 'sum(tanh(A @ u + v)) + sum(tanh(X + u) * X)'",
    "mean": "L = 'sum(tanh(mean(X * X, axis=0))) + sum(tanh(mean(X, axis=1)) * u) + mean(tanh(X))'",
    "variance": "L = 'sum(tanh(var(X, axis=0))) + sum(var(X, axis=1) * u) + var(tanh(X))'",
    "matmul": "L = 'sum(tanh(A @ u))'",
    "T": "L = 'sum(tanh(A.T @ u))'",
    "neg": "L = 'sum(tanh(-(A @ u)))'",
    "scale": "L = 'c * sum(tanh(A @ u))'",
    "div": "L = 'sum(tanh(A @ u)) / c'",
    "trace": "L = 'trace(A @ A)'",
    "had": "L = 'sum(tanh(u * v))'",
    "pow": "L = 'sum(tanh(u)**3)'",
    "fn": "L = 'sum(softplus(A @ u))'",
    "sum": "L = 'sum(tanh(sum(u * v) * u))'",  # ū ≠ 1: a rule that drops ū shows
    "norm": "L = 'norm(A @ u)'",
    "dot": "L = 'dot(u, A @ v)'",
    "softmax": "L = 'dot(v, softmax(A @ u))'",
    "logsumexp": "L = 'logsumexp(A @ u)'",
    "log_softmax": "L = 'dot(v, log_softmax(u))'",
    "sce": "L = 'softmax_cross_entropy(A @ u, t)'",
    # issue 21: the forms a course writes
    "max": "L = 'sum(tanh(max(X, axis=0))) + sum(tanh(max(X, axis=1)) * u) + max(tanh(A @ u))'",
    "min": "L = 'sum(tanh(min(X, axis=0))) + sum(tanh(min(X, axis=-1)) * u) + min(tanh(A @ u))'",
    "maximum": "L = 'sum(tanh(maximum(A @ u, v))) + sum(tanh(maximum(X, 0)) * X) + sum(maximum(X, r))'",
    "minimum": "L = 'sum(tanh(minimum(A @ u, v))) + sum(tanh(minimum(X, 0)) * X)'",
    "less": "L = 'sum(where(A @ u < v, tanh(A @ u), u * v))'",
    "less_equal": "L = 'sum(where(abs(A @ u) <= 1, 0.5 * (A @ u) ** 2, abs(A @ u) - 0.5))'",  # Huber
    "greater": "L = 'sum(where(X > 0.2, X * X, tanh(X)))'",
    "greater_equal": "L = 'sum(where(A @ u >= -1, A @ u, -1))'",  # clipping from below
    "where": "L = 'sum(where(u > v, tanh(A @ u), sigmoid(A @ v)) * u)'",
    "epow": "L = 'sum(sigmoid(u) ** (v * v)) + sum(2 ** tanh(u))'",  # the Bernoulli likelihood p ** t
    "bce": "L = 'binary_cross_entropy_with_logits(A @ u, sigmoid(v))'",
    "var1": "L = 'sum(tanh(var(X, axis=1, ddof=1)) * u) + var(X, ddof=1) + sum(var(X, axis=0, ddof=1))'",
    "row": "L = 'sum(tanh(X[0]) * r) + sum(tanh(A[-1] @ u))'",
    "concat": "L = 'sum(tanh(concat(A, X, axis=1) @ concat(u, r.T))) + sum(tanh(concat(u, 1)))'",  # [u; 1]: a bias row
    "part": "L = 'sum(tanh(concat(u, v)[N:] * u)) + sum(tanh(concat(X, X, axis=1)[:, B:]) * X) + sum(tanh(A[1:]))'",
}
BASE = """[dims]
N = 3
B = 2
[variables]
X = "N x B"
r = "1 x B"
A = "N x N"
u = "N"
v = "N"
t = "N"
c = "1"
[equations]
{equation}
[derive]
loss = "L"
wrt = [{wrt}]
"""


def test_every_vjp_rule_has_a_case():
    assert set(CASES) == {name for name, op in OPS.items() if op.vjps}


@pytest.mark.parametrize("op", sorted(CASES))
def test_each_vjp_rule_is_proved(op):
    equation = CASES[op]
    wrt = ", ".join(f'"{v}"' for v in ("A", "u", "v", "c", "X", "r") if v in equation.split("=", 1)[1])
    solution = solve_matrix(problem_from_toml(BASE.format(equation=equation, wrt=wrt), op))
    assert solution.checks.exact == "pass", solution.checks
    assert solution.checks.numeric_max_relative_error < 1e-6


#: Broadcasting (a column, a row, a scalar with a matrix) and every axis, each proved.
BROADCASTS = {
    "column + matrix": "L = 'sum(tanh(X + u))'",
    "row * matrix": "L = 'sum(tanh(r * X))'",
    "scalar - matrix": "L = 'sum(tanh(1 - X) * c)'",
    "matrix / row": "L = 'sum(tanh(X / (r * r + 1)))'",
    "column / scalar size": "L = 'sum(tanh(u / N))'",
    "sum axis 0 and 1": "L = 'sum(tanh(sum(X, axis=0))) + sum(tanh(sum(X, axis=1)) * u)'",
    "softmax down columns": "L = 'sum(softmax(X) * tanh(X))'",
    "softmax along rows": "L = 'sum(softmax(X, axis=1) * tanh(X))'",
    "log_softmax along rows": "L = 'sum(log_softmax(X, axis=1) * tanh(X))'",
    "logsumexp both axes": "L = 'sum(tanh(logsumexp(X))) + sum(tanh(logsumexp(X, axis=1)) * u)'",
    "cross-entropy over a batch": "L = 'softmax_cross_entropy(A @ X, tanh(X)) / B'",
}


@pytest.mark.parametrize("name", sorted(BROADCASTS))
def test_each_broadcast_and_axis_is_proved(name):
    equation = BROADCASTS[name]
    wrt = ", ".join(f'"{v}"' for v in ("A", "u", "c", "X", "r") if v in equation.split("=", 1)[1])
    solution = solve_matrix(problem_from_toml(BASE.format(equation=equation, wrt=wrt), "b"))
    assert solution.checks.exact == "pass", solution.checks
    assert solution.checks.numeric_max_relative_error < 1e-6


def test_every_operation_has_every_piece():
    for name, op in OPS.items():
        for piece in ("shape", "build", "numpy", "sympy", "source", "text", "latex", "binding"):
            assert getattr(op, piece), (name, piece)
        assert op.vjps or op.why_no_vjp, name
        assert op.arity is None or not op.vjps or len(op.vjps) == op.arity, name
        assert op.sides == () or len(op.sides) == (op.arity or 2), name


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_each_elementwise_function_through_a_network(name):
    text = BASE.format(equation=f"L = 'sum({name}(A @ u))'", wrt='"A", "u"').replace(
        "[equations]", f"[functions]\nf = \"{name}\"\n[equations]")
    if name == "log":  # keep the argument positive
        text = text.replace("sum(log(A @ u))", "sum(log(softmax(A @ u)))")
    solution = solve_matrix(problem_from_toml(text, name))
    assert solution.checks.numeric_max_relative_error < 1e-6


# -- issue 9 #3: softmax cross-entropy for any targets ---------------------------------------------
SOFT_TARGETS = """[dims]
N = 4
[variables]
z = "N"
u = "N"
[equations]
t = "sigmoid(u)"
L = "softmax_cross_entropy(z, t)"
[derive]
loss = "L"
wrt = ["z", "u"]
"""


def test_softmax_cross_entropy_with_soft_targets_is_right(tmp_path):
    from derive.matrix.codegen import generate

    solution = solve_matrix(problem_from_toml(SOFT_TARGETS, "soft"))
    assert solution.checks.exact == "pass"
    path = tmp_path / "soft.py"
    path.write_text(generate(solution.derivation))
    import importlib.util

    spec = importlib.util.spec_from_file_location("soft", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    z, u = np.array([[0.2], [-1.1], [0.7], [0.05]]), np.array([[1.5], [0.3], [-0.8], [2.0]])
    t = 1 / (1 + np.exp(-u))
    p = np.exp(z) / np.exp(z).sum()
    grads = module.gradients(z, u)
    # by hand: L = −Σ t log p;  ∂L/∂z = (Σ t) p − t;  ∂L/∂u = −log p ⊙ t (1 − t)
    assert np.allclose(grads["z"], t.sum() * p - t, rtol=1e-12)
    assert np.allclose(grads["u"], -np.log(p) * t * (1 - t), rtol=1e-12)


# -- checks sample honestly: each planted wrong rule is caught ------------------------------------
def _wrong(op, position, rule):
    def plant(monkeypatch):
        table = list(OPS[op].vjps)
        table[position] = rule
        monkeypatch.setitem(OPS, op, dataclasses.replace(OPS[op], vjps=tuple(table)))
    return plant


from derive.matrix import expr as _mx  # noqa: E402
from derive.matrix import rules as _rules  # noqa: E402

WRONG_RULES = {
    "sce: p − t (right for distributions only)": ("sce", _wrong("sce", 0, lambda e, u: _mx.scale(
        u, _mx.sub(_mx.vector_op("softmax", e.args[0]), e.args[1])))),
    "matmul: dropped transpose (W ū for Wᵀ ū)": ("matmul", _wrong("matmul", 1, lambda e, u: _mx.matmul(e.args[0], u))),
    "matmul: ū a for ū aᵀ (square)": ("matmul", _wrong("matmul", 0, lambda e, u: _mx.transpose(
        _mx.matmul(u, _mx.transpose(e.args[1]))))),
    "T: sign": ("T", _wrong("T", 0, lambda e, u: _mx.neg(_mx.transpose(u)))),
    "neg: sign dropped": ("neg", _wrong("neg", 0, lambda e, u: u)),
    "scale: c̄ sign": ("scale", _wrong("scale", 0, lambda e, u: _mx.neg(_mx.dot(u, e.args[1])))),
    "div: c̄ without the square": ("div", _wrong("div", 1, lambda e, u: _mx.neg(_mx.div(_mx.dot(u, e.args[0]),
                                                                                     e.args[1])))),
    "had: own factor": ("had", _wrong("had", 0, lambda e, u: _mx.had(e.args[0], u))),
    "pow: exponent not lowered": ("pow", _wrong("pow", 0, lambda e, u: _mx.had(
        _mx.scale(_mx.const(e.exponent), _mx.power(e.args[0], e.exponent)), u))),
    "fn: f′ forgotten": ("fn", _wrong("fn", 0, lambda e, u: u)),
    "sum: ū dropped": ("sum", _wrong("sum", 0, lambda e, u: _mx.ones(e.args[0].shape))),
    "norm: not divided by the norm": ("norm", _wrong("norm", 0, lambda e, u: _mx.scale(u, e.args[0]))),
    "dot: arguments swapped": ("dot", _wrong("dot", 0, lambda e, u: _mx.scale(u, e.args[0]))),
    "trace: transposed (A for I)": ("trace", _wrong("trace", 0, lambda e, u: _mx.scale(u, e.args[0]))),
    "softmax: p ⊙ ū": ("softmax", _wrong("softmax", 0, lambda e, u: _mx.had(_mx.vector_op("softmax", e.args[0]),
                                                                             u))),
    "logsumexp: sign": ("logsumexp", _wrong("logsumexp", 0, lambda e, u: _mx.neg(_mx.scale(
        u, _mx.vector_op("softmax", e.args[0]))))),
    "mean: not divided by the count": ("mean", _wrong("mean", 0, lambda e, u: _rules._sum_vjp(e, u))),
    "variance: not centred": ("variance", _wrong("variance", 0, lambda e, u: _mx.div(
        _mx.scale(_mx.const(2), _mx.had(e.args[0], u)), _mx.count(e.args[0].shape, e.axis)))),
    "add: a broadcast operand's share not summed": ("add", lambda monkeypatch: monkeypatch.setattr(
        _rules, "unbroadcast", lambda u, shape: u if u.shape == tuple(shape) else _mx.along("mean", u, 1))),
    "log_softmax: ū only": ("log_softmax", _wrong("log_softmax", 0, lambda e, u: u)),
    "maximum: the weight of the other argument": ("maximum", _wrong("maximum", 0, lambda e, u: _mx.had(
        _mx.M("above", e.args[::-1], e.shape), u))),
    "max: ū not spread back": ("max", _wrong("max", 0, lambda e, u: _mx.had(
        _mx.M("max_share", (e.args[0],), e.args[0].shape, axis=e.axis), _mx.ones(u.shape)))),
    "where: branches swapped": ("where", _wrong("where", 1, lambda e, u: _mx.had(
        _mx.sub(_mx.ones(e.args[0].shape), e.args[0]), u))),
    "epow: exponent not lowered": ("epow", _wrong("epow", 0, lambda e, u: _mx.had(_mx.had(e.args[1], e), u))),
    "bce: t − σ(z)": ("bce", _wrong("bce", 0, lambda e, u: _mx.scale(u, _mx.sub(e.args[1], _mx.fn("sigmoid",
                                                                                                e.args[0]))))),
    "var1: divided by n": ("var1", _wrong("var1", 0, lambda e, u: _rules._var_vjp(e, u))),
    "row: the first row for any": ("row", _wrong("row", 0, lambda e, u: _mx.matmul(_mx.transpose(
        _mx.M("row", (_mx.eye(e.args[0].shape[0]),), (1, e.args[0].shape[0]), index=0)), u))),
    "concat: the blocks swapped": ("concat", _wrong("concat", 0, lambda e, u: _mx.part(
        u, e.axis, e.args[1].shape[e.axis], _mx.size_sum(e.args[1].shape[e.axis], e.args[0].shape[e.axis])))),
    "part: ū at the start": ("part", _wrong("part", 0, lambda e, u: _mx.concat(
        u, _mx.zero(_rules._with(e.args[0].shape, e.axis, e.bounds[0])), e.axis))),
}


@pytest.mark.parametrize("name", sorted(WRONG_RULES))
def test_a_planted_wrong_rule_is_caught_numerically_and_exactly(name, monkeypatch):
    from derive.errors import VerificationError
    from derive.matrix.backprop import derive
    from derive.matrix.shapes import build_model
    from derive.matrix.verify import exact_check, numeric_check

    op, plant = WRONG_RULES[name]
    equation = CASES[op]
    wrt = ", ".join(f'"{v}"' for v in ("A", "u", "v", "c", "t", "X") if v in equation.split("=", 1)[1])
    problem = problem_from_toml(BASE.format(equation=equation, wrt=wrt), op)
    plant(monkeypatch)
    derivation = derive(build_model(problem))
    with pytest.raises(VerificationError, match="disagrees with finite differences"):
        numeric_check(derivation)
    with pytest.raises(VerificationError) as caught:
        exact_check(derivation)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message  # one readable line


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_form_uses_exactly_its_arguments(name):
    """A form's $0, $1 are its arguments and nothing else is (issue 21: \\mathbf{1} in the indicator
    of max and of comparisons was once filled with the second argument)."""
    from derive.forms import slots_of

    op = OPS[name]
    arity = 2 if op.arity is None else op.arity
    for style in ("source", "text", "latex"):
        used = {int(i) for i in slots_of(getattr(op, style)) if i.isdigit()}
        assert used == set(range(arity)), (name, style, getattr(op, style))


@pytest.mark.parametrize("op", sorted(CASES))
def test_each_operation_runs_in_generated_code(op, tmp_path):
    """The NumPy source of every operation (and of its VJP's results) runs, and gives the
    derivation's own gradients (the registry's NumPy values) at the check point."""
    import importlib.util

    from derive.matrix.backprop import derive
    from derive.matrix.codegen import generate
    from derive.matrix.evaluate import NumpyBackend, run_backward, run_forward
    from derive.matrix.shapes import build_model
    from derive.matrix.verify import check_point

    equation = CASES[op]
    wrt = ", ".join(f'"{v}"' for v in ("A", "u", "v", "c", "X", "r") if v in equation.split("=", 1)[1])
    derivation = derive(build_model(problem_from_toml(BASE.format(equation=equation, wrt=wrt), op)))
    path = tmp_path / f"{op}.py"
    path.write_text(generate(derivation))
    spec = importlib.util.spec_from_file_location(op, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = derivation.model
    env = check_point(derivation, 0)
    backend = NumpyBackend(model.concrete)
    expected = run_backward(derivation, run_forward(model, env, backend, model.problem.dims), backend,
                            model.problem.dims)
    got = module.gradients(*(env[v] for v in model.variables))
    for g in derivation.gradients:
        assert np.allclose(got[g.name], expected[g.name], rtol=1e-10, atol=1e-12), g.name
