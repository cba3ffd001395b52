"""Drawings of the computational graph and of the backpropagation (adjoint) graph.

Graphviz's ``dot`` lays the graphs out: one description of every node and edge (its TeX and
text labels, and the size its TeX label will take on the sheet) gives the DOT source; ``dot
-Tjson0`` returns node positions, edge splines and edge-label positions, and the TikZ picture
draws exactly that (nodes at dot's positions, edges along its Bézier splines, labels where dot
reserved room for them).  So the PDF, ``derive graph --format svg/png`` and the order of the
Markdown's Mermaid chart tell the same picture.  Graphviz is a declared dependency (``make``
installs it): where a drawing is needed and ``dot`` is missing, fails or times out, a ReportError
says so and how to install it; only the Mermaid chart, which lays itself out, does without.
Graphs above ``GRAPH_NODE_LIMIT`` nodes are not drawn at all.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, replace

from ..errors import LimitError, ReportError
from ..parse import latex_variable, text_variable
from ..scalar.trace import Term, Trace
from . import lines
from .matrix import shape_latex
from .notation import LatexNotation, TextNotation

#: Widest and tallest drawing that fits the text block of the sheet, in cm.
MAX_WIDTH = 16.5
#: Edge labels are at least this size (pt) once the drawing is scaled to fit the page.
MIN_LABEL_PT = 7.0
_SCRIPT_PT = 8.0  # \scriptsize of an 11pt sheet
MAX_HEIGHT = 21.0
#: Most nodes drawn.  Measured (bench/graph_layout.py, a 3-input sum of products): dot lays out
#: the adjoint graph of 100 nodes in 0.2 s, of 200 in 1.6 s, of 300 in 5 s and of 400 in over a
#: minute (with the effort limits below); a drawing of 200 nodes is at the edge of readable on a page.
GRAPH_NODE_LIMIT = 200
#: Above this many nodes dot spends less effort on crossings and coordinates (nslimit, mclimit).
LARGE_GRAPH = 100
#: Seconds dot may take before the drawing is given up (a ReportError).
DOT_TIMEOUT = 20
#: Most edges for which the input order is weighed against crossings (counting them is quadratic).
CROSSING_CHECK_EDGES = 120
_BP_PER_CM = 72 / 2.54


# -- what is drawn: one description for dot, TikZ and Mermaid --------------------------------------
@dataclass(frozen=True)
class GraphNode:
    key: str  # the node's id (DOT name; TikZ name after _tikz_id)
    tex: str  # TeX content of the node (a tabular of the name over the detail)
    text: str  # the same as plain text (DOT label for svg/png, Mermaid)
    style: str  # inp, v, outp, par or yname (an output's name, no frame)
    width: float  # bp
    height: float  # bp


@dataclass(frozen=True)
class GraphEdge:
    key: str  # DOT edge id
    tail: str  # ranked from tail to head (inputs left)...
    head: str
    back: bool  # ...but the arrow points back to the tail (adjoint edges)
    tex: str = ""  # TeX label ("" for none)
    text: str = ""
    width: float = 0.0  # bp, room reserved for the label
    height: float = 0.0


@dataclass(frozen=True)
class GraphSpec:
    name: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    label_pt: float = _SCRIPT_PT  # the edge labels' font size before the drawing is scaled


@dataclass(frozen=True)
class Box:
    """An axis-aligned box by its centre and size (bp)."""

    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Box, margin: float = 0.0) -> bool:
        return (abs(self.x - other.x) * 2 < self.width + other.width - 2 * margin
                and abs(self.y - other.y) * 2 < self.height + other.height - 2 * margin)

    def contains(self, point: tuple[float, float]) -> bool:
        return abs(point[0] - self.x) * 2 < self.width and abs(point[1] - self.y) * 2 < self.height


@dataclass(frozen=True)
class DrawnEdge:
    edge: GraphEdge
    points: tuple[tuple[float, float], ...]  # Bézier chain p0 c c p1 c c p2 ..., in drawing direction
    tip: tuple[float, float]  # where the arrowhead ends
    label: Box | None


@dataclass(frozen=True)
class Drawing:
    """dot's layout of a GraphSpec (coordinates in bp, y upwards)."""

    nodes: dict[str, Box]
    edges: tuple[DrawnEdge, ...]
    width: float
    height: float
    source: str  # the DOT source laid out, so svg/png draw this very layout
    request: DotRequest | None = None  # what dot was asked for
    score: tuple[int, ...] = ()  # (overlaps, crossings, nodes far from their step, orders reversed)
    origin: tuple[float, float] = (0.0, 0.0)  # the lower left corner of dot's bounding box

    def crossings(self) -> int:
        """Points where two edges cross, away from the nodes they both end at."""
        return count_crossings([[*e.points, e.tip] for e in self.edges], list(self.nodes.values()))

    def overlaps(self) -> int:
        """Pairs of boxes (nodes, labels) that overlap, edges through another edge's label, and
        labels that do not sit on their own edge."""
        labels = [e.label for e in self.edges if e.label is not None]
        boxes = [*self.nodes.values(), *labels]
        count = sum(1 for a, b in itertools.combinations(boxes, 2) if a.overlaps(b))
        lines_ = [bezier_points([*e.points, e.tip]) for e in self.edges]
        for k, item in enumerate(self.edges):
            if item.label is not None:
                count += _struck(item.label, lines_[:k] + lines_[k + 1:])
                count += not _on(lines_[k], item.label)
        return count

    def with_labels_on_edges(self) -> Drawing:
        """The drawing with each label on its own edge (drawn on a white ground over it): centred
        on the edge at the first place, from its middle out, where the label meets no node, no
        other label and no other edge, else beside it with the edge through its margin.  dot sets
        a label beside its edge, where it may sit as near another edge as its own; a label no
        such place fits keeps dot's place (and counts as an overlap)."""
        lines_ = [bezier_points([*e.points, e.tip]) for e in self.edges]
        edges = list(self.edges)
        for k, item in enumerate(edges):
            if item.label is None:
                continue
            others = [*self.nodes.values(), *(e.label for j, e in enumerate(edges) if j != k and e.label)]
            rest = lines_[:k] + lines_[k + 1:]
            own, (w, h) = lines_[k], (item.label.width, item.label.height)
            middle = (len(own) - 1) / 2
            places = [p for _, p in sorted(enumerate(own[1:-1], 1), key=lambda ip: abs(ip[0] - middle))]
            dy, dx = h / 2 - LABEL_PAD / 2, w / 2 - LABEL_PAD / 2  # the edge through the margin
            shifts = ((0, 0), (0, dy), (0, -dy), (dx, 0), (-dx, 0))
            found = next((box for sx, sy in shifts for x, y in places for box in [Box(x + sx, y + sy, w, h)]
                          if not _struck(box, rest) and not any(box.overlaps(o) for o in others)), None)
            if found is not None:
                edges[k] = DrawnEdge(item.edge, item.points, item.tip, found)
        return replace(self, edges=tuple(edges))


