"""Matrix printers read back: generated NumPy executes to the tree's value (a Hypothesis property
against a direct NumPy evaluation written here), LaTeX of many random trees compiles in one
document, and numbers are folded and never printed side by side."""

import functools
import os
import re

import numpy as np
import pytest
from pathlib import Path
import sympy
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from derive.cli import app
from derive.matrix import expr as mx
from derive.matrix.codegen import _HELPERS as codegen_helpers
from derive.matrix.codegen import numpy_expr
from derive.matrix.expr import M
from derive.matrix.solve import solve_matrix
from derive.problems import problem_from_toml
from derive.render.matrix import LatexPrinter, TextPrinter
from derive.functions import FUNCTIONS
from test_registry import BY_HAND, SLOPE_BY_HAND, assert_formulas_compile

runner = CliRunner()

# -- random matrix expression trees, built raw (no simplification) so every nesting is printed --------
SIZES = {"N": 2, "K": 3}
#: The tree strategy is large (every operation at every shape); its repr is never needed.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

VARIABLES = {"A": ("K", "N"), "B": ("K", "N"), "u": ("N", 1), "v": ("K", 1), "c": (1, 1), "d": (1, 1)}
RNG = np.random.default_rng(7)
VALUES = {name: RNG.normal(size=tuple(SIZES.get(d, d) for d in shape)) for name, shape in VARIABLES.items()}
SHAPES = [("K", "N"), ("N", "K"), ("N", 1), ("K", 1), (1, "N"), (1, "K"), (1, 1), ("N", "N"), ("K", "K")]
CONSTANTS = [sympy.Integer(2), sympy.Integer(3), sympy.Rational(1, 2), sympy.Rational(2, 5), sympy.Integer(-2),
             sympy.Rational(-3, 4)]


@functools.lru_cache(maxsize=None)
def leaves(shape):
    names = [n for n, s in VARIABLES.items() if s == shape]
    options = [st.sampled_from(names).map(lambda n: M("var", (), shape, name=n))] if names else []
    if shape == (1, 1):
        options.append(st.sampled_from(CONSTANTS).map(lambda k: M("const", (), shape, value=k)))
    if not options:  # a shape no variable has: a transpose or product of ones that do
        A, B = M("var", (), ("K", "N"), name="A"), M("var", (), ("K", "N"), name="B")
        options.append(st.just({
            ("N", "K"): M("T", (A,), ("N", "K")),
            (1, "N"): M("T", (M("var", (), ("N", 1), name="u"),), (1, "N")),
            (1, "K"): M("T", (M("var", (), ("K", 1), name="v"),), (1, "K")),
            ("N", "N"): M("matmul", (M("T", (A,), ("N", "K")), B), ("N", "N")),
            ("K", "K"): M("matmul", (A, M("T", (B,), ("N", "K"))), ("K", "K")),
        }[shape]))
    return st.one_of(*options)


