"""Tests generated from the registries: every scalar primitive, every matrix operation and every
function of derive/functions.py printed in text, LaTeX and NumPy; all the LaTeX compiled in one
pdflatex run; the text read back; the NumPy executed against values computed here by hand.

A new entry without a row below (or without a working piece) fails here before a user sees it.
"""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest
import sympy

from derive.forms import fill
from derive.functions import FUNCTIONS
from derive.matrix.codegen import _HELPERS as codegen_helpers
from derive.matrix.codegen import numpy_expr
from derive.matrix.expr import PARAMETERS, TAKES, M
from derive.matrix.rules import OPS
from derive.parse import parse_expression
from derive.render.matrix import LatexPrinter, TextPrinter, derivative_notes
from derive.scalar.rules import ALIASES, FOLD, PRIMITIVES
from derive.scalar.rules import FUNCTIONS as CALLABLE

RNG = np.random.default_rng(7)
A = RNG.uniform(0.2, 1.5, size=(3, 2))  # positive: every function's domain
B = RNG.uniform(0.2, 1.5, size=(3, 2))
C = RNG.uniform(0.2, 1.5, size=(2, 3))
S = RNG.uniform(0.2, 1.5, size=(3, 3))
U = RNG.uniform(0.2, 1.5, size=(3, 1))
c = np.full((1, 1), 1.7)
T = np.abs(RNG.normal(size=(3, 2)))


def var(name, shape):
    return M("var", (), shape, name=name)


a, b, cc, s, u, t = (var("A", (3, 2)), var("B", (3, 2)), var("C", (2, 3)), var("S", (3, 3)), var("u", (3, 1)),
                     var("T", (3, 2)))
k = var("c", (1, 1))


def _erf(x):
    return np.vectorize(math.erf)(x)


#: Each function written here by hand, independently of derive/functions.py.
BY_HAND = {
    "exp": np.exp, "log": np.log, "log1p": lambda x: np.log(1 + x), "sqrt": np.sqrt, "square": lambda x: x * x,
    "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan, "cosh": lambda x: (np.exp(x) + np.exp(-x)) / 2,
    "sinh": lambda x: (np.exp(x) - np.exp(-x)) / 2,
    "tanh": np.tanh, "erf": _erf, "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, x / 100), "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "softplus": lambda x: np.log(1 + np.exp(x)), "silu": lambda x: x / (1 + np.exp(-x)),
    "gelu": lambda x: x * (1 + _erf(x / np.sqrt(2))) / 2,
}


def _sigma(x):
    return 1 / (1 + np.exp(-x))


#: Each derivative written here by hand, with derive's conventions at the kinks (relu′(0) = 0).
SLOPE_BY_HAND = {
    "exp": np.exp, "log": lambda x: 1 / x, "log1p": lambda x: 1 / (1 + x), "sqrt": lambda x: 1 / (2 * np.sqrt(x)),
    "square": lambda x: 2 * x, "abs": np.sign, "sin": np.cos, "cos": lambda x: -np.sin(x),
    "tan": lambda x: 1 + np.tan(x) ** 2, "cosh": lambda x: (np.exp(x) - np.exp(-x)) / 2,
    "sinh": lambda x: (np.exp(x) + np.exp(-x)) / 2, "tanh": lambda x: 1 / np.cosh(x) ** 2,
    "erf": lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x), "sigmoid": lambda x: _sigma(x) * (1 - _sigma(x)),
    "relu": lambda x: np.where(x > 0, 1.0, 0.0), "leaky_relu": lambda x: np.where(x > 0, 1.0, 0.01),
    "elu": lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))), "softplus": _sigma,
    "silu": lambda x: _sigma(x) + x * _sigma(x) * (1 - _sigma(x)),
    "gelu": lambda x: (1 + _erf(x / np.sqrt(2))) / 2 + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi),
}


def _slope(name):
    return SLOPE_BY_HAND[name]


def _softmax(z, axis):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


