"""The rows of the sheet's tables, written in a given notation (text or LaTeX).

Every renderer lays out the same rows: the evaluation trace (Expression | Evaluation), one
forward table per input (Expression | Rule | Evaluation) and one reverse table per output
(Expression | Evaluation).  The evaluation column shows the local partials as formulas, then
with numbers, then the result ("v0 × 0 + v6 × 1 = 2 × 0 + 0.141 × 1 = 0.141").
"""

from __future__ import annotations

from dataclasses import dataclass

from ..parse import Expr
from ..scalar.forward import ForwardPass
from ..scalar.reverse import ReversePass
from ..scalar.rules import primitive
from ..scalar.solve import ScalarSolution
from ..scalar.trace import Node, Term, Trace


@dataclass(frozen=True)
class Row:
    expression: str
    evaluation: str
    rule: str = ""
    node: str = ""  # node id the row is about ("" for answer rows)
    answer: bool = False  # the ∂y/∂x rows that close a table


def _is_one(term: Term) -> bool:
    return term.partial.expr == 1


def _is_minus_one(term: Term) -> bool:
    return term.partial.expr == -1


def partial_formula(term: Term, nt) -> str:
    """The local partial ∂owner/∂arg as a formula of node names (σ(v1)(1 − σ(v1)), 2v1, ...)."""
    shown = primitive(term.owner.op).shown
    if shown and shown[term.partial.position]:
        arg = term.partial.arg
        return nt.template(shown[term.partial.position]).format(nt.node(arg))
    return nt.expr(term.partial.expr)


def evaluation_of(node: Node, values: dict[str, float], nt) -> str:
    """The node's definition with its arguments' values put in: "2 × 0.141"."""
    rule = primitive(node.op)
    binary = rule.arity > 1
    args = [nt.number(values[x], parens=binary) if isinstance(x, str) else nt.expr(x)
            for x in node.args]
    return nt.evaluation_template(rule).format(*args)


def trace_rows(trace: Trace, nt) -> list[Row]:
    values = {node.id: node.value for node in trace.nodes}
    rows = []
    for node in trace.nodes:
        if node.is_input:
            rows.append(Row(f"{nt.node(node.id)} = {nt.var(node.input_name)}", nt.number(node.value),
                            node=node.id))
        else:
            definition = node.text if nt.name == "text" else node.latex
            rows.append(Row(f"{nt.node(node.id)} = {nt.code(definition)}",
                            f"{evaluation_of(node, values, nt)} = {nt.number(node.value)}", node=node.id))
    return rows


def _sum(parts: list[str], nt) -> str:
    out = ""
    for part in parts:
        if not out:
            out = part
        elif part.startswith(nt.minus):
            out += f" {nt.minus} {part[len(nt.minus):]}"
        else:
            out += f" + {part}"
    return out


def forward_rows(fpass: ForwardPass, trace: Trace, nt) -> list[Row]:
    x = nt.var(fpass.input)
    rows = []
    for row in fpass.rows:
        node = row.node
        d_node = nt.partial(nt.node(node.id), x)
        if node.is_input:
            rows.append(Row(d_node, nt.number(row.value), "-", node.id))
            continue
        chain = []
        for term in row.terms:
            d_arg = nt.partial(nt.node(term.partial.arg), x)
            if _is_one(term):
                chain.append(d_arg)
            elif _is_minus_one(term):
                chain.append(nt.minus + d_arg)
            else:
                chain.append(nt.partial(nt.node(node.id), nt.node(term.partial.arg)) + nt.dot + d_arg)
        numeric = []
        symbolic = []
        for term in row.terms:
            incoming = nt.number(term.incoming, parens=True)
            if _is_one(term):
                numeric.append(nt.number(term.incoming))
                symbolic.append(nt.number(term.incoming))
            elif _is_minus_one(term):
                numeric.append(nt.minus + incoming)
                symbolic.append(nt.minus + incoming)
            else:
                numeric.append(nt.number(term.partial.value) + nt.times + incoming)
                symbolic.append(partial_formula(term, nt) + nt.times + incoming)
        stages = [_sum(symbolic, nt), _sum(numeric, nt)]
        rows.append(Row(f"{d_node} = {_sum(chain, nt)}", _stages(stages, row.value, nt), node.rule, node.id))
    for out_name, node_id in trace.outputs:
        rows.append(Row(f"{nt.partial(nt.var(out_name), x)} = {nt.partial(nt.node(node_id), x)}",
                        nt.number(fpass.tangents[node_id]), "-", answer=True))
    return rows


