"""The registry of matrix operations and the table of elementwise functions.

Each operation is ONE entry holding everything about it (the JAX way): its VJP per argument,
its shape rule, its simplifying constructor, its NumPy and SymPy evaluation, its NumPy source
for generated code, and its text and LaTeX forms.  Adding an operation is adding an entry
here (and a test row); the engine (backprop, evaluation, codegen, printers) reads the entries.

A VJP rule gives, for an operation and one of its arguments, the adjoint that flows to that
argument from the upstream adjoint ``u``: the adjoint of ``W @ a`` with respect to ``W`` is
``u aᵀ``, with respect to ``a`` it is ``Wᵀ u``.  An operand that was broadcast gets its share
summed over the broadcast axes (:func:`vjp` does it once for every operation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy

from ..errors import InternalError, ProblemError
from ..forms import fill  # noqa: F401  (the printers and codegen fill the forms)
from ..functions import FUNCTIONS, plain
from . import expr as mx
from . import runtime as rt
from .expr import (SCALAR, M, ShapeMismatch, add, along, broadcast, const, count, dfn, div, dot, eye, had,
                   matmul, neg, ones, power, reduce, reduced_shape, scale, shape_text, sub, transpose,
                   unbroadcast, vector_op, zero)
from .runtime import helper_source

VJP = Callable[[M, M], M]  # (the node, the upstream adjoint) -> adjoint of one argument
Shape = Callable[..., tuple]  # (argument shapes, **the node's parameters) -> shape, or ShapeMismatch


@dataclass(frozen=True)
class Op:
    """One matrix operation.  Forms are in derive/forms.py's syntax: ``$0``, ``$1`` for the
    arguments (bracketed by derive/precedence.py on the given ``sides``; none inside a call),
    ``$f`` for a function's name, ``$d`` for the exponent, ``$a`` for a non-default axis."""

    name: str
    arity: int | None  # None: any number (add)
    shape: Shape
    vjps: tuple[VJP, ...]  # one per argument (one for all, for add); () if not differentiable
    build: Callable[[list, M], M]  # (new arguments, the node rebuilt) -> node: the simplifying constructor
    numpy: Callable  # (backend, node, *argument values) -> value
    sympy: Callable
    source: str  # NumPy source template
    text: str
    latex: str
    binding: str = "atom"  # how it binds when printed, in derive/precedence.py's terms
    sides: tuple[str, ...] = ()  # bracketing side of each argument; () inside a call
    default_axis: int | None = None  # an axis equal to this is not printed
    helper: str = ""  # NumPy helper the generated code defines for it
    why_no_vjp: str = ""  # for operations that appear only in results (σ′, diag)
    call: str = ""  # the function name a user writes for it in equations (sum, var, ...), if any
    axis: bool = False  # a user may write axis=0 or axis=1 (the node's axis; None: everything)
    slot: Callable[[M, str], str] | None = None  # fills $a from the parameters (an index, a slice); default: the axis
    takes: tuple[str, ...] = ()  # the parameters of its nodes (derive/matrix/expr.py's PARAMETERS)


# -- shape rules ------------------------------------------------------------------------------------
def _same(shapes, **_):
    return shapes[0]


def _broadcast(shapes, **_):
    return broadcast(*shapes)


def _matmul_shape(shapes, **_):
    a, b = shapes
    if a[1] != b[0]:
        raise ShapeMismatch(f"{shape_text(a)} @ ({a[1]}×{b[1]}) expected, got {shape_text(a)} @ {shape_text(b)}",
                            hint="a transpose (.T) may be missing" if a[1] == b[1] or a[0] == b[0] else None)
    return (a[0], b[1])


def _scale_shape(shapes, **_):
    if shapes[0] != SCALAR:
        raise ShapeMismatch(f"a scaling needs a scalar factor, got {shape_text(shapes[0])}")
    return shapes[1]


def _transposed(shapes, **_):
    return (shapes[0][1], shapes[0][0])


def _reduced(shapes, axis=None):
    return reduced_shape(shapes[0], axis)


def _scalar(shapes, **_):
    return SCALAR


def _equal_pair(shapes, **_):
    if shapes[0] != shapes[1]:
        raise ShapeMismatch(f"{shape_text(shapes[0])} and {shape_text(shapes[1])}: the shapes must be equal")
    return SCALAR


def _square(shapes, **_):
    if shapes[0][0] != shapes[0][1]:
        raise ShapeMismatch(f"trace of a {shape_text(shapes[0])} matrix, which is not square")
    return SCALAR


def _column(shapes, **_):
    if shapes[0][1] != 1:
        raise ShapeMismatch(f"diag needs a column vector, got {shape_text(shapes[0])}")
    return (shapes[0][0], shapes[0][0])


# -- SymPy values: matrices broadcast and reduced by hand ---------------------------------------------
def _grow(a: sympy.Matrix, shape) -> sympy.Matrix:
    """``a`` broadcast to ``shape`` (NumPy's rule; SymPy matrices do not broadcast)."""
    if a.shape == tuple(shape):
        return a
    return sympy.Matrix(shape[0], shape[1], lambda i, j: a[i if a.rows > 1 else 0, j if a.cols > 1 else 0])


def _both(a, b):
    shape = (max(a.rows, b.rows), max(a.cols, b.cols))
    return _grow(a, shape), _grow(b, shape)


def _sym_along(a: sympy.Matrix, axis, f) -> sympy.Matrix:
    """f of the entries of each column (axis 0), row (axis 1) or all (None), dimensions kept."""
    if axis is None:
        return sympy.Matrix([[f(list(a))]])
    if axis == 0:
        return sympy.Matrix([[f(list(a.col(j))) for j in range(a.cols)]])
    return sympy.Matrix([[f(list(a.row(i)))] for i in range(a.rows)])