#: One instance of every matrix operation, with its value computed here by hand.
INSTANCES = {
    "add": (M("add", (a, b), (3, 2)), A + B),
    "neg": (M("neg", (a,), (3, 2)), -A),
    "scale": (M("scale", (k, a), (3, 2)), 1.7 * A),
    "matmul": (M("matmul", (a, cc), (3, 3)), A @ C),
    "T": (M("T", (a,), (2, 3)), A.T),
    "trace": (M("trace", (s,), (1, 1)), np.trace(S)),
    "diag": (M("diag", (u,), (3, 3)), np.diag(U[:, 0])),
    "had": (M("had", (a, b), (3, 2)), A * B),
    "div": (M("div", (a, k), (3, 2)), A / 1.7),
    "pow": (M("pow", (a,), (3, 2), exponent=sympy.Integer(3)), A ** 3),
    "fn": (M("fn", (a,), (3, 2), function="tanh"), np.tanh(A)),
    "dfn": (M("dfn", (a,), (3, 2), function="tanh"), 1 / np.cosh(A) ** 2),
    "sum": (M("sum", (a,), (3, 1), axis=1), A.sum(axis=1, keepdims=True)),
    "mean": (M("mean", (a,), (1, 2), axis=0), A.mean(axis=0, keepdims=True)),
    "variance": (M("variance", (a,), (1, 1), axis=None), np.var(A)),
    "norm": (M("norm", (a,), (1, 1)), math.sqrt((A * A).sum())),
    "dot": (M("dot", (a, b), (1, 1)), (A * B).sum()),
    "softmax": (M("softmax", (a,), (3, 2), axis=0), _softmax(A, 0)),
    "logsumexp": (M("logsumexp", (a,), (3, 1), axis=1), np.log(np.exp(A).sum(axis=1, keepdims=True))),
    "log_softmax": (M("log_softmax", (a,), (3, 2), axis=1), np.log(_softmax(A, 1))),
    "sce": (M("sce", (a, t), (1, 1)), -(T * np.log(_softmax(A, 0))).sum()),
    # the structural operations: each value by hand, ties split as autograd's grad_chooser splits them
    "max": (M("max", (a,), (1, 2), axis=0), A.max(axis=0, keepdims=True)),
    "min": (M("min", (a,), (3, 1), axis=1), A.min(axis=1, keepdims=True)),
    "max_share": (M("max_share", (a,), (3, 2), axis=0), (A == A.max(axis=0)).astype(float)),
    "max_share ties": (M("max_share", (M("ones", (), (3, 2)),), (3, 2), axis=0), np.full((3, 2), 1 / 3)),
    "min_share": (M("min_share", (a,), (3, 2), axis=None), (A == A.min()).astype(float)),
    "min_share ties": (M("min_share", (M("ones", (), (3, 2)),), (3, 2), axis=1), np.full((3, 2), 1 / 2)),
    "maximum": (M("maximum", (a, b), (3, 2)), np.where(A > B, A, B)),
    "minimum": (M("minimum", (a, b), (3, 2)), np.where(A < B, A, B)),
    "above": (M("above", (a, b), (3, 2)), (A > B) * 1.0),
    "above ties": (M("above", (a, a), (3, 2)), np.full((3, 2), 0.5)),
    "below": (M("below", (a, b), (3, 2)), (A < B) * 1.0),
    "less": (M("less", (a, b), (3, 2)), (A < B) * 1.0),
    "less_equal": (M("less_equal", (a, a), (3, 2)), np.ones((3, 2))),
    "greater": (M("greater", (a, b), (3, 2)), (A > B) * 1.0),
    "greater_equal": (M("greater_equal", (a, b), (3, 2)), (A >= B) * 1.0),
    "where": (M("where", (M("less", (a, b), (3, 2)), a, b), (3, 2)), np.minimum(A, B)),
    "epow": (M("epow", (a, b), (3, 2)), np.exp(B * np.log(A))),
    "concat": (M("concat", (a, b), (6, 2), axis=0), np.vstack([A, B])),
    "concat side by side": (M("concat", (a, b), (3, 4), axis=1), np.hstack([A, B])),
    "part": (M("part", (a,), (2, 2), axis=0, bounds=(1, 3)), A[1:, :]),
    "part of the columns": (M("part", (a,), (3, 1), axis=1, bounds=(1, 2)), A[:, [1]]),
    "row": (M("row", (a,), (1, 2), index=1), A[[1], :]),
    "row from the end": (M("row", (a,), (1, 2), index=-1), A[[2], :]),
    "basis": (M("basis", (), (3, 1), index=1, size=3), np.array([[0.0], [1.0], [0.0]])),
    "var1": (M("var1", (a,), (1, 2), axis=0), ((A - A.mean(axis=0)) ** 2).sum(axis=0, keepdims=True) / 2),
    "bce": (M("bce", (a, t), (1, 1)), (np.log(1 + np.exp(A)) - T * A).sum()),
}
for _name in FUNCTIONS:  # every function of the table, as fn and as dfn
    INSTANCES[f"fn {_name}"] = (M("fn", (a,), (3, 2), function=_name), BY_HAND[_name](A))
    INSTANCES[f"dfn {_name}"] = (M("dfn", (a,), (3, 2), function=_name), _slope(_name)(A))


def test_every_operation_and_function_has_an_instance():
    assert {name.split(" ")[0] for name in INSTANCES} == set(OPS)
    assert set(BY_HAND) == set(SLOPE_BY_HAND) == set(FUNCTIONS)


def test_every_operation_declares_its_typed_parameters():
    """Issue 20: a node's parameters are typed fields (no ``data`` holding a name here, an axis
    there); each operation declares which it takes, its instance uses exactly those, and an
    operation that lets a user write axis= takes an axis."""
    for name, op in OPS.items():
        assert set(op.takes) <= set(PARAMETERS), name
        assert TAKES[name] == frozenset(op.takes), name
        assert not op.axis or "axis" in op.takes, name
    for label, (e, _) in INSTANCES.items():
        assert set(e.parameters) <= TAKES[e.op], label
    assert all(TAKES[leaf] for leaf in ("var", "adj", "const", "dim"))


