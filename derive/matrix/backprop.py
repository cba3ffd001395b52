"""Reverse mode over the named nodes of a matrix problem: one adjoint equation per node.

Each equation's expression is walked from its own adjoint down to the names it uses, through
the VJP table; the contributions that reach a name are summed.  The simplified form of a node's
adjoint puts in the adjoints it uses when they are constants or plain sums of named nodes
(ȳ = y − s), as a textbook does, and keeps the others by name (z̄ = σ′(z) ⊙ h̄).  Parameter
gradients keep every non-constant adjoint by name (W̄2 = ȳ hᵀ).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from . import expr as mx
from .expr import M
from .rules import replace_nodes, substitute, vjp
from .shapes import Model


@dataclass(frozen=True)
class Adjoint:
    """n̄ = Σ (∂c/∂n)ᵀ c̄ over the consumers c of n, and the same simplified."""

    name: str
    shape: tuple
    consumers: tuple[str, ...]  # in the order of the chain-rule form
    simplified: M
    is_loss: bool = False


@dataclass(frozen=True)
class Gradient:
    name: str
    shape: tuple
    consumers: tuple[str, ...]
    expr: M


@dataclass(frozen=True)
class Derivation:
    model: Model
    adjoints: tuple[Adjoint, ...]  # reverse equation order, the loss first
    gradients: tuple[Gradient, ...]  # in the order of derive.wrt
    expressions: dict[str, M]  # every adjoint in terms of named nodes and other adjoints (for checks)


def contributions(e: M, upstream: M) -> list[tuple[str, M]]:
    """Walk ``e`` from its adjoint ``upstream`` to its leaves: (name, adjoint share) pairs."""
    out: list[tuple[str, M]] = []
    stack = [(e, upstream)]
    while stack:
        node, u = stack.pop()
        if node.op == "var":
            out.append((node.data, u))
            continue
        if not node.args:  # constants, sizes, ones, zeros, identities: nothing flows
            continue
        for position, arg in reversed(list(enumerate(node.args))):
            if arg.op in ("const", "dim"):
                continue
            stack.append((arg, vjp(node, u, position)))
    return out


def is_simple(e: M) -> bool:
    """A constant, a name, or a sum/negation/constant multiple of simple terms."""
    if e.op in ("const", "var"):
        return True
    if e.op in ("add", "neg"):
        return all(is_simple(a) for a in e.args)
    if e.op == "scale":
        return e.args[0].is_const and is_simple(e.args[1])
    return False


def derive(model: Model) -> Derivation:
    problem = model.problem
    order = [name for name, _ in model.equations]
    uses: dict[str, list[tuple[str, M]]] = {name: [] for name in model.shapes}
    for name, e in reversed(model.equations):  # the latest consumer first, as the sheet reads
        shares: dict[str, list[M]] = {}
        for leaf, share in contributions(e, mx.adj(name, e.shape)):
            shares.setdefault(leaf, []).append(share)
        for leaf, parts in shares.items():
            uses[leaf].append((name, mx.add(*parts)))

    textbook = _textbook_form(model)
    values: dict[str, M] = {problem.loss: mx.const(1)}
    expressions: dict[str, M] = {problem.loss: mx.const(1)}
    adjoints = [Adjoint(problem.loss, model.shapes[problem.loss], (), mx.const(1), is_loss=True)]
    for name in reversed(order):
        if name == problem.loss:
            continue
        shape = model.shapes[name]
        parts = [share for _, share in uses[name]]
        raw = mx.add(*parts) if parts else mx.zero(shape)
        expressions[name] = raw
        simplified = textbook(substitute(raw, lambda leaf: _inline(leaf, values, simple_only=True)))
        fused = _softmax_cross_entropy(model, name, uses[name], values)
        fused = fused if fused is not None else _sigmoid_cross_entropy(model, name, uses[name], values)
        simplified = textbook(fused) if fused is not None else simplified
        values[name] = simplified
        adjoints.append(Adjoint(name, shape, tuple(c for c, _ in uses[name]), simplified))

    gradients = []
    for name in problem.wrt:
        shape = model.shapes[name]
        if name in values:
            gradients.append(Gradient(name, shape, tuple(c for c, _ in uses[name]), values[name]))
            continue
        parts = [share for _, share in uses[name]]
        raw = mx.add(*parts) if parts else mx.zero(shape)
        expressions[f"{name}:grad"] = raw
        expr = textbook(substitute(raw, lambda leaf: _inline(leaf, values, simple_only=False)))
        gradients.append(Gradient(name, shape, tuple(c for c, _ in uses[name]), expr))
    return Derivation(model, tuple(adjoints), tuple(gradients), expressions)


def _inline(leaf: M, values: dict[str, M], simple_only: bool) -> M | None:
    if leaf.op != "adj" or leaf.data not in values:
        return None
    value = values[leaf.data]
    if value.is_const or value.op == "zero" or (simple_only and is_simple(value)):
        return value
    return None


#: Kinds whose columns sum to 1: they license 𝟏ᵀT = 𝟏ᵀ and with it P − T.
COLUMNS_SUM_TO_ONE = frozenset({"onehot", "distribution"})
#: Kinds whose rows sum to 1 (one example per row): they license T 𝟏 = 𝟏 and with it P − T.
ROWS_SUM_TO_ONE = frozenset({"onehot_rows", "distribution_rows"})


def sums_to_one(model: Model) -> dict[str, int]:
    """The variables and named nodes whose columns (axis 0) or rows (axis 1) each sum to 1: a
    onehot or distribution variable (its kind licenses it), and a node built from them whose sums
    are 1 whatever the other values, such as label smoothing T = (1 − ε) Y + ε / K."""
    out = {name: 0 if kind in COLUMNS_SUM_TO_ONE else 1 for name, kind in model.problem.kinds.items()
           if kind in COLUMNS_SUM_TO_ONE | ROWS_SUM_TO_ONE}
    for name, e in model.equations:
        for axis in (0, 1):
            if e.shape[axis] != 1 and name not in out:
                total = _slice_sum(e, axis, out)
                if total is not None and sympy.simplify(total - 1) == 0:
                    out[name] = axis
    return out


def _size_symbol(d) -> sympy.Expr:
    return sympy.Add(*(k * (1 if n == 1 else sympy.Symbol(n, positive=True)) for n, k in mx.size_terms(d).items()))


def _slice_sum(e: M, axis: int, known: dict[str, int]) -> sympy.Expr | None:
    """The sum of each column (axis 0) or row (axis 1) of ``e``, the same for every one of them,
    as a SymPy expression of the scalars; None where that is not known."""
    if e.op == "var" and known.get(e.data) == axis:
        return sympy.Integer(1)
    if e.is_scalar:
        value = _scalar_value(e)
        return None if value is None else value
    if e.op == "add":
        total = sympy.Integer(0)
        for term in e.args:
            if term.shape[axis] == 1 and term.shape != mx.SCALAR:
                return None  # a row broadcast down the columns: each column's sum differs
            part = (_scalar_value(term) * _size_symbol(e.shape[axis]) if term.is_scalar and _scalar_value(term) is not None
                    else None if term.is_scalar else _slice_sum(term, axis, known))
            if part is None:
                return None
            total += part
        return total
    if e.op == "neg":
        inner = _slice_sum(e.args[0], axis, known)
        return None if inner is None else -inner
    if e.op == "scale":
        c, inner = _scalar_value(e.args[0]), _slice_sum(e.args[1], axis, known)
        return None if c is None or inner is None else c * inner
    if e.op == "div" and e.args[1].is_scalar:
        c, inner = _scalar_value(e.args[1]), _slice_sum(e.args[0], axis, known)
        return None if c is None or inner is None else inner / c
    return None


def _scalar_value(e: M) -> sympy.Expr | None:
    """A scalar expression of constants, sizes and scalar variables as SymPy, or None."""
    if e.op == "const":
        return sympy.Integer(e.data) if isinstance(e.data, int) else e.data
    if e.op in ("dim", "var") and e.is_scalar:
        return sympy.Symbol(str(e.data), positive=e.op == "dim")
    values = [_scalar_value(a) for a in e.args] if e.is_scalar and e.args else [None]
    if any(v is None for v in values):
        return None
    combine = {"add": lambda *v: sympy.Add(*v), "neg": lambda v: -v, "scale": lambda c, a: c * a,
               "had": lambda a, b: a * b, "div": lambda a, c: a / c, "matmul": lambda a, b: a * b}.get(e.op)
    return combine(*values) if combine else None


def _textbook_form(model: Model):
    """Rewrites a textbook makes: a sub-expression that is a named node's definition is that
    node (P, not softmax(Z2); H, not relu(Z1)), and the column (row) sums of a onehot or
    distribution variable, or of a node built to sum to 1 (label smoothing), are ones."""
    known: dict[M, M] = {e: mx.var(name, e.shape) for name, e in model.equations if e.args}
    for name, axis in sums_to_one(model).items():
        shape = model.shapes[name]
        variable = mx.var(name, shape)
        known[mx.along("sum", variable, axis)] = mx.ones((1, shape[1]) if axis == 0 else (shape[0], 1))
        known[mx.along("sum", variable)] = mx.dim(shape[1 - axis])

    def rewrite(e: M) -> M:
        return replace_nodes(e, known.get)
    return rewrite


def _softmax_cross_entropy(model: Model, name: str, consumers, values: dict[str, M]) -> M | None:
    """Z̄ for P = softmax(Z) followed by cross-entropy written out: when P̄ = k (T ⊘ P) with T
    onehot or a distribution (columns summing to 1), Z̄ = P ⊙ (P̄ − 𝟏 sum(P ⊙ P̄)) = k (T − P):
    the textbook's (P − T)/B.  None where the pattern does not hold (the general rule stands)."""
    if len(consumers) != 1:
        return None
    (consumer, _), = consumers
    definition = dict(model.equations)[consumer]
    if definition.op != "softmax" or definition.args[0] != mx.var(name, definition.shape):
        return None
    p = mx.var(consumer, definition.shape)
    for target, axis in sums_to_one(model).items():
        t = mx.var(target, model.shapes[target])
        if axis != definition.data or t.shape != p.shape:
            continue
        k = _scalar_multiple(values.get(consumer), mx.div(t, p))
        if k is None:
            continue
        minus_k = mx.neg(k)
        if minus_k.op == "div" and mx.is_one(minus_k.args[0]):  # (P − T) / B
            return mx.div(mx.sub(p, t), minus_k.args[1])
        return mx.scale(minus_k, mx.sub(p, t))
    return None