def _sym_mean(xs):
    return sum(xs) / len(xs)


def _sym_var(xs):
    m = _sym_mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)


def _sym_var1(xs):
    m = _sym_mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def _exp(x):
    """exp(x) unevaluated: evaluating it asks whether x is zero, real, … (a walk of all of x, the
    network below a softmax); exp(0) and the like keep their value.  So is 1 / Σ exp, below."""
    return sympy.exp(x, evaluate=False)


def _sym_logsumexp(xs):
    return sympy.log(sum(_exp(x) for x in xs), evaluate=False)


def _sym_softmax(z, axis):
    total = _grow(_sym_along(z, axis, lambda xs: sum(_exp(x) for x in xs)), z.shape)
    def entry(i, j):
        return sympy.Mul(_exp(z[i, j]), sympy.Pow(total[i, j], -1, evaluate=False), evaluate=False)
    return sympy.Matrix(z.rows, z.cols, entry)


def _sym_log_softmax(z, axis):
    return z - _grow(_sym_along(z, axis, _sym_logsumexp), z.shape)


def _sym_add(backend, e, *values):
    shape = (max(v.rows for v in values), max(v.cols for v in values))
    out = sympy.zeros(*shape)
    for v in values:
        out += _grow(v, shape)
    return out


def _sym_matmul(backend, e, x, y):
    """x y entry by entry, each entry the plain sum of its non-zero products.  SymPy's own
    product multiplies every zero too, and 0·z asks whether z is finite: an assumptions query
    that walks all of z, the whole network before it (most of an RNN's exact proof).  0·z is 0
    for every z our entries are (finite at every point), so the entries are the same."""
    def entry(i, j):
        return sympy.Add(*(x[i, k] * y[k, j] for k in range(x.cols) if x[i, k] != 0 and y[k, j] != 0))
    return sympy.Matrix(x.rows, y.cols, entry)


def _sym_div(backend, e, a, c):
    a, c = _both(a, c)
    return sympy.Matrix(a.rows, a.cols, lambda i, j: a[i, j] / c[i, j])


# -- NumPy values ------------------------------------------------------------------------------------
# (derive/matrix/runtime.py: written once, called here and copied into generated code)


# -- VJP rules of the softmax family -----------------------------------------------------------------
def _is_vector_along(a: M, axis) -> bool:
    """A column reduced down its column (or a row along its row): the reduction is a scalar."""
    return reduced_shape(a.shape, axis) == SCALAR


def _softmax_vjp(e: M, u: M) -> M:
    z, axis = e.args[0], e.axis
    p = vector_op("softmax", z, axis)
    if _is_vector_along(z, axis):  # p ⊙ (ū − ⟨p, ū⟩ 𝟏)
        return had(p, sub(u, scale(dot(p, u), ones(u.shape))))
    return had(p, sub(u, along("sum", had(p, u), axis)))  # each column (row) on its own


def _norm_vjp(e: M, u: M) -> M:
    """‖a‖: ā = ū a / ‖a‖, with a factor ‖a‖ of ū cancelled first: the derivative of ‖W‖² is
    2 W, never 2 ‖W‖ W / ‖W‖ (NaN at W = 0, a zero-initialised layer)."""
    a, n = e.args[0], e
    cancelled = _cancel(u, n)
    return scale(cancelled, a) if cancelled is not None else scale(u, div(a, n))


def _cancel(u: M, n: M) -> M | None:
    """u / n where n is a scalar factor of u (2 ‖W‖ λ / ‖W‖ = 2 λ, ‖W‖³ / ‖W‖ = ‖W‖²), else None."""
    if u == n:
        return const(1)
    if u.op == "scale":
        c, rest = u.args
        if (k := _cancel(c, n)) is not None:
            return scale(k, rest)
        if (k := _cancel(rest, n)) is not None:
            return scale(c, k)
    if u.op == "neg" and (k := _cancel(u.args[0], n)) is not None:
        return neg(k)
    if u.op == "pow" and u.args[0] == n and u.exponent > 1:
        return power(n, u.exponent - 1)
    return None


def _sum_vjp(e: M, u: M) -> M:
    a, axis = e.args[0], e.axis
    if axis is None:
        return scale(u, ones(a.shape))
    if axis == 0:  # 1×B back to K×B: 𝟏 ū
        return matmul(ones((a.shape[0], 1)), u)
    return matmul(u, ones((1, a.shape[1])))  # K×1 back to K×B: ū 𝟏ᵀ


def _var_vjp(e: M, u: M) -> M:
    a, axis = e.args[0], e.axis
    centred = sub(a, along("mean", a, axis))
    return div(scale(const(2), had(centred, u)), count(a.shape, axis))


# -- function names in the forms -----------------------------------------------------------------------
# -- choosing: max, min and their ties (autograd's grad_chooser) -------------------------------------
def _sym_weight(a, b, above: bool):
    a, b = _both(a, b)
    return sympy.Matrix(a.rows, a.cols,
                        lambda i, j: sympy.Heaviside(a[i, j] - b[i, j] if above else b[i, j] - a[i, j], sympy.S.Half))


def _sym_pair(a, b, f):
    a, b = _both(a, b)
    return sympy.Matrix(a.rows, a.cols, lambda i, j: f(a[i, j], b[i, j]))


