"""Drawings of the computational graph and of the backpropagation (adjoint) graph.

The layout is layered (Sugiyama style) and works for any trace: inputs in the first layer,
every other node one layer right of its furthest argument, outputs in the last layer; edges
that span several layers pass through dummy points so they never cross a node; the order
within each layer is improved by barycentre sweeps.  The same layout feeds TikZ, Graphviz DOT
and Mermaid.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..parse import latex_variable
from ..scalar.trace import Node, Term, Trace
from . import lines
from .notation import LatexNotation, TextNotation

#: Horizontal distance between layers and vertical distance between slots, in cm.
LAYER_GAP = 2.7
SLOT_GAP = 1.55
#: Approximate width of one character of an edge label (scriptsize), in cm.
LABEL_CHAR = 0.11
#: Widest drawing that fits the text block of the sheet, in cm.
MAX_WIDTH = 16.5


@dataclass(frozen=True)
class Edge:
    """An edge from argument ``source`` to ``target`` through ``points`` (dummy positions)."""

    source: str
    target: str
    position: int  # argument position in the target's partials
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Layout:
    positions: dict[str, tuple[float, float]]
    edges: tuple[Edge, ...]
    width: float
    height: float


def layout(trace: Trace, layer_gap: float = LAYER_GAP) -> Layout:
    """Place every node of ``trace`` in layers ``layer_gap`` cm apart; coordinates in cm."""
    uses = {node.id: [(p.arg, p.position) for p in node.partials] for node in trace.nodes}
    return layout_dag([n.id for n in trace.nodes], uses, {n.id for n in trace.nodes if n.is_input},
                      {node_id for _, node_id in trace.outputs}, layer_gap)


def layout_dag(order: list[str], uses: dict[str, list[tuple[str, int]]], inputs: set[str], outputs: set[str],
               layer_gap: float = LAYER_GAP) -> Layout:
    """Layered layout of any DAG given in topological ``order``; ``uses[v]`` lists the (argument,
    position) pairs of v.  ``inputs`` start the first layer; other sources (parameters) sit one
    layer left of their first consumer; ``outputs`` end in the last layer."""
    layer: dict[str, int] = {}
    for v in order:
        layer[v] = 0 if not uses[v] else 1 + max(layer[a] for a, _ in uses[v])
    last = max(layer.values())
    for v in outputs:
        if uses[v]:
            layer[v] = last
    consumers: dict[str, list[str]] = {v: [] for v in order}
    for v in order:
        for a, _ in uses[v]:
            consumers[a].append(v)
    for v in order:
        if not uses[v] and v not in inputs and consumers[v]:
            layer[v] = max(0, min(layer[c] for c in consumers[v]) - 1)

    # Chains of dummy vertices for edges longer than one layer.
    layers: list[list[str]] = [[] for _ in range(last + 1)]
    for v in order:
        layers[layer[v]].append(v)
    chains: list[tuple[str, str, int, list[str]]] = []
    preds: dict[str, list[str]] = {v: [] for layer_ in layers for v in layer_}
    succs: dict[str, list[str]] = {v: [] for v in preds}
    for v in order:
        for arg, position in uses[v]:
            chain = []
            prev = arg
            for k in range(layer[arg] + 1, layer[v]):
                dummy = f"_{arg}_{v}_{position}_{k}"
                layers[k].append(dummy)
                preds[dummy], succs[dummy] = [], []
                succs[prev].append(dummy)
                preds[dummy].append(prev)
                chain.append(dummy)
                prev = dummy
            succs[prev].append(v)
            preds[v].append(prev)
            chains.append((arg, v, position, chain))

    _order_layers(layers, preds, succs, fixed_first=bool(inputs))
    positions: dict[str, tuple[float, float]] = {}
    tallest = max(len(layer_) for layer_ in layers)
    for k, layer_ in enumerate(layers):
        offset = (tallest - len(layer_)) / 2
        for slot, v in enumerate(layer_):
            positions[v] = (k * layer_gap, -(slot + offset) * SLOT_GAP)
    edges = tuple(Edge(src, dst, pos, tuple(positions[d] for d in chain))
                  for src, dst, pos, chain in chains)
    real = {v: xy for v, xy in positions.items() if not v.startswith("_")}
    return Layout(real, edges, last * layer_gap, (tallest - 1) * SLOT_GAP)


def _order_layers(layers: list[list[str]], preds: dict, succs: dict, sweeps: int = 12,
                  fixed_first: bool = True) -> None:
    """Fewer edge crossings: barycentre sweeps, then swaps of neighbours that remove crossings.

    The first layer (the inputs) keeps the declared order, so x1 stays above x2.
    """

    def crossings_between(upper: list[str], lower: list[str]) -> int:
        slot = {v: i for i, v in enumerate(lower)}
        pairs = sorted((i, slot[w]) for i, v in enumerate(upper) for w in succs[v])
        return sum(1 for a in range(len(pairs)) for b in range(a + 1, len(pairs))
                   if pairs[a][0] < pairs[b][0] and pairs[a][1] > pairs[b][1])

    def crossings() -> int:
        return sum(crossings_between(layers[k], layers[k + 1]) for k in range(len(layers) - 1))

    def local(k: int) -> int:
        return ((crossings_between(layers[k - 1], layers[k]) if k > 0 else 0)
                + (crossings_between(layers[k], layers[k + 1]) if k + 1 < len(layers) else 0))

    best, best_cost = [list(layer_) for layer_ in layers], crossings()
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        indices = range(1, len(layers)) if downward else range(len(layers) - 2, 0, -1)
        for k in indices:
            ref = layers[k - 1] if downward else layers[k + 1]
            slot = {v: i for i, v in enumerate(ref)}
            neighbours = preds if downward else succs

            def key(item, slot=slot, neighbours=neighbours):
                i, v = item
                near = [slot[w] for w in neighbours[v] if w in slot]
                return (sum(near) / len(near) if near else i, i)

            layers[k][:] = [v for _, v in sorted(enumerate(layers[k]), key=key)]
        cost = crossings()
        if cost < best_cost:
            best, best_cost = [list(layer_) for layer_ in layers], cost
    layers[:] = best
    if sum(len(layer_) for layer_ in layers) > 400:
        return  # the swaps below are quadratic; large traces keep the barycentre order
    improved = True
    while improved:
        improved = False
        for k in range(1, len(layers)):
            for i in range(len(layers[k]) - 1):
                before = local(k)
                layers[k][i], layers[k][i + 1] = layers[k][i + 1], layers[k][i]
                if local(k) < before:
                    improved = True
                else:
                    layers[k][i], layers[k][i + 1] = layers[k][i + 1], layers[k][i]


# -- TikZ -----------------------------------------------------------------------------------
def _tikz_node_label(node: Node, adjoint: bool) -> str:
    name = LatexNotation().bar(node.id) if adjoint else node.latex_name
    detail = LatexNotation().var(node.input_name) if node.is_input else node.latex
    return rf"${name}$\\[-1pt]{{\scriptsize ${detail}$}}"


def tikz(trace: Trace, adjoint: bool = False, digits: int = 3) -> str:
    """A tikzpicture of the graph; ``adjoint`` reverses the edges and labels them ∂vj/∂vi."""
    nt = LatexNotation(digits)
    labels = {}  # (consumer, position) -> (LaTeX label, its length in characters as text)
    if adjoint:
        for node in trace.nodes:
            for p in node.partials:
                term = Term(node, p, 0.0)
                labels[node.id, p.position] = (lines.partial_formula(term, nt),
                                               len(lines.partial_formula(term, TextNotation())))
    longest = max((n for _, n in labels.values()), default=0)
    placed = layout(trace, max(LAYER_GAP, LABEL_CHAR * longest + 1.6))
    scale = min(1.0, MAX_WIDTH / (placed.width + 4.0))
    out = [rf"\begin{{tikzpicture}}[scale={scale:.3f}, every node/.style={{transform shape}}, "
           r"v/.style={draw, rounded corners=3pt, align=center, inner sep=2pt, minimum width=9mm, fill=white},"
           r" inp/.style={v, fill=blue!6}, outp/.style={v, fill=orange!10},"
           r" e/.style={-{Stealth[length=2mm]}, thick, draw=black!70},"
           r" p/.style={font=\scriptsize, inner sep=1.5pt}]"]
    outputs = dict((node_id, name) for name, node_id in trace.outputs)
    for node in trace.nodes:
        x, y = placed.positions[node.id]
        style = "inp" if node.is_input else "outp" if node.id in outputs else "v"
        out.append(rf"\node[{style}] ({_tikz_id(node.id)}) at ({x:.2f},{y:.2f}) {{{_tikz_node_label(node, adjoint)}}};")
    for node_id, name in outputs.items():
        x, y = placed.positions[node_id]
        label = rf"\bar{{{nt.var(name)}}}" if adjoint else nt.var(name)
        out.append(rf"\node (out-{_tikz_id(node_id)}-{name}) at ({x + 1.6:.2f},{y:.2f}) {{${label}$}};")
        if adjoint:
            out.append(rf"\draw[e] (out-{_tikz_id(node_id)}-{name}) -- ({_tikz_id(node_id)});")
        else:
            out.append(rf"\draw[e] ({_tikz_id(node_id)}) -- (out-{_tikz_id(node_id)}-{name});")
    for edge in placed.edges:
        source, target = _tikz_id(edge.source), _tikz_id(edge.target)
        points = [f"({x:.2f},{y:.2f})" for x, y in edge.points]
        if not adjoint:
            path = " -- ".join([f"({source})", *points, f"({target})"])
            out.append(rf"\draw[e, rounded corners=4pt] {path};")
            continue
        label, length = labels[edge.target, edge.position]
        # Short labels sit near the consumer, clear of crossings in mid-gap; long ones mid-edge.
        pos = 0.3 if length <= 5 else 0.5
        hops = [f"({target})", *reversed(points), f"({source})"]
        first = f"{hops[0]} -- node[p, sloped, above, pos={pos}] {{${label}$}} {hops[1]}"
        path = " -- ".join([first, *hops[2:]])
        out.append(rf"\draw[e, rounded corners=4pt] {path};")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def _tikz_id(node_id: str) -> str:
    return node_id.replace("-", "m")


# -- Graphviz and Mermaid -----------------------------------------------------------------------
def dot_source(trace: Trace, adjoint: bool = False, digits: int = 3) -> str:
    """Graphviz DOT of the graph (left to right), quoted with the graphviz package."""
    import graphviz

    nt = TextNotation(digits)
    graph = graphviz.Digraph("adjoint" if adjoint else "graph",
                             graph_attr={"rankdir": "LR", "nodesep": "0.35", "ranksep": "0.6"},
                             node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "white",
                                        "fontname": "Helvetica"})
    outputs = {node_id: name for name, node_id in trace.outputs}
    for node in trace.nodes:
        name = nt.bar(node.id) if adjoint else node.id
        detail = node.input_name if node.is_input else nt.code(node.text)
        fill = "#e8ecfb" if node.is_input else "#fff0dc" if node.id in outputs else "white"
        graph.node(node.id, f"{name}\n{detail}", fillcolor=fill)
    for node_id, name in outputs.items():
        graph.node(f"out_{name}", ("ȳ " if adjoint else "") + name, shape="plaintext", style="")
        if adjoint:
            graph.edge(f"out_{name}", node_id)
        else:
            graph.edge(node_id, f"out_{name}")
    for node in trace.nodes:
        for p in node.partials:
            if adjoint:
                label = lines.partial_formula(Term(node, p, 0.0), nt)
                graph.edge(node.id, p.arg, label=label, fontsize="10")
            else:
                graph.edge(p.arg, node.id)
    return graph.source


def mermaid(trace: Trace, adjoint: bool = False, digits: int = 3) -> str:
    """A Mermaid flowchart of the graph, for Markdown sheets."""
    nt = TextNotation(digits)
    out = ["flowchart LR"]
    for node in trace.nodes:
        name = nt.bar(node.id) if adjoint else node.id
        detail = node.input_name if node.is_input else nt.code(node.text)
        out.append(f'    {_tikz_id(node.id)}["{name} = {detail}"]')
    for name, node_id in trace.outputs:
        out.append(f'    out_{name}(["{name}"])')
        out.append(f"    out_{name} --> {_tikz_id(node_id)}" if adjoint else f"    {_tikz_id(node_id)} --> out_{name}")
    for node in trace.nodes:
        for p in node.partials:
            if adjoint:
                label = lines.partial_formula(Term(node, p, 0.0), nt).replace('"', "'")
                out.append(f'    {_tikz_id(node.id)} -- "{label}" --> {_tikz_id(p.arg)}')
            else:
                out.append(f"    {_tikz_id(p.arg)} --> {_tikz_id(node.id)}")
    return "\n".join(out)


# -- matrix problems: nodes are collections of values ----------------------------------------------
def matrix_layout(model) -> Layout:
    order = [*model.variables, *(name for name, _ in model.equations)]
    uses = {v: [] for v in model.variables}
    for name, e in model.equations:
        seen: list[str] = []
        _collect_names(e, seen)
        uses[name] = [(arg, position) for position, arg in enumerate(seen)]
    inputs = {model.variables[0]} if model.variables else set()
    return layout_dag(order, uses, inputs, {model.problem.loss}), uses


def _collect_names(e, seen: list[str]) -> None:
    for node in e.walk():
        if node.op == "var" and node.data not in seen:
            seen.append(node.data)


def matrix_tikz(model) -> str:
    """The graph of a matrix problem: the first variable is the input, the others are parameters."""
    from .matrix import shape_latex

    placed, uses = matrix_layout(model)
    scale = min(1.0, MAX_WIDTH / (placed.width + 3.0))
    out = [rf"\begin{{tikzpicture}}[scale={scale:.3f}, every node/.style={{transform shape}}, "
           r"v/.style={draw, rounded corners=3pt, align=center, inner sep=3pt, minimum width=10mm, fill=white},"
           r" inp/.style={v, fill=blue!6}, par/.style={v, draw=black!45, fill=black!4, font=\small},"
           r" outp/.style={v, fill=orange!10}, e/.style={-{Stealth[length=2mm]}, thick, draw=black!70}]"]
    first = model.variables[0] if model.variables else None
    for v, (x, y) in placed.positions.items():
        style = "inp" if v == first else "par" if v in model.problem.variables else \
            "outp" if v == model.problem.loss else "v"
        shape = model.shapes[v]
        label = rf"${latex_variable(v)}$\\[-1pt]{{\scriptsize ${shape_latex(shape)}$}}"
        out.append(rf"\node[{style}] ({v}) at ({x:.2f},{y:.2f}) {{{label}}};")
    for edge in placed.edges:
        points = [f"({x:.2f},{y:.2f})" for x, y in edge.points]
        out.append(rf"\draw[e, rounded corners=4pt] {' -- '.join([f'({edge.source})', *points, f'({edge.target})'])};")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def matrix_mermaid(model) -> str:
    """The graph of a matrix problem as a Mermaid flowchart."""
    out = ["flowchart LR"]
    for v in model.variables:
        out.append(f'    {v}[/"{v}"/]')
    for name, e in model.equations:
        out.append(f'    {name}["{name}"]')
        seen: list[str] = []
        _collect_names(e, seen)
        out.extend(f"    {arg} --> {name}" for arg in seen)
    return "\n".join(out)


def matrix_dot(model) -> str:
    """Graphviz DOT of a matrix problem's graph."""
    import graphviz

    graph = graphviz.Digraph("network", graph_attr={"rankdir": "LR"},
                             node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "white",
                                        "fontname": "Helvetica"})
    for v in model.variables:
        graph.node(v, f"{v}\n{model.shapes[v][0]}×{model.shapes[v][1]}", fillcolor="#eeeeee")
    for name, e in model.equations:
        graph.node(name, f"{name}\n{e.shape[0]}×{e.shape[1]}",
                   fillcolor="#fff0dc" if name == model.problem.loss else "white")
        seen: list[str] = []
        _collect_names(e, seen)
        for arg in seen:
            graph.edge(arg, name)
    return graph.source
