"""From a matrix problem's text to typed expressions: parse each equation and infer its shape.

Sizes are named ("K"), so a mismatch is reported with the names a reader uses:
``y = "W2 @ z + b2": W2 @ z: (M×K) @ (K×1) expected, got (M×K) @ (N×1)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import LimitError, ParseError, ProblemError, ShapeError, did_you_mean
from ..parse import Expr, Limits, parse_expression
from ..problems import MatrixProblem
from . import expr as mx
from .expr import SCALAR, M
from .rules import CALLS, DEFAULT_CONCRETE, ELEMENTWISE

_SPEC = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*|1)\s*(?:[x×*]\s*([A-Za-z][A-Za-z0-9_]*|1)\s*)?\Z")


@dataclass(frozen=True)
class Model:
    """A matrix problem with every variable and equation typed."""

    problem: MatrixProblem
    shapes: dict[str, tuple]  # variables and named nodes
    equations: list[tuple[str, M]]  # in order
    concrete: dict[str, str]  # elementwise function name used -> concrete function for checks/code
    abstract: frozenset[str]  # names left abstract (σ with derivative σ′)

    @property
    def variables(self) -> list[str]:
        return list(self.problem.variables)


def dim_text(d) -> str:
    return str(d)


def shape_text(shape: tuple) -> str:
    return f"({dim_text(shape[0])}×{dim_text(shape[1])})"


def parse_shape(spec: str, dims: dict[str, int], where: str) -> tuple:
    match = _SPEC.match(spec)
    if not match:
        raise ProblemError(f"{where}: shape \"{spec}\" is not understood",
                           hint='write "N" for a column vector, "K x N" for a matrix, "1" for a scalar')
    rows, cols = match.group(1), match.group(2) or "1"
    shape = []
    for d in (rows, cols):
        if d == "1":
            shape.append(1)
        elif d in dims:
            shape.append(d)
        else:
            raise ProblemError(f"{where}: unknown size '{d}' in shape \"{spec}\"",
                               hint=did_you_mean(d, dims) or "sizes: " + ", ".join(dims))
    return tuple(shape)


def build_model(problem: MatrixProblem, limits: Limits = Limits()) -> Model:
    where = problem.source or problem.name
    shapes: dict[str, tuple] = {}
    for name, spec in problem.variables.items():
        shapes[name] = parse_shape(spec, problem.dims, f"{where}: variable {name}")
        check_entries(M("var", shape=shapes[name], data=name), problem.dims, limits, f"{where}: variable {name}")
    total = sum(_entries(shape, problem.dims) for shape in shapes.values())
    if total > limits.max_entries:
        raise LimitError(f"{where}: the variables have {total:,} entries together with these [dims], more than "
                         f"the limit of {limits.max_entries:,}",
                         hint=f"use smaller [dims], or raise the limit with {Limits.FLAGS['max_entries']}")
    concrete: dict[str, str] = {}
    abstract = set()
    for fname, kind in problem.functions.items():
        if kind not in ELEMENTWISE:
            raise ProblemError(f"{where}: function {fname} = \"{kind}\" is not an elementwise function",
                               hint=did_you_mean(kind, ELEMENTWISE) or "one of: " + ", ".join(ELEMENTWISE))
        concrete[fname] = kind
    elementwise = {**{name: name for name in ELEMENTWISE}, **concrete}
    if "sigma" not in elementwise:
        elementwise["sigma"] = DEFAULT_CONCRETE
        abstract.add("sigma")
    functions = {**{name: 1 for name in elementwise}, **CALLS}
    equations: list[tuple[str, M]] = []
    for name, text in problem.equations.items():
        context = f'{name} = "{text}"'
        try:
            tree = parse_expression(text, frozenset(shapes), functions, limits=limits, matrix=True)
        except (ParseError, LimitError) as exc:
            raise type(exc)(f"{context}: {exc.message}", hint=exc.hint) from None
        typed = _Typer(context, shapes, elementwise).build(tree)
        check_entries(typed, problem.dims, limits, context)
        shapes[name] = typed.shape
        equations.append((name, typed))
    loss_shape = shapes[problem.loss]
    if loss_shape != SCALAR:
        raise ShapeError(f"the loss {problem.loss} must be a scalar, but it is {shape_text(loss_shape)}",
                         hint="reduce it with sum(...), norm(...) or a product such as r.T @ h")
    return Model(problem, shapes, equations, elementwise, frozenset(abstract))


def type_answer(model: Model, name: str, text: str, limits: Limits = Limits()) -> M:
    """A student's formula for an adjoint or gradient, typed against the model: named nodes,
    variables, adjoints as <node>_bar, and d<f>(·) for an elementwise function's derivative."""
    adjoints = {f"{node}_bar": node for node, _ in model.equations}
    elementwise = dict(model.concrete)
    functions = {**{n: 1 for n in elementwise}, **{f"d{n}": 1 for n in elementwise}, **CALLS, "diag": 1}
    context = f'{name} = "{text}"'
    try:
        tree = parse_expression(text, frozenset([*model.shapes, *adjoints]), functions, limits=limits, matrix=True)
    except (ParseError, LimitError) as exc:
        raise type(exc)(f"{context}: {exc.message}", hint=exc.hint) from None
    typed = _Typer(context, model.shapes, elementwise, adjoints).build(tree)
    check_entries(typed, model.problem.dims, limits, context)
    return typed