def _sym_chosen(a: sympy.Matrix, axis, pick) -> sympy.Matrix:
    groups = ([[(i, j) for i in range(a.rows) for j in range(a.cols)]] if axis is None else
              [[(i, j) for i in range(a.rows)] for j in range(a.cols)] if axis == 0 else
              [[(i, j) for j in range(a.cols)] for i in range(a.rows)])
    out = sympy.zeros(a.rows, a.cols)
    sign = 1 if pick is sympy.Max else -1
    for group in groups:  # the winner beats every other entry: a product of steps (exact away from ties)
        for k in group:
            out[k] = sympy.Mul(*(sympy.Heaviside(sign * (a[k] - a[j]), sympy.S.Half) for j in group if j != k))
    return out


def _chooser_vjp(e: M, u: M) -> M:
    """max(A, axis): Ā = (the share of each entry in the maximum) ⊙ ū, broadcast back."""
    return had(M(f"{e.op}_share", (e.args[0],), e.args[0].shape, axis=e.axis), u)


def _choosing(name: str, sympy_pick, sign: str) -> list[Op]:
    """max or min along an axis (None: every entry), its entries' shares, and maximum(A, B) or
    minimum(A, B) entry by entry with the weight of the first argument.  The NumPy of each is a
    helper of derive/matrix/runtime.py (``_max``, ``_max_share``, ``_above`` and their min twins)."""
    wide, weight = ("maximum", "above") if name == "max" else ("minimum", "below")
    above = name == "max"
    pick, share, weigh = (getattr(rt, f"_{name}"), getattr(rt, f"_{name}_share"), getattr(rt, f"_{weight}"))
    return [
        Op(name, 1, _reduced, (_chooser_vjp,), lambda args, e: along(name, args[0], e.axis),
           lambda b, e, a: pick(a, e.axis), lambda b, e, a: _sym_along(a, e.axis, lambda xs: sympy_pick(*xs)),
           f"_{name}($0$a)", f"{name}($0$a)", rf"\{name}$a\left($0\right)",
           helper=helper_source(pick), call=name, axis=True, takes=("axis",)),
        Op(f"{name}_share", 1, _same, (), lambda args, e: M(f"{name}_share", (args[0],), args[0].shape, axis=e.axis),
           lambda b, e, a: share(a, e.axis), lambda b, e, a: _sym_chosen(a, e.axis, sympy_pick),
           f"_{name}_share($0$a)", f"𝟙[$0 = {name}($0$a)]",
           rf"\mathbf 1\left[$0 = \{name}$a\left($0\right)\right]",
           helper=helper_source(share), takes=("axis",),
           why_no_vjp=f"the share of each entry in {name}() is written in answers only"),
        Op(wide, 2, _broadcast,
           (lambda e, u: had(M(weight, e.args, e.shape), u),                      # ā = 𝟙[a > b] ⊙ ū
            lambda e, u: had(M(weight, e.args[::-1], e.shape), u)),               # b̄ = 𝟙[b > a] ⊙ ū
           lambda args, e: M(wide, tuple(args), broadcast(args[0].shape, args[1].shape)),
           lambda b, e, x, y: getattr(np, wide)(x, y), lambda b, e, x, y: _sym_pair(x, y, sympy_pick),
           f"np.{wide}($0, $1)", f"{wide}($0, $1)", rf"\operatorname{{{wide}}}\left($0, $1\right)",
           call=wide),
        Op(weight, 2, _broadcast, (), lambda args, e: M(weight, tuple(args), broadcast(args[0].shape, args[1].shape)),
           lambda b, e, x, y: weigh(x, y), lambda b, e, x, y: _sym_weight(x, y, above),
           f"_{weight}($0, $1)", f"𝟙[$0 {sign} $1]", rf"\mathbf 1\left[$0 {sign} $1\right]",
           helper=helper_source(weigh),
           why_no_vjp=f"the weight of an argument of {wide}() (½ at a tie) is written in answers only"),
    ]


# -- comparisons (0/1 matrices) and where --------------------------------------------------------------
def _comparison(symbol: str, name: str) -> Op:
    """a < b entry by entry as 1 or 0 (NumPy's ``less``): a step, whose derivative is 0 wherever
    it is defined."""
    test = {"<": sympy.StrictLessThan, "<=": sympy.LessThan, ">": sympy.StrictGreaterThan, ">=": sympy.GreaterThan}[symbol]
    text, latex = {"<=": ("≤", r"\le"), ">=": ("≥", r"\ge")}.get(symbol, (symbol, symbol))
    return Op(name, 2, _broadcast, (lambda e, u: zero(e.args[0].shape), lambda e, u: zero(e.args[1].shape)),
              lambda args, e: M(name, tuple(args), broadcast(args[0].shape, args[1].shape)),
              lambda b, e, x, y: getattr(np, name)(x, y).astype(float),
              lambda b, e, x, y: _sym_pair(x, y, lambda p, q: sympy.Piecewise((1, test(p, q)), (0, True))),
              f"np.{name}($0, $1).astype(float)", f"[$0 {text} $1]",
              rf"\mathbf 1\left[$0 {latex} $1\right]")


#: The comparisons a condition of where() may use, by the operator written.
COMPARISONS = {"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal"}


def _where_build(args, e):
    c, x, y = args
    return M("where", (c, x, y), broadcast(c.shape, x.shape, y.shape))


def _sym_where(b, e, c, x, y):
    shape = (max(c.rows, x.rows, y.rows), max(c.cols, x.cols, y.cols))
    c, x, y = (_grow(m, shape) for m in (c, x, y))
    return sympy.Matrix(*shape, lambda i, j: c[i, j] * x[i, j] + (1 - c[i, j]) * y[i, j])