def _on(line: list[tuple[float, float]], box: Box) -> bool:
    """Whether the polyline ``line`` runs through ``box``."""
    return any(_meets(p, q, box) for p, q in zip(line, line[1:]))


def text_box(label: Box) -> Box:
    """The text of a label: its box less the padding (its own edge may run through the padding).
    The white ground under a label covers this, so it hides no other edge."""
    return Box(label.x, label.y, label.width - 2 * LABEL_PAD + 1, label.height - 2 * LABEL_PAD + 1)


def _struck(label: Box, lines_: list[list[tuple[float, float]]]) -> int:
    """How many of ``lines_`` run through the text of ``label`` (``text_box``)."""
    text = text_box(label)
    x0, x1 = text.x - text.width / 2, text.x + text.width / 2
    y0, y1 = text.y - text.height / 2, text.y + text.height / 2
    count = 0
    for line in lines_:
        for p, q in zip(line, line[1:]):
            if (p[0] < x0 and q[0] < x0) or (p[0] > x1 and q[0] > x1) or (p[1] < y0 and q[1] < y0) \
                    or (p[1] > y1 and q[1] > y1):
                continue  # the segment's box misses the text
            if _meets(p, q, text):
                count += 1
                break
    return count


def _meets(p: tuple[float, float], q: tuple[float, float], box: Box) -> bool:
    """Whether segment pq touches the inside of ``box``."""
    if box.contains(p) or box.contains(q):
        return True
    x0, x1 = box.x - box.width / 2, box.x + box.width / 2
    y0, y1 = box.y - box.height / 2, box.y + box.height / 2
    if max(p[0], q[0]) < x0 or min(p[0], q[0]) > x1 or max(p[1], q[1]) < y0 or min(p[1], q[1]) > y1:
        return False
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return any(segments_cross(p, q, a, b) for a, b in zip(corners, corners[1:] + corners[:1]))


# -- measures of a drawing: crossings (the tests also count overlaps with these) ----------------------
def bezier_points(chain: list[tuple[float, float]], steps: int = 16) -> list[tuple[float, float]]:
    """Points along a Bézier chain p0 c c p1 c c p2 ... (points after the chain join it straight)."""
    out = [chain[0]]
    k = 0
    while k + 3 < len(chain):
        p0, p1, p2, p3 = chain[k:k + 4]
        for i in range(1, steps + 1):
            t = i / steps
            u = 1 - t
            out.append((u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
                        u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1]))
        k += 3
    out.extend(chain[k + 1:])
    return out


def _orient(a, b, c) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def segments_cross(p, q, r, s) -> bool:
    """Whether segments pq and rs cross (properly, not at an end)."""
    return _orient(r, s, p) * _orient(r, s, q) < 0 and _orient(p, q, r) * _orient(p, q, s) < 0


def _side(a, b, c) -> int:
    """Which side of line ab point c lies on, a point on the line counted as the right side (so
    two polylines that cross exactly at a sample point of both cross once, not never)."""
    return 1 if _orient(a, b, c) > 0 else -1


def count_crossings(paths: list[list[tuple[float, float]]], node_boxes: list[Box], near: float = 8.0) -> int:
    """Points where two edges (Bézier chains) cross, each once, not counting meetings within
    ``near`` bp of a node both edges end at (they share that end).  An edge that runs over
    another's end at a node it does not touch crosses it; two edges dot routes through one
    point, one from below to above the other, cross there (in a three-input problem v5 → v6
    and v10 → v11 both pass through (97, 174) and were counted as not crossing)."""
    lines_ = [bezier_points(path) for path in paths]

    def touches(n: Box, point: tuple[float, float]) -> bool:
        return abs(point[0] - n.x) < n.width / 2 + near and abs(point[1] - n.y) < n.height / 2 + near

    ends = [{k for k, n in enumerate(node_boxes) if touches(n, line[0]) or touches(n, line[-1])} for line in lines_]
    extents = [(min(x for x, _ in line), max(x for x, _ in line), min(y for _, y in line), max(y for _, y in line))
               for line in lines_]
    found: list[tuple[float, float]] = []
    for i, j in itertools.combinations(range(len(lines_)), 2):
        (ax0, ax1, ay0, ay1), (bx0, bx1, by0, by1) = extents[i], extents[j]
        if ax1 < bx0 or bx1 < ax0 or ay1 < by0 or by1 < ay0:
            continue
        a, b = lines_[i], lines_[j]
        for p, q in zip(a, a[1:]):
            px0, px1, py0, py1 = min(p[0], q[0]), max(p[0], q[0]), min(p[1], q[1]), max(p[1], q[1])
            if px1 < bx0 or px0 > bx1 or py1 < by0 or py0 > by1:
                continue
            for r, s in zip(b, b[1:]):
                if (r[0] < px0 and s[0] < px0) or (r[0] > px1 and s[0] > px1) or (r[1] < py0 and s[1] < py0) \
                        or (r[1] > py1 and s[1] > py1) or _side(r, s, p) == _side(r, s, q) \
                        or _side(p, q, r) == _side(p, q, s):
                    continue
                where = ((p[0] + q[0] + r[0] + s[0]) / 4, (p[1] + q[1] + r[1] + s[1]) / 4)
                if any(touches(node_boxes[k], where) for k in ends[i] & ends[j]):
                    continue
                if all(abs(where[0] - x) + abs(where[1] - y) > 4 for x, y in found):
                    found.append(where)
    return len(found)


# -- sizes of TeX labels, estimated from their text so dot reserves the room ---------------------
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}^_]|\S")
_SPACES = {r"\,": 0.17, r"\:": 0.22, r"\;": 0.28, r"\!": -0.17, r"\quad": 1.0, r"\qquad": 2.0}
_OPERATORS = {r"\cdot", r"\times", r"\circ", r"\odot", r"\pm", r"\to", r"\le", r"\ge"}
_WRAPPERS = {r"\mathrm", r"\mathbf", r"\operatorname", r"\mathit", r"\overline", r"\bar", r"\hat",
             r"\text", r"\boldsymbol", r"\mathbb", r"\widetilde", r"\tilde"}


