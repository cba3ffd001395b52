"""Solving a scalar problem: trace, every forward and reverse pass, the Jacobian, the checks."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import LimitError, ParseError
from ..parse import Limits
from ..problems import Problem
from .forward import ForwardPass, forward_pass
from .reverse import ReversePass, reverse_pass
from .trace import Trace, build_trace
from .verify import SYMBOLIC_LIMIT, SYMBOLIC_TIMEOUT, Checks, check_jacobian


@dataclass(frozen=True)
class ScalarSolution:
    """Everything parts (c)-(e) of the sheet show, computed once."""

    problem: Problem
    trace: Trace
    forward: tuple[ForwardPass, ...]
    reverse: tuple[ReversePass, ...]
    checks: Checks

    engine = "scalar"  # which engine solved it (the "kind" of derive solve --json)
    kind = engine  # the old name, kept for derive.api users

    @property
    def jacobian_forward(self) -> list[list[float]]:
        return forward_jacobian(self.trace, self.forward)

    @property
    def jacobian_reverse(self) -> list[list[float]]:
        return reverse_jacobian(self.trace, self.reverse)

    jacobian = jacobian_reverse

    @property
    def output_values(self) -> list[float]:
        return [self.trace.by_id[node].value for _, node in self.trace.outputs]

    def as_dict(self) -> dict:
        """Plain data (full precision), the shape of ``derive solve --json``."""
        trace = self.trace
        return {
            "kind": "scalar",
            "problem": self.problem.name,
            "inputs": [{"name": name, "node": node, "value": trace.by_id[node].value}
                       for name, node in trace.inputs],
            "outputs": [{"name": name, "node": node, "value": trace.by_id[node].value}
                        for name, node in trace.outputs],
            "nodes": [
                {
                    "id": node.id,
                    "op": node.op,
                    "args": list(node.node_args),
                    "operands": [x if isinstance(x, str) else str(x) for x in node.args],
                    "text": node.text,
                    "latex": node.latex,
                    "value": node.value,
                    "rule": node.rule,
                    **({"input": node.input_name} if node.is_input else {}),
                    "partials": [{"arg": p.arg, "expr": str(p.expr), "value": p.value}
                                 for p in node.partials],
                }
                for node in trace.nodes
            ],
            "forward": {p.input: p.tangents for p in self.forward},
            "reverse": {p.output: dict(sorted(p.adjoints.items(), key=lambda kv: trace.by_id[kv[0]].index))
                        for p in self.reverse},
            "jacobian": self.jacobian,
            "jacobian_forward": self.jacobian_forward,
            "checks": self.checks.as_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent, ensure_ascii=False)


def forward_jacobian(trace: Trace, forward) -> list[list[float]]:
    """Rows are outputs, columns inputs: column j is forward pass j."""
    return [[p.tangents[node] for p in forward] for _, node in trace.outputs]


def reverse_jacobian(trace: Trace, reverse) -> list[list[float]]:
    """Rows are outputs, columns inputs: row i is reverse pass i."""
    return [[p.adjoints[node] for _, node in trace.inputs] for p in reverse]


def solve_scalar(problem: Problem, numbering: str = "zero", order: str = "postorder",
                 limits: Limits = Limits(), symbolic_limit: int = SYMBOLIC_LIMIT,
                 symbolic_timeout: float = SYMBOLIC_TIMEOUT) -> ScalarSolution:
    """Build the trace, run one forward pass per input and one reverse pass per output, and
    verify the Jacobian; a disagreement raises VerificationError."""
    try:
        trace = build_trace(problem.inputs, problem.outputs, numbering, order, limits, problem.constants)
    except (ParseError, LimitError) as exc:
        if problem.source and not problem.source.startswith("built-in"):  # errors name the file
            raise type(exc)(f"{problem.source}: {exc.message}", hint=exc.hint) from None
        raise
    forward = tuple(forward_pass(trace, name) for name, _ in trace.inputs)
    reverse = tuple(reverse_pass(trace, name) for name, _ in trace.outputs)
    checks = check_jacobian(trace, forward_jacobian(trace, forward), reverse_jacobian(trace, reverse),
                            symbolic_limit, symbolic_timeout)
    return ScalarSolution(problem, trace, forward, reverse, checks)