# -- a matrix exponent and the logistic loss -------------------------------------------------------------
def _epow(a: M, b: M) -> M:
    if b.is_const:
        return power(a, b.value)
    return M("epow", (a, b), broadcast(a.shape, b.shape))


def _sym_bce(b, e, z, t):
    return sympy.Matrix([[sum(sympy.log(1 + sympy.exp(x)) - y * x for x, y in zip(z, t))]])


# -- blocks: concat and slices -------------------------------------------------------------------------
def _concat_shape(shapes, axis):
    a, b = shapes
    other = 1 - axis
    if a[other] != b[other]:
        what = "columns" if axis == 0 else "rows"
        raise ShapeMismatch(f"{shape_text(a)} and {shape_text(b)} cannot be joined along axis {axis}: the "
                            f"{what} differ", hint="a transpose (.T) may be missing, or axis=1 meant"
                            if a[axis] == b[axis] or a[other] == b[axis] else None)
    out = list(a)
    out[axis] = mx.size_sum(a[axis], b[axis])
    return tuple(out)


def _concat_slot(e: M, style: str) -> str:
    if style == "numpy":
        return ", axis=1" if e.axis == 1 else ""
    if style == "latex":
        return r"\\" if e.axis == 0 else "&"
    return ";" if e.axis == 0 else ","


def _part_shape(shapes, axis, bounds):
    lo, hi = bounds
    whole = shapes[0][axis]
    length = mx.size_sum(hi, lo, -1)
    numbers = isinstance(lo, int) and isinstance(hi, int) and not isinstance(whole, int)  # X[:, :2]: by [dims]
    if length in (None, 0) or (mx.size_sum(whole, hi, -1) is None and not numbers):
        raise ShapeMismatch(f"{'' if lo == 0 else lo}:{hi} is not a part of the {whole} "
                            f"{'rows' if axis == 0 else 'columns'} of a {shape_text(shapes[0])} matrix",
                            hint="a slice runs from a size to a larger one within the matrix: Z[:H], Z[H:2H]")
    out = list(shapes[0])
    out[axis] = length
    return tuple(out)


def _part_slot(e: M, style: str) -> str:
    axis, (lo, hi) = e.axis, e.bounds
    if style == "numpy":
        bounds = f"{mx.size_source(lo)}:{mx.size_source(hi)}"
    else:
        bounds = f"{'' if lo == 0 else lo}:{'' if hi == e.args[0].shape[axis] else hi}"
    return bounds if axis == 0 else f":, {bounds}"


def _part_vjp(e: M, u: M) -> M:
    """Z[lo:hi]: Z̄ = [0; ū; 0], zeros above and below (left and right) of the part."""
    axis, (lo, hi) = e.axis, e.bounds
    whole = e.args[0].shape
    out = u
    if lo != 0:
        out = mx.concat(mx.zero(_with(whole, axis, lo)), out, axis)
    rest = mx.size_sum(whole[axis], hi, -1)
    if rest != 0:
        out = mx.concat(out, mx.zero(_with(whole, axis, rest)), axis)
    return out


def _with(shape, axis, size):
    out = list(shape)
    out[axis] = size
    return tuple(out)


def _concat_vjp(position: int) -> VJP:
    """[a; b]: ā is the first rows of ū, b̄ the rest."""
    def rule(e: M, u: M) -> M:
        a, b = e.args
        axis = e.axis
        lo = 0 if position == 0 else a.shape[axis]
        return mx.part(u, axis, lo, mx.size_sum(lo, e.args[position].shape[axis]))
    return rule


def _np_part(a, axis, bounds):
    lo, hi = bounds
    return a[lo:hi] if axis == 0 else a[:, lo:hi]


def _sym_part(a, axis, bounds):
    lo, hi = bounds
    return a[lo:hi, :] if axis == 0 else a[:, lo:hi]


# -- rows of a matrix --------------------------------------------------------------------------------------
def _row_shape(shapes, index):  # the index is checked against [dims] where sizes are known (shapes.py)
    return (1, shapes[0][1])


def _row_slot(e: M, style: str) -> str:
    i = e.index
    if style == "numpy":
        return f"{i}:{i + 1}" if i != -1 else "-1:"
    return str(i) if style == "text" else f"{i},:"


def _row_vjp(e: M, u: M) -> M:
    """W[i]: W̄ = eᵢ ū, eᵢ the i-th column of the identity."""
    rows = e.args[0].shape[0]
    return matmul(M("basis", (), (rows, 1), index=e.index, size=rows), u)


_SUBSCRIPT = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")


def _basis_slot(e: M, style: str) -> str:
    i, rows = e.index, e.size
    if style == "numpy":
        return f"np.eye({mx.size_source(rows)})[:, {i}:{i + 1 if i != -1 else ''}]"
    return str(i).translate(_SUBSCRIPT) if style == "text" else f"{{{i}}}"


