"""From a matrix problem's text to typed expressions: parse each equation and infer its shape.

Sizes are named ("K"), so a mismatch is reported with the names a reader uses:
``y = "W2 @ z + b2": W2 @ z: (M×K) @ (K×1) expected, got (M×K) @ (N×1)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import LimitError, ParseError, ProblemError, ShapeError, did_you_mean
from ..parse import Expr, Limits, parse_expression
from ..precedence import binding_of, needs_brackets
from ..problems import MatrixProblem
from . import expr as mx
from .expr import SCALAR, M, ShapeMismatch, shape_text, size_from_terms, size_terms, size_value
from .naming import name_inline_arguments
from .rules import AXIS_OPS, CALLED, CALLS, COMPARISONS, SPELLINGS, DEFAULT_CONCRETE, ELEMENTWISE, OPS

_SIZE = r"(?:\d*[A-Za-z][A-Za-z0-9_]*|\d+)(?:\s*\+\s*(?:\d*[A-Za-z][A-Za-z0-9_]*|\d+))*"  # K, 2H, D+H
_SPEC = re.compile(rf"\s*({_SIZE})\s*(?:[x×*]\s*({_SIZE})\s*)?\Z")


@dataclass(frozen=True)
class Model:
    """A matrix problem with every variable and equation typed."""

    problem: MatrixProblem
    shapes: dict[str, tuple]  # variables and named nodes
    equations: list[tuple[str, M]]  # in order
    concrete: dict[str, str]  # elementwise function name used -> concrete function for checks/code
    abstract: frozenset[str]  # names left abstract (σ with derivative σ′)
    introduced: tuple[str, ...] = ()  # nodes derive named: arguments written inline (derive/matrix/naming.py)
    outputs: tuple[str, ...] = ()  # those of them that are outputs a loss takes the log of (p = σ(z)), not arguments
    layers: tuple[str, ...] = ()  # those that are a layer's output a matrix product takes (H1 = relu(Z1))

    @property
    def variables(self) -> list[str]:
        return list(self.problem.variables)


def parse_shape(spec: str, dims: dict[str, int], where: str) -> tuple:
    match = _SPEC.match(spec)
    if not match:
        raise ProblemError(f"{where}: shape \"{spec}\" is not understood",
                           hint='write "N" for a column vector, "K x N" for a matrix, "1" for a scalar')
    rows, cols = match.group(1), match.group(2) or "1"
    shape = []
    for d in (rows, cols):  # a sum of sizes (W = "H x D+H" for W @ concat(x, h)) in one canonical order
        terms = size_terms(re.sub(r"\s+", "", d))
        for name in terms:
            if name != 1 and name not in dims:
                raise ProblemError(f"{where}: unknown size '{name}' in shape \"{spec}\"",
                                   hint=did_you_mean(name, dims) or "sizes: " + ", ".join(dims))
        size = size_from_terms(terms)
        if size == 0:
            raise ProblemError(f"{where}: shape \"{spec}\" has a size 0")
        shape.append(size)
    return tuple(shape)


def build_model(problem: MatrixProblem, limits: Limits = Limits()) -> Model:
    where = problem.source or problem.name
    shapes: dict[str, tuple] = {}
    for name, spec in problem.variables.items():
        shapes[name] = parse_shape(spec, problem.dims, f"{where}: variable {name}")
        check_entries(M("var", shape=shapes[name], name=name), problem.dims, limits, f"{where}: variable {name}")
    total = sum(_entries(shape, problem.dims) for shape in shapes.values())
    if total > limits.max_entries:
        raise LimitError(f"{where}: the variables have {total:,} entries together with these [dims], more than "
                         f"the limit of {limits.max_entries:,}",
                         hint=f"use smaller [dims], or raise the limit with {Limits.FLAGS['max_entries']}")
    concrete: dict[str, str] = {}
    abstract = set()
    for fname, function in problem.functions.items():
        if function not in ELEMENTWISE:
            raise ProblemError(f"{where}: function {fname} = \"{function}\" is not an elementwise function",
                               hint=did_you_mean(function, ELEMENTWISE) or "one of: " + ", ".join(ELEMENTWISE))
        concrete[fname] = function
    elementwise = {**{name: name for name in ELEMENTWISE}, **concrete}
    if "sigma" not in elementwise:
        elementwise["sigma"] = DEFAULT_CONCRETE
        abstract.add("sigma")
    functions = {**{name: 1 for name in elementwise}, **CALLS}
    equations: list[tuple[str, M]] = []
    for name, text in problem.equations.items():
        context = f'{name} = "{text}"'
        try:
            tree = parse_expression(text, frozenset([*shapes, *problem.dims]), functions, limits=limits,
                                    matrix=True, spellings=SPELLINGS)
        except (ParseError, LimitError) as exc:
            raise type(exc)(f"{context}: {exc.message}", hint=exc.hint) from None
        typed = _Typer(context, shapes, elementwise, dims=problem.dims).build(tree)
        check_entries(typed, problem.dims, limits, context)
        shapes[name] = typed.shape
        equations.append((name, typed))
    loss_shape = shapes[problem.loss]
    if loss_shape != SCALAR:
        raise ShapeError(f"the loss {problem.loss} must be a scalar, but it is {shape_text(loss_shape)}",
                         hint="reduce it with sum(...), norm(...) or a product such as r.T @ h")
    return name_inline_arguments(Model(problem, shapes, equations, elementwise, frozenset(abstract)))


def type_answer(model: Model, name: str, text: str, limits: Limits = Limits()) -> M:
    """A student's formula for an adjoint or gradient, typed against the model: named nodes,
    variables, adjoints as <node>_bar, and d<f>(·) for an elementwise function's derivative."""
    adjoints = {f"{node}_bar": node for node, _ in model.equations}
    elementwise = dict(model.concrete)
    functions = {**{n: 1 for n in elementwise}, **{f"d{n}": 1 for n in elementwise}, **CALLS, "diag": 1, "ones": 1}
    context = f'{name} = "{text}"'
    try:
        tree = parse_expression(text, frozenset([*model.shapes, *adjoints, *model.problem.dims]), functions,
                                limits=limits, matrix=True, spellings=SPELLINGS)
    except (ParseError, LimitError) as exc:
        raise type(exc)(f"{context}: {exc.message}", hint=exc.hint) from None
    typed = _Typer(context, model.shapes, elementwise, adjoints, model.problem.dims).build(tree)
    check_entries(typed, model.problem.dims, limits, context)
    return typed