def tex_size(tex: str) -> tuple[float, bool]:
    """Estimated width (in em of the font it is set in) of inline maths ``tex``, and whether it
    holds a fraction (a taller label).  Errs on the wide side; the picture also shrinks any label
    that would still be wider than its room (``\\derivefit``)."""
    tokens = _TOKEN.findall(tex)
    pos = 0
    tall = False

    def atom() -> float:
        nonlocal pos, tall
        if pos >= len(tokens):
            return 0.0
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            width = 0.0
            while pos < len(tokens) and tokens[pos] != "}":
                width += item()
            pos += 1
            return width
        if tok in (r"\frac", r"\dfrac", r"\tfrac"):
            tall = True
            return max(atom(), atom()) * 0.75 + 0.3
        if tok in (r"\left", r"\right", r"\big", r"\Big", r"\bigl", r"\bigr"):
            atom()
            return 0.45
        if tok == r"\sqrt":
            return atom() + 0.9
        if tok in _WRAPPERS:
            return atom()
        if tok in _SPACES:
            return _SPACES[tok]
        if tok in _OPERATORS:
            return 1.0
        if tok.startswith("\\") and len(tok) > 2:
            name = tok[1:]
            # \sin, \exp, \tanh ... are upright words; Greek letters and symbols one glyph.
            return 0.5 * len(name) + 0.2 if name in _WORDS else 0.65
        if tok in "+-=<>":
            return 1.25
        if tok in "()[]|":
            return 0.4
        if tok in ",;.":
            return 0.3
        if tok.isdigit():
            return 0.5
        return 0.6

    def item() -> float:
        nonlocal pos
        width = atom()
        while pos < len(tokens) and tokens[pos] in "^_":
            pos += 1
            width += atom() * 0.72
        return width

    total = 0.0
    while pos < len(tokens):
        if tokens[pos] == "}":
            pos += 1
            continue
        total += item()
    return total, tall


#: TeX control words typeset as upright words (\sin, \max, \operatorname), for the width guess of
#: a label: TeX's vocabulary, not the function table (\sigma is one glyph, relu is never a control
#: word and does no harm here); tests/test_functions.py's allow-list names it.
_WORDS = {"sin", "cos", "tan", "exp", "log", "ln", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan",
          "sqrt", "max", "min", "sgn", "operatorname", "mathrm", "sec", "csc", "cot", "softplus", "relu",
          "diag", "sum", "det", "tr"}
#: Font sizes (pt) of the 11pt sheet: \normalsize and \scriptsize.
_NORMAL, _SCRIPT = 10.95, 8.0


def _node_size(name: str, detail: str, grow: float = 1.0) -> tuple[float, float]:
    name_w, _ = tex_size(name)
    detail_w, tall = tex_size(detail)
    width = max(name_w * _NORMAL, detail_w * _SCRIPT) * 1.15 * grow + 10
    return max(width, 26.0 * grow), (34.0 if tall else 28.0) * grow


#: Room kept free around an edge label's text on each side (bp), so no edge grazes it.
LABEL_PAD = 3.0


def _label_size(tex: str, points: float = _SCRIPT_PT) -> tuple[float, float]:
    width, tall = tex_size(tex)
    grow = points / _SCRIPT_PT
    return width * points * 1.08 + 2 * LABEL_PAD, (16.0 if tall else 9.0) * grow + 2 * LABEL_PAD


def _node_tex(name: str, detail: str, grow: float = 1.0) -> str:
    """A node's name over its detail (\\scriptsize), both ``grow`` times their sheet size."""
    # \arraystretch of 1: the sheet's tables stretch theirs, which would make nodes taller than dot's.
    if grow == 1.0:
        small = r"\scriptsize"
        big = ""
    else:
        small = rf"\fontsize{{{_SCRIPT * grow:.2f}bp}}{{{1.2 * _SCRIPT * grow:.2f}bp}}\selectfont"
        big = rf"\fontsize{{{_NORMAL * grow:.2f}bp}}{{{1.2 * _NORMAL * grow:.2f}bp}}\selectfont"
    return (rf"\def\arraystretch{{1}}{big}\begin{{tabular}}{{@{{}}c@{{}}}}${name}$\\[1pt]{{{small} ${detail}$}}"
            r"\end{tabular}")


# -- the scalar graphs and the matrix graph as GraphSpecs --------------------------------------------
def scalar_spec(trace: Trace, adjoint: bool = False, digits: int = 3, label_pt: float = _SCRIPT_PT) -> GraphSpec:
    """The computational graph, or with ``adjoint`` the backpropagation graph (edges point from
    a node to its arguments and carry the local partial ∂vj/∂vi)."""
    lt, tx = LatexNotation(digits), TextNotation(digits)
    outputs = dict((node_id, name) for name, node_id in trace.outputs)
    nodes, edges = [], []
    for node in trace.nodes:
        name = lt.bar(node.id) if adjoint else node.latex_name
        detail = lt.var(node.input_name) if node.is_input else node.latex
        text = f"{tx.bar(node.id) if adjoint else node.id}\n{node.input_name if node.is_input else tx.code(node.text)}"
        style = "inp" if node.is_input else "outp" if node.id in outputs else "v"
        nodes.append(GraphNode(node.id, _node_tex(name, detail), text, style, *_node_size(name, detail)))
    for node_id, name in outputs.items():
        tex = rf"\bar{{{lt.var(name)}}}" if adjoint else lt.var(name)
        width, _ = tex_size(tex)
        nodes.append(GraphNode(f"out>{name}", f"${tex}$", (name[0] + "\u0304" + name[1:]) if adjoint else name, "yname",
                               width * _NORMAL + 8, 18.0))
        edges.append(GraphEdge(f"out>{name}", node_id, f"out>{name}", adjoint))
    for node in trace.nodes:
        for p in node.partials:
            key = f"{node.id}:{p.position}"
            if adjoint:
                term = Term(node, p, 0.0)
                tex = lines.partial_formula(term, lt)
                text = lines.partial_formula(term, tx)
                width, height = _label_size(tex, label_pt)
                width = max(width, len(text) * 4.5 * label_pt / _SCRIPT_PT + 2 * LABEL_PAD)  # the svg's text too
                edges.append(GraphEdge(key, p.arg, node.id, True, tex, text, width, height))
            else:
                edges.append(GraphEdge(key, p.arg, node.id, False))
    return GraphSpec("adjoint" if adjoint else "graph", tuple(nodes), tuple(edges), label_pt)


def matrix_style(model, v: str) -> str:
    """How a matrix problem's node is drawn: ``inp`` the first variable (the input, drawn first),
    ``par`` a parameter (a variable the gradients are asked for), ``dat`` other data (later
    inputs, targets, initial states, constants: coloured as inputs, placed where they are used),
    ``outp`` the loss, ``v`` a computed node."""
    if v in model.problem.variables:
        first = model.variables[0] if model.variables else None
        return "inp" if v == first else "par" if v in model.problem.wrt else "dat"
    return "outp" if v == model.problem.loss else "v"


def matrix_spec(model, grow: float = 1.0) -> GraphSpec:
    """The graph of a matrix problem, styled by matrix_style; ``grow`` sets the nodes' text larger
    (a drawing the page shrinks keeps its shapes at MIN_LABEL_PT or more: matrix_sheet_layout)."""
    nodes, edges = [], []
    for v in [*model.variables, *(name for name, _ in model.equations)]:
        style = matrix_style(model, v)
        rows, cols = model.shapes[v]
        name, detail = latex_variable(v), shape_latex(model.shapes[v])
        nodes.append(GraphNode(v, _node_tex(name, detail, grow), f"{v}\n{rows}×{cols}", style,
                               *_node_size(name, detail, grow)))
    for name, e in model.equations:
        seen: list[str] = []
        _collect_names(e, seen)
        edges.extend(GraphEdge(f"{name}:{k}", arg, name, False) for k, arg in enumerate(seen))
    return GraphSpec("network", tuple(nodes), tuple(edges), _SCRIPT_PT * grow)