#: Every matrix operation, by name.
OPS: dict[str, Op] = {op.name: op for op in [
    # -- linear algebra ---------------------------------------------------------------------------------
    Op("add", None, _broadcast, (lambda e, u: u,), lambda args, e: add(*args),
       lambda b, e, *v: sum(v[1:], v[0]), _sym_add,
       "$0 + $1", "$0 + $1", "$0 + $1", binding="add", sides=("left", "right")),
    Op("neg", 1, _same, (lambda e, u: neg(u),), lambda args, e: neg(args[0]),
       lambda b, e, a: -a, lambda b, e, a: -a,
       "-$0", "−$0", "-$0", binding="neg", sides=("right",)),
    Op("scale", 2, _scale_shape,
       (lambda e, u: dot(u, e.args[1]),                       # c·a: c̄ = ⟨ū, a⟩
        lambda e, u: scale(e.args[0], u)),                    #      ā = c ū
       lambda args, e: scale(*args),
       lambda b, e, c, a: c.item() * a, lambda b, e, c, a: c[0, 0] * a,
       "$0 * $1", "$0 $1", r"$0 \, $1", binding="mul", sides=("left", "right")),
    Op("matmul", 2, _matmul_shape,
       (lambda e, u: matmul(u, transpose(e.args[1])),         # W @ a: W̄ = ū aᵀ
        lambda e, u: matmul(transpose(e.args[0]), u)),        #        ā = Wᵀ ū
       lambda args, e: matmul(*args),
       lambda b, e, x, y: x @ y, _sym_matmul,
       "$0 @ $1", "$0 $1", r"$0 \, $1", binding="matmul", sides=("left", "right")),
    Op("T", 1, _transposed, (lambda e, u: transpose(u),), lambda args, e: transpose(args[0]),
       lambda b, e, a: a.T, lambda b, e, a: a.T,
       "$0.T", "$0ᵀ", r"$0^\top", binding="transpose", sides=("left",)),
    Op("trace", 1, _square, (lambda e, u: scale(u, eye(e.args[0].shape[0])),),
       lambda args, e: reduce("trace", *args),
       lambda b, e, a: rt._trace(a), lambda b, e, a: sympy.Matrix([[a.trace()]]),
       "_trace($0)", "tr($0)", r"\operatorname{tr}\left($0\right)",
       helper=helper_source(rt._trace), call="trace"),
    Op("diag", 1, _column, (), lambda args, e: M("diag", (args[0],), (args[0].shape[0],) * 2),
       lambda b, e, a: np.diagflat(a), lambda b, e, a: sympy.diag(*a),
       "np.diagflat($0)", "diag($0)", r"\operatorname{diag}\left($0\right)",
       why_no_vjp="diag(v) is written in answers only"),
    # -- elementwise (broadcasting) -----------------------------------------------------------------------
    Op("had", 2, _broadcast, (lambda e, u: had(e.args[1], u), lambda e, u: had(e.args[0], u)),
       lambda args, e: had(*args),
       lambda b, e, x, y: x * y, lambda b, e, x, y: sympy.matrix_multiply_elementwise(*_both(x, y)),
       "$0 * $1", "$0 ⊙ $1", r"$0 \odot $1", binding="hadamard", sides=("left", "right")),
    Op("div", 2, _broadcast,
       (lambda e, u: div(u, e.args[1]),                                            # a / c: ā = ū / c
        lambda e, u: neg(div(dot(u, e.args[0]) if e.args[1].is_scalar and u.shape == e.args[0].shape
                             else had(u, e.args[0]), power(e.args[1], 2)))),      # c̄ = −⟨ū, a⟩ / c²
       lambda args, e: div(*args),
       lambda b, e, x, c: x / c, _sym_div,
       "$0 / $1", "$0 / $1", r"\frac{$0}{$1}", binding="div", sides=("left", "right")),
    Op("pow", 1, _same, (lambda e, u: had(scale(const(e.exponent), power(e.args[0], e.exponent - 1)), u),),
       lambda args, e: power(args[0], e.exponent),
       lambda b, e, a: a ** float(e.exponent), lambda b, e, a: a.applyfunc(lambda x: x ** e.exponent),
       "$0 ** $d", "$0^$d", r"$0^{\circ $d}", binding="pow", sides=("left",), takes=("exponent",)),
    Op("epow", 2, _broadcast,                                   # a^b, b a matrix: ā = b ⊙ a^(b − 1) ⊙ ū
       (lambda e, u: had(had(e.args[1], _epow(e.args[0], sub(e.args[1], const(1)))), u),
        lambda e, u: had(had(mx.fn("log", e.args[0]), e), u)),  # b̄ = log(a) ⊙ a^b ⊙ ū
       lambda args, e: _epow(*args),
       lambda b, e, x, y: x ** y, lambda b, e, x, y: _sym_pair(x, y, lambda p, q: p ** q),
       "$0 ** $1", "$0^$1", r"$0^{\circ $1}", binding="pow", sides=("left", "right")),
    Op("fn", 1, _same, (lambda e, u: had(dfn(e.function, e.args[0]), u),),            # f(a): ā = f′(a) ⊙ ū
       lambda args, e: mx.fn(e.function, args[0]),
       lambda b, e, a: b.fn(e.function, a), lambda b, e, a: b.fn(e.function, a),
       "$f($0)", "$f($0)", r"$f\left($0\right)", takes=("function",)),
    Op("dfn", 1, _same, (), lambda args, e: dfn(e.function, args[0]),
       lambda b, e, a: b.dfn(e.function, a), lambda b, e, a: b.dfn(e.function, a),
       "$f($0)", "$f′($0)", r"$f'\left($0\right)", takes=("function",),
       why_no_vjp="derivatives of derivatives (σ′) are not supported"),
    *_choosing("max", sympy.Max, ">"),
    *_choosing("min", sympy.Min, "<"),
    *(_comparison(symbol, name) for symbol, name in COMPARISONS.items()),
    # where(c, x, y) = c ⊙ x + (1 − c) ⊙ y for a 0/1 condition c: x̄ = c ⊙ ū, ȳ = (1 − c) ⊙ ū
    Op("where", 3, lambda shapes: broadcast(*shapes),
       (lambda e, u: zero(e.args[0].shape),
        lambda e, u: had(e.args[0], u),
        lambda e, u: had(sub(ones(e.args[0].shape), e.args[0]), u)),
       _where_build,
       lambda b, e, c, x, y: np.where(c != 0, x, y), _sym_where,
       "np.where($0 != 0, $1, $2)", "where($0, $1, $2)",
       r"\operatorname{where}\left($0, $1, $2\right)", call="where"),
    Op("concat", 2, _concat_shape, (_concat_vjp(0), _concat_vjp(1)), lambda args, e: mx.concat(*args, e.axis),
       lambda b, e, x, y: rt._concat(x, y, e.axis),
       lambda b, e, x, y: x.col_join(y) if e.axis == 0 else x.row_join(y),
       "_concat($0, $1$a)", "[$0$a $1]", r"\begin{bmatrix} $0 $a $1 \end{bmatrix}",
       helper=helper_source(rt._concat),
       call="concat", axis=True, default_axis=0, slot=_concat_slot, takes=("axis",)),
    Op("part", 1, _part_shape, (_part_vjp,), lambda args, e: mx.part(args[0], e.axis, *e.bounds),
       lambda b, e, a: _np_part(a, e.axis, e.bounds), lambda b, e, a: _sym_part(a, e.axis, e.bounds),
       "$0[$a]", "$0[$a]", r"$0_{[$a]}", binding="transpose", sides=("left",), slot=_part_slot,
       takes=("axis", "bounds")),
    Op("basis", 0, lambda shapes, index, size: (size, 1), (), lambda args, e: M("basis", (), (e.size, 1), index=e.index, size=e.size),
       lambda b, e: np.eye(e.size)[:, [e.index]], lambda b, e: sympy.eye(e.size)[:, e.index % e.size],
       "$a", "e$a", r"e_$a", slot=_basis_slot, takes=("index", "size"),
       why_no_vjp="the unit vector eᵢ is written in results only"),
    Op("row", 1, _row_shape, (_row_vjp,), lambda args, e: M("row", (args[0],), (1, args[0].shape[1]), index=e.index),
       lambda b, e, a: a[e.index:e.index + 1] if e.index != -1 else a[-1:],
       lambda b, e, a: a[e.index % a.rows, :],
       "$0[$a]", "$0[$a]", r"$0_{$a}", binding="transpose", sides=("left",), slot=_row_slot, takes=("index",)),
    # -- reductions (dimensions kept) -----------------------------------------------------------------------
    Op("sum", 1, _reduced, (_sum_vjp,), lambda args, e: along("sum", args[0], e.axis),
       lambda b, e, a: rt._sum(a, e.axis), lambda b, e, a: _sym_along(a, e.axis, sum),
       "_sum($0$a)", "sum($0$a)", r"\textstyle\sum$a\left($0\right)", helper=helper_source(rt._sum), call="sum", axis=True, takes=("axis",)),
    Op("mean", 1, _reduced, (lambda e, u: div(_sum_vjp(e, u), count(e.args[0].shape, e.axis)),),
       lambda args, e: along("mean", args[0], e.axis),
       lambda b, e, a: rt._mean(a, e.axis), lambda b, e, a: _sym_along(a, e.axis, _sym_mean),
       "_mean($0$a)", "mean($0$a)", r"\operatorname{mean}$a\left($0\right)", helper=helper_source(rt._mean),
       call="mean", axis=True, takes=("axis",)),
    Op("variance", 1, _reduced, (_var_vjp,), lambda args, e: along("variance", args[0], e.axis),
       lambda b, e, a: rt._var(a, e.axis), lambda b, e, a: _sym_along(a, e.axis, _sym_var),
       "_var($0$a)", "var($0$a)", r"\operatorname{var}$a\left($0\right)", helper=helper_source(rt._var), call="var", axis=True, takes=("axis",)),
    Op("var1", 1, _reduced,  # var(W, ddof=1): divided by n − 1
       (lambda e, u: div(scale(const(2), had(sub(e.args[0], along("mean", e.args[0], e.axis)), u)),
                         sub(count(e.args[0].shape, e.axis), const(1))),),
       lambda args, e: along("var1", args[0], e.axis),
       lambda b, e, a: rt._var1(a, e.axis), lambda b, e, a: _sym_along(a, e.axis, _sym_var1),
       "_var1($0$a)", "var($0$a, ddof=1)", r"\operatorname{var}^{(n-1)}$a\left($0\right)",
       helper=helper_source(rt._var1), axis=True, takes=("axis",)),
    Op("norm", 1, _scalar, (_norm_vjp,),
       lambda args, e: reduce("norm", *args),
       lambda b, e, a: rt._norm(a),
       lambda b, e, a: sympy.Matrix([[sympy.sqrt(sum(x ** 2 for x in a))]]),
       "_norm($0)", "‖$0‖", r"\left\lVert $0 \right\rVert",
       helper=helper_source(rt._norm), call="norm"),
    Op("dot", 2, _equal_pair, (lambda e, u: scale(u, e.args[1]), lambda e, u: scale(u, e.args[0])),
       lambda args, e: dot(*args),
       lambda b, e, x, y: rt._dot(x, y),
       lambda b, e, x, y: sympy.Matrix([[sum(p * q for p, q in zip(x, y))]]),
       "_dot($0, $1)", "⟨$0, $1⟩", r"\left\langle $0, $1 \right\rangle",
       helper=helper_source(rt._dot), call="dot"),
    # -- softmax family (axis 0: each column is one example) ------------------------------------------------
    Op("softmax", 1, _same, (_softmax_vjp,), lambda args, e: vector_op("softmax", args[0], e.axis),
       lambda b, e, z: rt._softmax(z, e.axis), lambda b, e, z: _sym_softmax(z, e.axis),
       "_softmax($0$a)", "softmax($0$a)", r"\operatorname{softmax}$a\left($0\right)", default_axis=0,
       helper=helper_source(rt._softmax), call="softmax", axis=True, takes=("axis",)),
    Op("logsumexp", 1, _reduced, (lambda e, u: had(vector_op("softmax", e.args[0], e.axis), u),),
       lambda args, e: along("logsumexp", args[0], e.axis),
       lambda b, e, z: rt._logsumexp(z, e.axis), lambda b, e, z: _sym_along(z, e.axis, _sym_logsumexp),
       "_logsumexp($0$a)", "logsumexp($0$a)", r"\operatorname{logsumexp}$a\left($0\right)",
       default_axis=0, helper=helper_source(rt._logsumexp), call="logsumexp", axis=True, takes=("axis",)),
    Op("log_softmax", 1, _same,
       (lambda e, u: sub(u, had(vector_op("softmax", e.args[0], e.axis), along("sum", u, e.axis))),),
       lambda args, e: vector_op("log_softmax", args[0], e.axis),
       lambda b, e, z: rt._log_softmax(z, e.axis), lambda b, e, z: _sym_log_softmax(z, e.axis),
       "_log_softmax($0$a)", "log_softmax($0$a)", r"\log\operatorname{softmax}$a\left($0\right)",
       default_axis=0, helper=helper_source(rt._log_softmax),
       call="log_softmax", axis=True, takes=("axis",)),
    # −Σ T ⊙ log softmax(Z): Z̄ = (P ⊙ 𝟏(𝟏ᵀT) − T) ū, which is P − T only when T's columns sum to 1
    # −Σ (t ⊙ log σ(z) + (1 − t) ⊙ log(1 − σ(z))) = Σ (softplus(z) − t ⊙ z): z̄ = (σ(z) − t) ū for any t
    Op("bce", 2, _equal_pair,
       (lambda e, u: scale(u, sub(mx.fn("sigmoid", e.args[0]), e.args[1])),
        lambda e, u: scale(u, neg(e.args[0]))),
       lambda args, e: reduce("bce", *args),
       lambda b, e, z, t: rt._binary_cross_entropy_with_logits(z, t), _sym_bce,
       "_binary_cross_entropy_with_logits($0, $1)", "BCE(σ($0), $1)",
       r"\operatorname{BCE}\left(\sigma($0), $1\right)",
       helper=helper_source(rt._binary_cross_entropy_with_logits),
       call="binary_cross_entropy_with_logits"),
    Op("sce", 2, _equal_pair,
       (lambda e, u: scale(u, sub(had(vector_op("softmax", e.args[0]), along("sum", e.args[1], 0)), e.args[1])),
        lambda e, u: scale(u, neg(vector_op("log_softmax", e.args[0])))),
       lambda args, e: reduce("sce", *args),
       lambda b, e, z, t: rt._softmax_cross_entropy(z, t),
       lambda b, e, z, t: sympy.Matrix([[-sum(x * y for x, y in zip(t, _sym_log_softmax(z, 0)))]]),
       "_softmax_cross_entropy($0, $1)", "CE(softmax($0), $1)",
       r"\operatorname{CE}\left(\operatorname{softmax}($0), $1\right)",
       helper=helper_source(rt._softmax_cross_entropy),
       call="softmax_cross_entropy"),
]}

