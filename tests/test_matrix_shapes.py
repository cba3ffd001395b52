"""Shapes: inferred from named sizes; a mismatch names the equation, operator and shapes."""

import pytest
import sympy

from derive.errors import ParseError, ProblemError, ShapeError
from derive.matrix.shapes import build_model
from derive.problems import problem_from_toml

BASE = """
[dims]
N = 3
K = 4
M = 2
[variables]
x = "N"
W1 = "K x N"
W2 = "M x K"
r = "K"
[equations]
{equations}
[derive]
loss = "L"
wrt = ["x"]
"""


def model(equations: str, base: str = BASE):
    return build_model(problem_from_toml(base.format(equations=equations), "net"))


def test_shapes_are_inferred():
    m = model('z = "W1 @ x"\nh = "tanh(z)"\nL = "r.T @ h"')
    assert m.shapes["z"] == ("K", 1) and m.shapes["L"] == (1, 1)


@pytest.mark.parametrize("equations, error, message", [
    ('z = "W1 @ x"\ny = "W2 @ x"\nL = "sum(y)"', ShapeError,
     'y = "W2 @ x": W2 @ x: (M×K) @ (K×1) expected, got (M×K) @ (N×1)'),
    ('z = "W1 @ x"\nL = "r @ z"', ShapeError, 'L = "r @ z": r @ z: (K×1) @ (1×1) expected, got (K×1) @ (K×1)'),
    ('L = "W1 @ x"', ShapeError, "the loss L must be a scalar, but it is (K×1)"),
    ('z = "W1 @ x"\nL = "sum(z + x)"', ShapeError, "z + x: (K×1) and (N×1) do not broadcast"),
    ('z = "W1 * W2"\nL = "sum(z)"', ShapeError, "W1 * W2: (K×N) and (M×K) do not broadcast (elementwise *)"),
    ('L = "sum(W1 + W1.T)"', ShapeError, "W1 + W1.T: (K×N) and (N×K) do not broadcast"),
    ('L = "sum(x, axis=2)"', ParseError, "unknown axis 2 at column 13"),
    ('L = "sum(x, axes=1)"', ParseError, "keyword arguments at column 8 not allowed"),
    ('L = "norm(x, axis=1)"', ShapeError, "norm() takes no axis"),
    ('L = "sum(W1 @ sum(W1, axis=1))"', ShapeError, "W1 @ sum(W1, axis=1): (K×N) @ (N×1) expected"),
    ('L = "sum(foo(x))"', ParseError, "unknown function 'foo'"),
    ('L = "sum(x // 2)"', ParseError, "operator '//'"),
    ('L = "sum(x.shape)"', ParseError, "attribute access"),
    ('L = "trace(W1)"', ShapeError, "trace of a (K×N) matrix, which is not square"),
])
def test_shape_and_grammar_errors(equations, error, message):
    with pytest.raises(error) as info:
        model(equations)
    assert message in str(info.value)


def test_broadcasts_and_sizes_as_numbers_are_typed():
    m = model('z = "W1 @ x + r.T @ W1 @ x"\nh = "r.T + sum(z) / K"\nL = "sum(mean(h, axis=0))"')
    assert m.shapes["z"] == ("K", 1) and m.shapes["h"] == (1, "K") and m.shapes["L"] == (1, 1)


def test_missing_transpose_hint():
    with pytest.raises(ShapeError) as info:
        model('z = "W1 @ x"\nL = "r @ z"')
    assert info.value.hint == "a transpose (.T) may be missing"


@pytest.mark.parametrize("patch, message", [
    (('x = "N"', 'x = "Q"'), "unknown size 'Q'"),
    (('x = "N"', 'x = "N by K"'), "is not understood"),
    (("loss = \"L\"", "loss = \"Q\""), "derive.loss must name an equation"),
    (('wrt = ["x"]', 'wrt = ["q"]'), "derive.wrt names 'q'"),
    (("N = 3", "N = 0"), "must be a positive integer"),
])
def test_problem_file_errors(patch, message):
    text = BASE.format(equations='L = "sum(x)"').replace(*patch)
    with pytest.raises(ProblemError, match=message):
        build_model(problem_from_toml(text, "net"))


