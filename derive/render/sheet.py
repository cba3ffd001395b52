"""The content of a solution sheet, gathered once for every sheet format.

``sheet_context`` turns a solved problem into the dict the Jinja2 templates read: header,
statement, the functions as written, the graphs, the rows of every table, the answers and the
checks.  Text the user wrote is passed through the format's ``escape``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import replace

from ..errors import ProblemError
from ..parse import GREEK_LATEX, GREEK_TEXT, IDENTIFIER, latex_variable, text_variable
from ..problems import statement_pieces
from ..scalar.solve import ScalarSolution
from . import graph as graph_module
from . import lines
from .notation import LatexNotation


#: What every page of an answer key says (title block and running footer), so a key is never
#: handed out as a worksheet by mistake.
KEY_MARK = "Answer key \u2014 instructor copy"


def scientific(x: float) -> str:
    """6.5 \times 10^{-12} (LaTeX, without $)."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _agreement(x: float | None) -> str:
    """"exactly" or "to within $6.5 \times 10^{-12}$" (a largest absolute difference)."""
    if x is None:
        return ""
    return "exactly" if x == 0 else f"to within ${scientific(x)}$"


def header(problem, escape, title=None, author=None, course=None, date=None, value=None, maths=None) -> dict:
    """Title, author, course, date and statement: from the options, else the problem file.  In a
    scalar problem's statement ``value(name)`` fills each placeholder ({point}, {x1}, {lam}) with
    LaTeX of this sheet's value, so every student's sheet names its own point.  ``maths`` sets the
    statement's mathematics in the format (``$…$`` by default; HTML escapes it too)."""
    names = statement_names(problem)
    maths = maths or _dollars
    if value is None:  # a matrix problem's statement: text, with {{ and }} for braces
        statement = _with_maths(escape, "".join(text + (f"{{{name}}}" if name else "")
                                                for text, name in statement_pieces(problem.statement)), names,
                                maths).strip()
    else:
        statement = "".join(_with_maths(escape, text, names, maths) + (f"${value(name)}$" if name else "")
                            for text, name in statement_pieces(problem.statement)).strip()
    return {
        "title": escape(title or problem.title or problem.name),
        "author": escape(author if author is not None else problem.author),
        "course": escape(course if course is not None else problem.course),
        "date": escape(date if date is not None else (problem.date or _dt.date.today().isoformat())),
        "statement": statement,
    }


#: The mathematics a statement may write between $ signs: letters, digits, operators, braces, ^ and _,
#: and these commands (Greek letters are added below).  Anything else is printed as the text typed.
SAFE_COMMANDS = frozenset("""cdot times div pm mp partial nabla infty sum prod le leq ge geq neq ne approx
    equiv sim in notin subset to mapsto rightarrow leftarrow odot otimes oplus circ top prime ldots cdots dots
    log ln exp sin cos tan tanh sinh cosh max min arg lim quad qquad mid""".split())
#: Commands that take one or two braced arguments.
SAFE_ARGUMENTS = {"frac": 2, "sqrt": 1, "mathbb": 1, "mathbf": 1, "mathrm": 1, "mathcal": 1, "bar": 1, "hat": 1,
                  "tilde": 1, "vec": 1, "overline": 1, "operatorname": 1}
_GREEK_COMMANDS = frozenset(value[1:] for value in GREEK_LATEX.values() if value.startswith("\\"))
_ALLOWED = SAFE_COMMANDS | _GREEK_COMMANDS | frozenset(SAFE_ARGUMENTS)
#: What a script may take without braces besides a letter or digit: commands that are one symbol
#: (TeX's mathchardefs).  x^\sqrt, x^\frac{1}, x^\, or x^\log stop TeX ("Missing { inserted").
_SCRIPT_SYMBOLS = _GREEK_COMMANDS | frozenset({"infty", "prime", "top", "partial", "nabla"})
_MATH_TOKEN = re.compile(r"\\([A-Za-z]+)|\\([,;:! ])|([A-Za-z0-9 +\-*/=<>()\[\],.'|!:;])|([{}^_])|(.)")
_MATH_SPAN = re.compile(r"\$([^$]{1,300})\$")