def _entries(shape: tuple, dims: dict[str, int]) -> int:
    rows, cols = (dims.get(d, d) if isinstance(d, str) else d for d in shape)
    return rows * cols


def check_entries(e: M, dims: dict[str, int], limits: Limits, context: str) -> None:
    """Every matrix an expression computes (intermediates included: x @ x.T is N×N) fits in
    --max-entries once [dims] are put in: the checks evaluate it with NumPy and SymPy."""
    stack = [e]
    while stack:
        node = stack.pop()
        entries = _entries(node.shape, dims)
        if entries > limits.max_entries:
            raise LimitError(f"{context}: a {shape_text(node.shape)} matrix has {entries:,} entries with these "
                             f"[dims], more than the limit of {limits.max_entries:,}",
                             hint=f"use smaller [dims], or raise the limit with {Limits.FLAGS['max_entries']}")
        stack.extend(a for a in node.args if isinstance(a, M))


def expr_text(e: Expr) -> str:
    """The text of a parsed sub-expression, for error messages."""
    if e.op == "num":
        return str(e.value)
    if e.op == "name":
        return e.name
    symbols = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}
    if e.op in symbols:
        left, right = (expr_text(a) for a in e.args)
        if e.op not in ("add", "sub"):
            left = f"({left})" if e.args[0].op in ("add", "sub") else left
        if e.op != "add":
            right = f"({right})" if e.args[1].op in ("add", "sub") else right
        return f"{left} {symbols[e.op]} {right}"
    if e.op == "neg":
        return f"-{expr_text(e.args[0])}"
    if e.op == "transpose":
        return f"{expr_text(e.args[0])}.T"
    return f"{e.op}({', '.join(expr_text(a) for a in e.args)})"