KINDS = """
[dims]
M = 3
B = 4
N = 2
[variables]
X = "N x B"
W = "M x N"
T = { shape = "M x B", kind = "onehot" }
D = { shape = "M x B", kind = "distribution" }
S = { shape = "1 x B", kind = "binary" }
"λ" = { shape = "1", kind = "positive" }
[equations]
P = "softmax(W @ X, axis=0)"
L = "-sum(T * log(P)) / B - sum(D * log(P)) / B + sum(S) * λ * sum(W * W)"
[derive]
loss = "L"
wrt = ["W", "λ"]
"""


def test_declared_kinds_are_sampled_as_their_kind():
    import numpy as np

    from derive.matrix.backprop import derive
    from derive.matrix.verify import exact_variables, random_values

    problem = problem_from_toml(KINDS, "kinds")
    assert problem.kinds == {"T": "onehot", "D": "distribution", "S": "binary", "λ": "positive"}
    derivation = derive(build_model(problem))
    for seed in range(5):
        values = random_values(derivation, seed)
        assert set(np.unique(values["T"])) <= {0.0, 1.0} and np.allclose(values["T"].sum(axis=0), 1)
        assert (values["D"] >= 0).all() and np.allclose(values["D"].sum(axis=0), 1)
        assert set(np.unique(values["S"])) <= {0.0, 1.0} and (values["λ"] > 0).all()
    exact = exact_variables(derivation.model, problem.dims)
    assert all(sum(exact["D"].col(j)) == 1 and sum(exact["T"].col(j)) == 1 for j in range(4))
    assert exact["W"][0, 0].is_Symbol and exact["λ"][0, 0].is_positive


@pytest.mark.parametrize("patch, message", [
    (('wrt = ["W", "λ"]', 'wrt = ["W", "T"]'), "derive.wrt names 'T', declared onehot: its values are data"),
    (('kind = "onehot"', 'kind = "onehat"'), "variable T: unknown kind 'onehat'"),
    (('shape = "M x B", kind = "onehot"', 'shap = "M x B"'), "variable T: unknown key 'shap'"),
])
def test_misused_kinds_are_one_clear_line(patch, message):
    with pytest.raises(ProblemError, match=message) as info:
        build_model(problem_from_toml(KINDS.replace(*patch), "kinds"))
    assert "\n" not in str(info.value)


def test_greek_names_are_typeset_as_greek():
    from derive.parse import latex_variable

    assert [latex_variable(n) for n in ("λ", "lambda", "gamma", "β1", "Σ")] == [
        r"\lambda", r"\lambda", r"\gamma", r"\beta_{1}", r"\Sigma"]


def test_a_variable_named_lambda_parses_and_typesets_as_lambda():
    from derive.matrix.solve import solve_matrix
    from derive.render.matrix import LatexPrinter

    text = ('[dims]\nN = 3\n[variables]\nw = "N"\nlambda = "1"\n[equations]\n'
            'L = "0.5 * lambda * sum(w * w) + lambda"\n[derive]\nloss = "L"\nwrt = ["w", "lambda"]\n')
    solution = solve_matrix(problem_from_toml(text, "decay"))
    assert solution.checks.exact == "pass"
    gradients = {g.name: LatexPrinter()(g.expr) for g in solution.derivation.gradients}
    assert gradients["w"] == r"\lambda \, w"
    with pytest.raises(ParseError, match="at column 36"):  # columns count the name as written
        build_model(problem_from_toml(text.replace('+ lambda"', '+ lambda $"'), "decay"))


@pytest.mark.parametrize("equations, shown", [
    ('a = "W1 @ x"\nb = "W1 @ x"\nL = "x.T @ (-(a + b))"', "x.T @ (-(a + b)): (1×N) @ (N×1) expected"),
    ('L = "sum((x**2)**3 @ x)"', "(x ** 2) ** 3 @ x:"),
])
def test_shape_errors_print_the_brackets_the_user_wrote(equations, shown):
    with pytest.raises(ShapeError) as info:
        model(equations)
    assert shown in str(info.value)