# The tree refuses a parameter its operation does not take: the registry declares them (``takes``).
mx.TAKES.update({name: frozenset(op.takes) for name, op in OPS.items()})

#: Operations whose argument may be given an axis (``sum(X, axis=1)``).
AXIS_OPS = frozenset(name for name, op in OPS.items() if op.axis)


def vjp(e: M, u: M, position: int) -> M:
    """The adjoint flowing to argument ``position`` of ``e``, summed over the axes along which
    that argument was broadcast; a missing rule names the operation."""
    op = OPS.get(e.op)
    if op is None or not op.vjps:
        what = " ".join([e.op, *(str(v) for v in e.parameters.values())])
        if op is not None and op.why_no_vjp:  # σ′ or diag in an equation: outside what derive differentiates
            raise ProblemError(f"no VJP rule for the operation '{what}'", hint=op.why_no_vjp)
        raise InternalError(f"no VJP rule for the operation '{what}'")  # a bug in derive (exit 3), not bad input
    rule = op.vjps[0] if op.arity is None else op.vjps[position]
    return unbroadcast(rule(e, u), e.args[position].shape)


def rebuild(e: M, args: list[M]) -> M:
    """``e`` with new arguments, through its operation's simplifying constructor."""
    return OPS[e.op].build(args, e)


