"""The evaluation trace (Wengert list) of a scalar problem.

Inputs come first, then every output expression is walked post-order, left to right, in the
order the user wrote it; an identical sub-expression becomes one node, reused, and numeric
constants stay literals inside the node that uses them (``v2 = 2 v1``).  Every node carries its
id, operation, arguments, its definition in text and LaTeX, its float value and its local
partials, read from the one rule table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import sympy
from sympy.printing.str import StrPrinter

from ..errors import DomainError, LimitError, ParseError, ProblemError, quoted
from ..parse import Expr, Limits, latex_variable, parse_expression
from ..forms import fill
from ..precedence import binding_of, binding_of_sympy_latex as latex_binding, wrap
from .rules import ALIASES, FOLD, FUNCTIONS, primitive

NUMBERINGS = ("zero", "baydin")
ORDERS = ("postorder", "depth")

Arg = "str | sympy.Expr"  # a node id, or a constant literal kept inside the node


@dataclass(frozen=True)
class LocalPartial:
    """∂node/∂arg for one argument position that is a node: as a float, and (on first use, for
    the sheets) as a SymPy expression of the node names, from the rule table."""

    arg: str
    position: int
    value: float
    op: str = field(repr=False)
    operands: tuple = field(repr=False)

    @cached_property
    def expr(self) -> sympy.Expr:
        rule = primitive(self.op)
        names = {sym: (_symbol(x) if isinstance(x, str) else x) for sym, x in zip(rule.symbols, self.operands)}
        return rule.partials[self.position].xreplace(names)


@dataclass(frozen=True)
class Node:
    """One line of the Wengert list."""

    id: str
    index: int
    op: str
    args: tuple  # node ids (str) or SymPy numbers
    text: str
    latex: str
    value: float
    partials: tuple[LocalPartial, ...] = ()
    rule: str = "-"
    input_name: str | None = None
    latex_name: str = ""
    symbol: sympy.Symbol = field(default=None, compare=False)

    @property
    def is_input(self) -> bool:
        return self.op == "input"

    @property
    def node_args(self) -> tuple[str, ...]:
        return tuple(arg for arg in self.args if isinstance(arg, str))


@dataclass(frozen=True)
class _Proto:
    """A node before numbering: arguments point to other protos by position."""

    op: str
    args: tuple  # int (proto index) or SymPy number
    depth: int


@dataclass
class Trace:
    """The nodes in trace order, with the inputs' and outputs' names and the point."""

    nodes: list[Node]
    inputs: list[tuple[str, str]]  # (input name, node id)
    outputs: list[tuple[str, str]]  # (output name, node id)
    point: dict[str, sympy.Expr]  # exact input values by input name
    expressions: dict[str, Expr]  # parsed output expressions by output name
    by_id: dict[str, Node] = field(init=False, repr=False)

    def __post_init__(self):
        self.by_id = {node.id: node for node in self.nodes}

    def __len__(self) -> int:
        return len(self.nodes)

    @cached_property
    def consumers(self) -> dict[str, list[tuple[Node, LocalPartial]]]:
        """For each node, the nodes that use it, with the local partial of each use."""
        uses: dict[str, list[tuple[Node, LocalPartial]]] = {node.id: [] for node in self.nodes}
        for node in self.nodes:
            for partial in node.partials:
                uses[partial.arg].append((node, partial))
        return uses

    @cached_property
    def exact_values(self) -> dict[str, sympy.Expr]:
        """Exact (SymPy) value of every node, computed on first use."""
        exact: dict[str, sympy.Expr] = {}
        for node in self.nodes:
            if node.is_input:
                exact[node.id] = self.point[node.input_name]
                continue
            rule = primitive(node.op)
            values = [exact[arg] if isinstance(arg, str) else arg for arg in node.args]
            exact[node.id] = rule.definition.subs(dict(zip(rule.symbols, values)), simultaneous=True)
        return exact

    @cached_property
    def _plan(self) -> tuple[list[int], list[tuple[int, Callable, tuple]], list[int]]:
        """The trace as positions: input slots, (slot, function, argument slots or floats) per
        operation, output slots. Finite differences evaluate the trace 32 times per input."""
        slot = {node.id: i for i, node in enumerate(self.nodes)}
        inputs = [slot[node_id] for _, node_id in self.inputs]
        steps = [(i, primitive(node.op).value_function,
                  tuple(slot[a] if isinstance(a, str) else float(a) for a in node.args))
                 for i, node in enumerate(self.nodes) if not node.is_input]
        return inputs, steps, [slot[node_id] for _, node_id in self.outputs]

    #: Caches of compiled float functions: rebuilt on demand, never pickled or copied.
    _CACHES = ("_plan", "_point_values", "_dependents_cache")

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key not in self._CACHES}

    def output_values(self, point: list[float]) -> list[float]:
        """Float values of the outputs at another point (inputs in declared order)."""
        inputs, steps, outputs = self._plan
        values: list[float] = [0.0] * len(self.nodes)
        for i, x in zip(inputs, point):
            values[i] = float(x)
        return self._run(values, steps)

    def output_values_along(self, j: int, xj: float) -> list[float]:
        """The outputs with input ``j`` moved to ``xj``, the others at the trace's point: only
        the nodes that depend on input j are evaluated again (finite differences move one input
        at a time, so their cost is the sum of those nodes over the inputs, not inputs × nodes)."""
        inputs, _, _ = self._plan
        values = list(self._point_values)
        values[inputs[j]] = float(xj)
        return self._run(values, self._dependents(j))

    def _run(self, values: list[float], steps) -> list[float]:
        for i, function, args in steps:
            values[i] = function(*[values[a] if type(a) is int else a for a in args])
        return [values[i] for i in self._plan[2]]

    @cached_property
    def _point_values(self) -> list[float]:
        inputs, steps, _ = self._plan
        values: list[float] = [0.0] * len(self.nodes)
        for i, (name, _) in zip(inputs, self.inputs):
            values[i] = float(self.point[name])
        self._run(values, steps)
        return values

    def _dependents(self, j: int) -> list:
        cache = self.__dict__.setdefault("_dependents_cache", {})
        if j not in cache:
            inputs, steps, _ = self._plan
            moved = {inputs[j]}
            steps_moved = []
            for step in steps:
                if any(type(a) is int and a in moved for a in step[2]):
                    moved.add(step[0])
                    steps_moved.append(step)
            cache.clear()  # one input at a time: keep memory at one list
            cache[j] = steps_moved
        return cache[j]


def node_ids(n_inputs: int, n_nodes: int, numbering: str = "zero") -> list[str]:
    """The ids v0, v1, ... (or v₋ₙ₊₁ ... v0, v1, ... for Baydin et al.'s numbering)."""
    first = -(n_inputs - 1) if numbering == "baydin" else 0
    return [f"v{first + i}" for i in range(n_nodes)]


def latex_name(node_id: str) -> str:
    return f"v_{{{node_id[1:]}}}"


def build_trace(
    inputs: dict[str, sympy.Expr],
    outputs: dict[str, str],
    numbering: str = "zero",
    order: str = "postorder",
    limits: Limits = Limits(),
    constants: dict[str, sympy.Expr] | None = None,
) -> Trace:
    """Parse the outputs and build the trace, evaluated at ``inputs`` (name -> exact value);
    ``constants`` are named coefficients, put into the expressions as numbers."""
    if numbering not in NUMBERINGS:
        raise ProblemError(f"unknown numbering '{numbering}'", hint="use one of: " + ", ".join(NUMBERINGS))
    if order not in ORDERS:
        raise ProblemError(f"unknown order '{order}'", hint="use one of: " + ", ".join(ORDERS))
    if not outputs:
        raise ProblemError("the problem has no outputs", hint="give at least one expression")
    names = list(inputs)
    expressions: dict[str, Expr] = {}
    for out_name, text in outputs.items():
        try:
            expressions[out_name] = parse_expression(text, frozenset(names), FUNCTIONS, ALIASES,
                                                     FOLD, limits, constants=constants)
        except (ParseError, LimitError) as exc:
            raise type(exc)(f"{out_name} = {quoted(text, exc.message)}: {exc.message}", hint=exc.hint) from None

    protos: list[_Proto] = [_Proto("input", (name,), 0) for name in names]
    keys: dict[tuple, int] = {}
    output_refs: list[tuple[str, int]] = []
    for out_name, expr in expressions.items():
        ref = _walk(expr, names, protos, keys, limits)
        if not isinstance(ref, int):
            raise ProblemError(f"output {out_name} = {quoted(outputs[out_name])} is a constant",
                               hint="an output must depend on at least one input")
        output_refs.append((out_name, ref))

    cells = (len(names) + len(output_refs)) * len(protos)
    if cells > limits.max_cells:
        raise LimitError(f"the forward and reverse tables would have {cells:,} cells ({len(names)} inputs + "
                         f"{len(output_refs)} outputs, times {len(protos):,} nodes), more than the limit of "
                         f"{limits.max_cells:,}", hint=f"raise the limit with {Limits.FLAGS['max_cells']}")
    order_of = list(range(len(protos)))
    if order == "depth":
        order_of.sort(key=lambda i: (protos[i].depth, i))  # stable: ties keep written order
    ids = node_ids(len(names), len(protos), numbering)
    id_of = {proto_index: ids[position] for position, proto_index in enumerate(order_of)}

    nodes: list[Node] = []
    values: dict[str, float] = {}
    for position, proto_index in enumerate(order_of):
        proto = protos[proto_index]
        node_id = id_of[proto_index]
        if proto.op == "input":
            name = proto.args[0]
            value = float(inputs[name])
            if not math.isfinite(value):
                raise DomainError(f"input {name} is too large for a floating-point number (about 1e308 at most)",
                                  hint="evaluate at another point")
            node = Node(node_id, position, "input", (), name, latex_variable(name), value, input_name=name,
                        latex_name=latex_name(node_id), symbol=_symbol(node_id))
        else:
            args = tuple(id_of[arg] if isinstance(arg, int) else arg for arg in proto.args)
            node = _make_node(node_id, position, proto.op, args, values)
        values[node_id] = node.value
        nodes.append(node)
    return Trace(
        nodes=nodes,
        inputs=[(name, id_of[i]) for i, name in enumerate(names)],
        outputs=[(name, id_of[ref]) for name, ref in output_refs],
        point=dict(inputs),
        expressions=expressions,
    )


def _walk(root: Expr, names: list[str], protos: list[_Proto], keys: dict, limits: Limits):
    """Post-order, left-to-right walk of one output; returns its proto index or a constant."""
    done: dict[int, object] = {}
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        expr, visited = stack.pop()
        if expr.op == "num":
            done[id(expr)] = expr.value
            continue
        if expr.op == "name":
            done[id(expr)] = names.index(expr.name)
            continue
        if not visited:
            stack.append((expr, True))
            stack.extend((arg, False) for arg in reversed(expr.args))
            continue
        args = tuple(done[id(arg)] for arg in expr.args)
        key = (expr.op, tuple(("node", x) if isinstance(x, int) else ("num", x) for x in args))
        if key not in keys:
            if len(protos) >= limits.max_nodes:
                raise LimitError(f"the trace has more than {limits.max_nodes} nodes",
                                 hint=f"raise the limit with {Limits.FLAGS['max_nodes']}")
            depth = 1 + max((protos[x].depth for x in args if isinstance(x, int)), default=0)
            keys[key] = len(protos)
            protos.append(_Proto(expr.op, args, depth))
        done[id(expr)] = keys[key]
    return done[id(root)]


def _symbol(node_id: str) -> sympy.Symbol:
    return sympy.Symbol(node_id, real=True)


class _CodePrinter(StrPrinter):
    """SymPy's str printer, writing Euler's number as the user does (e), so the text parses back."""

    def _print_Exp1(self, expr):
        return "e"


def _text_arg(arg, single: bool) -> str:
    if isinstance(arg, str):
        return arg
    text = _CodePrinter().doprint(arg)
    atomic = arg.is_Atom and not (arg.is_Rational and not arg.is_Integer) and arg >= 0
    return text if single or atomic else f"({text})"


def _latex_arg(arg, op: str, position: int) -> str:
    """A node name, or a constant bracketed by the one precedence table unless the form
    delimits it (a call, \\frac{..}{..}, an exponent): e^{2} as a base is \\left(e^{2}\\right)^{v_0}."""
    if isinstance(arg, str):
        return latex_name(arg)
    text = sympy.latex(arg)
    if binding_of(op) == "atom" or primitive(op).delimits(position):
        return text
    binding = latex_binding(arg)
    side = "left" if position == 0 and primitive(op).arity > 1 else "right"
    return wrap(text, binding, op, side, (r"\left(", r"\right)"))


def _make_node(node_id: str, index: int, op: str, args: tuple, values: dict[str, float]) -> Node:
    rule = primitive(op)
    single = rule.arity == 1
    text = fill(rule.text, [_text_arg(x, single) for x in args])
    template = rule.latex
    if op == "mul" and not isinstance(args[1], str):
        template = r"$0 \cdot $1"  # "v1 · 2", not "v1 2"
    latex_args = [_latex_arg(x, op, position) for position, x in enumerate(args)]
    latex = fill(template, latex_args)
    floats = [values[x] if isinstance(x, str) else float(x) for x in args]
    where = f"{node_id} = {text}"
    value = _evaluate(rule.value_function, floats, where, op, args, values)
    reason = rule.singular(*floats) if rule.singular else None
    if reason:
        raise DomainError(f"{where}: {_arg_values(args, values)}: {reason}",
                          hint="evaluate at another point")
    partials = []
    for position, arg in enumerate(args):
        if not isinstance(arg, str):
            continue
        partial_value = _evaluate(rule.partial_functions[position], floats, where, op, args, values, partial=True)
        partials.append(LocalPartial(arg, position, partial_value, op, args))
    label = rule.rule if len(partials) > 1 else "Chain Rule"
    return Node(node_id, index, op, args, text, latex, value, tuple(partials), label,
                latex_name=latex_name(node_id), symbol=_symbol(node_id))


def _arg_values(args: tuple, values: dict[str, float]) -> str:
    names = dict.fromkeys(x for x in args if isinstance(x, str))  # v0 * v0 names v0 once
    return ", ".join(f"{x} = {values[x]!r}" for x in names)


def _evaluate(function, floats, where, op, args, values, partial: bool = False) -> float:
    """Call a float implementation (a value, or with ``partial`` a local partial); undefined or
    non-finite results become a DomainError."""
    try:
        result = function(*floats)
    except ZeroDivisionError:
        what = "its derivative divides by zero here" if partial else "division by zero"
        raise DomainError(f"{where}: {_arg_values(args, values)}: {what}", hint="evaluate at another point") from None
    except OverflowError:
        raise DomainError(f"{where}: {_arg_values(args, values)}: the value overflows",
                          hint="evaluate at a point of smaller magnitude") from None
    except ValueError:
        raise DomainError(f"{where}: {_arg_values(args, values)} is outside the domain of {op}",
                          hint="evaluate at another point") from None
    if isinstance(result, (int, float)) and math.isinf(result):  # finite arguments, an infinite value
        raise DomainError(f"{where}: {_arg_values(args, values)}: the value overflows",
                          hint="evaluate at a point of smaller magnitude")
    if isinstance(result, complex) or not math.isfinite(result):
        raise DomainError(f"{where}: {_arg_values(args, values)} is outside the domain of {op}",
                          hint="evaluate at another point")
    return float(result)


@dataclass(frozen=True)
class Term:
    """One product in a chain-rule sum: ``incoming`` times the local partial of ``owner``.

    Forward mode: ∂owner/∂arg × (tangent of arg). Reverse mode: (adjoint of owner) × ∂owner/∂arg.
    """

    owner: Node
    partial: LocalPartial
    incoming: float

    @property
    def value(self) -> float:
        return self.incoming * self.partial.value