@functools.lru_cache(maxsize=None)
def trees(shape, depth):
    if depth == 0:
        return leaves(shape)
    sub = lambda s: trees(s, depth - 1)  # noqa: E731
    scalar = sub((1, 1))
    options = [
        leaves(shape),
        st.tuples(sub(shape), sub(shape)).map(lambda ab: M("add", ab, shape)),
        st.tuples(sub(shape), sub(shape)).map(lambda ab: M("add", (ab[0], M("neg", (ab[1],), shape)), shape)),
        sub(shape).map(lambda a: M("neg", (a,), shape)),
        st.tuples(scalar, sub(shape)).map(lambda ca: M("scale", ca, shape)),
        st.tuples(sub(shape), sub(shape)).map(lambda ab: M("had", ab, shape)),
        st.tuples(sub(shape), st.sampled_from([2, 3])).map(lambda ak: M("pow", (ak[0],), shape, exponent=sympy.Integer(ak[1]))),
        sub(shape).map(lambda a: M("pow", (M("fn", (a,), shape, function="exp"),), shape, exponent=sympy.Rational(1, 2))),
        sub((shape[1], shape[0])).map(lambda a: M("T", (a,), shape)),
        sub(shape).map(lambda a: M("fn", (a,), shape, function="tanh")),
        st.tuples(sub(shape), scalar).map(lambda ac: M("div", (ac[0], M("fn", (ac[1],), (1, 1), function="exp")), shape)),
        # a division by a scalar name: LaTeX writes (½ X) / c and (X ⊘ Y) / c with the fraction in front
        st.tuples(sub(shape), st.sampled_from(["c", "d"])).map(
            lambda an: M("div", (an[0], M("var", (), (1, 1), name=an[1])), shape)),
    ]
    for inner in ("N", "K", 1):
        if (shape[0], inner) in SHAPES and (inner, shape[1]) in SHAPES:
            options.append(st.tuples(sub((shape[0], inner)), sub((inner, shape[1]))).map(
                lambda ab: M("matmul", ab, shape)))
    if shape == (1, 1):
        options.append(sub(("K", "N")).map(lambda a: M("sum", (a,), shape)))
    # issue 10: broadcasting (a column or a row with a matrix), elementwise ⊘, reductions along an
    # axis (dimensions kept) and the softmax family along either axis
    if shape[0] != 1 and shape[1] != 1:
        options.append(st.tuples(sub(shape), sub((shape[0], 1))).map(lambda ab: M("add", ab, shape)))
        options.append(st.tuples(sub((1, shape[1])), sub(shape)).map(lambda ab: M("had", ab, shape)))
    options.append(st.tuples(sub(shape), sub(shape)).map(
        lambda ab: M("div", (ab[0], M("fn", (ab[1],), shape, function="exp")), shape)))
    options.append(st.tuples(sub(shape), st.sampled_from(["softmax", "log_softmax"]), st.sampled_from([0, 1])).map(
        lambda a: M(a[1], (a[0],), shape, axis=a[2])))
    if shape[0] == 1 and shape[1] != 1:
        options.append(sub(("K", shape[1])).map(lambda a: M("sum", (a,), shape, axis=0)))
        options.append(sub(("K", shape[1])).map(lambda a: M("logsumexp", (a,), shape, axis=0)))
    if shape[1] == 1 and shape[0] != 1:
        options.append(sub((shape[0], "N")).map(lambda a: M("mean", (a,), shape, axis=1)))
    # issue 20: every operation and every function of the tables is drawn, printed and read back
    options.append(st.tuples(sub(shape), st.sampled_from(sorted(FUNCTIONS)), st.sampled_from(["fn", "dfn"])).map(
        lambda a: M(a[2], (_in_domain(a[0], a[1]),), shape, function=a[1])))
    if shape == (1, 1):
        options.append(sub(("N", "N")).map(lambda a: M("trace", (a,), shape)))
        options.append(sub(("K", "N")).map(lambda a: M("norm", (a,), shape)))
        options.append(st.tuples(sub(("K", "N")), sub(("K", "N"))).map(lambda ab: M("dot", ab, shape)))
        options.append(sub(("N", "K")).map(lambda a: M("variance", (a,), shape)))
        options.append(st.tuples(sub(("K", "N")), sub(("K", "N"))).map(lambda zt: M("sce", zt, shape)))
    if shape[0] == 1 and shape[1] != 1:
        options.append(sub(("K", shape[1])).map(lambda a: M("variance", (a,), shape, axis=0)))
    if shape[0] == shape[1] and shape[0] != 1:
        options.append(sub((shape[0], 1)).map(lambda a: M("diag", (a,), shape)))
    return st.one_of(*options)


_POSITIVE_ONLY = {"log", "sqrt", "log1p"}


def _in_domain(a: M, name: str) -> M:
    """The argument of a function defined for positive numbers only, made positive: exp(a)."""
    return M("fn", (a,), a.shape, function="exp") if name in _POSITIVE_ONLY else a


def direct(e: M):
    """The value of a tree, evaluated here by hand (not through derive's evaluator)."""
    a = [direct(x) for x in e.args]
    op = e.op
    if op == "var":
        return VALUES[e.name]
    if op == "const":
        return np.full((1, 1), float(e.value))
    if op == "add":
        return a[0] + a[1]
    if op == "neg":
        return -a[0]
    if op in ("scale", "had"):
        return a[0] * a[1]
    if op == "matmul":
        return a[0] @ a[1]
    if op == "div":
        return a[0] / a[1]
    if op == "pow":
        return np.power(a[0], float(e.exponent))
    if op == "T":
        return a[0].T
    if op == "fn":
        return BY_HAND[e.function](a[0])
    if op == "dfn":
        return SLOPE_BY_HAND[e.function](a[0])
    if op == "trace":
        return np.full((1, 1), np.trace(a[0]))
    if op == "norm":
        return np.full((1, 1), np.sqrt(np.sum(a[0] ** 2)))
    if op == "dot":
        return np.full((1, 1), np.sum(a[0] * a[1]))
    if op == "variance":
        mean = a[0].mean() if e.axis is None else a[0].mean(axis=e.axis, keepdims=True)
        squares = (a[0] - mean) ** 2
        return np.full((1, 1), squares.mean()) if e.axis is None else squares.mean(axis=e.axis, keepdims=True)
    if op == "sce":
        z, t = a
        return np.full((1, 1), -np.sum(t * (z - np.log(np.sum(np.exp(z), axis=0, keepdims=True)))))
    if op == "diag":
        return np.diag(a[0][:, 0])
    if op in ("sum", "mean") and e.axis is None:
        return np.full((1, 1), getattr(np, op)(a[0]))
    if op in ("sum", "mean"):
        return getattr(np, op)(a[0], axis=e.axis, keepdims=True)
    if op in ("logsumexp", "softmax", "log_softmax"):
        z = a[0]
        lse = np.log(np.sum(np.exp(z), axis=e.axis, keepdims=True))
        return {"logsumexp": lse, "softmax": np.exp(z - lse), "log_softmax": z - lse}[op]
    raise AssertionError(op)


ANY_TREE = st.one_of(*[trees(s, 3) for s in SHAPES])
_HELPERS: dict = {"np": np}
exec(compile(codegen_helpers, "<helpers>", "exec"), _HELPERS)  # noqa: S102 - derive's own fixed helper text
NAMESPACE = {**BY_HAND, **{f"d{name}": f for name, f in SLOPE_BY_HAND.items()}, **_HELPERS, **VALUES}