def substitute(e: M, replace) -> M:
    """Rebuild ``e`` bottom-up through the constructors, replacing leaves by ``replace(leaf)``
    (None keeps the leaf); everything is simplified again on the way up."""
    if not e.args:
        new = replace(e)
        return e if new is None else new
    return rebuild(e, [substitute(a, replace) for a in e.args])


def replace_nodes(e: M, replace) -> M:
    """``e`` with every sub-expression for which ``replace`` gives a node replaced by it,
    outermost first; the rest rebuilt through the constructors."""
    new = replace(e)
    if new is not None:
        return new
    if not e.args:
        return e
    args = [replace_nodes(a, replace) for a in e.args]
    if all(a is b for a, b in zip(args, e.args)):
        return e
    rebuilt = rebuild(e, args)
    return replace(rebuilt) or rebuilt  # X − mean(X) became X − μ: that may be a named node too


def printed_binding(e: M) -> str:
    """How ``e`` binds when printed, as an operation of the one precedence table: a negative
    constant binds like a negation, a fraction (1/2) like a division; calls and names are atoms."""
    if e.op == "const":
        value = sympy.Integer(e.value) if isinstance(e.value, int) else e.value
        if value.could_extract_minus_sign():
            return "neg"
        if value.is_Rational and not value.is_Integer:
            return "div"
        return "atom" if value.is_Atom else "mul"  # 2·π, √2 are products/powers: bracket as a product
    op = OPS.get(e.op)
    return op.binding if op else "atom"