class _Typer:
    """Types a parsed expression; ``adjoints`` maps names such as ``h_bar`` to the node h, and
    ``d<f>`` calls (dsigma) stand for an elementwise function's derivative (typed answers)."""

    def __init__(self, context: str, shapes: dict[str, tuple], elementwise: dict[str, str],
                 adjoints: dict[str, str] | None = None):
        self.context = context
        self.shapes = shapes
        self.elementwise = elementwise
        self.adjoints = adjoints or {}

    def fail(self, e: Expr, what: str, hint: str | None = None) -> ShapeError:
        return ShapeError(f"{self.context}: {what}", hint=hint)

    def build(self, e: Expr) -> M:
        if e.op == "num":
            return mx.const(e.value)
        if e.op == "name":
            if e.name in self.adjoints:
                node = self.adjoints[e.name]
                return mx.adj(node, self.shapes[node])
            return mx.var(e.name, self.shapes[e.name])
        args = [self.build(a) for a in e.args]
        op = e.op
        if op == "matmul":
            a, b = args
            if a.shape[1] != b.shape[0]:
                raise self.fail(e, f"{expr_text(e)}: {shape_text(a.shape)} @ ({a.shape[1]}×{b.shape[1]}) expected, "
                                   f"got {shape_text(a.shape)} @ {shape_text(b.shape)}",
                                hint="a transpose (.T) may be missing" if a.shape[1] == b.shape[1]
                                or a.shape[0] == b.shape[0] else None)
            return M("matmul", (a, b), (a.shape[0], b.shape[1]))
        if op in ("add", "sub"):
            a, b = args
            if a.shape != b.shape:
                sign = "+" if op == "add" else "-"
                raise self.fail(e, f"{expr_text(e)}: {shape_text(a.shape)} {sign} {shape_text(b.shape)}: "
                                   "the shapes must be equal")
            return M("add", (a, b), a.shape) if op == "add" else M("add", (a, M("neg", (b,), b.shape)), a.shape)
        if op == "neg":
            return M("neg", (args[0],), args[0].shape)
        if op == "mul":
            a, b = args
            if a.is_scalar:
                return M("scale", (a, b), b.shape)
            if b.is_scalar:
                return M("scale", (b, a), a.shape)
            if a.shape != b.shape:
                raise self.fail(e, f"{expr_text(e)}: {shape_text(a.shape)} * {shape_text(b.shape)}: "
                                   "elementwise * needs equal shapes", hint="use @ for a matrix product")
            return M("had", (a, b), a.shape)
        if op == "div":
            a, b = args
            if not b.is_scalar:
                raise self.fail(e, f"{expr_text(e)}: division by a {shape_text(b.shape)} matrix",
                                hint="only division by a scalar is supported")
            return M("div", (a, b), a.shape)
        if op == "pow":
            a, b = args
            if not b.is_const:
                raise self.fail(e, f"{expr_text(e)}: the exponent must be a number")
            return M("pow", (a,), a.shape, b.data)
        if op == "transpose":
            a = args[0]
            return M("T", (a,), (a.shape[1], a.shape[0]))
        if op in self.elementwise:
            return M("fn", (args[0],), args[0].shape, op)
        if op.startswith("d") and op[1:] in self.elementwise:
            return M("dfn", (args[0],), args[0].shape, op[1:])
        return self._call(e, op, args)

    def _call(self, e: Expr, op: str, args: list[M]) -> M:
        if op in ("sum", "norm"):
            return M(op, (args[0],), SCALAR)
        if op == "diag":  # diag(v) @ u, the seed's notation, in typed answers
            a = args[0]
            if a.shape[1] != 1:
                raise self.fail(e, f"{expr_text(e)}: diag needs a column vector, got {shape_text(a.shape)}")
            return M("diag", (a,), (a.shape[0], a.shape[0]))
        if op == "dot":
            a, b = args
            if a.shape != b.shape:
                raise self.fail(e, f"{expr_text(e)}: dot of {shape_text(a.shape)} and {shape_text(b.shape)}: "
                                   "the shapes must be equal")
            return M("dot", (a, b), SCALAR)
        if op == "trace":
            a = args[0]
            if a.shape[0] != a.shape[1]:
                raise self.fail(e, f"{expr_text(e)}: trace of a {shape_text(a.shape)} matrix, which is not square")
            return M("trace", (a,), SCALAR)
        a = args[0]
        if a.shape[1] != 1 or a.is_scalar:
            raise self.fail(e, f"{expr_text(e)}: {op} needs a column vector, got {shape_text(a.shape)}")
        if op in ("softmax", "log_softmax"):
            return M(op, (a,), a.shape)
        if op == "logsumexp":
            return M("logsumexp", (a,), SCALAR)
        if op == "softmax_cross_entropy":
            t = args[1]
            if t.shape != a.shape:
                raise self.fail(e, f"{expr_text(e)}: logits {shape_text(a.shape)} and targets "
                                   f"{shape_text(t.shape)} differ in shape")
            return M("sce", (a, t), SCALAR)
        raise self.fail(e, f"unsupported operation '{op}'")