def safe_maths(source: str) -> str | None:
    """``source`` when it is mathematics of the safe subset that TeX (and Markdown's KaTeX) set
    without an error: known commands, their arguments given as braced groups, balanced braces, no
    double or dangling script; None otherwise (then the caller prints it as text)."""
    depth = 0
    owed: list[list[int]] = []  # [arguments still owed, depth] of each \frac-like command
    pending = False  # a ^ or _ waiting for its argument
    scripts = [set()]  # per group depth: the scripts already on the current base
    closes_script: list[int] = []  # depths at which a braced script argument ends
    primes = False  # the last token was ' (x'' is one superscript; x^2' a second one)
    for m in _MATH_TOKEN.finditer(source):
        word, space, plain, special, other = m.groups()
        if other is not None or (word is not None and word not in _ALLOWED):
            return None
        if owed and owed[-1][1] == depth and special != "{":
            return None  # \frac x: every argument in braces
        if pending:
            if special in ("^", "_", "}") or plain in (" ", "'") or space is not None or (
                    word is not None and word not in _SCRIPT_SYMBOLS):
                return None
            pending = False
            if special == "{":
                closes_script.append(depth)
            else:
                continue  # a one-token argument: the base keeps its scripts (x^a^b is refused)
        elif special in ("^", "_"):
            if special in scripts[-1]:
                return None  # a double superscript or subscript
            scripts[-1].add(special)
            pending, primes = True, False
            continue
        elif plain == "'":  # a prime is a superscript of the base (TeX: x^2' is a double superscript)
            if "^" in scripts[-1] and not primes:
                return None
            scripts[-1].add("^")
            primes = True
            continue
        primes = False
        if special == "{":
            if owed and owed[-1][1] == depth:
                owed[-1][0] -= 1
            depth += 1
            scripts.append(set())
        elif special == "}":
            depth -= 1
            if depth < 0:
                return None
            scripts.pop()
            if owed and owed[-1][0] == 0 and owed[-1][1] == depth:
                owed.pop()
            if closes_script and closes_script[-1] == depth:
                closes_script.pop()  # the base keeps its scripts
            else:
                scripts[-1] = set()  # the group is the new base
        else:
            if word in SAFE_ARGUMENTS:
                owed.append([SAFE_ARGUMENTS[word], depth])
            if plain != " ":
                scripts[-1] = set()  # a new atom is a new base
    return source if depth == 0 and not owed and not pending and source.strip() else None


def _dollars(latex: str) -> str:
    return f"${latex}$"


def _with_maths(escape: Callable[[str], str], text: str, names: dict[str, str] | None = None,
                maths_in: Callable[[str], str] = _dollars) -> str:
    """Statement text with each ``$…$`` of the safe subset typeset as mathematics (the same in
    LaTeX and Markdown), and each word that is one of ``names`` (word -> LaTeX) set in maths; any
    other text, and maths outside the subset, escaped as typed."""
    out, at = [], 0
    for match in _MATH_SPAN.finditer(text):
        latex = safe_maths(match.group(1))
        if latex is None:
            continue
        out.append(_prose(escape, text[at:match.start()], names or {}, maths_in))
        out.append(maths_in(latex))
        at = match.end()
    out.append(_prose(escape, text[at:], names or {}, maths_in))
    return "".join(out)


#: Names that are English words as well: "a", "I", and "A" where it starts a sentence ("A network
#: with N inputs") stay words.
_WORDS = frozenset({"a", "I"})


def _prose(escape: Callable[[str], str], text: str, names: dict[str, str],
           maths: Callable[[str], str] = _dollars) -> str:
    r"""Prose of a statement: the problem's names in it set in maths (an input x1 as $x_{1}$, a dim
    B as $B$, lambda as $\lambda$), the rest escaped."""
    if not names:
        return _spaced(escape, text)
    pattern = re.compile(r"(?<![\w\\])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                         + r")(?!\w)")
    out, at, last = [], 0, 0  # last: the end of the previous match (the text before it is never read again)
    for match in pattern.finditer(text):
        word = match.group(1)
        between = text[last:match.start()].rstrip()  # a slice of the text so far would be quadratic
        before = between[-1:] or text[last - 1:last]
        last = match.end()
        if word in _WORDS or (word == "A" and (not before or before in ".!?:")):
            continue
        out.append(_spaced(escape, text[at:match.start()]))
        out.append(maths(names[word]))
        at = match.end()
    out.append(_spaced(escape, text[at:]))
    return "".join(out)


