"""Reverse-mode AD: one pass per output, a row per node in reverse trace order.

Each adjoint is the sum over the node's consumers of (consumer's adjoint) × ∂consumer/∂node,
plus ∂y/∂node = 1 when the node is the output of this pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .trace import Node, Term, Trace


@dataclass(frozen=True)
class AdjointRow:
    """v̄ = [∂y/∂v] + Σ v̄_c · ∂v_c/∂v; ``seed`` is ∂y/∂v where the node is an output, else None."""

    node: Node
    seed: float | None
    terms: tuple[Term, ...]
    value: float


@dataclass(frozen=True)
class ReversePass:
    """The adjoints of every node for one output."""

    output: str
    seed: str  # node id of the output
    rows: tuple[AdjointRow, ...]  # reverse trace order

    @cached_property  # read once per Jacobian entry: built once, not per read
    def adjoints(self) -> dict[str, float]:
        return {row.node.id: row.value for row in self.rows}


def reverse_pass(trace: Trace, output_name: str) -> ReversePass:
    """Accumulate adjoints for ``output_name`` from the outputs back to the inputs."""
    seed = dict(trace.outputs)[output_name]
    output_nodes = {node_id for _, node_id in trace.outputs}
    adjoints: dict[str, float] = {}
    rows = []
    for node in reversed(trace.nodes):
        terms = tuple(Term(consumer, p, adjoints[consumer.id]) for consumer, p in trace.consumers[node.id])
        direct = 1.0 if node.id == seed else 0.0
        shown = direct if node.id in output_nodes and (direct or not terms) else None
        value = direct + sum(term.value for term in terms)
        adjoints[node.id] = value
        rows.append(AdjointRow(node, shown, terms, value))
    return ReversePass(output_name, seed, tuple(rows))
