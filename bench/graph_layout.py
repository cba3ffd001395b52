"""How long the graph drawings take as graphs grow: the measurement behind GRAPH_NODE_LIMIT.

    .venv/bin/python bench/graph_layout.py

A three-input sum of products (each term sin(xi + k)·xj: 4 nodes) with 25, 50 and 50·(limit/200)
terms; for each, the time of `render.graph.tikz` for the computational and the backpropagation
graph (dot runs included); then the built-in matrix networks (`render.graph.matrix_tikz`) with
their crossings.  Nothing is asserted: the numbers are for people.

A graph of at most CROSSING_CHECK_EDGES edges is laid out up to 2 × COLUMN_ORDERS + 2 times (each
order of the first column dot is asked for, until one has no crossing); a larger one once.
Measured on the two-core machine, loaded: 51 nodes 0.9 s (graph) and 2.5 s (adjoint: crossings
remain, so every order is tried), 103 nodes 0.1 s / 0.7 s, 199 nodes 0.2 s / 4.2 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import sympy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from derive.matrix.shapes import build_model  # noqa: E402
from derive.problems import load_problem  # noqa: E402
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
    for name in ("attention", "rnn", "mlp_batch"):
        model = build_model(load_problem(name))
        start = time.perf_counter()
        graph.matrix_tikz(model)
        spec, drawing = graph.matrix_sheet_layout(model)
        print(f"{name:>11}  {len(spec.nodes):3d} nodes  {time.perf_counter() - start:6.2f} s  "
              f"{drawing.crossings()} crossings")


if __name__ == "__main__":
    main()