def axis_text(e: M, style: str) -> str:
    """The axis of a reduction as printed (``, axis=1``), or "" where it is the default."""
    op = OPS[e.op]
    if op.slot is not None:
        return op.slot(e, style)
    if e.axis is None or e.axis == op.default_axis:
        return ""
    if style in ("latex", "text"):  # no NumPy vocabulary in mathematics: see along_words
        return ""
    return f", axis={e.axis}"


def along_words(e: M) -> str:
    """How a sheet says that ``e`` works along a non-default axis: "row-wise" (axis 1: each row of
    its argument) or "column-wise" (axis 0); "" where the axis goes without saying."""
    op = OPS[e.op]
    if not op.axis or op.slot is not None or e.axis is None or e.axis == op.default_axis:
        return ""
    return "row-wise" if e.axis % 2 == 1 else "column-wise"


@dataclass(frozen=True)
class Elementwise:
    """An elementwise function, a row generated from derive/functions.py: SymPy definition and
    derivative in SymPy's own functions (scalar), NumPy callables for the numeric checks (their
    source is copied into generated code), LaTeX of its derivative with ``$f`` and ``$0``."""

    name: str
    sympy_f: Callable[[sympy.Expr], sympy.Expr]
    sympy_df: Callable[[sympy.Expr], sympy.Expr]
    numpy_f: Callable[[np.ndarray], np.ndarray]
    numpy_df: Callable[[np.ndarray], np.ndarray]
    derivative_latex: str | None = None


def _on_argument(build: Callable[[sympy.Expr], sympy.Expr]) -> Callable[[sympy.Expr], sympy.Expr]:
    """``plain(build(x))``, made plain once on a placeholder and then given x: ``plain`` walks
    the small template, never x (in the exact check, the whole network before this layer).  The
    entries x of the SymPy backend are plain already: every function put into them is.  The
    template's nodes over x are put together unevaluated: evaluating tanh(x) asks whether x is
    zero, finite, …, each question a walk of all of x; the value is the same."""
    placeholder = sympy.Dummy("x", real=True)
    template = plain(build(placeholder))

    def put(x):
        with sympy.evaluate(False):
            return template.xreplace({placeholder: x})
    return put


def _elementwise_row(f) -> Elementwise:
    return Elementwise(f.name, _on_argument(f.definition), _on_argument(f.derivative),
                       f.numpy, f.numpy_derivative, f.derivative_latex)


ELEMENTWISE: dict[str, Elementwise] = {f.name: _elementwise_row(f) for f in FUNCTIONS.values()}

#: What a course or another library writes for an operation here, and the hint that names ours
#: (a "did you mean" by letters alone would offer a wrong neighbour: amax is not tanh).
SPELLINGS: dict[str, str] = {
    "concatenate": "write concat(a, b) (axis=1 to join side by side)",
    "cat": "write concat(a, b) (axis=1 to join side by side)",
    "vstack": "write concat(a, b): one on top of the other",
    "hstack": "write concat(a, b, axis=1): side by side",
    "amax": "write max(A, axis=0) (or axis=1; no axis: every entry)",
    "amin": "write min(A, axis=0) (or axis=1; no axis: every entry)",
    "argmax": "argmax has no derivative; max(A, axis=0) is the largest entry",
    "clip": "write minimum(maximum(Z, a), b)",
    "clamp": "write minimum(maximum(Z, a), b)",
    "std": "write sqrt(var(A, axis=0))",
    "average": "write mean(A, axis=0)",
    "transpose": "write A.T",
    "matmul": "write A @ B",
    "multiply": "write A * B (entry by entry)",
    "bce": "write binary_cross_entropy_with_logits(z, t) (z the logits)",
    "binary_cross_entropy": "write binary_cross_entropy_with_logits(z, t) (z the logits), or the sum written out",
    "bce_with_logits": "write binary_cross_entropy_with_logits(z, t)",
    "cross_entropy": "write softmax_cross_entropy(Z, T) (Z the logits)",
    "nll_loss": "write -sum(T * log_softmax(Z))",
    "mse": "write mean((Y - T) ** 2)",
    "mse_loss": "write mean((Y - T) ** 2)",
    "select": "write where(A < 1, X, Y)",
    "ifelse": "write where(A < 1, X, Y)",
    "power": "write A ** p (p a number or a matrix)",
}

#: The elementwise function an abstract σ stands for in numeric checks and generated code.
DEFAULT_CONCRETE = "sigmoid"

#: The operations a user may call by name, with their number of positional arguments (the
#: reductions and the softmax family also take axis=0 or axis=1), and the operation each names.
CALLS: dict[str, int] = {op.call: op.arity for op in OPS.values() if op.call}
CALLED: dict[str, str] = {op.call: op.name for op in OPS.values() if op.call}