def check_size(count: int) -> None:
    """Refuse to draw a graph of more than GRAPH_NODE_LIMIT nodes."""
    if count > GRAPH_NODE_LIMIT:
        raise LimitError(f"the graph has {count} nodes, more than the {GRAPH_NODE_LIMIT} that are drawn",
                         hint="derive solve or report give the tables; split the problem to draw it")


# -- DOT, and dot's layout ----------------------------------------------------------------------------
_FILLS = {"inp": "#e8ecfb", "dat": "#e8ecfb", "outp": "#fff0dc", "par": "#eeeeee", "v": "white"}
#: Weight of the edge from a parameter or data node used once to its consumer: dot keeps that
#: edge short and straight, so x3 is drawn beside the step that reads it.
NEAR_WEIGHT = 5


@dataclass(frozen=True)
class DotRequest:
    """One layout dot is asked for: the first column (top to bottom, kept in that order when
    ``ordered``), the outputs' names in order or not, nodes whose edges are drawn one column
    longer (a fan of three or more edges then spreads round the nodes beside it), and shared
    parameters drawn beside the first node that uses them."""

    column: tuple[str, ...]
    ordered: bool = True
    ordered_outputs: bool = True
    spread: frozenset[str] = frozenset()
    beside: frozenset[str] = frozenset()  # drawn in the column of their first consumer, above it
    straight: tuple[tuple[str, ...], ...] = ()  # paths dot keeps straight (one group each)
    follow: tuple[str, ...] = ()  # another drawing's nodes top to bottom: each node's edges in that order


def _consumers(spec: GraphSpec) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {node.key: [] for node in spec.nodes}
    for edge in spec.edges:
        if edge.head in out and edge.tail in out and edge.head not in out[edge.tail]:
            out[edge.tail].append(edge.head)
    return out


def first_column(spec: GraphSpec) -> tuple[str, ...]:
    """The nodes of the first column in declared order: the inputs, and the parameters and data
    whose earliest consumer reads only such nodes (W, U, b, h0 beside x1 in the rnn)."""
    consumers = _consumers(spec)
    fed = {edge.head for edge in spec.edges}
    sources = [node.key for node in spec.nodes if node.key not in fed]
    reads: dict[str, set[str]] = {}
    for edge in spec.edges:
        reads.setdefault(edge.head, set()).add(edge.tail)
    inputs, placed = [node.key for node in spec.nodes if node.style == "inp"], set(sources)
    firsts = [key for key in sources if key not in inputs and any(reads[c] <= placed for c in consumers[key])]
    return (*inputs, *firsts)


#: Most orders of the first column dot is asked for (each is up to three dot runs: the outputs'
#: names in one last column, or where dot puts them, or with straight paths to them).
COLUMN_ORDERS = 6


def _shortest_path(spec: GraphSpec, start: str, end: str, lowest: bool = False) -> tuple[str, ...]:
    """The nodes of a shortest path from ``start`` to ``end`` along the edges, or () when there is
    none: of several, the one through the earliest declared consumers (drawn highest), or with
    ``lowest`` through the latest."""
    consumers = {key: users[::-1] if lowest else users for key, users in _consumers(spec).items()}
    came_from = {start: start}
    frontier = [start]
    while frontier and end not in came_from:
        reached = []
        for key in frontier:
            for consumer in consumers[key]:
                if consumer not in came_from:
                    came_from[consumer] = key
                    reached.append(consumer)
        frontier = reached
    if end not in came_from:
        return ()
    path = [end]
    while path[-1] != start:
        path.append(came_from[path[-1]])
    return tuple(path[::-1])


def straight_paths(spec: GraphSpec, column: tuple[str, ...]) -> list[tuple[tuple[str, ...], ...]]:
    """Sets of paths dot may be asked to draw straight so the outputs' names keep the inputs' order
    although they sit in different columns: a shortest path from the first input of ``column`` to
    the first output's name (through the highest nodes) with one from the last input to the last
    output's name through the lowest nodes, or through the highest (each where it shares no node
    with the first).

    problem1's y2 ends in the third column and y1 in the last.  No drawing without a crossing has
    both names in one column in order: x1 → v9 → v11 → y2 and x2 → v4 → … → v8 → y1 share no node
    (with x1 above x2), as do x2 → v9 → v11 → y2 and x1 → v7 → v8 → y1 (with x2 above x1).  But
    x1 → v7 → v8 → y1 drawn straight along the top puts y1 above y2."""
    styles = {node.key: node.style for node in spec.nodes}
    inputs = [key for key in column if styles[key] == "inp"]
    outputs = [node.key for node in spec.nodes if node.style == "yname"]
    if not inputs or len(outputs) < 2:
        return []
    first = _shortest_path(spec, inputs[0], outputs[0])
    if not first:
        return []
    found = [(first,)]
    for lowest in (True, False):
        last = _shortest_path(spec, inputs[-1], outputs[-1], lowest) if len(inputs) > 1 else ()
        if last and not set(last) & set(first):
            found.append((first, last))
    return list(dict.fromkeys(found[1:] or found))


def _requests(spec: GraphSpec) -> list[DotRequest]:
    """The layouts dot is asked for, in order of preference (a fixed list: at most 4 × 8 + 2).

    Each order of the first column is asked for with the outputs' names in one last column in
    order (y1 above y2), with them where dot puts them, and with straight paths from the inputs to
    them (``straight_paths``); then dot orders the inputs itself.  A scalar graph's first column
    is its inputs: the declared order, then the others.  A matrix graph's first column also holds
    parameters and data: the statement's order, then the parameters shared by several steps on
    alternate sides of the inputs (the rnn's W above, U below, b above: two fans on one side
    cross each other), and mirrored, then each of the first three shared parameters drawn above
    the first node that uses it (the rnn's W over a1: one crossing, the fewest its K3,3 allows);
    then the inputs alone with a fan of three or more spread one column further (attention's X
    reaching Q, K and V round Wq, Wk and Wv), then the inputs alone with the rest placed by dot."""
    inputs = tuple(node.key for node in spec.nodes if node.style == "inp")
    column = first_column(spec)
    if column == inputs:
        orders = [(order, frozenset(), frozenset())
                  for order in itertools.islice(itertools.permutations(inputs), COLUMN_ORDERS)]
    else:
        styles = {node.key: node.style for node in spec.nodes}
        consumers = _consumers(spec)
        shared = [key for key in column if styles[key] != "inp" and len(consumers[key]) > 1]
        rest = [key for key in column if key not in shared]
        alternate, mirrored = (*shared[0::2], *rest, *shared[1::2]), (*shared[1::2], *rest, *shared[0::2])
        fans = frozenset(key for key in inputs if len(consumers[key]) > 2)
        orders = [(order, frozenset(), frozenset()) for order in dict.fromkeys([column, alternate, mirrored])]
        for key in shared[:3]:
            others = [k for k in shared if k != key]
            orders.append(((*others[0::2], *rest, *others[1::2]), frozenset(), frozenset([key])))
        orders += [(inputs, fans, frozenset())] if fans else []
        orders += [(inputs, frozenset(), frozenset())]
    requests = []
    for order, spread, beside in orders:
        requests += [DotRequest(order, True, outputs, spread, beside) for outputs in (True, False)]
        requests += [DotRequest(order, True, False, spread, beside, paths)
                     for paths in straight_paths(spec, order)]
    return [*requests, DotRequest(inputs, False, True), DotRequest(inputs, False, False)]


