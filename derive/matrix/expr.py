"""Matrix expressions: a small tree of named sizes, built through simplifying constructors.

Every node has a shape (rows, columns), each a named size such as "K" or the number 1.  The
constructors keep expressions in the form a textbook prints: no 1·x, no (1/2)·2, no xᵀᵀ, like
terms collected, a scalar times a matrix written as a scaling.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

import sympy

Dim = "str | int"
SCALAR = (1, 1)


#: The parameters a node may carry, each one sort of thing (None: not given, or, for an axis,
#: "every entry").  Which an operation takes is declared in ``TAKES``.
PARAMETERS = ("name", "value", "function", "exponent", "axis", "bounds", "index", "size")

#: The parameters each operation takes: the leaves here, every registry operation added by
#: derive/matrix/rules.py from its entry's ``takes``.  A node given one its operation does not
#: take is refused when it is made, so no untyped value rides along.
TAKES: dict[str, frozenset[str]] = {
    "var": frozenset({"name"}),  # a variable or named node
    "adj": frozenset({"name"}),  # the adjoint of a named node
    "const": frozenset({"value"}),  # a SymPy number
    "dim": frozenset({"name"}),  # a size's name used as a number
    "ones": frozenset(), "zero": frozenset(), "eye": frozenset(),
}


@dataclass(frozen=True)
class M:
    """A matrix expression.

    Leaves: var (a variable or named node), adj (the adjoint of a named node), const, dim (a
    size name used as a number), ones, zero, eye.  Every other ``op`` is an entry of the
    operation registry (derive/matrix/rules.py, ``OPS``).  The parameters say what they hold:
    ``name`` (of a variable, a node or a size), ``value`` (of a constant), ``function`` (fn, dfn),
    ``exponent`` (pow), ``axis`` (0, 1, or None: everything), ``bounds`` (a slice's sizes lo, hi),
    ``index`` (a row; the 1 of a unit vector), ``size`` (the length of a unit vector).
    """

    op: str
    args: tuple = ()
    shape: tuple = SCALAR
    _: KW_ONLY
    name: str | None = None
    value: sympy.Expr | None = None
    function: str | None = None
    exponent: sympy.Expr | None = None
    axis: int | None = None
    bounds: tuple | None = None
    index: int | None = None
    size: object = None  # a size: a name, a number or a sum ("D+H")

    def __post_init__(self):
        takes = TAKES.get(self.op, frozenset())
        for parameter in PARAMETERS:
            if getattr(self, parameter) is not None and parameter not in takes:
                raise TypeError(f"the operation {self.op!r} takes no {parameter} "
                                f"(it takes {', '.join(sorted(takes)) or 'none'})")

    @property
    def parameters(self) -> dict:
        """The parameters given, by name (for printing and rebuilding)."""
        return {p: v for p in PARAMETERS if (v := getattr(self, p)) is not None}

    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    def walk(self):
        """This node and every node below it, parents before children: the one tree walk."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.args))

    def __repr__(self) -> str:  # compact, for debugging and test failures
        inner = ", ".join(repr(a) for a in self.args)
        given = self.parameters
        tag = f"{self.op}:{','.join(str(v) for v in given.values())}" if given else self.op
        return f"{tag}({inner})" if self.args else tag


def dim_text(d) -> str:
    return str(d)


# -- sizes: a name ("K"), a number, or a sum of them ("D+H", "2H", "B-2": concat and slices make them) --
_TERM = re.compile(r"([+-])?(\d*)([A-Za-z][A-Za-z0-9_]*)?")


def size_terms(d) -> dict:
    """A size as {name: multiple} with the number under the key 1: "2H+1" -> {"H": 2, 1: 1}."""
    if isinstance(d, int):
        return {1: d} if d else {}
    terms: dict = {}
    text, position = d.replace(" ", ""), 0
    while position < len(text):
        match = _TERM.match(text, position)
        if not match.group(0) or not (match.group(2) or match.group(3)) or (position and not match.group(1)):
            raise ValueError(f"not a size: {d!r}")
        sign = -1 if match.group(1) == "-" else 1
        name = match.group(3) or 1
        terms[name] = terms.get(name, 0) + sign * int(match.group(2) or 1)
        position = match.end()
    return {n: k for n, k in terms.items() if k}


def size_from_terms(terms: dict):
    """The canonical size of {name: multiple}: a number, a name, or "D+2H-1" (names sorted)."""
    number = terms.get(1, 0)
    names = sorted((n, k) for n, k in terms.items() if n != 1 and k)
    if not names:
        return number
    if number == 0 and len(names) == 1 and names[0][1] == 1:
        return names[0][0]
    text = "+".join(f"{k if k != 1 else ''}{n}" for n, k in names)
    return text + (f"+{number}" if number > 0 else f"-{-number}" if number < 0 else "")


def size_sum(a, b, sign: int = 1):
    """a + b (sign 1) or a − b (sign −1); None when that is no size for some values of the names
    (a name with a negative multiple, or a negative number).  B − 2 is a size (B ≥ 2 is checked
    against [dims] where it is made)."""
    terms = dict(size_terms(a))
    for n, k in size_terms(b).items():
        terms[n] = terms.get(n, 0) + sign * k
    terms = {n: k for n, k in terms.items() if k}
    if any(k < 0 for n, k in terms.items() if n != 1) or (set(terms) <= {1} and terms.get(1, 0) < 0):
        return None
    return size_from_terms(terms)


def size_source(d, names=None) -> str:
    """A size in Python source: a name, a number, or a sum of them, bracketed: (D + 2 * H - 1)."""
    names = names or {}
    if not isinstance(d, str) or d in names or not re.search(r"[+\-]|^\d", d):
        return names.get(d, d) if isinstance(d, str) else str(d)
    out = ""
    for n, k in size_terms(d).items():
        term = str(abs(k)) if n == 1 else names.get(n, n) if abs(k) == 1 else f"{abs(k)} * {names.get(n, n)}"
        out += (" - " if k < 0 else " + ") + term if out else ("-" if k < 0 else "") + term
    return f"({out})"


def size_value(d, sizes) -> int:
    """The number a size stands for once [dims] are put in."""
    if isinstance(d, int):
        return d
    if d in sizes:
        return sizes[d]
    return sum(k * (1 if n == 1 else sizes[n]) for n, k in size_terms(d).items())


def shape_text(shape: tuple) -> str:
    return f"({dim_text(shape[0])}×{dim_text(shape[1])})"


class ShapeMismatch(Exception):
    """Raised by a shape rule; the typer adds the equation and the expression to the message."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def broadcast(*shapes: tuple) -> tuple:
    """NumPy's rule on named sizes, typed: along each axis the sizes are equal or one is 1
    (a scalar with anything, a K×1 column with K×B, a 1×B row with K×B)."""
    out = list(shapes[0])
    for shape in shapes[1:]:
        for axis in (0, 1):
            a, b = out[axis], shape[axis]
            if a == b or b == 1:
                continue
            if a == 1:
                out[axis] = b
                continue
            raise ShapeMismatch(f"{' and '.join(shape_text(s) for s in shapes)} do not broadcast",
                                hint="a transpose (.T) may be missing" if _fits_transposed(shapes) else
                                "sizes must be equal or 1 along each axis (K×1 and 1×B broadcast with K×B)")
    return tuple(out)


def _fits_transposed(shapes) -> bool:
    """Whether transposing one of two shapes would make them broadcast (r for rᵀ)."""
    if len(shapes) != 2:
        return False
    a, b = shapes
    fits = lambda x, y: all(p == q or 1 in (p, q) for p, q in zip(x, y))  # noqa: E731
    return fits(a, b[::-1]) or fits(a[::-1], b)


# -- leaves -----------------------------------------------------------------------------------
def var(name: str, shape) -> M:
    return M("var", (), tuple(shape), name=name)


def adj(name: str, shape) -> M:
    return M("adj", (), tuple(shape), name=name)


def const(value) -> M:
    return M("const", (), SCALAR, value=sympy.Integer(value) if isinstance(value, int) else value)


def ones(shape) -> M:
    return const(1) if tuple(shape) == SCALAR else M("ones", (), tuple(shape))


def zero(shape) -> M:
    return const(0) if tuple(shape) == SCALAR else M("zero", (), tuple(shape))


def dim(name) -> M:
    """A size as a number (``sum(L) / B``); an integer size is a constant."""
    return const(name) if isinstance(name, int) else M("dim", (), SCALAR, name=name)


def count(shape, axis=None) -> M:
    """The number of entries a reduction along ``axis`` (None: all) averages over."""
    axes = (0, 1) if axis is None else (axis,)
    out = const(1)
    for a in axes:
        out = scale(out, dim(shape[a]))
    return out


def eye(n) -> M:
    return M("eye", (), (n, n))


def is_zero(e: M) -> bool:
    return e.op == "zero" or (e.is_const and e.value == 0)


def is_one(e: M) -> bool:
    return e.is_const and e.value == 1


# -- simplifying constructors -----------------------------------------------------------------
def _split(e: M) -> tuple[sympy.Expr, M | None]:
    """A numeric factor and the rest: 3·(λ·W) -> (3, λ·W); 2 -> (2, None); −W -> (−1, W)."""
    if e.is_const:
        return e.value, None
    if e.op == "neg":
        k, rest = _split(e.args[0])
        return -k, rest
    if e.op == "scale":
        kc, rc = _split(e.args[0])
        ka, ra = _split(e.args[1])
        if rc is None or ra is None:
            return kc * ka, ra if rc is None else rc
        return kc * ka, M("scale", (rc, ra), ra.shape)
    return sympy.Integer(1), e


def _ones_times(e: M) -> M | None:
    """The scalar s when ``e`` is s·𝟏, a matrix of ones scaled (𝟏, 𝟏ᵀ / B, −2·𝟏): the broadcast of
    a scalar, as the adjoint of a sum or mean is; None otherwise."""
    if e.op == "ones":
        return const(1)
    if e.op == "neg" and (s := _ones_times(e.args[0])) is not None:
        return neg(s)
    if e.op == "scale" and e.args[0].is_scalar and (s := _ones_times(e.args[1])) is not None:
        return scale(e.args[0], s)
    if e.op == "div" and e.args[1].is_scalar and (s := _ones_times(e.args[0])) is not None:
        return div(s, e.args[1])
    return None


def scale(c: M, a: M) -> M:
    """c·a with c a scalar expression.  Every numeric factor, wherever it sits (in c, in a, in a
    scaling inside either), is folded into one leading constant: 2·((½·λ)·W) is λ·W."""
    if is_zero(c) or is_zero(a):
        return zero(a.shape)
    if c.op == "div" and is_one(c.args[0]) and not a.is_const:  # (1/B) A is A / B, (1/p) t is t / p
        return div(a, c.args[1])
    if a.op == "div" and a.args[1] == c:  # ‖v‖ (v / ‖v‖) is v: the chain rule through norm(v)**2
        return a.args[0]
    kc, rc = _split(c)
    ka, ra = _split(a)
    k = kc * ka
    if k == 0:
        return zero(a.shape)
    if rc is None and ra is None:
        return const(k)
    if rc is None or ra is None:
        rest = ra if rc is None else rc
    else:
        rest = M("scale", (rc, ra), ra.shape)
    if k == 1:
        return rest
    if k == -1:
        return M("neg", (rest,), rest.shape)
    return M("scale", (const(k), rest), rest.shape)


def neg(a: M) -> M:
    if is_zero(a):
        return a
    return scale(const(-1), a)


def add(*terms: M) -> M:
    """A sum with nested sums flattened, zeros dropped and like terms collected."""
    flat: list[M] = []
    for term in terms:
        flat.extend(term.args if term.op == "add" else (term,))
    flat = _join_parts(_join_blocks(flat))
    shape = broadcast(*(term.shape for term in flat))
    coefficients: dict[M, sympy.Expr] = {}
    numbers = sympy.Integer(0)
    for term in flat:
        if is_zero(term):
            continue
        if term.is_const:
            numbers += term.value
            continue
        c, rest = _split(term)
        coefficients[rest] = coefficients.get(rest, 0) + c
    coefficients = _factor_hadamard(coefficients)
    kept = [scale(const(c), rest) for rest, c in coefficients.items() if c != 0]
    if numbers != 0:  # 1 − t, not −t + 1; y + 1 stays
        first_negative = bool(kept) and _split(kept[0])[0] < 0
        kept.insert(0, const(numbers)) if first_negative else kept.append(const(numbers))
    if not kept:
        return zero(shape)
    if len(kept) == 1 and kept[0].shape == shape:
        return kept[0]
    if len(kept) == 1:  # a broadcast term alone keeps the shape of the sum
        kept.append(zero(shape))
    return M("add", tuple(kept), shape)


def _join_parts(terms: list[M]) -> list[M]:
    """Slices alike summed as the slice of the sum: (Wᵀ ū)[:H] + (Vᵀ v̄)[:H] is (Wᵀ ū + Vᵀ v̄)[:H]
    (an LSTM's h̄0, the top rows of the adjoint of each gate's concat(h0, x))."""
    groups: dict[tuple, list[M]] = {}
    for term in terms:
        if term.op == "part":
            groups.setdefault((term.axis, term.bounds, term.args[0].shape), []).append(term)
    if all(len(group) < 2 for group in groups.values()):
        return terms
    out, done = [], set()
    for term in terms:
        key = (term.axis, term.bounds, term.args[0].shape) if term.op == "part" else None
        if key is None or len(groups[key]) < 2:
            out.append(term)
        elif key not in done:
            done.add(key)
            out.append(part(add(*(t.args[0] for t in groups[key])), term.axis, *term.bounds))
    return out


def _factor_hadamard(coefficients: dict) -> dict:
    """Terms with the same right factor of an elementwise product taken together:
    −(n ⊙ h̄) + h0 ⊙ h̄ is (h0 − n) ⊙ h̄, as a textbook writes a GRU's update gate."""
    groups: dict[M, list[M]] = {}
    for rest, c in coefficients.items():
        if rest.op == "had" and c != 0 and rest.args[0].shape == rest.shape == rest.args[1].shape:
            groups.setdefault(rest.args[1], []).append(rest)
    if all(len(group) < 2 for group in groups.values()):
        return coefficients
    out: dict[M, sympy.Expr] = {}
    for rest, c in coefficients.items():
        group = groups.get(rest.args[1], []) if rest.op == "had" else []
        if len(group) < 2 or rest not in group:
            out[rest] = out.get(rest, 0) + c
        elif rest is group[0]:
            positive_first = sorted(group, key=lambda t: bool(coefficients[t] < 0))  # h0 − n, not −n + h0
            factored = had(add(*(scale(const(coefficients[t]), t.args[0]) for t in positive_first)), rest.args[1])
            k, kept = _split(factored)
            out[kept] = out.get(kept, 0) + k
    return out


def _join_blocks(terms: list[M]) -> list[M]:
    """Sums of blocks split alike added block by block: [p; 0] + [q; 0] + [0; s] is [p + q; s]
    (the adjoint of a slice is the part's adjoint padded with zeros)."""
    groups: dict[tuple, list[M]] = {}
    for term in terms:
        if term.op == "concat":
            groups.setdefault((term.axis, term.args[0].shape, term.args[1].shape), []).append(term)
    if all(len(group) < 2 for group in groups.values()):
        return terms
    out, done = [], set()
    for term in terms:
        if term.op != "concat" or len(groups[(term.axis, term.args[0].shape, term.args[1].shape)]) < 2:
            out.append(term)
            continue
        key = (term.axis, term.args[0].shape, term.args[1].shape)
        if key not in done:
            done.add(key)
            group = groups[key]
            out.append(concat(add(*(t.args[0] for t in group)), add(*(t.args[1] for t in group)), term.axis))
    return out


def sub(a: M, b: M) -> M:
    return add(a, neg(b))


def matmul(a: M, b: M) -> M:
    if a.is_scalar:
        return scale(a, b)  # (1×1) @ (1×n)
    if b.is_scalar:
        return scale(b, a)  # (n×1) @ (1×1)
    if is_zero(a) or is_zero(b):
        return zero((a.shape[0], b.shape[1]))
    if a.op == "eye":
        return b
    if b.op == "eye":
        return a
    if isinstance(a.shape[1], (int, str)) and (sa := _ones_times(a)) is not None \
            and (sb := _ones_times(b)) is not None:  # 𝟏 (𝟏ᵀ / B) = 𝟏 / B; 𝟏ᵀ 𝟏 = D
        return scale(scale(scale(sa, sb), dim(a.shape[1])), ones((a.shape[0], b.shape[1])))
    if a.op == "scale":
        return scale(a.args[0], matmul(a.args[1], b))
    if b.op == "scale":
        return scale(b.args[0], matmul(a, b.args[1]))
    if a.op == "neg":
        return neg(matmul(a.args[0], b))
    if b.op == "neg":
        return neg(matmul(a, b.args[0]))
    return M("matmul", (a, b), (a.shape[0], b.shape[1]))


def transpose(a: M) -> M:
    if a.is_scalar:
        return a
    if a.op == "T":
        return a.args[0]
    if a.op in ("ones", "zero"):
        return M(a.op, (), (a.shape[1], a.shape[0]))
    if a.op == "eye":
        return a
    if a.op == "scale":
        return scale(a.args[0], transpose(a.args[1]))
    if a.op == "neg":
        return neg(transpose(a.args[0]))
    if a.op == "matmul" and "T" in (a.args[0].op, a.args[1].op):
        return matmul(transpose(a.args[1]), transpose(a.args[0]))  # (Aᵀ C)ᵀ = Cᵀ A
    return M("T", (a,), (a.shape[1], a.shape[0]))


def had(a: M, b: M) -> M:
    """Elementwise product; a scalar factor becomes a scaling."""
    if a.is_scalar and not b.is_scalar:
        return scale(a, b)
    if b.is_scalar and not a.is_scalar:
        return scale(b, a)
    if a.is_scalar and b.is_scalar:
        return scale(a, b)
    shape = broadcast(a.shape, b.shape)
    if a.op == "ones" and b.shape == shape:
        return b
    if b.op == "ones" and a.shape == shape:
        return a
    if is_zero(a) or is_zero(b):
        return zero(shape)
    if b.shape == shape and (s := _ones_times(a)) is not None:  # (𝟏 / B) ⊙ T is a scaling: T / B
        return scale(s, b)
    if a.shape == shape and (s := _ones_times(b)) is not None:
        return scale(s, a)
    if a.op == "scale":
        return scale(a.args[0], had(a.args[1], b))
    if b.op == "scale":
        return scale(b.args[0], had(a, b.args[1]))
    if a.op == "neg":
        return neg(had(a.args[0], b))
    if b.op == "neg":
        return neg(had(a, b.args[0]))
    if a.op == "div" and a.args[0].op == "ones" and b.shape == shape:  # (1 ⊘ P) ⊙ T = T ⊘ P
        return div(b, a.args[1])
    if b.op == "div" and b.args[0].op == "ones" and a.shape == shape:
        return div(a, b.args[1])
    if b.op == "div" and b.args[1] == a and b.args[0].shape == shape:  # P ⊙ (T ⊘ P) = T
        return b.args[0]
    if a.op == "div" and a.args[1] == b and a.args[0].shape == shape:
        return a.args[0]
    return M("had", (a, b), shape)


def power(a: M, exponent) -> M:
    exponent = sympy.Rational(exponent) if not isinstance(exponent, sympy.Basic) else exponent
    if exponent == 1:
        return a
    if exponent == 0:
        return ones(a.shape)
    if a.is_const and (a.value ** exponent).is_extended_real:
        return const(a.value ** exponent)
    if exponent.is_integer and a.op == "pow":  # (a^½)² = a: an integer power of a power multiplies
        return power(a.args[0], a.exponent * exponent)
    if exponent == 2 and a.op == "fn" and a.function == "sqrt":  # sqrt(a)² = a
        return a.args[0]
    return M("pow", (a,), a.shape, exponent=exponent)


def fn(name: str, a: M) -> M:
    return M("fn", (a,), a.shape, function=name)


#: The derivatives a textbook writes out, in matrix operations: log′(a) = 1 ⊘ a, exp′(a) = exp(a),
#: sqrt′(a) = 1 ⊘ (2 sqrt(a)); every other f′ stays f′(a).  (Kept here, not in derive/functions.py:
#: these are matrix expressions of this module, which the table, below both engines, cannot build.)
WRITTEN_OUT: dict[str, Callable[[M], M]] = {
    "log": lambda a: div(ones(a.shape), a),
    "exp": lambda a: fn("exp", a),
    "sqrt": lambda a: div(ones(a.shape), scale(const(2), fn("sqrt", a))),
}


def dfn(name: str, a: M) -> M:
    """f′(a), written out where the textbook writes it out (WRITTEN_OUT)."""
    if name in WRITTEN_OUT:
        return WRITTEN_OUT[name](a)
    return M("dfn", (a,), a.shape, function=name)


def reduce(op: str, *args: M) -> M:
    """norm, dot, trace, sce, and sum without an axis: a scalar of matrix arguments."""
    return M(op, tuple(args), SCALAR)


def reduced_shape(shape: tuple, axis) -> tuple:
    """Reductions keep dimensions: K×B → 1×B (axis 0), K×1 (axis 1), 1×1 (None)."""
    if axis is None:
        return SCALAR
    return (1, shape[1]) if axis == 0 else (shape[0], 1)


def along(op: str, a: M, axis=None) -> M:
    """sum, mean, variance, logsumexp along an axis (None: everything), dimensions kept.  sum of a
    scalar is itself; a reduction that leaves 1×1 is written without its axis."""
    if op == "sum" and a.shape == reduced_shape(a.shape, axis):
        return a
    shape = reduced_shape(a.shape, axis)
    if shape == SCALAR and op in ("sum", "mean", "variance", "var1", "max", "min"):
        axis = None
    if op == "sum" and is_zero(a):
        return zero(shape)
    if op in ("sum", "mean") and a.op in ("scale", "neg"):  # constants and scalars leave the sum
        inner = along(op, a.args[-1], axis)
        return neg(inner) if a.op == "neg" else scale(a.args[0], inner)
    return M(op, (a,), shape, axis=axis)


def vector_op(op: str, a: M, axis: int = 0) -> M:
    """softmax, log_softmax along an axis (0: each column): a matrix of the argument's shape."""
    return M(op, (a,), a.shape, axis=axis)


def unbroadcast(u: M, shape: tuple) -> M:
    """The adjoint of an operand broadcast to ``u``'s shape: ``u`` summed over the broadcast axes."""
    if u.shape == tuple(shape):
        return u
    if tuple(shape) == SCALAR:
        return along("sum", u)
    for axis in (0, 1):
        if shape[axis] == 1 and u.shape[axis] != 1:
            u = along("sum", u, axis)
    return u


def dot(a: M, b: M) -> M:
    if a.is_scalar and b.is_scalar:
        return scale(a, b)
    return reduce("dot", a, b)


def div(a: M, c: M) -> M:
    """a / c, elementwise with broadcasting; numeric factors of either side fold into a leading
    constant when c is a scalar."""
    if is_one(c):
        return a
    if not c.is_scalar:
        return zero(broadcast(a.shape, c.shape)) if is_zero(a) else M("div", (a, c), broadcast(a.shape, c.shape))
    if c.is_const:
        return scale(const(1 / c.value), a)
    ka, ra = _split(a)
    kc, rc = _split(c)
    if (ka != 1 or kc != 1) and rc is not None:
        return scale(const(ka / kc), div(const(1) if ra is None else ra, rc))
    return M("div", (a, c), a.shape)


def concat(a: M, b: M, axis: int = 0) -> M:
    """[a; b] (axis 0: one on top of the other) or [a, b] (axis 1: side by side)."""
    shape = list(a.shape)
    shape[axis] = size_sum(a.shape[axis], b.shape[axis])
    return M("concat", (a, b), tuple(shape), axis=axis)


def part(a: M, axis: int, lo, hi) -> M:
    """The rows (axis 0) or columns (axis 1) lo up to hi of ``a`` (sizes); all of it is ``a``."""
    if lo == 0 and hi == a.shape[axis]:
        return a
    if a.op == "concat" and a.axis == axis:  # a block of [x; y] is x or y
        first = a.args[0].shape[axis]
        if lo == 0 and hi == first:
            return a.args[0]
        if lo == first and hi == a.shape[axis]:
            return a.args[1]
    shape = list(a.shape)
    shape[axis] = size_sum(hi, lo, -1)
    return M("part", (a,), tuple(shape), axis=axis, bounds=(lo, hi))


def size(e: M) -> int:
    return sum(1 for _ in e.walk())


def names(e: M, op: str = "var") -> set[str]:
    return {node.name for node in e.walk() if node.op == op}


def leads_with_number(e: M) -> bool:
    """Whether the printed form of ``e`` starts with a digit (a constant leftmost), so that it
    must not be written right after another number: never "2 1/2 W"."""
    while e.args and e.op in ("scale", "matmul", "had", "div", "add", "pow", "T"):
        e = e.args[0]
    return e.op == "const"