@pytest.mark.parametrize("op", sorted(TAKES))
def test_a_parameter_its_operation_does_not_take_is_refused(op):
    """A future operation cannot smuggle an untyped value in: every parameter an operation does
    not declare is refused when the node is made (an axis on a name, a function on a sum, ...)."""
    for parameter in PARAMETERS:
        if parameter in TAKES[op]:
            continue
        with pytest.raises(TypeError, match=f"takes no {parameter}"):
            M(op, (), (3, 2), **{parameter: 1})
    assert M(op, (), (3, 2)).parameters == {}  # none given is always a node (a sum of everything)


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_the_hand_written_slopes_are_the_hand_written_functions_slopes(name):
    x = np.linspace(-1.9, 1.9, 9) + 0.05  # away from the kinks at 0
    x = np.abs(x) + 0.1 if name in ("log", "sqrt", "log1p") else x
    numeric = (BY_HAND[name](x + 1e-6) - BY_HAND[name](x - 1e-6)) / 2e-6
    assert np.allclose(SLOPE_BY_HAND[name](x), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_every_operation_prints_in_text_and_its_numpy_gives_the_value(name):
    e, expected = INSTANCES[name]
    assert TextPrinter()(e) and LatexPrinter()(e)
    namespace = {"np": np, "math": math}
    exec(compile(codegen_helpers, "<helpers>", "exec"), namespace)  # noqa: S102  derive's own helper text
    for f, by_hand in BY_HAND.items():  # generated code defines f and df from the table; here by hand
        namespace[f], namespace[f"d{f}"] = by_hand, _slope(f)
    namespace.update(A=A, B=B, C=C, S=S, u=U, c=c, T=T)
    got = eval(compile(numpy_expr(e), "<numpy_expr>", "eval"), namespace)  # noqa: S307  derive's own printing
    assert np.allclose(np.broadcast_to(got, np.shape(expected)) if np.ndim(expected) else got, expected,
                       rtol=1e-6, atol=1e-9), numpy_expr(e)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_scalar_primitive_reads_back_as_its_own_value(name):
    rule = PRIMITIVES[name]
    text = fill(rule.text, ["x1", "x2"][: rule.arity])
    tree = parse_expression(text, frozenset({"x1", "x2"}), CALLABLE, ALIASES, FOLD)
    point = {"x1": sympy.Rational(3, 5), "x2": sympy.Rational(7, 4)}
    expected = rule.reference_definition.subs(dict(zip(rule.symbols, point.values())))
    assert tree.op in (name, ALIASES.get(tree.op)) or name in ("sub", "div", "neg")  # a − b parses as sub
    folded = parse_expression(fill(rule.text, ["(3/5)", "(7/4)"][: rule.arity]), frozenset(), CALLABLE, ALIASES, FOLD)
    assert float(folded.value) == pytest.approx(float(expected.evalf(30)), rel=1e-12)


DOCUMENT = r"""\documentclass{article}
\usepackage{amsmath,amssymb}
\begin{document}
%s
\end{document}
"""


def assert_formulas_compile(folder, formulas: list[str]) -> None:
    """All ``formulas`` set as displayed maths in one document, compiled by one pdflatex run."""
    body = "\n".join(rf"\[ {formula} \]" for formula in formulas)
    (folder / "formulas.tex").write_text(DOCUMENT % body)
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                             "formulas.tex"], cwd=folder, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors


class _Solution:
    """The little of a matrix solution derivative_notes reads."""

    def __init__(self, name):
        from types import SimpleNamespace

        z = var("z", (3, 1))
        use = M("had", (M("dfn", (z,), (3, 1), function=name), var("h_bar", (3, 1))), (3, 1))
        self.derivation = SimpleNamespace(adjoints=[SimpleNamespace(simplified=use)], gradients=[], facts=[])
        self.model = SimpleNamespace(abstract=frozenset(), concrete={}, variables=["z"], equations=[], introduced={},
                                     shapes={"z": (3, 1)}, problem=SimpleNamespace(functions={}, dims={}))


def test_all_the_latex_of_the_tables_compiles_in_one_run(tmp_path):
    """Every scalar form (with node names and with numbers), every matrix operation, every
    function's call and its derivative note, in one document."""
    pieces = []
    for rule in PRIMITIVES.values():
        names = [r"v_{1}", r"v_{2}"][: rule.arity]
        pieces += [fill(rule.latex, names), fill(rule.evaluation_latex, ["0.5", "2"][: rule.arity])]
        if rule.shown:
            pieces += [fill(shown[1], names[:1]) for shown in rule.shown if shown]
    for e, _ in INSTANCES.values():
        pieces += [LatexPrinter()(e), LatexPrinter(diag=True)(e)]
    for name in FUNCTIONS:
        notes = derivative_notes(_Solution(name), LatexPrinter())
        assert notes, name
        pieces += notes
    assert_formulas_compile(tmp_path, pieces)