def _entries(shape: tuple, dims: dict[str, int]) -> int:
    rows, cols = (size_value(d, dims) for d in shape)
    return rows * cols


def check_entries(e: M, dims: dict[str, int], limits: Limits, context: str) -> None:
    """Every matrix an expression computes (intermediates included: x @ x.T is N×N) fits in
    --max-entries once [dims] are put in: the checks evaluate it with NumPy and SymPy."""
    for node in e.walk():
        entries = _entries(node.shape, dims)
        if entries > limits.max_entries:
            raise LimitError(f"{context}: a {shape_text(node.shape)} matrix has {entries:,} entries with these "
                             f"[dims], more than the limit of {limits.max_entries:,}",
                             hint=f"use smaller [dims], or raise the limit with {Limits.FLAGS['max_entries']}")


_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}


def _printed_binding(e: Expr) -> str:
    """How a parsed sub-expression binds as :func:`expr_text` writes it, in the terms of the one
    precedence table: a negative number is a negation, a fraction (1/2) a division."""
    if e.op == "num":
        if e.value.could_extract_minus_sign():
            return "neg"
        return "div" if e.value.is_Rational and not e.value.is_Integer else "atom"
    return e.op if e.op in (*_INFIX, "neg", "transpose") else "atom"


def _operand(e: Expr, parent: str, side: str) -> str:
    """The text of ``e`` as an operand of ``parent``, bracketed by derive/precedence.py; the
    text is Python's syntax, where every infix level associates to the left, so a right operand
    of the parent's own level is bracketed too (a * (b @ c), a + (b - c)): it reads back as the
    same tree."""
    text, binding = expr_text(e), _printed_binding(e)
    regroups = side == "right" and parent != "pow" and binding in _INFIX and binding_of(binding) == binding_of(parent)
    digits_then_dot = e.op == "num" and parent == "transpose"  # (2).T: "2.T" is a malformed number
    return f"({text})" if regroups or digits_then_dot or needs_brackets(binding, parent, side) else text