def _tree(e):
    """A parsed expression without its columns, to compare what two texts mean."""
    return (e.op, e.name, str(e.value) if e.value is not None else None, tuple(_tree(a) for a in e.args))


_NAMES = frozenset({"a", "b", "c", "W"})


def _expressions():
    from hypothesis import strategies as st

    leaves = st.sampled_from(["a", "b", "c", "W", "2", "0.5", "(1/3)", "(-2)"])

    def grow(children):
        binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "@", "**"]), children).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})" if t[1] != "**" else f"({t[0]}) ** 2")
        unary = st.one_of(children.map(lambda c: f"-({c})"), children.map(lambda c: f"({c}).T"),
                          children.map(lambda c: f"tanh({c})"), children.map(lambda c: f"sum({c}, axis=1)"))
        return st.one_of(binary, unary)

    return st.recursive(leaves, grow, max_leaves=8)


def test_the_error_printer_reads_back_as_the_same_tree():
    """CPython's ast.unparse test, for derive/matrix/shapes.py's text of a sub-expression."""
    from hypothesis import assume, given, settings

    from derive.matrix.shapes import expr_text
    from derive.parse import parse_expression

    functions = {"tanh": 1, "sum": 1}

    @settings(max_examples=300, deadline=None)
    @given(_expressions())
    def reads_back(text):
        try:
            tree = parse_expression(text, _NAMES, functions, matrix=True)
        except ParseError:  # a drawn constant divided by zero, (2) / ((2) + (-2))
            assume(False)
        again = parse_expression(expr_text(tree), _NAMES, functions, matrix=True)
        assert _tree(again) == _tree(tree), expr_text(tree)

    reads_back()


# -- issue 21: the forms a course writes -------------------------------------------------------------
OPS_BASE = """
[dims]
D = 3
H = 2
B = 4
[variables]
x = "D"
h = "H"
W = "H x D+H"
V = "2H x D"
X = "D x B"
[equations]
{equations}
[derive]
loss = "L"
wrt = ["x"]
"""


def ops_model(equations: str):
    return model(equations, OPS_BASE)


@pytest.mark.parametrize("equation, shape", [
    ("concat(x, h)", ("D+H", 1)),            # sizes add by name, in one order: h on x is D+H too
    ("concat(h, x)", ("D+H", 1)),
    ("W @ concat(x, h)", ("H", 1)),          # a GRU gate
    ("concat(X, X, axis=1)", ("D", "2B")),
    ("(V @ x)[:H]", ("H", 1)),               # GLU halves
    ("(V @ x)[H:]", ("H", 1)),
    ("(V @ x)[H:2*H]", ("H", 1)),
    ("X[:, :2]", ("D", 2)),
    ("W[0]", (1, "D+H")),
    ("W[-1]", (1, "D+H")),
    ("max(X, axis=0)", (1, "B")),
    ("max(X)", (1, 1)),
    ("mean(X, axis=-1)", ("D", 1)),          # -1 is the last axis, as NumPy counts
    ("mean(X, 1)", ("D", 1)),                # the axis by position
    ("var(X, axis=1, ddof=1)", ("D", 1)),
    ("X.sum(axis=0)", (1, "B")),             # method calls
    ("(X * X).mean()", (1, 1)),
    ("maximum(X, 0)", ("D", "B")),
    ("minimum(X, x)", ("D", "B")),
    ("where(X < 1, X, 0)", ("D", "B")),
    ("where(abs(x) <= 1, 0.5 * x ** 2, abs(x) - 0.5)", ("D", 1)),
    ("sigmoid(X) ** X", ("D", "B")),
    ("binary_cross_entropy_with_logits(X, X)", (1, 1)),
])
def test_course_forms_are_typed(equation, shape):
    m = ops_model(f'Y = "{equation}"\nL = "sum(Y)"')
    assert m.shapes["Y"] == shape


