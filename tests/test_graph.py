"""Graph drawings: a layered layout for any problem, with no overlapping nodes."""

import itertools
import re

import sympy

from derive.render.graph import LAYER_GAP, SLOT_GAP, dot_source, layout, mermaid, tikz
from derive.scalar.trace import build_trace


def _three_input_trace():
    return build_trace({"a": sympy.Integer(1), "b": sympy.Rational(3, 2), "c": sympy.Rational(1, 2)},
                       {"f": "a*b*c + exp(-a*c)", "g": "tanh(b) / (1 + c^2) - log(a + b)"})


def _assert_clean(trace):
    placed = layout(trace)
    points = list(placed.positions.values())
    assert len(points) == len(trace.nodes)
    for (x1, y1), (x2, y2) in itertools.combinations(points, 2):
        assert abs(x1 - x2) >= LAYER_GAP - 1e-9 or abs(y1 - y2) >= SLOT_GAP - 1e-9  # no two nodes overlap
    xs = {node.id: placed.positions[node.id][0] for node in trace.nodes}
    for name, node_id in trace.inputs:
        assert xs[node_id] == 0  # inputs on the left
    right = max(xs.values())
    for name, node_id in trace.outputs:
        assert xs[node_id] == right  # outputs on the right
    for node in trace.nodes:
        for arg in node.node_args:
            assert xs[arg] < xs[node.id]  # every edge points right
    for edge in placed.edges:  # long edges bend through free slots, never through a node
        for point in edge.points:
            assert point not in points


def test_problem1_layout(problem1):
    _assert_clean(problem1.trace)


def test_three_input_layout():
    _assert_clean(_three_input_trace())


def test_tikz_has_every_node_and_edge(problem1):
    picture = tikz(problem1.trace)
    assert picture.startswith(r"\begin{tikzpicture}") and picture.endswith(r"\end{tikzpicture}")
    for node in problem1.trace.nodes:
        assert f"({node.id})" in picture
    assert picture.count(r"\draw[e, rounded corners=4pt]") == 14  # one per argument use


def test_adjoint_tikz_labels_edges_with_local_partials(problem1):
    picture = tikz(problem1.trace, adjoint=True)
    assert r"\bar{v}_{11}" in picture
    assert r"$\cos(v_{5})$" in picture
    assert r"$\sigma(v_{1})\left(1 - \sigma(v_{1})\right)$" in picture
    assert r"\bar{y_{1}}" in picture


def test_dot_and_mermaid(problem1):
    dot = dot_source(problem1.trace)
    assert "rankdir=LR" in dot and dot.count("->") == 14 + 2
    adjoint = dot_source(problem1.trace, adjoint=True)
    assert 'label="cos(v5)"' in adjoint
    chart = mermaid(problem1.trace)
    assert chart.startswith("flowchart LR") and 'v7["v7 = v0·v6"]' in chart


def test_baydin_ids_are_valid_tikz_names():
    trace = build_trace({"x1": sympy.Integer(2), "x2": sympy.Integer(5)}, {"y": "log(x1) + x1*x2 - sin(x2)"},
                        numbering="baydin")
    picture = tikz(trace)
    assert re.search(r"\(vm1\) at", picture) and "(v-1)" not in picture


def test_matrix_graph_exports(tmp_path):
    from typer.testing import CliRunner

    from derive.cli import app

    runner = CliRunner()
    for fmt in ("dot", "tikz", "svg"):
        out = tmp_path / f"p2.{fmt}"
        result = runner.invoke(app, ["graph", "problem2", "--format", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "W1" in out.read_text()
    result = runner.invoke(app, ["graph", "problem2", "--adjoint", "--format", "dot", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2


def test_scalar_graph_png(tmp_path):
    from typer.testing import CliRunner

    from derive.cli import app

    out = tmp_path / "g.png"
    result = CliRunner().invoke(app, ["graph", "problem1", "--adjoint", "--format", "png", "-o", str(out)])
    assert result.exit_code == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
