"""Matrix expressions: a small tree of named sizes, built through simplifying constructors.

Every node has a shape (rows, columns), each a named size such as "K" or the number 1.  The
constructors keep expressions in the form a textbook prints: no 1·x, no (1/2)·2, no xᵀᵀ, like
terms collected, a scalar times a matrix written as a scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

Dim = "str | int"
SCALAR = (1, 1)


@dataclass(frozen=True)
class M:
    """A matrix expression.

    ``op``: var (a variable or named node), adj (the adjoint of a named node), const, ones,
    zero, eye, matmul, add, neg, scale (scalar × matrix), had (Hadamard product), pow
    (elementwise, numeric exponent), T, fn / dfn (an elementwise function / its derivative),
    sum, norm, dot, trace, softmax, logsumexp, log_softmax, sce (softmax cross-entropy), div
    (by a scalar).  ``data`` holds the name, value, function name or exponent.
    """

    op: str
    args: tuple = ()
    shape: tuple = SCALAR
    data: object = None

    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    def __repr__(self) -> str:  # compact, for debugging and test failures
        inner = ", ".join(repr(a) for a in self.args)
        tag = f"{self.op}:{self.data}" if self.data is not None else self.op
        return f"{tag}({inner})" if self.args else tag


# -- leaves -----------------------------------------------------------------------------------
def var(name: str, shape) -> M:
    return M("var", (), tuple(shape), name)


def adj(name: str, shape) -> M:
    return M("adj", (), tuple(shape), name)


def const(value) -> M:
    return M("const", (), SCALAR, sympy.Integer(value) if isinstance(value, int) else value)


def ones(shape) -> M:
    return const(1) if tuple(shape) == SCALAR else M("ones", (), tuple(shape))


def zero(shape) -> M:
    return const(0) if tuple(shape) == SCALAR else M("zero", (), tuple(shape))


def eye(n) -> M:
    return M("eye", (), (n, n))


def is_zero(e: M) -> bool:
    return e.op == "zero" or (e.is_const and e.data == 0)


def is_one(e: M) -> bool:
    return e.is_const and e.data == 1


# -- simplifying constructors -----------------------------------------------------------------
def _split(e: M) -> tuple[sympy.Expr, M | None]:
    """A numeric factor and the rest: 3·(λ·W) -> (3, λ·W); 2 -> (2, None); −W -> (−1, W)."""
    if e.is_const:
        return e.data, None
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


def scale(c: M, a: M) -> M:
    """c·a with c a scalar expression.  Every numeric factor, wherever it sits (in c, in a, in a
    scaling inside either), is folded into one leading constant: 2·((½·λ)·W) is λ·W."""
    if is_zero(c) or is_zero(a):
        return zero(a.shape)
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
    shape = flat[0].shape
    coefficients: dict[M, sympy.Expr] = {}
    numbers = sympy.Integer(0)
    for term in flat:
        if is_zero(term):
            continue
        if term.is_const:
            numbers += term.data
            continue
        c, rest = _split(term)
        coefficients[rest] = coefficients.get(rest, 0) + c
    kept = [scale(const(c), rest) for rest, c in coefficients.items() if c != 0]
    if numbers != 0:
        kept.append(const(numbers))
    if not kept:
        return zero(shape)
    if len(kept) == 1:
        return kept[0]
    return M("add", tuple(kept), shape)


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
    if a.op == "ones":
        return b
    if b.op == "ones":
        return a
    if is_zero(a) or is_zero(b):
        return zero(a.shape)
    if a.op == "scale":
        return scale(a.args[0], had(a.args[1], b))
    if b.op == "scale":
        return scale(b.args[0], had(a, b.args[1]))
    return M("had", (a, b), a.shape)


def power(a: M, exponent) -> M:
    exponent = sympy.Rational(exponent) if not isinstance(exponent, sympy.Basic) else exponent
    if exponent == 1:
        return a
    if exponent == 0:
        return ones(a.shape)
    if a.is_const and (a.data ** exponent).is_extended_real:
        return const(a.data ** exponent)
    return M("pow", (a,), a.shape, exponent)


def fn(name: str, a: M) -> M:
    return M("fn", (a,), a.shape, name)


def dfn(name: str, a: M) -> M:
    return M("dfn", (a,), a.shape, name)


def reduce(op: str, *args: M) -> M:
    """sum, norm, dot, trace, logsumexp, sce: a scalar of matrix arguments."""
    return M(op, tuple(args), SCALAR)


def vector_op(op: str, a: M) -> M:
    """softmax, log_softmax: a vector of the argument's shape."""
    return M(op, (a,), a.shape)


def dot(a: M, b: M) -> M:
    if a.is_scalar and b.is_scalar:
        return scale(a, b)
    return reduce("dot", a, b)


def div(a: M, c: M) -> M:
    """a / c with c a scalar; numeric factors of either side fold into a leading constant."""
    if is_one(c):
        return a
    if c.is_const:
        return scale(const(1 / c.data), a)
    ka, ra = _split(a)
    kc, rc = _split(c)
    if (ka != 1 or kc != 1) and rc is not None:
        return scale(const(ka / kc), div(const(1) if ra is None else ra, rc))
    return M("div", (a, c), a.shape)


def substitute(e: M, replace) -> M:
    """Rebuild ``e`` bottom-up through the constructors, replacing leaves by ``replace(leaf)``
    (None keeps the leaf); everything is simplified again on the way up."""
    if not e.args:
        new = replace(e)
        return e if new is None else new
    return rebuild(e, [substitute(a, replace) for a in e.args])


def rebuild(e: M, args: list[M]) -> M:
    op = e.op
    if op == "add":
        return add(*args)
    if op == "neg":
        return neg(args[0])
    if op == "scale":
        return scale(*args)
    if op == "matmul":
        return matmul(*args)
    if op == "T":
        return transpose(args[0])
    if op == "had":
        return had(*args)
    if op == "pow":
        return power(args[0], e.data)
    if op in ("fn", "dfn"):
        return M(op, (args[0],), args[0].shape, e.data)
    if op == "div":
        return div(*args)
    if op in ("softmax", "log_softmax"):
        return vector_op(op, args[0])
    return M(op, tuple(args), e.shape, e.data)


def size(e: M) -> int:
    return 1 + sum(size(a) for a in e.args)


def names(e: M, op: str = "var") -> set[str]:
    found = {e.data} if e.op == op else set()
    for a in e.args:
        found |= names(a, op)
    return found


#: The operation name of derive/precedence.py each matrix operation prints as.
_PRINTED_AS = {"add": "add", "neg": "neg", "scale": "mul", "matmul": "matmul", "had": "hadamard", "div": "div",
               "pow": "pow", "T": "transpose"}


def printed_kind(e: M) -> str:
    """How ``e`` binds when printed, as an operation of the one precedence table: a negative
    constant binds like a negation, a fraction (1/2) like a division; calls and names are atoms."""
    if e.op == "const":
        value = sympy.Integer(e.data) if isinstance(e.data, int) else e.data
        if value.could_extract_minus_sign():
            return "neg"
        if value.is_Rational and not value.is_Integer:
            return "div"
        return "atom" if value.is_Atom else "mul"  # 2·π, √2 are products/powers: bracket as a product
    return _PRINTED_AS.get(e.op, "atom")


def leads_with_number(e: M) -> bool:
    """Whether the printed form of ``e`` starts with a digit (a constant leftmost), so that it
    must not be written right after another number: never "2 1/2 W"."""
    while e.args and e.op in ("scale", "matmul", "had", "div", "add", "pow", "T"):
        e = e.args[0]
    return e.op == "const"