def statement_names(problem) -> dict[str, str]:
    """The words of a statement set in maths, with their LaTeX: the inputs, constants and outputs
    of a scalar problem, the sizes, variables and named nodes of a matrix one; a Greek name
    written either way (lambda or λ).  Only names that are identifiers (they typeset safely)."""
    if problem.engine == "matrix":
        found = [*problem.dims, *problem.variables, *problem.equations]
    else:
        found = [*problem.inputs, *problem.constants, *problem.outputs]
    names = {}
    for name in found:
        if not IDENTIFIER.match(name):
            continue
        latex = latex_variable(name)
        for word in (name, text_variable(name), _SPELLED.get(name, name)):
            names.setdefault(word, latex)
    return names


_SPELLED = {letter: name for name, letter in GREEK_TEXT.items()}  # λ -> lambda


def _spaced(escape: Callable[[str], str], text: str) -> str:
    """``escape(text)`` keeping its white space at either end, where the text meets a value (the
    LaTeX escape trims it: a space stays; Markdown keeps a paragraph break)."""
    def space(white: str) -> str:
        return (escape(white) or " ") if white else ""

    core = text.strip()
    lead = text[:len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()):] if core else ""
    return space(lead) + escape(core) + space(trail)


def _placeholder_value(problem, nt) -> Callable[[str], str]:
    """LaTeX of a statement placeholder: {point} is the inputs' values, (2, 1) or 2; {name} one
    input's or constant's value, exact as the problem gives it."""
    def value(name: str) -> str:
        if name == "point":
            values = [lines.input_value(k, v, nt, problem.written) for k, v in problem.inputs.items()]
            return values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"
        known = {**problem.constants, **problem.inputs}
        if name not in known:  # a Problem built in Python skips the file's check
            raise ProblemError(f"statement: {{{name}}} is not an input or a constant",
                               hint="placeholders: {point}, " + ", ".join(f"{{{n}}}" for n in known))
        return lines.input_value(name, known[name], nt, problem.written)
    return value


#: Longest output formula (LaTeX characters) shown in display math: one line of amsmath's align
#: cannot be wider than TeX's largest dimension (about 5.7 m), which ~1,200-node formulas reach.
MAX_DISPLAY_LATEX = 2_000


def _displayable(latex: str, trace) -> str:
    if len(latex) <= MAX_DISPLAY_LATEX:
        return latex
    return rf"\text{{(too long to typeset on one line: {len(trace.nodes):,} nodes; the trace in (c) defines it)}}"