def _scalar_multiple(e: M | None, target: M) -> M | None:
    """k with e = k·target for a scalar k, or None."""
    if e is None:
        return None
    if e == target:
        return mx.const(1)
    if e.op == "neg":
        inner = _scalar_multiple(e.args[0], target)
        return None if inner is None else mx.neg(inner)
    if e.op == "scale":
        inner = _scalar_multiple(e.args[1], target)
        return None if inner is None else mx.scale(e.args[0], inner)
    if e.op == "div" and e.args[1].is_scalar:
        inner = _scalar_multiple(e.args[0], target)
        return None if inner is None else mx.div(inner, e.args[1])
    return None


def _sigmoid_cross_entropy(model: Model, name: str, consumers, values: dict[str, M]) -> M | None:
    """z̄ for p = sigmoid(z) followed by binary cross-entropy written out: when
    p̄ = k (−t ⊘ p + (1 − t) ⊘ (1 − p)), z̄ = p ⊙ (1 − p) ⊙ p̄ = k (p − t) for any t: the
    textbook's (p − t)/B.  None where the pattern does not hold."""
    if len(consumers) != 1:
        return None
    (consumer, _), = consumers
    definition = dict(model.equations)[consumer]
    if definition.op != "fn" or definition.data != "sigmoid" or definition.args[0] != mx.var(name, definition.shape):
        return None
    p = mx.var(consumer, definition.shape)
    adjoint = values.get(consumer)
    if adjoint is None or adjoint.op != "add" or len(adjoint.args) != 2:
        return None
    (k1, first), (k2, second) = (_peel(term) for term in adjoint.args)
    if second.op == "div" and second.args[1] == p:
        (k1, first), (k2, second) = (k2, second), (k1, first)
    if not (first.op == "div" and first.args[1] == p and second.op == "div"
            and second.args[1] == mx.sub(mx.const(1), p) and second.args[0] == mx.sub(mx.const(1), first.args[0])
            and k1 == mx.neg(k2)):
        return None
    t = first.args[0]
    if k2.op == "div" and mx.is_one(k2.args[0]):  # (p − t) / B
        return mx.div(mx.sub(p, t), k2.args[1])
    return mx.scale(k2, mx.sub(p, t))


def _peel(e: M) -> tuple[M, M]:
    """(k, core) with e = k·core, k a scalar: the negations, scalings and divisions by a scalar
    around ``core`` collected into k."""
    if e.op == "neg":
        k, core = _peel(e.args[0])
        return mx.neg(k), core
    if e.op == "scale":
        k, core = _peel(e.args[1])
        return mx.scale(e.args[0], k), core
    if e.op == "div" and e.args[1].is_scalar and not e.args[0].is_scalar:
        k, core = _peel(e.args[0])
        return mx.div(k, e.args[1]), core
    return mx.const(1), e
