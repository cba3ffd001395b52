"""How long the graph drawings take as graphs grow: the measurement behind GRAPH_NODE_LIMIT.

    .venv/bin/python bench/graph_layout.py

A three-input sum of products (each term sin(xi + k)·xj: 4 nodes) with 25, 50 and 50·(limit/200)
terms; for each, the time of `render.graph.tikz` for the computational and the backpropagation
graph (dot runs included).  Nothing is asserted: the numbers are for people.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import sympy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from derive.render import graph  # noqa: E402
from derive.scalar.trace import build_trace  # noqa: E402


def trace(terms: int):
    f = " + ".join(f"sin(x{1 + i % 3} + {i})*x{1 + (i + 1) % 3}" for i in range(terms))
    return build_trace({"x1": sympy.Integer(1), "x2": sympy.Integer(2), "x3": sympy.Integer(3)},
                       {"y": f, "z": "x1*x2"})


def main() -> None:
    print(f"GRAPH_NODE_LIMIT = {graph.GRAPH_NODE_LIMIT}; dot: {graph.dot_program() or 'missing'}")
    for terms in (12, 25, graph.GRAPH_NODE_LIMIT // 4 - 1):
        t = trace(terms)
        for adjoint in (False, True):
            start = time.perf_counter()
            graph.tikz(t, adjoint=adjoint)
            print(f"{len(t.nodes):5d} nodes  {'adjoint' if adjoint else 'graph  '}  {time.perf_counter() - start:6.2f} s")


if __name__ == "__main__":
    main()