def sheet_context(solution: ScalarSolution, *, digits: int, escape: Callable[[str], str],
                  graph: Callable, title: str | None = None, author: str | None = None,
                  course: str | None = None, date: str | None = None, numbering: str = "zero",
                  order: str = "postorder", blank: bool = False, hide: frozenset[str] = frozenset(),
                  student: str | None = None, student_name: str | None = None, key: bool = False) -> dict:
    """With ``blank`` the values, evaluation lines, answers and graphs are left for the student
    (``hide`` may also blank "rules" and "expressions"); ``student`` is the id on their own sheet,
    shown with the roster's ``student_name`` beside it where there is one; ``key`` marks an answer
    key as one (title block and every page's footer)."""
    problem, trace = solution.problem, solution.trace
    nt = LatexNotation(digits)
    checks = solution.checks
    context = {
        **header(problem, escape, title, author, course, date, _placeholder_value(problem, nt)),
        "digits": digits,
        "inputs": [{"name": nt.var(name), "node": nt.node(node),
                    "value": lines.input_value(name, trace.point[name], nt, problem.written)}
                   for name, node in trace.inputs],
        "outputs": [{"name": nt.var(name), "node": nt.node(node), "value": nt.number(trace.by_id[node].value),
                     "expression": _displayable(lines.expression_latex(trace.expressions[name], nt), trace)}
                    for name, node in trace.outputs],
        **vector_symbols(list(problem.inputs), list(problem.outputs)),
        # v̄ᵢ = ∂f/∂vᵢ for a lone output f; y, the output of the pass, where there are several
        "adjoint_output": nt.var(trace.outputs[0][0]) if len(trace.outputs) == 1 else "y",
        "input_vector": nt.matrix([[nt.var(name)] for name, _ in trace.inputs]),
        "point_vector": nt.matrix([[lines.input_value(name, trace.point[name], nt, problem.written)]
                                   for name, _ in trace.inputs]),
        "node_vector": nt.matrix([[nt.node(n)] for _, n in trace.outputs]),
        "value_vector": lines.values_vector(solution.output_values, nt),
        **_graphs(trace, graph, digits, escape),
        "trace_rows": lines.trace_rows(trace, nt, problem.written),
        "forward": [{"input": nt.var(p.input), "name": p.input, "outputs": [nt.var(y) for y, _ in trace.outputs],
                     "rows": lines.forward_rows(p, trace, nt)} for p in solution.forward],
        "reverse": [{"output": nt.var(p.output), "name": p.output, "inputs": [nt.var(x) for x, _ in trace.inputs],
                     "rows": lines.reverse_rows(p, trace, nt)} for p in solution.reverse],
        "jacobian_symbols": lines.jacobian_symbols(solution, nt),
        "jacobian_forward": decimal_matrix([[nt.number(x) for x in row] for row in solution.jacobian_forward]),
        "jacobian_reverse": decimal_matrix([[nt.number(x) for x in row] for row in solution.jacobian_reverse]),
        "checks": {
            "forward_reverse": _agreement(checks.forward_reverse_max_error),
            "symbolic": escape(checks.symbolic),
            "symbolic_error": _agreement(checks.symbolic_max_error),
            "finite_difference": escape(checks.finite_difference),
            "finite_difference_error": _agreement(checks.finite_difference_max_error),
        },
        "numbering": numbering,
        "order": order,
        "n_inputs": len(trace.inputs),
        "n_outputs": len(trace.outputs),
        "blank": blank,
        "key": escape(KEY_MARK) if key and not blank else "",
        "student": escape(student_label(student, student_name)),  # the id, and the roster's name beside it
        "student_id": escape(student or ""),
        "student_name": escape(shown_name(student_name)),
        "student_marker": re.sub(r"[^A-Za-z0-9._-]", "", student or ""),  # safe inside an HTML comment
        "node_ids": [node.id for node in trace.nodes],
    }
    return blanked(context, solution, nt, hide) if blank else context


#: The letters a sheet may call the vector of inputs and of outputs (x, y first, as a textbook does).
INPUT_VECTOR = ("x", "u", "z", "w", "s", "t")
OUTPUT_VECTOR = ("y", "g", "h", "r", "q", "p")


def vector_symbols(inputs: list[str], outputs: list[str]) -> dict:
    """The bold letters of the input and output vectors: 𝐱 and 𝐲, unless a name of the problem
    is that letter (an input called x beside 𝐱 = (λ, α, x) reads as one thing), then the first free
    letter of INPUT_VECTOR / OUTPUT_VECTOR.  A vector of one entry is that entry: a lone output y
    is 𝐲, a lone output f is 𝐟 (∂𝐟/∂𝐮, never ∂𝐲/∂𝐮 with no y on the sheet), a lone output λ is λ."""
    taken = _taken(inputs, outputs)
    x = input_letter(inputs, outputs)
    taken.add(x)
    if len(outputs) == 1:  # the output itself: 𝐟 for f, λ for λ
        y = rf"\mathbf{{{outputs[0]}}}" if re.fullmatch("[A-Za-z]", outputs[0]) else latex_variable(outputs[0])
    else:
        y = rf"\mathbf{{{_free(OUTPUT_VECTOR, outputs, taken)}}}"
    return {"input_symbol": rf"\mathbf{{{x}}}", "output_symbol": y}