def expr_text(e: Expr) -> str:
    """The text of a parsed sub-expression, for error messages: brackets where the one
    precedence table puts them, so it reads back as the same tree."""
    if e.op == "num":
        return str(e.value)
    if e.op == "name":
        return e.name
    if e.op in ("axis", "ddof"):
        return f"{e.op}={int(e.value)}"
    if e.op == "index":
        return str(int(e.value))
    if e.op in _COMPARED:
        left, right = (expr_text(a) for a in e.args)
        return f"{left} {_COMPARED[e.op]} {right}"
    if e.op == "row":
        return f"{_operand(e.args[0], 'transpose', 'left')}[{expr_text(e.args[1])}]"
    if e.op == "end":
        return ""
    if e.op == "part":
        lo, hi = ("" if b.op == "num" and b.value == 0 else expr_text(b) for b in e.args[1:3])
        return f"{_operand(e.args[0], 'transpose', 'left')}[{':, ' if e.args[3].value == 1 else ''}{lo}:{hi}]"
    if e.op in _INFIX:
        left, right = e.args
        return f"{_operand(left, e.op, 'left')} {_INFIX[e.op]} {_operand(right, e.op, 'right')}"
    if e.op == "neg":
        return f"-{_operand(e.args[0], 'neg', 'right')}"
    if e.op == "transpose":
        return f"{_operand(e.args[0], 'transpose', 'left')}.T"
    return f"{e.op}({', '.join(expr_text(a) for a in e.args)})"


_COMPARED = {name: symbol for symbol, name in COMPARISONS.items()}