def _stages(stages: list[str], value: float, nt) -> str:
    """"a = b = value", dropping a stage that repeats the one before it."""
    kept: list[str] = []
    for stage in stages:
        if stage and (not kept or kept[-1] != stage):
            kept.append(stage)
    result = nt.number(value)
    if kept and kept[-1] == result:
        kept.pop()
    return " = ".join([*kept, result])


def reverse_rows(rpass: ReversePass, trace: Trace, nt) -> list[Row]:
    y = nt.var(rpass.output)
    rows = []
    for row in rpass.rows:
        node = row.node
        chain: list[str] = []
        symbolic: list[str] = []
        numeric: list[str] = []
        if row.seed is not None:
            chain.append(nt.partial(y, nt.node(node.id)))
            symbolic.append(nt.number(row.seed))
            numeric.append(nt.number(row.seed))
        many = len(row.terms) + (row.seed is not None) > 1
        for term in row.terms:
            consumer = term.owner.id
            chain.append(nt.bar(consumer) + nt.dot + nt.partial(nt.node(consumer), nt.node(node.id)))
            adj = nt.number(term.incoming)
            sym = adj + nt.times + partial_formula(term, nt)
            num = adj + nt.times + nt.number(term.partial.value, parens=True)
            symbolic.append(nt.bracket(sym) if many else sym)
            numeric.append(nt.bracket(num) if many else num)
        if not chain:  # an input no output uses
            rows.append(Row(nt.bar(node.id), nt.number(row.value), node=node.id))
            continue
        stages = [" + ".join(symbolic), " + ".join(numeric)]
        rows.append(Row(f"{nt.bar(node.id)} = {' + '.join(chain)}", _stages(stages, row.value, nt),
                        node=node.id))
    for in_name, node_id in trace.inputs:
        rows.append(Row(f"{nt.partial(y, nt.var(in_name))} = {nt.bar(node_id)}",
                        nt.number(rpass.adjoints[node_id]), answer=True))
    return rows


def jacobian(solution: ScalarSolution, nt, matrix: list[list[float]] | None = None) -> str:
    matrix = solution.jacobian if matrix is None else matrix
    return nt.matrix([[nt.number(x) for x in row] for row in matrix])


def jacobian_symbols(solution: ScalarSolution, nt) -> str:
    return nt.matrix([[nt.partial(nt.var(y), nt.var(x)) for x, _ in solution.trace.inputs]
                      for y, _ in solution.trace.outputs])


def values_vector(values: list[float], nt) -> str:
    return nt.matrix([[nt.number(v)] for v in values])


# -- the user's expressions, in the order written ---------------------------------------------
_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4}


def expression_latex(expr: Expr, nt) -> str:
    """LaTeX of a parsed expression as the user wrote it (no reordering, minimal parentheses)."""
    if expr.op == "num":
        return nt.expr(expr.value)
    if expr.op == "name":
        return nt.var(expr.name)
    rule = primitive(expr.op)
    mine = _PRECEDENCE.get(expr.op, 5)
    parts = []
    for position, arg in enumerate(expr.args):
        text = expression_latex(arg, nt)
        theirs = _PRECEDENCE.get(arg.op, 5) if arg.op not in ("num",) else (
            5 if not arg.value.could_extract_minus_sign() else 3)
        if expr.op == "div" or (expr.op == "pow" and position == 1) or mine == 5:
            pass  # \frac, exponents and function arguments group on their own
        elif theirs < mine or (theirs == mine and position == 1 and expr.op in ("sub",)):
            text = rf"\left({text}\right)"
        elif expr.op == "pow" and theirs <= mine:
            text = rf"\left({text}\right)"
        parts.append(text)
    if expr.op == "mul" and expr.args[1].op == "num":
        return rf"{parts[0]} \cdot {parts[1]}"
    return rule.latex.format(*parts)