def spec_dot(spec: GraphSpec, ordered: bool = True, spacing: float = 1.0, ordered_outputs: bool | None = None,
             column: tuple[str, ...] | None = None, spread: frozenset[str] = frozenset(),
             beside: frozenset[str] = frozenset(), straight: tuple[tuple[str, ...], ...] = (),
             follow: tuple[str, ...] = (), placed: Drawing | None = None) -> str:
    """The DOT source of ``spec`` (left to right), every name and label quoted by the graphviz
    package; the sizes are those the TikZ picture needs, so svg/png show the same layout.
    ``column`` is the first column (the inputs by default), top to bottom when ``ordered``; each
    path of ``straight`` is one dot group (drawn straight, crossed by no other edge if dot can);
    with ``follow`` (node keys top to bottom), each node's outgoing edges are drawn in that order
    of their heads (dot's ordering=out), so (b) can copy (a)'s order where dot alone finds none as good.
    With ``placed`` (a drawing of ``spec``), the source carries that drawing's positions (nodes,
    splines, each label on its own edge) and asks Graphviz not to lay it out again (layout=nop2),
    so ``dot -Tsvg`` draws exactly what the sheet draws."""
    import graphviz

    attrs = {"rankdir": "LR", "nodesep": f"{0.25 * spacing:.2f}", "ranksep": f"{0.45 * spacing:.2f}"}
    if follow:
        attrs["ordering"] = "out"
    if placed is not None:
        (x0, y0), x1, y1 = placed.origin, placed.origin[0] + placed.width, placed.origin[1] + placed.height
        attrs.update(layout="nop2", bb=f"{x0:.2f},{y0:.2f},{x1:.2f},{y1:.2f}")
    drawn = {item.edge.key: item for item in placed.edges} if placed is not None else {}
    if len(spec.nodes) > LARGE_GRAPH:  # less effort on crossings and coordinates: bounded time
        attrs.update(nslimit="2", mclimit="0.5")
    graph = graphviz.Digraph(spec.name, graph_attr=attrs,
                             node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "white",
                                        "fontname": "Helvetica", "fontsize": "9", "fixedsize": "true"},
                             edge_attr={"arrowsize": "0.7", "fontname": "Helvetica", "fontsize": "8"})
    groups = {key: f"straight{k}" for k, path in enumerate(straight) for key in path}
    for node in spec.nodes:
        size = {"width": f"{node.width / 72:.3f}", "height": f"{node.height / 72:.3f}"}
        if node.key in groups:
            size["group"] = groups[node.key]
        if placed is not None:
            size["pos"] = f"{placed.nodes[node.key].x:.2f},{placed.nodes[node.key].y:.2f}"
        text = graphviz.escape(node.text)  # quoted by the package; backslashes and <…> kept literal
        if node.style == "yname":
            graph.node(node.key, text, shape="plaintext", style="", **size)
        else:
            graph.node(node.key, text, fillcolor=_FILLS[node.style], **size)
    # The first column; with ``ordered``, in the given order top to bottom (an invisible edge
    # inside the rank=min group orders it).
    firsts = list(column) if column is not None else [node.key for node in spec.nodes if node.style == "inp"]
    if firsts:
        with graph.subgraph() as group:
            group.attr(rank="min")
            for key in firsts:
                group.node(key)
            if ordered:
                for a, b in zip(firsts, firsts[1:]):
                    group.edge(a, b, style="invis")
    consumers = _consumers(spec)
    for key in sorted(beside):  # above the first node that uses it (the edge between orders them)
        with graph.subgraph() as group:
            group.attr(rank="same")
            group.node(key)
            group.node(consumers[key][0])
    # The outputs' names in one last column, y1 above y2, likewise.
    lasts = [node.key for node in spec.nodes if node.style == "yname"]
    if (ordered if ordered_outputs is None else ordered_outputs) and len(lasts) > 1:
        with graph.subgraph() as group:
            group.attr(rank="max")
            for key in lasts:
                group.node(key)
            for a, b in zip(lasts, lasts[1:]):
                group.edge(a, b, style="invis")
    styles = {node.key: node.style for node in spec.nodes}
    place = {key: k for k, key in enumerate(follow)}
    for edge in sorted(spec.edges, key=lambda e: place.get(e.head, len(place))) if follow else spec.edges:
        attrs = {"id": edge.key}
        if edge.back:
            attrs["dir"] = "back"
        if edge.tail in spread:
            attrs["minlen"] = "2"
        elif styles.get(edge.tail) in ("par", "dat") and len(consumers[edge.tail]) == 1:
            attrs["weight"] = str(NEAR_WEIGHT)
        if edge.tex:
            # A fixed-size table: dot keeps exactly this room free for the label; the text's cell,
            # LABEL_PAD inside it, is on a white ground (text_box: no other edge runs there).
            attrs["label"] = (f'<<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="0" CELLSPACING="{LABEL_PAD:.0f}" '
                              f'FIXEDSIZE="TRUE" WIDTH="{round(edge.width)}" HEIGHT="{round(edge.height)}"><TR>'
                              f'<TD BGCOLOR="white">{html.escape(edge.text)}</TD></TR></TABLE>>')
        if edge.key in drawn:
            attrs.update(_placed_edge(drawn[edge.key]))
        graph.edge(edge.tail, edge.head, **attrs)
    return graph.source


def _placed_edge(item: DrawnEdge) -> dict[str, str]:
    """DOT's pos (the spline in dot's direction, its arrow's end marked) and lp of a drawn edge."""
    points = " ".join(f"{x:.2f},{y:.2f}" for x, y in (item.points[::-1] if item.edge.back else item.points))
    mark = "s" if item.edge.back else "e"
    out = {"pos": f"{mark},{item.tip[0]:.2f},{item.tip[1]:.2f} {points}"}
    if item.label is not None:
        out["lp"] = f"{item.label.x:.2f},{item.label.y:.2f}"
    return out


def placed_dot(spec: GraphSpec, drawing: Drawing) -> str:
    """DOT of ``drawing`` as laid out (Graphviz draws it without laying it out again)."""
    r = drawing.request or DotRequest(())
    return spec_dot(spec, r.ordered, 1.0, r.ordered_outputs, r.column or None, r.spread, r.beside, r.straight,
                    r.follow, placed=drawing)


def dot_program() -> str | None:
    """The path of Graphviz's dot, or None when it is not installed."""
    return shutil.which("dot")


