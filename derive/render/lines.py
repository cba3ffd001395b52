"""The rows of the sheet's tables, written in a given notation (text or LaTeX).

Every renderer lays out the same rows: the evaluation trace (Expression | Evaluation), one
forward table per input (Expression | Rule | Evaluation) and one reverse table per output
(Expression | Evaluation).  The evaluation column shows the local partials as formulas, then
with numbers, then the result ("v0 × 0 + v6 × 1 = 2 × 0 + 0.141 × 1 = 0.141").
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DeriveError
from ..forms import fill
from ..handwriting import stage_value
from ..parse import Expr
from ..precedence import binding_of, needs_brackets
from ..problems import written_as
from ..scalar.forward import ForwardPass
from ..scalar.reverse import ReversePass
from ..scalar.rules import primitive
from ..scalar.solve import ScalarSolution
from ..scalar.trace import Node, Term, Trace
from .notation import TextNotation, format_number

#: Most decimals added to a line's numbers so that they add up to its printed result (cosh(10.045)
#: needs six more: its slope is 11 521).
MAX_EXTRA_DIGITS = 9


@dataclass(frozen=True)
class Row:
    """One line of a sheet's table: ``left`` = ``right`` (v3 = v1 v2), its evaluation, its rule.
    ``right`` None: the row is its subject alone (a seed's ∂v1/∂x); "": a right side left blank
    for the student (the worksheet keeps "v3 =")."""

    left: str
    right: str | None
    evaluation: str
    rule: str = ""
    node: str = ""  # node id the row is about ("" for answer rows)
    answer: bool = False  # the ∂y/∂x rows that close a table

    @property
    def expression(self) -> str:
        if self.right is None:
            return self.left
        return f"{self.left} = {self.right}" if self.right else f"{self.left} ="


def _is_one(term: Term) -> bool:
    return term.partial.expr == 1


def _is_minus_one(term: Term) -> bool:
    return term.partial.expr == -1


# -- pieces of a line: (text, binding); brackets come from derive/precedence.py only ----
def _number(x: float, nt) -> tuple[str, str]:
    return nt.number(x), nt.number_binding(x)


def _constant(x, nt) -> tuple[str, str]:
    return nt.expr(x), nt.binding(x)


def partial_formula(term: Term, nt) -> str:
    """The local partial ∂owner/∂arg as a formula of node names (σ(v1)(1 − σ(v1)), 2v1, ...)."""
    shown = primitive(term.owner.op).shown
    if shown and shown[term.partial.position]:
        arg = term.partial.arg
        return fill(nt.template(shown[term.partial.position]), [nt.node(arg)])
    return nt.expr(term.partial.expr)


def _partial(term: Term, nt) -> tuple[str, str]:
    """The partial's formula with its binding: a shown form has the binding of the expression it writes."""
    return partial_formula(term, nt), nt.binding(term.partial.expr)


def _product(left: tuple[str, str], right: tuple[str, str], nt) -> tuple[str, bool]:
    """left × right, each factor bracketed as the table says, and whether it starts with a minus
    sign: a leading sign stays outside (−8 × 0 reads as −(8 × 0), the same number), so sums may
    write it as "a − 8 × 0"."""
    text = nt.factor(*left, "mul", "left") + nt.times + nt.factor(*right, "mul", "right")
    return text, left[1] == "neg" and not needs_brackets(left[1], "mul", "left")


def evaluation_of(node: Node, values: dict[str, float], nt) -> str:
    """The node's definition with its arguments' values put in: "2 × 0.141"."""
    rule = primitive(node.op)
    template = nt.evaluation_template(rule)
    call = binding_of(node.op) == "atom"  # sin(…), exp(…): the call's own brackets group it
    args = []
    for position, x in enumerate(node.args):
        text, binding = _number(values[x], nt) if isinstance(x, str) else _constant(x, nt)
        if not (call or (nt.name == "latex" and rule.delimits(position))):
            text = nt.factor(text, binding, node.op, "left" if position == 0 and rule.arity > 1 else "right")
        args.append(text)
    return fill(template, args)


def adds_up(stage: str, value: float, digits: int) -> bool:
    """Whether the numbers of a text stage, as printed, give ``value`` printed to ``digits``."""
    try:
        worked = stage_value(stage)
    except (DeriveError, ArithmeticError, ValueError):
        return True  # nothing to read back (a stage with names): judged as it is
    return float(format_number(worked, digits)) == float(format_number(value, digits))  # 1.000 is 1


def precise(numeric, value: float, nt):
    """The notation in which a line's numeric stage adds up at the printed precision: ``nt``
    itself, or ``nt`` with one more decimal, or as few more as needed (at most MAX_EXTRA_DIGITS;
    a line that still does not add up keeps the most), where the rounded terms do
    not give the rounded result ("0.135 + 0.282 = 0.418" becomes "0.1347 + 0.2826 = 0.418").
    ``numeric(notation)`` writes the stage; the decision is made on its text, so every printer
    (terminal, LaTeX, Markdown, the key's CSV) adds the same digits."""
    for extra in range(MAX_EXTRA_DIGITS + 1):
        if adds_up(numeric(TextNotation(nt.digits + extra)), value, nt.digits):
            break
    return nt if extra == 0 else type(nt)(nt.digits + extra)


def input_value(name: str, value, nt, written: dict[str, str] | None = None) -> str:
    """An input's value as the user typed it where it was a decimal (0.5, never the 1/2 derive
    computes with), else exact as the problem gives it (2, 1/2, π/4)."""
    text = (written or {}).get(name)
    return text.lstrip("+").replace("-", nt.minus) if written_as(text, value) else nt.exact(value)


def trace_rows(trace: Trace, nt, written: dict[str, str] | None = None) -> list[Row]:
    """``written``: the decimal inputs as typed (Problem.written)."""
    values = {node.id: node.value for node in trace.nodes}
    rows = []
    for node in trace.nodes:
        if node.is_input:
            rows.append(Row(nt.node(node.id), nt.var(node.input_name),
                            input_value(node.input_name, trace.point[node.input_name], nt, written), node=node.id))
        else:
            definition = node.text if nt.name == "text" else node.latex
            shown = precise(lambda n: evaluation_of(node, values, n), node.value, nt)
            worked, result = evaluation_of(node, values, shown), nt.number(node.value)
            # −v0 at v0 = 2 is "−2": a working identical to its result is not repeated ("−2 = −2")
            rows.append(Row(nt.node(node.id), nt.code(definition),
                            result if worked == result else f"{worked} = {result}", node=node.id))
    return rows


def _sum(parts: list[tuple[str, bool]], nt) -> str:
    """Terms (text, whether it starts with the minus sign, as the code that wrote it knows) joined
    by + and −: a term with its own sign is written "a − b", never "a + −b"."""
    out = ""
    for text, negative in parts:
        if not out:
            out = text
        elif negative:
            out += f" {nt.minus} {text[len(nt.minus):]}"
        else:
            out += f" + {text}"
    return out


def forward_rows(fpass: ForwardPass, trace: Trace, nt) -> list[Row]:
    x = nt.var(fpass.input)
    rows = []
    for row in fpass.rows:
        node = row.node
        d_node = nt.partial(nt.node(node.id), x)
        if node.is_input:
            rows.append(Row(d_node, None, nt.number(row.value), "-", node.id))
            continue
        chain = []
        for term in row.terms:
            d_arg = nt.partial(nt.node(term.partial.arg), x)
            if _is_one(term):
                chain.append((d_arg, False))
            elif _is_minus_one(term):
                chain.append((nt.minus + d_arg, True))
            else:
                chain.append((nt.partial(nt.node(node.id), nt.node(term.partial.arg)) + nt.dot + d_arg, False))
        shown = precise(lambda n: _forward_stages(row, n)[-1], row.value, nt)
        stages = _forward_stages(row, shown)
        rows.append(Row(d_node, _sum(chain, nt), _stages(stages, row.value, nt), node.rule, node.id))
    for out_name, node_id in trace.outputs:
        rows.append(Row(nt.partial(nt.var(out_name), x), nt.partial(nt.node(node_id), x),
                        nt.number(fpass.tangents[node_id]), "-", answer=True))
    return rows


def _forward_stages(row, nt) -> list[str]:
    """A forward row's stages: partials as formulas, then as numbers, each times its tangent."""
    if len(row.terms) == 1 and (_is_one(row.terms[0]) or _is_minus_one(row.terms[0])):
        # A unary step (−v, v + 3) shows its working too: its local partial times the tangent.
        term = row.terms[0]
        line = _product(_number(term.partial.value, nt), _number(term.incoming, nt), nt)[0]
        return [line, line]
    numeric = []
    symbolic = []
    for k, term in enumerate(row.terms):
        incoming = _number(term.incoming, nt)
        if _is_one(term) or (_is_minus_one(term) and k == 0 and incoming[0] == nt.number(0)):
            numeric.append((incoming[0], incoming[1] == "neg"))  # a negated zero is "0", never "−0 = 0"
            symbolic.append((incoming[0], incoming[1] == "neg"))
        elif _is_minus_one(term):
            negated = (nt.minus + nt.factor(*incoming, "neg", "right"), True)
            numeric.append(negated)
            symbolic.append(negated)
        else:
            numeric.append(_product(_number(term.partial.value, nt), incoming, nt))
            symbolic.append(_product(_partial(term, nt), incoming, nt))
    return [_sum(symbolic, nt), _sum(numeric, nt)]


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
        if row.seed is not None:
            chain.append(nt.partial(y, nt.node(node.id)))
        for term in row.terms:
            consumer = term.owner.id
            chain.append(nt.bar(consumer) + nt.dot + nt.partial(nt.node(consumer), nt.node(node.id)))
        if not chain:  # an input no output uses
            rows.append(Row(nt.bar(node.id), None, nt.number(row.value), node=node.id))
            continue
        shown = precise(lambda n: _reverse_stages(row, n)[-1], row.value, nt)
        stages = _reverse_stages(row, shown)
        rows.append(Row(nt.bar(node.id), " + ".join(chain), _stages(stages, row.value, nt),
                        node=node.id))
    for in_name, node_id in trace.inputs:
        rows.append(Row(nt.partial(y, nt.var(in_name)), nt.bar(node_id),
                        nt.number(rpass.adjoints[node_id]), answer=True))
    return rows


def _reverse_stages(row, nt) -> list[str]:
    """A reverse row's stages: each consumer's adjoint times the partial as a formula, then as a number."""
    symbolic: list[str] = []
    numeric: list[str] = []
    if row.seed is not None:
        symbolic.append(nt.number(row.seed))
        numeric.append(nt.number(row.seed))
    many = len(row.terms) + (row.seed is not None) > 1
    for term in row.terms:
        adj = _number(term.incoming, nt)
        sym = _product(adj, _partial(term, nt), nt)[0]
        num = _product(adj, _number(term.partial.value, nt), nt)[0]
        symbolic.append(nt.bracket(sym) if many else sym)
        numeric.append(nt.bracket(num) if many else num)
    return [" + ".join(symbolic), " + ".join(numeric)]


def jacobian(solution: ScalarSolution, nt, matrix: list[list[float]] | None = None) -> str:
    matrix = solution.jacobian if matrix is None else matrix
    return nt.matrix([[nt.number(x) for x in row] for row in matrix])


def jacobian_symbols(solution: ScalarSolution, nt) -> str:
    return nt.matrix([[nt.partial(nt.var(y), nt.var(x)) for x, _ in solution.trace.inputs]
                      for y, _ in solution.trace.outputs])


def values_vector(values: list, nt) -> str:
    """A column of values: floats rounded, exact inputs (1/2, π/4) as they are."""
    return nt.matrix([[nt.exact(v)] for v in values])


# -- the user's expressions, in the order written ---------------------------------------------
def expression_latex(expr: Expr, nt) -> str:
    """LaTeX of a parsed expression as the user wrote it (no reordering; brackets by the one
    precedence table where the LaTeX form does not delimit an argument itself)."""
    return _expression_piece(expr, nt)[0]


def _expression_piece(expr: Expr, nt) -> tuple[str, str]:
    if expr.op == "num":
        return nt.expr(expr.value), nt.binding(expr.value)
    if expr.op == "name":
        return nt.var(expr.name), "atom"
    rule = primitive(expr.op)
    template = rule.latex
    if expr.op == "mul" and expr.args[1].op == "num":
        template = r"$0 \cdot $1"
    call = binding_of(expr.op) == "atom"
    parts = []
    for position, arg in enumerate(expr.args):
        text, binding = _expression_piece(arg, nt)
        if not (call or rule.delimits(position)):
            text = nt.factor(text, binding, expr.op, "left" if position == 0 and rule.arity > 1 else "right")
        parts.append(text)
    binding = binding_of(expr.op)
    return fill(template, parts), "pow" if binding == "atom" and rule.superscript else binding