#: More examples under HYPOTHESIS_PROFILE=long (explicit settings would otherwise override it).
EXAMPLES = 20_000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 1000


@settings(max_examples=EXAMPLES, deadline=None)
@given(ANY_TREE)
def test_generated_numpy_reads_back_to_the_trees_value(e):
    source = numpy_expr(e)
    # the source is derive's own printing of a tree of derive's own nodes (no user text)
    got = eval(compile(source, "<numpy_expr>", "eval"), {"__builtins__": {}}, dict(NAMESPACE))  # noqa: S307
    want = direct(e)
    with np.errstate(all="ignore"):
        assert np.allclose(np.broadcast_to(got, want.shape), want, rtol=1e-9, atol=1e-12, equal_nan=True), source


@settings(max_examples=2, deadline=None, phases=[Phase.generate])  # a failure shows the whole list
@given(st.lists(ANY_TREE, min_size=80, max_size=80))
def test_latex_of_many_trees_compiles_in_one_document(tmp_path_factory, many):
    printer, diag = LatexPrinter(), LatexPrinter(diag=True)
    assert_formulas_compile(tmp_path_factory.mktemp("latex"), [f for e in many for f in (printer(e), diag(e))])


@settings(max_examples=EXAMPLES // 3, deadline=None)
@given(ANY_TREE)
def test_no_printer_puts_a_number_right_after_another(e):
    # "2 (1/2)" is fine, "2 1/2" is not; 𝟏 is a digit to the regex (a power before it, A^2 𝟏, reads
    # as one number), but the ones of a broadcast row sum, 𝟏 𝟏ᵀ, are the outer product they print
    assert not re.search(r"\d [−-]?\d", TextPrinter()(e).replace("𝟏 𝟏ᵀ", "𝟏𝟏ᵀ"))
    assert not re.search(r"\d(\s|\\,)*\\frac", LatexPrinter()(e).replace(r"\left(", "("))


# -- pinned cases of issue 9 ---------------------------------------------------------------------------
def test_printed_brackets_of_powers_and_transposes():
    a, x = mx.var("a", ("N", 1)), mx.var("x", ("N", 1))
    twice = M("pow", (M("pow", (a,), a.shape, exponent=sympy.Rational(1, 2)),), a.shape, exponent=sympy.Integer(2))
    transposed = M("T", (M("pow", (x,), x.shape, exponent=sympy.Integer(2)),), (1, "N"))
    assert numpy_expr(twice) == "(a ** 0.5) ** 2.0"
    assert numpy_expr(transposed) == "(x ** 2.0).T"
    assert TextPrinter()(twice) == "(a^(1/2))^2"
    assert TextPrinter()(transposed) == "(x^2)ᵀ"
    assert LatexPrinter()(twice) == r"\left(a^{\circ \frac{1}{2}}\right)^{\circ 2}"
    assert LatexPrinter()(transposed) == r"\left(x^{\circ 2}\right)^\top"
    W, h = mx.var("W", ("K", "N")), mx.var("h", ("K", 1))
    assert numpy_expr(M("had", (h, M("matmul", (W, x), ("K", 1))), ("K", 1))) == "h * (W @ x)"
    assert TextPrinter()(M("matmul", (M("had", (h, h), ("K", 1)), M("T", (x,), (1, "N"))), ("K", "N"))) \
        == "(h ⊙ h) xᵀ"


def test_numeric_factors_fold_into_one_constant():
    lam, W, v = mx.var("lam", (1, 1)), mx.var("W1", ("K", "N")), mx.adj("v", (1, 1))
    xc = mx.var("xc", ("N", 1))
    # 2 · ((1/2 · lam) · W1) is lam W1; 2 · ((1/5 · v̄) · xc) is 2/5 v̄ xc
    assert mx.scale(mx.const(2), mx.scale(mx.scale(mx.const(sympy.Rational(1, 2)), lam), W)) == mx.scale(lam, W)
    folded = mx.scale(mx.const(2), mx.scale(mx.scale(mx.const(sympy.Rational(1, 5)), v), xc))
    assert TextPrinter()(folded) == "2/5 v̄ xc"
    assert LatexPrinter()(folded) == r"\frac{2}{5} \, \bar{v} \, \mathrm{xc}"
    assert mx.div(mx.scale(mx.const(4), W), mx.scale(mx.const(2), lam)) == mx.scale(mx.const(2), mx.div(W, lam))


WEIGHT_DECAY = """[dims]
N = 3
K = 2
[variables]
x = "N"
W1 = "K x N"
b1 = "K"
lam = "1"
[equations]
z1 = "W1 @ x + b1"
h = "relu(z1)"
L = "sum(h) + 0.5 * lam * sum(W1 * W1)"
[derive]
loss = "L"
wrt = ["W1", "b1"]
"""


def test_weight_decay_gradient_is_folded():
    solution = solve_matrix(problem_from_toml(WEIGHT_DECAY, "wd"))
    w1 = next(g for g in solution.derivation.gradients if g.name == "W1")
    assert TextPrinter()(w1.expr) == "lam W1 + z̄1 xᵀ"


def test_report_of_a_relu_layer_is_written(tmp_path):
    # issue 9 #6: the relu′ note's LaTeX (an indicator in braces) crashed str.format with IndexError
    path = tmp_path / "wd.toml"
    path.write_text(WEIGHT_DECAY)
    result = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert r"\operatorname{ReLU}'(z_{1}) = \mathbf{1}[z_{1} > 0]" in (tmp_path / "out" / "wd.tex").read_text()


POWERS = (Path(__file__).parent / "networks" / "powers.toml").read_text()  # a power of a power, a transposed power


def test_a_sheet_with_a_power_of_a_power_compiles(tmp_path):
    # issue 9 #4: "! Double superscript"
    path = tmp_path / "powers.toml"
    path.write_text(POWERS)
    result = runner.invoke(app, ["report", str(path), "--pdf", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "powers.pdf").stat().st_size > 0


def test_a_product_right_of_a_product_keeps_its_brackets_in_numpy():
    # Python reads "X * c * A @ B.T" as ((X * c) * A) @ B.T: found by the read-back property
    a, b, c = M("var", (), ("K", "N"), name="A"), M("var", (), ("K", "N"), name="B"), M("var", (), (1, 1), name="c")
    ab = M("matmul", (a, M("T", (b,), ("N", "K"))), ("K", "K"))
    e = M("had", (ab, M("scale", (c, ab), ("K", "K"))), ("K", "K"))
    source = numpy_expr(e)
    got = eval(compile(source, "<numpy_expr>", "eval"), {"__builtins__": {}}, dict(NAMESPACE))  # noqa: S307
    assert np.allclose(got, direct(e)), source


def test_a_number_inside_a_reduction_is_an_array_in_numpy():
    # found by the read-back property: np.max(2.0, axis=1) fails; softmax(2, axis=1) is written by users
    e = M("softmax", (M("const", (), (1, 1), value=sympy.Integer(2)),), (1, 1), axis=1)
    got = eval(compile(numpy_expr(e), "<numpy_expr>", "eval"), {"__builtins__": {}}, dict(NAMESPACE))  # noqa: S307
    assert np.allclose(got, 1.0)


def test_the_seed_error_is_written_as_the_assignment_writes_it(problem2):
    """E = ½‖y − s‖² (problem2 says 0.5 * norm(y - s)**2): a plain square of a number, not the
    Hadamard ∘2, and its adjoint ȳ = y − s with the norms cancelled, as a textbook prints it."""
    solution = problem2
    printer = LatexPrinter()
    equations = dict(solution.model.equations)
    assert printer(equations["E"]) == r"\frac{1}{2} \, \left\lVert y - s \right\rVert^{2}"
    adjoints = {a.name: a.simplified for a in solution.derivation.adjoints}
    assert printer(adjoints["y"]) == "y - s"


def test_multi_letter_names_are_upright_with_the_bar_over_the_whole_name():
    printer = LatexPrinter()
    assert printer.bar("CE") == r"\overline{\mathrm{CE}}"
    assert printer.bar("lam") == r"\overline{\mathrm{lam}}"
    assert printer.bar("h") == r"\bar{h}" and printer.bar("W1") == r"\bar{W}_{1}"
    assert printer.bar("lambda") == r"\bar{\lambda}"


def test_a_row_of_ones_prints_transposed_so_the_product_type_checks(builtin):
    """batch norm's X̄ has μ̄ 𝟏ᵀ / B (D×1 times 1×B); a bare 𝟏 there reads as a column."""
    solution = builtin("batchnorm")
    x_bar = next(g.expr for g in solution.derivation.gradients if g.name == "X")
    assert r"\bar{\mu} \, {\mathbf{1}^\top}" in LatexPrinter()(x_bar)
    assert "μ\u0304 𝟏ᵀ" in TextPrinter()(x_bar)  # a spelled Greek name prints as its letter (issue 22)
    from derive.report import render_sheet

    assert r"\mathbb{1}" not in render_sheet(builtin("mlp_batch"), "tex")  # no blackboard 1: amssymb has none


def test_sheets_are_the_same_under_every_hash_seed(tmp_path):
    """A sheet is reproducible: the rnn sheet's tanh′ notes once came out in set order, which
    changes with PYTHONHASHSEED."""
    import os
    import subprocess
    import sys

    texts = set()
    for seed in ("0", "1", "3", "4"):
        out = tmp_path / seed
        subprocess.run([sys.executable, "-m", "derive", "--exact-limit", "0",  # the proof sets no order
                        "report", "rnn", "--date", "2026-01-01", "-o", str(out)],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed})
        texts.add((out / "rnn.tex").read_text())
    assert len(texts) == 1


def test_no_fraction_is_set_inside_a_fraction(builtin):
    """½ ∑(…)/B printed \\frac{\\frac{1}{2} ∑(…)}{B} and (T ⊘ P)/B printed −(\\frac{\\frac{T}{P}}{B}): small
    type inside small type. A coefficient fraction goes in front instead: \\frac{1}{2 B} ∑(…),
    −\\frac{1}{B} (T ⊘ P); a single \\frac needs no brackets."""
    from derive.problems import builtin_problems
    from derive.report import render_sheet

    for problem in builtin_problems():
        if problem.engine != "matrix":
            continue
        tex = render_sheet(builtin(problem.name), "tex")
        assert not re.search(r"\\frac\{[^{}]*(\{[^{}]*\}[^{}]*)*\\frac", tex), problem.name
        assert not re.search(r"\\left\(\\frac\{[^{}]*\}\{[^{}]*\}\\right\)(?!\^)", tex), problem.name  # (x)^T keeps them
    assert r"L &= \frac{1}{2 B} \, \left\lVert Y - S \right\rVert_{F}^{2}" in render_sheet(builtin("batchnorm"), "tex")
    assert r"\roomy{= -\frac{1}{B} \, \left(T \oslash P\right)} &" in render_sheet(builtin("mlp_batch"), "tex")


def test_a_matrix_divisor_is_written_oslash_never_as_a_fraction(builtin):
    """Issue 22: mlp_batch printed P̄ = −\\frac{1}{B} \\frac{T}{P}, which reads T P⁻¹; batchnorm's
    X̂ = \\frac{C}{s} divides by the column s entry by entry. \\frac is for a scalar denominator only."""
    from derive.report import render_sheet

    mlp = render_sheet(builtin("mlp_batch"), "tex")
    assert r"\roomy{= -\frac{1}{B} \, \left(T \oslash P\right)} &" in mlp
    batchnorm = render_sheet(builtin("batchnorm"), "tex")
    assert r"&= C \oslash \left(s \, {\mathbf{1}^\top}\right) & &\in \mathbb{R}^{D \times B}" in batchnorm
    assert r"\roomy{= \bar{s} \oslash \left(2 \, s\right)} &" in batchnorm
    assert r"\roomy{= \frac{Y - S}{B}} &" in batchnorm  # a scalar denominator keeps its fraction
    for problem in ("mlp_batch", "batchnorm", "layernorm", "attention", "autoencoder", "logistic"):
        tex = render_sheet(builtin(problem), "tex")
        for denominator in re.findall(r"\\frac\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}\{([^{}]*)\}", tex):
            assert denominator in ("B", "D", "2", "2 B", "2 D", "N", "n", r"\partial L", r"\partial Y") or \
                denominator.startswith(r"\partial"), (problem, denominator)


def test_a_coefficient_fraction_is_only_made_where_it_reads_right(tmp_path):
    """Review of the fraction rewrite: (½X)/2 printed \\frac{1}{2 2} X (read 1/22; it is X/4), and a
    number before a rewritten fraction read as a mixed number. Only a division by a name is
    rewritten, and the rewritten form is bracketed as a factor."""
    from derive import api
    from derive.problems import problem_from_toml
    from derive.report import render_sheet

    problem = problem_from_toml('[dims]\nN = 2\nB = 3\n[variables]\nX = "N"\nA = "N"\n[equations]\n'
                                'Z1 = "(0.5*X)/2"\nZ2 = "2*((X/A)/B)"\nZ3 = "2*(3/B)"\nL = "sum(Z1*Z2) + sum(Z3)"\n'
                                '[derive]\nloss = "L"\nwrt = ["X"]\n', "m")
    tex = render_sheet(api.solve(problem), "tex")
    assert r"Z_{1} &= \frac{\frac{1}{2} \, X}{2}" in tex and r"\frac{1}{2 2}" not in tex
    assert r"Z_{2} &= 2 \, \left(\frac{1}{B} \, \left(X \oslash A\right)\right)" in tex  # A is a column: ⊘
    assert r"Z_{3} &= 2 \, \left(\frac{3}{B}\right)" in tex


def test_derivative_notes_follow_the_equations_not_the_alphabet():
    from derive import api
    from derive.problems import problem_from_toml
    from derive.report import render_sheet

    problem = problem_from_toml('[dims]\nN = 2\n[variables]\nX = "N"\n[equations]\nzz = "2*X"\naa = "3*X"\n'
                                'h = "tanh(zz) + tanh(aa)"\nL = "sum(h)"\n[derive]\nloss = "L"\nwrt = ["X"]\n', "m")
    here = next(line for line in render_sheet(api.solve(problem), "tex").splitlines() if line.startswith("Here"))
    assert here.index(r"\tanh'(\mathrm{zz})") < here.index(r"\tanh'(\mathrm{aa})"), here


def test_sums_and_means_along_an_axis_are_products_with_ones_and_softmax_of_rows_is_said_in_words(builtin):
    """Issue 22: NumPy's vocabulary (∑_{axis 1}, mean_{axis 1}, softmax_{axis 1}, sum(X, axis=1)) is not
    mathematics. A sum of each row is X 𝟏, of each column 𝟏ᵀ X, a mean (1/B) X 𝟏; a softmax of each row
    is a "row-wise softmax" — the same in LaTeX and in the terminal's text."""
    from derive.report import render_sheet

    sheets = {name: render_sheet(builtin(name), "tex") for name in ("attention", "layernorm", "batchnorm", "mlp_batch")}
    for name, tex in sheets.items():
        assert "axis" not in tex, name
    assert r"A &= \text{row-wise}\,\operatorname{softmax}\left(Z\right)" in sheets["attention"]
    assert r"\roomy{= A \odot \left(\bar{A} - \left(A \odot \bar{A}\right) \, \mathbf{1} \, {\mathbf{1}^\top}\right)} &" \
        in sheets["attention"]  # the row sums broadcast over the columns, written as they are: (…) 𝟏 𝟏ᵀ
    assert r"\mu &= \frac{1}{B} \, X \, \mathbf{1} &" in sheets["batchnorm"]
    assert r"v &= \text{row-wise}\,\operatorname{var}\left(X\right) &" in sheets["batchnorm"]
    assert r"\roomy{= -\bar{C} \, \mathbf{1}} &" in sheets["batchnorm"]
    assert r"\mu &= \frac{1}{D} \, {\mathbf{1}^\top} \, X &" in sheets["layernorm"]
    assert r"\roomy{= -{\mathbf{1}^\top} \, \bar{C}} &" in sheets["layernorm"]
    assert r"\roomy{= \bar{Z}_{2} \, \mathbf{1}} &" in sheets["mlp_batch"]

    text = TextPrinter()
    X = M("var", (), ("D", "B"), name="X")
    assert text(M("sum", (X,), ("D", 1), axis=1)) == "X 𝟏"
    assert text(M("sum", (X,), (1, "B"), axis=0)) == "𝟏ᵀ X"
    assert text(M("mean", (X,), ("D", 1), axis=1)) == "(1 / B) X 𝟏"
    assert text(M("softmax", (X,), ("D", "B"), axis=1)) == "row-wise softmax(X)"
    assert text(M("softmax", (X,), ("D", "B"), axis=0)) == "softmax(X)"  # each column: the default, unsaid
    assert text(M("sum", (X,), (1, 1), axis=None)) == "sum(X)"
    for name in ("attention", "layernorm", "batchnorm", "mlp_batch"):
        result = runner.invoke(app, ["solve", name])
        assert result.exit_code == 0 and "axis" not in result.output, name


def test_a_letter_with_a_label_or_a_hat_is_set_as_a_textbook_sets_it():
    """Issue 22: attention printed \\mathrm{Wq} and \\overline{\\mathrm{Wq}}, the norms \\mathrm{Xh}: a
    word, with a bar over the word. A textbook writes W_Q and X̂, and the bar goes over the letter."""
    from derive import api
    from derive.parse import latex_variable, text_variable
    from derive.report import render_sheet

    latex, text = LatexPrinter(), TextPrinter()
    assert [latex_variable(n) for n in ("Wq", "Wk", "Xh", "Xhat", "yhat")] == \
        ["W_{Q}", "W_{K}", r"\hat{X}", r"\hat{X}", r"\hat{y}"]
    assert [latex.bar(n) for n in ("Wq", "Xh")] == [r"\bar{W}_{Q}", r"\bar{\hat{X}}"]
    assert [text_variable(n) for n in ("Wq", "Xh")] == ["W_Q", "X\u0302"]
    assert [text.bar(n) for n in ("Wq", "Xh")] == ["W\u0304_Q", "X\u0302\u0304"]
    # names that are not one decorated letter keep their upright word
    assert [latex_variable(n) for n in ("lam", "xc", "CE", "Wout")] == \
        [r"\mathrm{lam}", r"\mathrm{xc}", r"\mathrm{CE}", r"\mathrm{Wout}"]

    attention = render_sheet(api.solve("attention"), "tex")
    assert r"Q &= X \, W_{Q} &" in attention
    assert r"\nabla_{W_{Q}} L = \bar{W}_{Q} & \roomy{= X^\top \, \bar{Q}} &" in attention
    assert r"\mathrm{Wq}" not in attention
    layernorm = render_sheet(api.solve("layernorm"), "tex")
    assert r"\hat{X} &= C \oslash \left(\mathbf{1} \, s\right) &" in layernorm
    assert r"\roomy{= \bar{\hat{X}} \oslash \left(\mathbf{1} \, s\right)} &" in layernorm
    assert r"\mathrm{Xh}" not in layernorm


def test_the_verification_paragraph_says_what_was_proved(tmp_path, monkeypatch):
    """A sheet said "each gradient was checked exactly" above a table of "not proved" (a
    reviewer's finding): the paragraph follows the results, and the table's states are short."""
    from pathlib import Path

    from typer.testing import CliRunner

    from derive.cli import app
    from derive.matrix import verify

    monkeypatch.setattr(verify, "EXACT_WORK_LIMIT", 2_000)  # the five-step RNN needs about 26,000

    networks = Path(__file__).parent / "networks"
    runner = CliRunner()
    assert runner.invoke(app, ["report", str(networks / "rnn5_inline.toml"), "-o", str(tmp_path)]).exit_code == 0
    tex = (tmp_path / "rnn5_inline.tex").read_text()
    assert "0 of the 4 gradients were proved exactly" in tex and "Each gradient was proved" not in tex
    assert "not proved (work limit)" in tex and "make the sizes" not in tex
    _says_what_was_proved(tex)
    monkeypatch.undo()
    assert runner.invoke(app, ["report", "problem2", "-o", str(tmp_path)]).exit_code == 0
    tex = (tmp_path / "problem2.tex").read_text()
    assert "Each gradient was proved exactly" in tex and "tanh as themselves" in tex
    assert "so the proof holds for any activation" in tex  # problem2's σ is abstract
    _says_what_was_proved(tex)
    assert runner.invoke(app, ["report", "logistic", "-o", str(tmp_path)]).exit_code == 0
    assert "holds for any activation" not in (tmp_path / "logistic.tex").read_text()  # its σ is the sigmoid


def test_a_negated_power_before_a_vector_of_ones_is_bracketed():
    """Hypothesis found (1 / N) −A^2 𝟏 (the 2 runs into 𝟏, which reads as a digit)."""
    a = M("var", (), ("K", "N"), name="A")
    e = M("mean", (M("neg", (M("pow", (a,), ("K", "N"), exponent=2),), ("K", "N")),), ("K", 1), axis=1)
    assert TextPrinter()(e) == "(1 / N) (−A^2) 𝟏"


def test_a_transposed_sum_along_an_axis_keeps_its_brackets():
    """(𝟏ᵀ X)ᵀ printed 𝟏ᵀ X^{∘½}^⊤ (a false equation and a TeX error) once sums were printed as
    products with 𝟏: under a transpose or a power they are products."""
    import sympy

    b = M("var", (), ("K", "N"), name="B")
    root = M("pow", (M("fn", (b,), ("K", "N"), function="exp"),), ("K", "N"), exponent=sympy.Rational(1, 2))
    e = M("T", (M("sum", (root,), (1, "N"), axis=0),), ("N", 1))
    assert TextPrinter()(e) == "(𝟏ᵀ exp(B)^(1/2))ᵀ"
    assert LatexPrinter()(e) == r"\left({\mathbf{1}^\top} \, \exp\left(B\right)^{\circ \frac{1}{2}}\right)^\top"


def test_every_broadcast_is_written_as_a_product_with_ones(builtin):
    """Issue 22: batch norm's X̄ wrote one broadcast μ̄ 𝟏ᵀ and the next one C ⊙ v̄ (a D×B times a D×1,
    NumPy's implicit stretching). A column stretched over the columns is v 𝟏ᵀ, a row over the rows
    𝟏 r, in every table and in the terminal; a scalar stays a scalar."""
    text = TextPrinter()
    derivation = builtin("batchnorm").derivation
    shown = {**{a.name: text(a.simplified) for a in derivation.adjoints}, **{g.name: text(g.expr) for g in derivation.gradients}}
    assert shown["X"] == "C̄ + 2 (C ⊙ (v̄ 𝟏ᵀ)) / B + (μ̄ 𝟏ᵀ) / B"
    assert shown["C"] == "X̂̄ ⊘ (s 𝟏ᵀ)"
    assert shown["Xh"] == "(γ 𝟏ᵀ) ⊙ Y\u0304"
    equations = dict(builtin("layernorm").model.equations)
    assert text(equations["C"]) == "X − 𝟏 μ" and text(equations["Y"]) == "(γ 𝟏ᵀ) ⊙ X̂ + β 𝟏ᵀ"
    assert LatexPrinter()(equations["C"]) == r"X - \mathbf{1} \, \mu"
    for name in ("batchnorm", "layernorm", "attention", "mlp_batch", "logistic"):
        solution = builtin(name)
        trees = [e for _, e in solution.model.equations] + [a.simplified for a in solution.derivation.adjoints]
        for tree in trees:
            for node in tree.walk():
                if node.op in ("add", "had", "div") and not node.is_scalar:
                    printed = text(node)
                    for arg in node.args:  # every stretched operand is printed beside a vector of ones
                        if not arg.is_scalar and arg.shape != node.shape:
                            assert "𝟏" in printed, (name, printed)


def _says_what_was_proved(tex: str) -> None:
    """The reference of the exact proof is the SymPy loss's derivative by forward differentiation
    at certified points (derive/matrix/verify.py), never SymPy differentiating entry by entry."""
    words = " ".join(tex.split())
    assert "entry by entry with SymPy" not in words and "differentiated entry by entry" not in words
    assert "by forward differentiation of the loss there" in words


def test_the_verify_help_says_what_the_exact_check_differentiates():
    from typer.testing import CliRunner

    from derive.cli import app

    help_text = " ".join(CliRunner().invoke(app, ["verify", "--help"]).output.split())
    assert "entry by entry" not in help_text
    assert "exactly against SymPy, numerically against finite differences" in help_text


def test_the_terminal_and_markdown_define_each_f_prime_the_pdf_defines(builtin, tmp_path):
    """relu′(Z1) printed in the terminal's tables was defined only in the PDF's note: the terminal
    and the Markdown sheet define it too, from the one table of functions (𝟏[Z1 > 0])."""
    from typer.testing import CliRunner

    from derive.cli import app
    from derive.render.matrix import LatexPrinter, TextPrinter, derivative_notes

    solution = builtin("mlp_batch")
    assert "relu′(Z1) = 𝟏[Z1 > 0]" in derivative_notes(solution, TextPrinter())
    assert r"\operatorname{ReLU}'(Z_{1}) = \mathbf{1}[Z_{1} > 0]" in derivative_notes(solution, LatexPrinter())
    runner = CliRunner()
    result = runner.invoke(app, ["solve", "mlp_batch"])
    assert result.exit_code == 0 and "relu′(Z1) = 𝟏[Z1 > 0]" in result.output
    assert runner.invoke(app, ["report", "mlp_batch", "--format", "md", "-o", str(tmp_path)]).exit_code == 0
    assert r"$\operatorname{ReLU}'(Z_{1}) = \mathbf{1}[Z_{1} > 0]$" in (tmp_path / "mlp_batch.md").read_text()


def test_markdown_notes_are_prose_with_their_formulas_in_maths(builtin):
    """The Markdown sheet's notes were one $…$ holding the PDF's \\text{word}\\ \\allowbreak prose,
    which Markdown's maths does not typeset: the words are prose, each formula between them $…$."""
    import re

    from derive.report import render_sheet

    for name in ("mlp_batch", "logistic", "rnn", "autoencoder"):
        md = render_sheet(builtin(name), "md")
        notes = [line for line in md.splitlines() if line.startswith("Here ")]
        assert notes, name
        for note in notes:
            formulas = re.findall(r"\$([^$]*)\$", note)
            assert formulas and not any(r"\allowbreak" in f or r"\text{" in f for f in formulas), note
            assert r"\allowbreak" not in note and r"\text{" not in note, note
    md = render_sheet(builtin("mlp_batch"), "md")
    assert (r"Here $\bar{Z}_{2} = \frac{P - T}{B}$ (softmax followed by cross-entropy, as each column of $T$ "
            "is one-hot).") in md
    assert r"as $h_{t} = \tanh(a_{t})$, for $t = 1, 2, 3$." in render_sheet(builtin("rnn"), "md")


def test_an_rnn_states_its_tanh_prime_once_for_every_step_and_defines_ce(builtin):
    """rnn's sheet stated tanh′(a1), tanh′(a2), tanh′(a3) one by one, alike but for the step, and used
    CE without saying what it is: the derivative is stated once for all t, and CE is defined in the
    problem's names (−∑ of every entry of y ⊙ log softmax(z))."""
    from derive.render.matrix import TextPrinter, derivative_notes
    from derive.report import render_sheet

    solution = builtin("rnn")
    assert derivative_notes(solution, TextPrinter()) == [
        "CE(softmax(z), y) = −sum(y ⊙ log(softmax(z)))", "𝟏ᵀ y = 1, as y is one-hot",
        "tanh′(a_t) = 1 − h_t ⊙ h_t, as h_t = tanh(a_t), for t = 1, 2, 3"]
    md = render_sheet(solution, "md")
    assert r"Here $\tanh'(a_{t}) = 1 - h_{t} \odot h_{t}$, as $h_{t} = \tanh(a_{t})$, for $t = 1, 2, 3$." in md
    assert (r"Here $\operatorname{CE}\left(\operatorname{softmax}(z), y\right) = -\textstyle\sum\left(y \odot "
            r"\log\left(\operatorname{softmax}\left(z\right)\right)\right)$.") in md
    tex = render_sheet(solution, "tex")
    here = next(line for line in tex.splitlines() if line.startswith("Here"))
    assert here.count(r"\tanh'") == 1 and r"\text{for}\ \allowbreak t = 1, 2, 3$" in here
    assert r"\operatorname{CE}\left(\operatorname{softmax}(z), y\right) = -\textstyle\sum" in here
    # a step's number is grouped only where the notes differ by nothing else
    assert sum(note.startswith("tanh′") for note in derivative_notes(builtin("mlp_batch"), TextPrinter())) == 0


def test_a_sum_of_squares_is_printed_as_a_squared_norm(builtin):
    """attention's loss 0.5 * sum((Y - S)**2) printed ½ ∑((Y − S)^∘2): a textbook writes the sum of
    every squared entry as the squared (Frobenius) norm, ½‖Y − S‖²_F, and ½‖y − s‖² for a vector."""
    from derive.render.matrix import TextPrinter
    from derive.report import render_sheet

    for name, loss in (("attention", r"L &= \frac{1}{2} \, \left\lVert Y - S \right\rVert_{F}^{2} &"),
                       ("residual", r"L &= \frac{1}{2} \, \left\lVert y - s \right\rVert^{2} &")):
        solution = builtin(name)
        for fmt in ("tex", "md"):
            sheet = render_sheet(solution, fmt)
            assert loss in sheet and r"\sum\left(\left(" not in sheet, (name, fmt)
        assert TextPrinter()(dict(solution.model.equations)["L"]) in ("1/2 ‖Y − S‖_F^2", "1/2 ‖y − s‖^2")


def test_scalars_are_in_r_in_the_terminal_as_on_the_sheet():
    """`derive solve problem2` gave the loss, E and R the space ℝ^(1×1) where the PDF says ℝ."""
    result = CliRunner().invoke(app, ["solve", "problem2"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[-1] for line in result.output.splitlines() if line.strip()[:1] in "LERzy"
            and len(line.split()) > 2}
    assert "1×1" not in result.output
    assert rows["L"] == rows["E"] == rows["R"] == "ℝ" and rows["z"] == "ℝ^(K×1)"