#: What to do when dot is missing: Graphviz is a declared dependency that ``make`` installs.
DOT_HINT = "install Graphviz (apt-get install graphviz; `make` does it), or use derive graph --format dot"


def _far(spec: GraphSpec, drawing: Drawing) -> int:
    """Parameters and data used once that are drawn more than two node heights above or below
    the node that uses them (x3 at the top of the rnn, away from its step)."""
    consumers = _consumers(spec)
    count = 0
    for node in spec.nodes:
        if node.style in ("par", "dat") and len(consumers[node.key]) == 1:
            own, used = drawing.nodes[node.key], drawing.nodes[consumers[node.key][0]]
            count += abs(own.y - used.y) > 2 * max(own.height, used.height)
    return count


def disorder(spec: GraphSpec, drawing: Drawing) -> int:
    """Pairs of inputs, and pairs of outputs' names, drawn in the reverse of their declared order
    (x2 above x1, y2 above y1), read from the drawing's heights."""
    count = 0
    for style in ("inp", "yname"):
        keys = [node.key for node in spec.nodes if node.style == style]
        count += sum(drawing.nodes[a].y < drawing.nodes[b].y for a, b in itertools.combinations(keys, 2))
    return count


def input_order(spec: GraphSpec, drawing: Drawing) -> tuple[str, ...]:
    """The inputs as drawn, top to bottom."""
    return tuple(sorted((node.key for node in spec.nodes if node.style == "inp"), key=lambda k: -drawing.nodes[k].y))


@functools.lru_cache(maxsize=256)  # the pair search (sheet_layout) asks again for layouts already made
def _laid_out(spec: GraphSpec, request: DotRequest) -> Drawing:
    """dot's layout for one request, its labels on their edges and its score (overlaps, crossings,
    nodes far from their step, orders reversed); where dot's splines graze a label, also with
    wider spacing, keeping the better.  Graphs of more than CROSSING_CHECK_EDGES edges are not
    measured (it is quadratic): their score is empty."""
    best = None
    for spacing in (1.0, 1.8):
        drawing = _run_dot(spec, request, spacing)
        if len(drawing.edges) > CROSSING_CHECK_EDGES:
            return drawing
        drawing = drawing.with_labels_on_edges()
        drawing = replace(drawing, score=(drawing.overlaps(), drawing.crossings(), _far(spec, drawing),
                                          disorder(spec, drawing)))
        if best is None or drawing.score < best.score:
            best = drawing
        if drawing.score[0] == 0:
            break  # wider spacing only clears labels grazed by splines: nothing left to clear
    return best


@functools.lru_cache(maxsize=64)  # a sheet draws each graph twice (TikZ, DOT); variants share layouts
def layout_with_dot(spec: GraphSpec, requests: tuple[DotRequest, ...] | None = None) -> Drawing:
    """dot's layout of ``spec``; a ReportError when dot is missing, fails or times out.

    dot is asked for the layouts of ``requests`` (by default ``_requests``) in turn; the first with
    no overlap, no crossing, no node far from its step and the inputs and outputs in declared
    order wins, else the one with the fewest (overlaps, crossings, nodes far, orders reversed),
    the earlier on a tie, so an order (x1 above x2, y1 above y2) is given up only for a crossing
    dot avoids."""
    best = None
    for request in requests or _requests(spec):
        drawing = _laid_out(spec, request)
        if not drawing.score:
            return drawing  # too large to measure: dot's first layout
        if best is None or drawing.score < best.score:
            best = drawing
        if best.score == (0, 0, 0, 0):
            break
    return best


def _following(request: DotRequest, drawing: Drawing) -> DotRequest:
    """``request`` with each node's edges in the order of ``drawing``'s nodes, top to bottom."""
    return replace(request, follow=tuple(sorted(drawing.nodes, key=lambda k: -drawing.nodes[k].y)))


@functools.lru_cache(maxsize=16)
def paired_layouts(forward: GraphSpec, adjoint: GraphSpec) -> tuple[Drawing, Drawing]:
    """The layouts of the computational graph (a) and the backpropagation graph (b) of one trace,
    searched together so they draw the inputs in one order where that costs neither drawing.

    (b) is asked first for (a)'s drawing, each node's edges in (a)'s order (dot alone crosses
    v9 → v0 over v4 → v1 in problem1's (b) with x1 above x2), then for its own layouts.  Where
    their inputs' orders still differ, each order of the first column dot is asked for (at most
    COLUMN_ORDERS) is tried on both, the same way, and the order whose best drawings have the
    same overlaps, crossings and nodes far as each drawing's own best, with the fewest orders
    reversed (the statement's first), is taken; where there is none, each keeps its own."""

    def pair(requests: list[DotRequest]) -> tuple[Drawing, Drawing]:
        first = layout_with_dot(forward, tuple(requests))
        if not first.score:
            return first, layout_with_dot(adjoint, tuple(requests))
        return first, layout_with_dot(adjoint, (_following(first.request, first), *requests))

    alone = pair(_requests(forward))
    if not all(d.score for d in alone) or input_order(forward, alone[0]) == input_order(adjoint, alone[1]):
        return alone
    best = None
    for column in dict.fromkeys(r.column for r in _requests(forward) if r.ordered):
        found = pair([r for r in _requests(forward) if r.ordered and r.column == column])
        if all(d.score[:3] == own.score[:3] for d, own in zip(found, alone)) and \
                (best is None or sum(d.score[3] for d in found) < sum(d.score[3] for d in best)):
            best = found
    return best or alone


def forget_layouts() -> None:
    """Empty the caches of layouts (a test that hides dot must find none left behind)."""
    for cached in (_laid_out, layout_with_dot, paired_layouts):
        cached.cache_clear()


def render(source: str, fmt: str) -> bytes:
    """DOT ``source`` drawn by dot as ``fmt`` (svg, png), within DOT_TIMEOUT seconds."""
    return _dot(["-T" + fmt], source.encode("utf-8"))


def _dot(arguments: list[str], source: bytes) -> bytes:
    """dot's output for ``source``; a ReportError (exit 2) when dot is missing, fails or times out."""
    program = dot_program()
    if program is None:
        raise ReportError("Graphviz's 'dot' is not installed: it lays out the graphs", hint=DOT_HINT)
    try:
        done = subprocess.run([program, *arguments], input=source, capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ReportError(f"Graphviz's dot took longer than {DOT_TIMEOUT} s",
                          hint="use derive graph --format dot for a large graph") from None
    except OSError as error:
        raise ReportError(f"Graphviz's dot could not be run: {error.strerror}", hint=DOT_HINT) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReportError(f"Graphviz's dot failed: {message[0] if message else done.returncode}")
    return done.stdout


def _run_dot(spec: GraphSpec, request: DotRequest, spacing: float) -> Drawing:
    source = spec_dot(spec, request.ordered, spacing, request.ordered_outputs, request.column, request.spread,
                      request.beside, request.straight, request.follow)
    return replace(_parse_json(spec, json.loads(_dot(["-Tjson0"], source.encode("utf-8"))), source), request=request)


def _pairs(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",")[:2] for p in text.split())]