def input_letter(inputs: list[str], outputs: list[str]) -> str:
    """The letter of the input vector (x, or u where a name of the problem is x): every printer's."""
    return _free(INPUT_VECTOR, inputs, _taken(inputs, outputs))


def _taken(inputs: list[str], outputs: list[str]) -> set[str]:
    return {text_variable(name) for name in [*inputs, *outputs]} | set(inputs) | set(outputs)


def _free(letters: tuple[str, ...], names: list[str], taken: set[str]) -> str:
    if len(names) == 1 and names[0] == letters[0]:
        return letters[0]
    return next((letter for letter in letters if letter not in taken), letters[0])


def student_label(student: str | None, name: str | None) -> str:
    """What a student's sheet prints for them (title block, every page's footer): the id, and the
    roster's name beside it where the roster gives one ("s001 · Ada Lovelace")."""
    if not student:
        return ""
    name = shown_name(name)
    return f"{student} \u00b7 {name}" if name else student


def shown_name(name: str | None) -> str:
    """A roster name as a sheet prints it: on one line, at most NAME_SHOWN characters (a footer
    holds the id, the name, the page and the key's mark)."""
    name = " ".join((name or "").split())
    return name[:NAME_SHOWN - 1] + "\u2026" if len(name) > NAME_SHOWN else name


#: The most characters of a roster name a sheet prints.
NAME_SHOWN = 40


_DECIMALS = re.compile(r"-?\d+(?:\.(\d+))?")


def decimal_matrix(cells: list[list[str]]) -> str:
    r"""A matrix of numbers (LaTeX) aligned on the decimal point: columns set flush right, each
    number padded with invisible decimals to the most its column has (1 beside 0.141 is set as
    1\phantom{.000}); a number of another form (10^{-5}) is set as it is."""
    def decimals(text: str) -> int:
        match = _DECIMALS.fullmatch(text)
        return len(match.group(1) or "") if match else 0

    widths = [max(decimals(row[c]) for row in cells) for c in range(len(cells[0]))] if cells else []

    def padded(text: str, width: int) -> str:
        if not _DECIMALS.fullmatch(text) or decimals(text) == width:
            return text
        missing = ("." if decimals(text) == 0 else "") + "0" * (width - decimals(text))
        return rf"{text}\phantom{{{missing}}}"

    body = r" \\ ".join(" & ".join(padded(cell, w) for cell, w in zip(row, widths)) for row in cells)
    return rf"\left[\begin{{array}}{{{'r' * len(widths)}}} {body} \end{{array}}\right]"


def _graphs(trace, graph: Callable, digits: int, escape: Callable[[str], str]) -> dict:
    """Both drawings, or above GRAPH_NODE_LIMIT nodes none and a note saying why."""
    limit = graph_module.GRAPH_NODE_LIMIT
    if len(trace.nodes) > limit:
        note = (f"The graph has {len(trace.nodes)} nodes, more than the {limit} drawn on a sheet, "
                "so it is not drawn; the tables below hold every node.")
        return {"graph": "", "adjoint_graph": "", "graph_note": escape(note)}
    return {"graph": graph(trace, adjoint=False, digits=digits),
            "adjoint_graph": graph(trace, adjoint=True, digits=digits), "graph_note": ""}


def blanked(context: dict, solution: ScalarSolution, nt, hide: frozenset[str]) -> dict:
    """The worksheet: every value the student should find left empty."""
    def empty(row: lines.Row) -> lines.Row:
        right = "" if "expressions" in hide and not row.answer and row.right is not None else row.right
        return replace(row, right=right, evaluation="", rule="" if "rules" in hide else row.rule)

    numbers = [nt.number(x) for row in solution.jacobian for x in row] + [nt.number(x) for x in solution.output_values]
    box = _answer_space(max((len(n) for n in numbers), default=0), context["digits"])
    space = nt.matrix([[box] * len(row) for row in solution.jacobian])
    column = nt.matrix([[box] for _ in solution.output_values])
    trace = solution.trace
    return {
        **context,
        # One handwriting line per term of the sum a row's evaluation needs.
        "terms": {"forward": {n.id: max(1, len(n.partials)) for n in trace.nodes},
                  "reverse": {n.id: max(1, len(trace.consumers[n.id])) for n in trace.nodes}},
        "trace_rows": [empty(r) for r in context["trace_rows"]],
        "forward": [{**p, "rows": [empty(r) for r in p["rows"]]} for p in context["forward"]],
        "reverse": [{**p, "rows": [empty(r) for r in p["rows"]]} for p in context["reverse"]],
        "jacobian_forward": space,
        "jacobian_reverse": space,
        "value_vector": column,
        "graph": "",
        "adjoint_graph": "",
    }