class _Typer:
    """Types a parsed expression by the registry's shape rules; ``adjoints`` maps names such as
    ``h_bar`` to the node h, and ``d<f>`` calls (dsigma) stand for an elementwise function's
    derivative (typed answers).  Size names are numbers."""

    def __init__(self, context: str, shapes: dict[str, tuple], elementwise: dict[str, str],
                 adjoints: dict[str, str] | None = None, dims=()):
        self.context = context
        self.shapes = shapes
        self.elementwise = elementwise
        self.adjoints = adjoints or {}
        self.dims = dims

    def fail(self, e: Expr, what: str, hint: str | None = None) -> ShapeError:
        return ShapeError(f"{self.context}: {what}", hint=hint)

    def make(self, e: Expr, op: str, args: list[M], **parameters) -> M:
        """A node of the registry's operation ``op``, its shape by the operation's rule."""
        parameters = {p: v for p, v in parameters.items() if v is not None}  # an axis None: not given
        try:
            shape = OPS[op].shape(tuple(a.shape for a in args), **parameters)
        except ShapeMismatch as exc:
            raise self.fail(e, f"{expr_text(e)}: {exc.message}", exc.hint) from None
        return M(op, tuple(args), shape, **parameters)

    def size(self, e: Expr, end):
        """A slice bound as a size: a number, a size's name, a sum or multiple of them (2*H, D+H)."""
        if e.op == "end":
            return end
        if e.op == "num" and e.value.is_Integer and e.value >= 0:
            return int(e.value)
        if e.op == "name" and e.name in self.dims:
            return e.name
        if e.op == "add":
            total = mx.size_sum(*(self.size(a, end) for a in e.args))
            if total is not None:
                return total
        if e.op == "mul" and e.args[0].op == "num" and e.args[0].value.is_Integer and e.args[0].value > 0:
            return mx.size_from_terms({n: int(e.args[0].value) * k for n, k in
                                       mx.size_terms(self.size(e.args[1], end)).items()})
        raise self.fail(e, f"a slice bound must be a size: {expr_text(e)}",
                        hint="write a number, a size of [dims], or sums and multiples of them: Z[:H], Z[H:2*H]")

    def _size(self, e: Expr, a: M):
        """A size written as an argument (B, or the number a size has): its name where there is one."""
        if a.op == "dim":
            return a.name
        if a.is_const and a.value.is_Integer and a.value > 0:
            named = [name for name, value in dict(self.dims).items() if value == a.value]
            return named[0] if len(named) == 1 else int(a.value)
        raise self.fail(e, f"{expr_text(e)}: ones() takes a size (a name from [dims] or a whole number)")

    def build(self, e: Expr) -> M:
        if e.op == "num":
            return mx.const(e.value)
        if e.op == "name":
            if e.name in self.adjoints:
                node = self.adjoints[e.name]
                return mx.adj(node, self.shapes[node])
            if e.name in self.dims and e.name not in self.shapes:
                return mx.dim(e.name)
            return mx.var(e.name, self.shapes[e.name])
        plain = list(e.args)
        options = {}
        while plain and plain[-1].op in ("axis", "ddof"):
            option = plain.pop()
            options[option.op] = int(option.value)
        axis, ddof = options.get("axis"), options.get("ddof", 0)
        if "axis" in options and e.op != "part" and CALLED.get(e.op) not in AXIS_OPS:
            shown = sorted(call for call, op in CALLED.items() if op in AXIS_OPS)
            raise self.fail(e, f"{e.op}() takes no axis", hint="axis= applies to " + ", ".join(shown))
        if "ddof" in options and e.op != "var":
            raise self.fail(e, f"{e.op}() takes no ddof", hint="ddof= applies to var")
        if e.op == "part":  # Z[a:b], Z[:, a:b]: the bounds are sizes
            matrix = self.build(plain[0])
            axis = int(options.get("axis", 0))
            lo, hi = (self.size(b, matrix.shape[axis]) for b in plain[1:3])
            whole = size_value(matrix.shape[axis], self.dims)
            if not 0 <= size_value(lo, self.dims) < size_value(hi, self.dims) <= whole:  # X[:, :5] with B = 4
                raise self.fail(e, f"{expr_text(e)}: {lo}:{hi} is not within the {whole} "
                                   f"{'rows' if axis == 0 else 'columns'} of a {shape_text(matrix.shape)} matrix "
                                   f"with these [dims]")
            return self.make(e, "part", [matrix], axis=axis, bounds=(lo, hi))
        if e.op == "row":  # W[i]: the index is a parameter, within the rows once [dims] are put in
            matrix, index = self.build(plain[0]), int(plain[1].value)
            rows = matrix.shape[0]
            count = self.dims.get(rows, 0) if isinstance(rows, str) else rows
            if not -count <= index < count:
                named = f" ({rows} = {count})" if isinstance(rows, str) else ""
                raise self.fail(e, f"{expr_text(e)}: row {index} of a {shape_text(matrix.shape)} matrix, which has "
                                   f"{count} row{'s' if count != 1 else ''}{named}")
            return self.make(e, "row", [matrix], index=index)
        args = [self.build(a) for a in plain]
        op = "var1" if e.op == "var" and ddof == 1 else e.op
        if op in COMPARISONS.values():
            return self.make(e, op, args)
        if op == "where" and args[0].op not in COMPARISONS.values():
            raise self.fail(e, f"{expr_text(e)}: the condition of where() must be a comparison",
                            hint="write where(abs(r) < 1, …), where(Z > 0, …)")
        if op in ("matmul", "div"):
            return self.make(e, op, args)
        if op == "add":
            return self.make(e, "add", args)
        if op == "sub":
            a, b = args
            return self.make(e, "add", [a, M("neg", (b,), b.shape)])
        if op == "neg":
            return self.make(e, "neg", args)
        if op == "mul":
            a, b = args
            if a.is_scalar:
                return self.make(e, "scale", [a, b])
            if b.is_scalar:
                return self.make(e, "scale", [b, a])
            try:
                return self.make(e, "had", args)
            except ShapeError as exc:
                raise ShapeError(f"{exc.message} (elementwise *)", hint="use @ for a matrix product") from None
        if op == "pow":
            a, b = args
            if not b.is_const:  # p ** t: a matrix exponent, entry by entry
                return self.make(e, "epow", args)
            return self.make(e, "pow", [a], exponent=b.value)
        if op == "transpose":
            return self.make(e, "T", args)
        if op in self.elementwise:
            return self.make(e, "fn", args, function=op)
        if op.startswith("d") and op[1:] in self.elementwise:
            return self.make(e, "dfn", args, function=op[1:])
        if op in CALLED:  # sum, var (the operation "variance"), softmax_cross_entropy ("sce"), ...
            name = CALLED[op]
            return self.make(e, name, args, axis=OPS[name].default_axis if axis is None else axis)
        if op in OPS:  # diag, in typed answers
            return self.make(e, op, args, axis=axis)
        if op == "ones":  # ones(B): a column of B ones, in typed answers
            return mx.ones((self._size(e, args[0]), 1))
        raise self.fail(e, f"unsupported operation '{op}'")