def _parse_json(spec: GraphSpec, data: dict, source: str) -> Drawing:
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    nodes = {}
    for obj in data.get("objects", []):
        if "pos" not in obj:
            continue  # a subgraph
        x, y = (float(v) for v in obj["pos"].split(","))
        nodes[obj["name"]] = Box(x, y, float(obj["width"]) * 72, float(obj["height"]) * 72)
    by_key = {edge.key: edge for edge in spec.edges}
    drawn = []
    for item in data.get("edges", []):
        if item.get("id") not in by_key:
            continue  # the invisible edges that order a column
        edge = by_key[item["id"]]
        parts = item["pos"].split()
        start = end = None
        while parts and parts[0][:2] in ("s,", "e,"):
            end_mark, point = parts[0][0], _pairs(parts[0][2:])[0]  # s: the start, e: the end
            start, end = (point, end) if end_mark == "s" else (start, point)
            parts.pop(0)
        points = _pairs(" ".join(parts))
        if edge.back:  # drawn from head to tail, the arrow at the tail
            points = points[::-1]
            tip = start or points[-1]
        else:
            tip = end or points[-1]
        label = None
        if edge.tex and "lp" in item:
            lx, ly = _pairs(item["lp"])[0]
            label = Box(lx, ly, edge.width, edge.height)
        drawn.append(DrawnEdge(edge, tuple(points), tip, label))
    return Drawing(nodes, tuple(drawn), x1 - x0, y1 - y0, source, origin=(x0, y0))


# -- TikZ ------------------------------------------------------------------------------------------
_TIKZ_STYLES = (r"v/.style={draw, rounded corners=3pt, align=center, inner sep=0pt, fill=white},"
                r" inp/.style={v, fill=blue!6}, dat/.style={v, fill=blue!6}, outp/.style={v, fill=orange!10},"
                r" par/.style={v, draw=black!45, fill=black!4}, yname/.style={inner sep=0pt},"
                r" e/.style={-{Stealth[length=5bp, width=4bp]}, thick, draw=black!70},"
                r" p/.style={font=\scriptsize, inner sep=0pt}")
#: Fits #3 into #1 wide and #2 high: a label or node text that came out larger than the room dot
#: kept is shrunk, never allowed to overlap its neighbours.
_FIT = (r"\providecommand{\derivefit}[3]{\setbox0\hbox{#3}\ifdim\wd0>#1\relax"
        r"\setbox0\hbox{\resizebox{#1}{!}{\box0}}\fi\dimen0=\ht0\advance\dimen0\dp0"
        r"\ifdim\dimen0>#2\relax\resizebox*{!}{#2}{\box0}\else\box0\fi}")


def _tikz_id(node_id: str) -> str:
    """A TikZ node name: identifiers as they are; v-1 → vm1 and out>y → outoy (scalar ids are
    v<number>, so neither can meet another name)."""
    return re.sub(r"[^A-Za-z0-9_]", lambda m: "m" if m.group() == "-" else "o", node_id)


def _bp(point: tuple[float, float]) -> str:
    return f"({point[0]:.1f},{point[1]:.1f})"


def drawing_scale(drawing: Drawing) -> float:
    """How much a drawing is shrunk to fit the page (1 when it fits)."""
    return min(1.0, MAX_WIDTH * _BP_PER_CM / max(drawing.width, 1.0), MAX_HEIGHT * _BP_PER_CM / max(drawing.height, 1.0))


def spec_tikz(spec: GraphSpec, drawing: Drawing, edge_styles: dict[str, str] | None = None) -> str:
    """A tikzpicture of dot's drawing of ``spec``, scaled to fit the page; ``edge_styles`` adds
    TikZ options to edges by key (the item analysis shades the partials a class gets wrong)."""
    scale = drawing_scale(drawing)
    styles = _TIKZ_STYLES if spec.label_pt == _SCRIPT_PT else _TIKZ_STYLES.replace(
        r"font=\scriptsize", rf"font=\fontsize{{{spec.label_pt:.2f}bp}}{{{1.2 * spec.label_pt:.2f}bp}}\selectfont")
    out = [rf"\begin{{tikzpicture}}[x=1bp, y=1bp, scale={scale:.3f}, every node/.style={{transform shape}}, "
           + styles + "]", _FIT]
    for node in spec.nodes:
        box = drawing.nodes[node.key]
        size = f"minimum width={box.width:.1f}bp, minimum height={box.height:.1f}bp"
        out.append(rf"\node[{node.style}, {size}] ({_tikz_id(node.key)}) at {_bp((box.x, box.y))} "
                   rf"{{\derivefit{{{box.width - 4:.1f}bp}}{{{box.height - 4:.1f}bp}}{{{node.tex}}}}};")
    for item in drawing.edges:
        points = item.points
        path = [_bp(points[0])]
        for k in range(1, len(points) - 2, 3):
            path.append(f".. controls {_bp(points[k])} and {_bp(points[k + 1])} .. {_bp(points[k + 2])}")
        path.append(f"-- {_bp(item.tip)}")
        extra = (edge_styles or {}).get(item.edge.key, "")
        out.append(rf"\draw[e{', ' + extra if extra else ''}] {' '.join(path)};")
        if item.label is not None:
            box, ground = item.label, text_box(item.label)  # the white ground: no other edge runs there
            out.append(rf"\fill[white] {_bp((ground.x - ground.width / 2, ground.y - ground.height / 2))} rectangle "
                       rf"{_bp((ground.x + ground.width / 2, ground.y + ground.height / 2))};")
            out.append(rf"\node[p, minimum width={box.width:.1f}bp, minimum height={box.height:.1f}bp] "
                       rf"at {_bp((box.x, box.y))} {{\derivefit{{{box.width - 2 * LABEL_PAD:.1f}bp}}"
                       rf"{{{box.height - 2 * LABEL_PAD:.1f}bp}}{{${item.edge.tex}$}}}};")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def tikz(trace: Trace, adjoint: bool = False, digits: int = 3) -> str:
    """A tikzpicture of the graph laid out by dot; ``adjoint`` reverses the edges and labels them ∂vj/∂vi."""
    return spec_tikz(*sheet_layout(trace, adjoint, digits))


def sheet_layout(trace: Trace, adjoint: bool = False, digits: int = 3) -> tuple[GraphSpec, Drawing]:
    """The spec and dot's drawing of a scalar graph as the sheet draws it: where scaling the drawing
    to the page would set the edge labels below MIN_LABEL_PT, the labels are set larger and the
    graph laid out again in the order first chosen (at most three times: larger labels make a
    wider drawing).  (a) and (b) are laid out together (``paired_layouts``): they draw the inputs
    in one order where that costs neither drawing anything."""
    spec = scalar_spec(trace, adjoint, digits)
    drawing = paired_layouts(scalar_spec(trace, False, digits), scalar_spec(trace, True, digits))[adjoint]
    for _ in range(3):
        if not adjoint or spec.label_pt * drawing_scale(drawing) >= MIN_LABEL_PT - 0.01:
            break
        spec = scalar_spec(trace, adjoint, digits, label_pt=1.03 * MIN_LABEL_PT / drawing_scale(drawing))
        drawing = layout_with_dot(spec, (drawing.request,))  # the order chosen, with room for larger labels
    return spec, drawing