@pytest.mark.parametrize("equation, error, message", [
    ("concat(x, X)", ShapeError, "(D×1) and (D×B) cannot be joined along axis 0: the columns differ"),
    ("W @ concat(h, h)", ShapeError, "(H×D+H) @ (2H×1)"),
    ("(V @ x)[:D]", ShapeError, ":D is not a part of the 2H rows of a (2H×1) matrix"),
    ("(V @ x)[H:H]", ShapeError, "H:H is not within the 4 rows of a (2H×1) matrix"),
    ("W[2]", ShapeError, "W[2]: row 2 of a (H×D+H) matrix, which has 2 rows (H = 2)"),
    ("W[x]", ParseError, "this subscript at column 1 not allowed"),
    ("W[::2]", ParseError, "this subscript"),
    ("where(X, X, 0)", ShapeError, "the condition of where() must be a comparison"),
    ("where(0 < X < 1, X, 0)", ParseError, "this comparison"),
    ("X == 1", ParseError, "this comparison"),
    ("sum(X, axis=3)", ParseError, "unknown axis 3"),
    ("mean(X, ddof=1)", ShapeError, "mean() takes no ddof"),
    ("var(X, ddof=2)", ParseError, "unknown ddof 2"),
    ("tanh(X, 1)", ShapeError, "tanh() takes no axis"),
    ("X.norm()", ParseError, "attribute access"),
    ("concatenate(x, h)", ParseError, "hint: write concat(a, b)"),
    ("np.maximum(X, 0)", ParseError, "hint: write maximum(…) without 'np.'"),
    ("amax(X)", ParseError, "hint: write max(A, axis=0)"),
    ("max(X, 0)", ParseError, "max() of two arguments at column 1 is ambiguous (hint: write maximum(A, B) entry"),
    ("min(0, X)", ParseError, "hint: write minimum(A, B) entry by entry, or min(A, axis=0) for the smallest"),
])
def test_course_form_errors_are_one_clear_line(equation, error, message):
    with pytest.raises(error) as caught:
        ops_model(f'Y = "{equation}"\nL = "sum(Y)"')
    text = f"{caught.value.message} (hint: {caught.value.hint})"
    assert message in text
    assert "did you mean" not in text or "concat" not in equation


def test_sums_of_sizes_in_a_shape_are_read():
    m = ops_model('L = "sum(W @ concat(x, h))"')
    assert m.shapes["W"] == ("H", "D+H") and m.shapes["V"] == ("2H", "D")
    with pytest.raises(ProblemError, match="unknown size 'Q'"):
        build_model(problem_from_toml(OPS_BASE.format(equations='L = "sum(x)"').replace('"H x D+H"', '"H x D+Q"'),
                                      "net"))


def test_a_node_and_a_size_may_be_named_e():
    """e is Euler's number only where the spec does not declare it (issue 21)."""
    text = OPS_BASE.format(equations='e = "tanh(W @ concat(x, h))"\nL = "sum(e * e)"')
    assert build_model(problem_from_toml(text, "net")).shapes["e"] == ("H", 1)
    sized = text.replace("H = 2\n", "H = 2\ne = 5\n").replace('e = "tanh', 'y = "tanh').replace(
        "sum(e * e)", "sum(y * y) + sum(ones) * e").replace('x = "D"', 'x = "D"\nones = "e"')
    m = build_model(problem_from_toml(sized, "net"))
    assert m.shapes["ones"] == ("e", 1)
    undeclared = OPS_BASE.format(equations='L = "sum(x) * e"')
    (_, loss), = build_model(problem_from_toml(undeclared, "net")).equations
    assert any(node.op == "const" and node.value == sympy.E for node in loss.walk())


def test_a_numeric_slice_of_a_named_size_is_checked_against_dims():
    with pytest.raises(ShapeError, match=r"X\[:, :5\]: 0:5 is not within the 4 columns of a \(D×B\) matrix"):
        ops_model('Y = "X[:, :5]"\nL = "sum(Y)"')
    assert ops_model('Y = "X[:, 2:]"\nL = "sum(Y)"').shapes["Y"] == ("D", "B-2")  # a size for every B ≥ 2
    assert ops_model('Y = "X[:, 1:B]"\nL = "sum(Y)"').shapes["Y"] == ("D", "B-1")