def _answer_space(longest: int, digits: int) -> str:
    """Room to write a number by hand: about 0.9 em a character (handwriting is wider than
    print) for the longest answer printed in the key, and at least a sign, two digits, the point
    and ``digits`` decimals."""
    chars = max(longest, digits + 4)
    return rf"\makebox[{0.9 * chars + 1:.1f}em]{{}}"  # not \hspace: array's cells \unskip it


def matrix_sheet_context(solution, *, escape: Callable[[str], str], graph: Callable | None,
                         title: str | None = None, author: str | None = None, course: str | None = None,
                         date: str | None = None, diag: bool = False, blank: bool = False, key: bool = False,
                         markdown: bool = False, **_ignored) -> dict:
    """The template context of a matrix problem's sheet (LaTeX forms of every equation); with
    ``blank`` the graph, the adjoint equations and the gradients are left for the student. The
    notes are one formula each, or with ``markdown`` prose with its formulas in $…$."""
    from ..matrix.verify import short_state
    from .matrix import LatexPrinter, chain_form, derivative_notes, shape_latex

    space = shape_latex
    problem, model, derivation = solution.problem, solution.model, solution.derivation
    printer = LatexPrinter(diag=diag)
    checks = {c.name: c for c in solution.checks.gradients}
    used = set()
    for _, e in model.equations:
        used |= _function_names(e)
    context = {
        **header(problem, escape, title, author, course, date),
        "blank": blank,
        "key": escape(KEY_MARK) if key and not blank else "",
        "dims": [{"name": latex_variable(d) if IDENTIFIER.match(d) else escape(d), "value": n}
                 for d, n in problem.dims.items()],
        "variables": [{"name": printer(_named(v, model.shapes[v])), "shape": space(model.shapes[v])}
                      for v in model.variables],
        "equations": [{"name": printer(_named(name, e.shape)), "latex": printer(e), "shape": space(e.shape)}
                      for name, e in model.equations],
        "graph": graph(model) if graph else "",
        "adjoints": [{"bar": printer.bar(a.name), "chain": chain_form(a, printer, model.shapes),
                      "simplified": printer(a.simplified), "shape": space(a.shape),
                      "given": a.is_loss or a.simplified.is_const}  # the handout gives these (no slot)
                     for a in derivation.adjoints],
        "gradients": [{"name": printer(_named(g.name, g.shape)), "bar": printer.bar(g.name), "expr": printer(g.expr),
                       "shape": space(g.shape), "exact": escape(short_state(checks[g.name].exact)),
                       "proved": checks[g.name].exact == "pass",
                       "numeric": scientific(checks[g.name].numeric_max_relative_error),
                       "method": escape(checks[g.name].numeric_method)}
                      for g in derivation.gradients],
        "proved": sum(checks[g.name].exact == "pass" for g in derivation.gradients),
        "loss": printer(_named(problem.loss, (1, 1))),
        "notes": derivative_notes(solution, printer, markdown=markdown),
        "abstract": sorted(model.abstract & used),
        "diag": diag,
    }
    if blank:
        context["graph"], context["notes"] = "", []
        # The student answers what the answer file has a slot for; a constant adjoint (the loss's
        # 1) is given, worked, as in the key.
        context["adjoints"] = [a if a["given"] else {**a, "chain": "", "simplified": ""} for a in context["adjoints"]]
        context["gradients"] = [{**g, "expr": ""} for g in context["gradients"]]
    return context


def _named(name, shape):
    from ..matrix.expr import var

    return var(name, shape)


def _function_names(e) -> set:
    return {node.function for node in e.walk() if node.op == "fn"}
