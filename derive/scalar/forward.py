"""Forward-mode AD: one pass per input, a row per node with its chain-rule terms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .trace import Node, Term, Trace


@dataclass(frozen=True)
class ForwardRow:
    """∂node/∂x = Σ ∂node/∂arg · ∂arg/∂x over the node's arguments (empty for inputs)."""

    node: Node
    terms: tuple[Term, ...]
    value: float


@dataclass(frozen=True)
class ForwardPass:
    """The tangents of every node with respect to one input."""

    input: str
    seed: str  # node id of the input
    rows: tuple[ForwardRow, ...]

    @cached_property  # read once per Jacobian entry: built once, not per read
    def tangents(self) -> dict[str, float]:
        return {row.node.id: row.value for row in self.rows}


def forward_pass(trace: Trace, input_name: str) -> ForwardPass:
    """Propagate the tangent of ``input_name`` through the trace, in trace order."""
    seed = dict(trace.inputs)[input_name]
    tangents: dict[str, float] = {}
    rows = []
    for node in trace.nodes:
        if node.is_input:
            terms: tuple[Term, ...] = ()
            value = 1.0 if node.id == seed else 0.0
        else:
            terms = tuple(Term(node, p, tangents[p.arg]) for p in node.partials)
            value = sum(term.value for term in terms)
        tangents[node.id] = value
        rows.append(ForwardRow(node, terms, value))
    return ForwardPass(input_name, seed, tuple(rows))