def matrix_sheet_layout(model) -> tuple[GraphSpec, Drawing]:
    """The spec and dot's drawing of a matrix problem's graph as the sheet draws it: where scaling
    the drawing to the page would set the shapes (ℝ^{H×N}, \\scriptsize) below MIN_LABEL_PT, the
    nodes' text is set larger and the graph laid out again, its orders weighed again (at most
    three times)."""
    spec = matrix_spec(model)
    drawing = layout_with_dot(spec)
    for _ in range(3):
        if spec.label_pt * drawing_scale(drawing) >= MIN_LABEL_PT - 0.01:
            break
        spec = matrix_spec(model, grow=1.03 * MIN_LABEL_PT / (_SCRIPT_PT * drawing_scale(drawing)))
        drawing = layout_with_dot(spec)  # small graphs: the orders are weighed again
    return spec, drawing


def matrix_tikz(model) -> str:
    """The graph of a matrix problem laid out by dot."""
    return spec_tikz(*matrix_sheet_layout(model))


# -- Graphviz and Mermaid -----------------------------------------------------------------------
def dot_source(trace: Trace, adjoint: bool = False, digits: int = 3) -> str:
    """Graphviz DOT of the graph (left to right) as the sheet draws it: its positions, splines and
    labels on their edges included (``dot -Tsvg`` draws it without laying it out again)."""
    return placed_dot(*sheet_layout(trace, adjoint, digits))


def matrix_dot(model) -> str:
    """Graphviz DOT of a matrix problem's graph as the sheet draws it (positions included)."""
    return placed_dot(*matrix_sheet_layout(model))


def _reading_order(trace: Trace, adjoint: bool, digits: int) -> list[str]:
    """Node keys by the columns of dot's drawing, top to bottom.  Mermaid lays its chart out
    itself, so without dot (missing, failing or too slow) the chart lists the nodes in declared
    order instead of failing."""
    try:
        spec, drawing = sheet_layout(trace, adjoint, digits)
    except ReportError:
        return [node.key for node in scalar_spec(trace, adjoint, digits).nodes]
    order = sorted((node.key for node in spec.nodes), key=lambda k: (round(drawing.nodes[k].x), -drawing.nodes[k].y))
    # The outputs' names last and in declared order: Mermaid stacks them as they are declared (y1 above
    # y2), whatever column dot gave each (problem1's y2 ends early).
    return [k for k in order if not k.startswith("out>")] + [f"out>{name}" for name, _ in trace.outputs
                                                             if f"out>{name}" in order]


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPT = str.maketrans("0123456789−", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SIMPLE = r"[A-Za-z\u03b1-\u03c9\u0391-\u03a9_]*[0-9₀-₉]*"


def textbook_text(code: str) -> str:
    """A node's formula (TextNotation.code of its text) as the tables set it, in plain Unicode:
    one letter and digits as a subscripted name (v₁, x₂), ln for log, e^v₂ for exp(v2), whole-number powers as
    superscripts (v₁²), Greek names as letters."""
    text = re.sub(r"(?<![A-Za-z_])[A-Za-z]\w*", lambda m: text_variable(m.group()), code)
    text = re.sub(r"(?<![A-Za-z_])([A-Za-z\u03b1-\u03c9\u0391-\u03a9])_?(\d+)(?!\w)",
                  lambda m: m.group(1) + m.group(2).translate(_SUBSCRIPT), text)
    text = re.sub(r"\^(−?\d+)\b", lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    text = re.sub(rf"\bexp\(({_SIMPLE})\)", r"e^\1", text)
    text = re.sub(r"\bexp\(", "e^(", text)
    return re.sub(r"\blog\(", "ln(", text)


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: its own quotes and HTML specials cannot end it."""
    return html.escape(text, quote=False).replace('"', "#quot;")


def mermaid(trace: Trace, adjoint: bool = False, digits: int = 3) -> str:
    """A Mermaid flowchart of the graph, for Markdown sheets; nodes in dot's reading order.

    A node of the computational graph reads "v₃ = e^v₂" (its definition); one of the
    backpropagation graph is named by its adjoint, with the definition marked as such
    ("v̄₃ / where v₃ = e^v₂"): the adjoint is a number, never equal to the formula."""
    nt = TextNotation(digits)
    out = ["flowchart LR"]
    by_id = trace.by_id
    for key in _reading_order(trace, adjoint, digits):
        if key.startswith("out>"):
            name = key.split(">", 1)[1]
            shown = textbook_text(nt.var(name))
            out.append(f'    out_{name}(["{_mermaid_text(shown[0] + chr(0x304) + shown[1:] if adjoint else shown)}"])')
            continue
        node = by_id[key]
        own = textbook_text(node.id)
        formula = textbook_text(nt.var(node.input_name) if node.is_input else nt.code(node.text))
        definition = f"{own} = {formula}"
        label = f"v\u0304{own[1:]}<br/>where {_mermaid_text(definition)}" if adjoint else _mermaid_text(definition)
        out.append(f'    {_tikz_id(key)}["{label}"]')
    for name, node_id in trace.outputs:
        out.append(f"    out_{name} --> {_tikz_id(node_id)}" if adjoint else f"    {_tikz_id(node_id)} --> out_{name}")
    for node in trace.nodes:
        for p in node.partials:
            if adjoint:
                label = textbook_text(lines.partial_formula(Term(node, p, 0.0), nt))
                out.append(f'    {_tikz_id(node.id)} -- "{_mermaid_text(label)}" --> {_tikz_id(p.arg)}')
            else:
                out.append(f"    {_tikz_id(p.arg)} --> {_tikz_id(node.id)}")
    return "\n".join(out)


def matrix_mermaid(model) -> str:
    """The graph of a matrix problem as a Mermaid flowchart.  A node's id is its place (n0, n1, …),
    never the user's name: Mermaid reads end, subgraph, style or click as its own keywords."""
    out = ["flowchart LR"]
    ids = {name: f"n{k}" for k, name in enumerate([*model.variables, *(name for name, _ in model.equations)])}
    for v in model.variables:
        out.append(f'    {ids[v]}[/"{_mermaid_text(text_variable(v))}"/]')
    for name, e in model.equations:
        out.append(f'    {ids[name]}["{_mermaid_text(text_variable(name))}"]')
        seen: list[str] = []
        _collect_names(e, seen)
        out.extend(f"    {ids[arg]} --> {ids[name]}" for arg in seen)
    return "\n".join(out)


# -- helpers -----------------------------------------------------------------------------------------
def _collect_names(e, seen: list[str]) -> None:
    for node in e.walk():
        if node.op == "var" and node.name not in seen:
            seen.append(node.name)

