"""Matrix expressions as LaTeX and as Unicode text, by dispatch on the operation.

``diag=True`` writes an elementwise derivative times a vector as diag(f′(z)) h̄ instead of
f′(z) ⊙ h̄.  No mathematics here: the expressions come derived and simplified.
"""

from __future__ import annotations

import re
from dataclasses import replace

import sympy

from ..matrix.expr import M, count, leads_with_number
from ..functions import FUNCTIONS
from ..matrix.rules import OPS, along_words, axis_text, fill, printed_binding
from ..precedence import needs_brackets
from ..parse import GREEK_LATEX, latex_variable, name_parts, text_variable

_LATEX_FUNCTIONS = {"sigma": r"\sigma", **{f.name: f.symbol for f in FUNCTIONS.values()}}
_TEXT_FUNCTIONS = {"sigma": "σ", **{f.name: f.text_symbol for f in FUNCTIONS.values() if f.text_symbol}}
_INDEXED = re.compile(r"([A-Za-z]+)_?(\d+)\Z")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _is_row(e: M) -> bool:
    """A 1×n vector (n ≠ 1): written as the transpose of a column of ones."""
    return e.shape[0] == 1 and e.shape[1] != 1


class _Printer:
    """Brackets come from derive/precedence.py alone (``wrap``); a number is never printed
    right after another one (no "2 1/2 W")."""

    def __init__(self, diag: bool = False):
        self.diag = diag

    def __call__(self, e: M) -> str:
        e = explicit_broadcasts(e)
        special = getattr(self, f"_print_{e.op}", None)
        return special(e) if special else self.form(e)

    def form(self, e: M) -> str:
        """An operation printed by its registry entry's text or LaTeX form."""
        spec = OPS[e.op]
        if spec.sides:
            args = [self.wrap(a, spec.binding, side) for a, side in zip(e.args, spec.sides)]
        else:
            args = [self(a) for a in e.args]
        slots = {"a": axis_text(e, self.style)}
        if e.op in ("fn", "dfn"):
            slots["f"] = self.function(e.function)
        elif e.op == "pow":
            slots["d"] = self.exponent(e.exponent)
        text = fill(getattr(spec, self.style), args, **slots)
        words = along_words(e)  # a softmax of each row: "row-wise softmax(Z)", never softmax(Z, axis=1)
        return f"{self.words(words)}{text}" if words else text

    def _print_sum(self, e: M) -> str:
        """A sum along an axis as a textbook writes it: X 𝟏 (each row summed), 𝟏ᵀ X (each column);
        the sum of every squared entry as a squared norm, ‖y − s‖², ‖Y − S‖_F² (never ∑((Y − S)^∘2))."""
        if e.axis is not None:
            return self(_with_ones(e))
        inside = e.args[0]
        if inside.op == "pow" and inside.exponent == 2 and not inside.args[0].is_scalar:
            matrix = 1 not in inside.args[0].shape
            return self.squared_norm(self.form(M("norm", (inside.args[0],), (1, 1))), matrix)
        return self.form(e)

    def _print_mean(self, e: M) -> str:
        """A mean along an axis: (1/B) X 𝟏, (1/D) 𝟏ᵀ X."""
        if e.axis is None:
            return self.form(e)
        size = count(e.args[0].shape, e.axis)
        one_over = M("div", (M("const", (), (1, 1), value=sympy.Integer(1)), size), (1, 1))
        return self(M("scale", (one_over, _with_ones(e)), e.shape))

    def wrap(self, e: M, parent: str, side: str = "left") -> str:
        text = self(e)
        return self.parens(text) if needs_brackets(_binding(e, parent), parent, side) else text

    def factor(self, e: M, parent: str) -> str:
        """The right operand of a product written by juxtaposition: bracketed by the table, or
        when it would start with a number (never "2 1/2 W")."""
        text = self(e)
        if needs_brackets(printed_binding(e), parent, "right") or leads_with_number(e):
            return self.parens(text)
        return text

    def _print_add(self, e: M) -> str:
        out = self.wrap(e.args[0], "add")
        for term in e.args[1:]:
            if term.op == "neg":
                out += f" {self.minus} {self.wrap(term.args[0], 'sub', 'right')}"
            elif term.op == "scale" and term.args[0].is_const and term.args[0].value < 0:
                positive = M("scale", (M("const", (), (1, 1), value=-term.args[0].value), term.args[1]), term.shape)
                out += f" {self.minus} {self.wrap(positive, 'sub', 'right')}"
            elif term.is_const and term.value < 0:
                out += f" {self.minus} {self.wrap(M('const', (), (1, 1), value=-term.value), 'sub', 'right')}"
            else:
                out += f" + {self.wrap(term, 'add', 'right')}"
        return out

    def _print_scale(self, e: M) -> str:
        c, a = e.args
        coefficient = self.wrap(c, "mul")
        if c.op == "div" and self.style == "text":  # (1 / B) log′(P), never 1 / B log′(P)
            coefficient = self.parens(coefficient)
        return f"{coefficient}{self.space}{self.factor(a, 'mul')}"

    def _print_matmul(self, e: M) -> str:
        a, b = e.args
        left = self.wrap(a, 'matmul')
        if b.op == "ones" and _ends_in_exponent(a) and left[-1:] in "0123456789":  # (X^2) 𝟏, (−X^2) 𝟏
            left = self.parens(left)
        return f"{left}{self.space}{self.factor(b, 'matmul')}"

    def _print_had(self, e: M) -> str:
        a, b = e.args
        if self.diag and a.op == "dfn" and b.shape[1] == 1:
            return f"{self.diag_of(self(a))}{self.space}{self.factor(b, 'matmul')}"
        return self.form(e)

    def _print_div(self, e):
        symbol = "/" if e.args[1].is_scalar else "⊘"  # a matrix divisor divides entry by entry
        return f"{self.wrap(e.args[0], 'div')} {symbol} {self.wrap(e.args[1], 'div', 'right')}"


class LatexPrinter(_Printer):
    style = "latex"
    minus = "-"
    space = r" \, "

    def parens(self, text: str) -> str:
        return rf"\left({text}\right)"

    def words(self, text: str) -> str:
        return rf"\text{{{text}}}\,"

    def _print_pow(self, e: M) -> str:
        if e.args[0].is_scalar:  # a power of a number is a plain power (‖y − s‖², not ‖y − s‖^{∘2})
            return f"{self.wrap(e.args[0], 'pow', 'left')}^{{{self.exponent(e.exponent)}}}"
        return self.form(e)

    def wrap(self, e: M, parent: str, side: str = "left") -> str:
        if _is_fraction(e) and parent in (("neg", "sub", "add") if _split_fraction(e) else
                                        ("neg", "sub", "add", "mul", "matmul", "hadamard")):
            return self(e)  # a \frac is delimited by its own bar: −\frac{T}{P}, never −(\frac{T}{P})
        if needs_brackets(_binding(e, parent), parent, side):
            return self.parens(self(e))
        if parent in ("pow", "transpose") and side == "left" and e.op in ("T", "pow"):
            return f"{{{self(e)}}}"  # (xᵀ)ᵀ as {x^\top}^\top: TeX allows one superscript per base
        return self(e)

    def _print_scale(self, e: M) -> str:
        c, a = e.args
        coefficient = self.wrap(c, "mul")
        if _is_fraction(a) and coefficient[-1:].isdigit():  # a number before a fraction reads as a mixed
            return f"{coefficient}{self.space}{self.parens(self(a))}"  # number: 2 (\frac{u}{e^c})
        return super()._print_scale(e)

    def factor(self, e: M, parent: str) -> str:
        if _is_fraction(e) and _split_fraction(e):
            return self.parens(self(e))  # it starts with a number fraction: 2 (\frac{1}{B} \frac{X}{A})
        if _is_fraction(e) and not leads_with_number(e):
            return self(e)  # \frac{1}{B} \frac{1 - t}{1 - p}; but 2 (\frac{3}{B}), never the mixed number 2 3/B
        return super().factor(e, parent)

    def diag_of(self, text: str) -> str:
        return rf"\operatorname{{diag}}\left({text}\right)"

    def bar(self, name: str) -> str:
        match = _INDEXED.match(name)
        if match and len(match.group(1)) == 1:
            return rf"\bar{{{match.group(1)}}}_{{{match.group(2)}}}"
        parts = name_parts(name)
        if parts:  # the bar over the letter: \bar{W}_{Q}, \bar{\hat{X}}; never over a whole word
            letter, accent, subscript = parts
            return rf"\bar{{{latex_variable(letter + accent)}}}" + (f"_{{{subscript}}}" if subscript else "")
        body = latex_variable(name)
        # \bar is one letter wide: a name of several letters (CE, \mathrm{lam}) gets a bar over all of it
        return rf"\bar{{{body}}}" if len(name) == 1 or body == GREEK_LATEX.get(name) else rf"\overline{{{body}}}"

    def _print_var(self, e):
        return latex_variable(e.name)

    def _print_adj(self, e):
        return self.bar(e.name)

    def _print_const(self, e):
        return sympy.latex(e.value)

    def _print_ones(self, e):  # a row of ones is 𝟏ᵀ, so μ̄ 𝟏ᵀ / B reads as the D×B it is
        return r"{\mathbf{1}^\top}" if _is_row(e) else r"\mathbf{1}"

    def _print_zero(self, e):
        return r"\mathbf{0}"

    def _print_eye(self, e):
        return "I"

    def function(self, name: str) -> str:
        return _LATEX_FUNCTIONS.get(name, latex_variable(name))

    def _print_fn(self, e):
        if e.function == "sqrt":  # √ as a textbook writes it
            return rf"\sqrt{{{self(e.args[0])}}}"
        return self.form(e)

    def exponent(self, value) -> str:
        return sympy.latex(value)

    def squared_norm(self, norm: str, frobenius: bool) -> str:
        return f"{norm}_{{F}}^{{2}}" if frobenius else f"{norm}^{{2}}"

    def _print_dim(self, e):
        return latex_variable(e.name)

    def _print_div(self, e):  # a fraction needs no brackets around either side
        top, bottom = e.args
        if not bottom.is_scalar:  # T ⊘ P: a \frac of matrices would read T P⁻¹
            return rf"{self.wrap(top, 'div')} \oslash {self.wrap(bottom, 'div', 'right')}"
        if _split_fraction(e):  # never a fraction inside a fraction:
            c = top.args[0].value if top.op == "scale" else sympy.Integer(1)
            below = self(bottom) if c.q == 1 else f"{c.q} {self(bottom)}"
            rest = top.args[1] if top.op == "scale" else top  # ½ ∑(…) / B as \frac{1}{2 B} ∑(…),
            if _is_fraction(rest) and not _split_fraction(rest):
                after = self(rest)
            elif rest.op == "div":
                after = self.parens(self(rest))  # (T ⊘ P) / B as \frac{1}{B} \left(T \oslash P\right)
            else:
                after = self.factor(rest, "mul")
            return rf"\frac{{{c.p}}}{{{below}}}{self.space}{after}"
        return rf"\frac{{{self(top)}}}{{{self(bottom)}}}"



#: The elementwise operations whose operands broadcast (NumPy's rule) to the result's shape.
_BROADCASTING = frozenset({"add", "had", "div", "epow", "where"})


def explicit_broadcasts(e: M) -> M:
    """``e`` with each operand it stretches written as a product with ones, as the adjoints write
    theirs (μ̄ 𝟏ᵀ / B): a column v over the columns of a matrix is v 𝟏ᵀ, a row r over its rows 𝟏 r,
    so C ⊙ v̄ reads C ⊙ (v̄ 𝟏ᵀ) and every broadcast on a sheet is written one way.  A scalar
    operand stays as it is."""
    if e.op not in _BROADCASTING or e.is_scalar:
        return e
    args = tuple(_stretched(a, e.shape) for a in e.args)
    return e if args == e.args else replace(e, args=args)


def _stretched(a: M, shape: tuple) -> M:
    if a.shape == shape or a.is_scalar:
        return a
    if a.op == "neg":  # X − μ 𝟏ᵀ, never X + (−μ) 𝟏ᵀ
        return replace(a, args=(_stretched(a.args[0], shape),), shape=shape)
    if a.op == "scale" and a.args[0].is_const:  # X − 2 μ 𝟏ᵀ: the sum reads the sign off the constant
        return replace(a, args=(a.args[0], _stretched(a.args[1], shape)), shape=shape)
    rows, cols = shape
    if a.shape == (rows, 1):
        return M("matmul", (a, M("ones", (), (1, cols))), shape)
    if a.shape == (1, cols):
        return M("matmul", (M("ones", (), (rows, 1)), a), shape)
    return a


def _binding(e: M, parent: str) -> str:
    """How ``e`` binds under ``parent``: as the table says, except that a sum or mean along an
    axis, printed as a product with 𝟏 (X 𝟏, (1/B) X 𝟏), is a product under a transpose or a power
    ((𝟏ᵀ X)ᵀ, never 𝟏ᵀ Xᵀ) while a minus sign before it still reads right (−X 𝟏)."""
    if parent in ("transpose", "pow") and e.op in ("sum", "mean") and e.axis is not None:
        return "matmul"
    return printed_binding(e)


def _ends_in_exponent(e: M) -> bool:
    """Whether the text of ``e`` ends in a power's exponent (X^2, −X^2): before 𝟏, which reads as a
    digit, it needs brackets; a name ending in a digit (Z̄1 𝟏) does not."""
    return e.op == "pow" or (e.op == "neg" and _ends_in_exponent(e.args[0]))


def _with_ones(e: M) -> M:
    """The sum along an axis as a product with a vector of ones: X 𝟏 along rows, 𝟏ᵀ X along columns."""
    (a,) = e.args
    if e.axis % 2 == 1:
        return M("matmul", (a, M("ones", (), (a.shape[1], 1))), e.shape)
    return M("matmul", (M("ones", (), (1, a.shape[0])), a), e.shape)


def _is_fraction(e: M) -> bool:
    """Whether LaTeX sets the division ``e`` as a \\frac: only by a scalar; a matrix divisor
    divides entry by entry and is written ⊘."""
    return e.op == "div" and e.args[1].is_scalar


def _split_fraction(e: M) -> bool:
    """Whether LaTeX prints the division ``e`` (by a scalar name or number) as a coefficient
    fraction times the rest: (c X) / B with c a positive fraction, or (T ⊘ P) / B."""
    top, bottom = e.args
    if not (bottom.is_scalar and bottom.op in ("dim", "var")):  # a name: \frac{1}{2 B}; never \frac{1}{2 2}
        return False
    if top.op == "div":
        return True
    c = top.args[0].value if top.op == "scale" and top.args[0].is_const else None
    return isinstance(c, sympy.Rational) and c > 0 and (c.q != 1 or c.p == 1)


class TextPrinter(_Printer):
    style = "text"
    minus = "−"
    space = " "

    def parens(self, text: str) -> str:
        return f"({text})"

    def words(self, text: str) -> str:
        return f"{text} "

    def diag_of(self, text: str) -> str:
        return f"diag({text})"

    def _print_neg(self, e: M) -> str:
        """−T / B, as a textbook writes it (and as −\\frac{T}{B} reads), never −(T / B): the minus
        goes onto a numerator that takes it without brackets; the two are equal."""
        (a,) = e.args
        if _is_fraction(a) and not needs_brackets(printed_binding(a.args[0]), "neg", "right"):
            return self(M("div", (M("neg", (a.args[0],), a.args[0].shape), a.args[1]), a.shape))
        return self.form(e)

    def bar(self, name: str) -> str:
        parts = name_parts(name)
        if parts:  # X̂̄, W̄_Q: the bar over the letter
            letter, accent, subscript = parts
            return f"{text_variable(letter + accent)}\u0304" + (f"_{subscript}" if subscript else "")
        name = text_variable(name)  # mu -> μ̄, never mū
        match = _INDEXED.match(name)
        if match and len(match.group(1)) == 1:
            return f"{match.group(1)}\u0304{match.group(2)}"
        return f"{name}\u0304"

    def _print_var(self, e):
        return text_variable(e.name)

    def _print_adj(self, e):
        return self.bar(e.name)

    def _print_const(self, e):
        return str(e.value).replace("-", "−")

    def _print_ones(self, e):
        return "𝟏ᵀ" if _is_row(e) else "𝟏"

    def _print_zero(self, e):
        return "0"

    def _print_dim(self, e):
        return e.name

    def function(self, name: str) -> str:
        return _TEXT_FUNCTIONS.get(name, name)

    def exponent(self, value) -> str:
        return self.wrap(M("const", (), (1, 1), value=value), "pow", "right")

    def squared_norm(self, norm: str, frobenius: bool) -> str:
        return f"{norm}_F^2" if frobenius else f"{norm}^2"

    def _print_eye(self, e):
        return "I"


def shape_latex(shape: tuple) -> str:
    """ℝ for a scalar (a 1×1 loss or coefficient), ℝ^{m×n} otherwise."""
    if tuple(shape) == (1, 1):
        return r"\mathbb{R}"
    rows, cols = (latex_variable(d) if isinstance(d, str) else str(d) for d in shape)
    return rf"\mathbb{{R}}^{{{rows} \times {cols}}}"


def shape_text(shape: tuple) -> str:
    """ℝ for a scalar, ℝ^(m×n) otherwise, as shape_latex."""
    return "ℝ" if tuple(shape) == (1, 1) else f"ℝ^({shape[0]}×{shape[1]})"


# -- the lines of a matrix solution, in either notation -------------------------------------------
def chain_form(adjoint, printer, shapes: dict) -> str:
    """n̄ = Σ (∂c/∂n)ᵀ c̄ over the consumers (the seed's 2(b) form); the loss's is 1."""
    if adjoint.is_loss:
        return "1"
    if not adjoint.consumers:
        return "0"
    terms = []
    for consumer in adjoint.consumers:
        if isinstance(printer, LatexPrinter):
            d = rf"\frac{{\partial {latex_variable(consumer)}}}{{\partial {latex_variable(adjoint.name)}}}"
            jac = d if shapes[consumer] == (1, 1) and shapes[adjoint.name] == (1, 1) else rf"\left({d}\right)^\top"
            terms.append(rf"{jac} \, {printer.bar(consumer)}")
        else:
            d = f"∂{text_variable(consumer)}/∂{text_variable(adjoint.name)}"
            jac = d if shapes[consumer] == (1, 1) and shapes[adjoint.name] == (1, 1) else f"({d})ᵀ"
            terms.append(f"{jac} {printer.bar(consumer)}")
    return " + ".join(terms)


def derivative_notes(solution, printer, *, markdown: bool = False) -> list[str]:
    """What the sheet states besides its tables, in the printer's notation: the nodes derive
    named, what a function the problem names is (σ = tanh), the derivatives left as f′(z)
    (σ′(z) = σ(z) ⊙ (1 − σ(z))) and each rewrite of the simplified column with the condition
    that makes it hold (ō = p − t, as t is one-hot).

    A LaTeX note is one formula, its prose set as \\text words; with ``markdown`` it is prose
    with its formulas in $…$ (Markdown's maths has no \\allowbreak, and prose reads as prose)."""
    from ..functions import FUNCTIONS

    latex = isinstance(printer, LatexPrinter)
    model, derivation = solution.model, solution.derivation
    notes = [*introduced_note(model, printer), *function_notes(model, printer), *loss_notes(model, printer)]
    used = set()
    for a in derivation.adjoints:
        used |= _dfn_uses(a.simplified)
    for g in derivation.gradients:
        used |= _dfn_uses(g.expr)
    position = {n: i for i, n in enumerate([*model.variables, *(n for n, _ in model.equations)])}
    for name, arg in sorted(used, key=lambda pair: (pair[0], position.get(pair[1], len(position)), pair[1])):
        if name in model.abstract:
            continue
        row = FUNCTIONS[model.concrete.get(name, name)]
        form = row.derivative_latex if latex else row.derivative_text
        if form:
            f = printer.function(name)
            z, prime = (latex_variable(arg), "'") if latex else (_name(printer, arg, model.shapes[arg]), "′")
            notes.append(f"{f}{prime}({z}) = " + fill(form, [z], f=f))
    order = {n: i for i, (n, _) in enumerate(model.equations)}  # the facts as the equations read
    facts = sorted(derivation.facts, key=lambda fact: order.get(fact.arg, -1))
    notes.extend(fact_note(fact, model, printer) for fact in facts)
    notes = _one_note_per_step(notes, printer, {*model.shapes, *model.problem.dims})
    if not latex:
        return notes
    return [_markdown_note(note) if markdown else _latex_note(note) for note in notes]


def _one_note_per_step(notes: list[str], printer, names) -> list[str]:
    """Notes alike but for one step's number, one after another (an RNN's tanh′(a1) = 1 − h1 ⊙ h1,
    then a2, h2, then a3, h3), stated once for every step: tanh′(a_t) = 1 − h_t ⊙ h_t, as
    h_t = tanh(a_t), for t = 1, 2, 3."""
    latex = isinstance(printer, LatexPrinter)
    number = re.compile(r"_\{(\d+)\}" if latex else r"(?<=[^\W\d_]|\u0304)(\d+)\b")
    t = next(letter for letter in ("t", "k", "i", "j", "n", "tau") if letter not in names)
    step = latex_variable(t) if latex else t

    def template(note):  # the note with its one step number written t, or None
        found = set(number.findall(note))
        return number.sub(f"_{{{step}}}" if latex else f"_{step}", note) if len(found) == 1 else None, found

    out, i = [], 0
    while i < len(notes):
        shape, steps = template(notes[i])
        j = i + 1
        while shape and j < len(notes) and template(notes[j])[0] == shape:
            steps |= template(notes[j])[1]
            j += 1
        if j - i > 1:
            out.append(shape + _words(printer, ", for ") + f"{step} = " + ", ".join(sorted(steps, key=int)))
        else:
            out.append(notes[i])
        i = j
    return out


_PROSE = re.compile("\x02([^\x03]*)\x03")  # prose a LaTeX note holds, as _words marks it


def _words(printer, text: str) -> str:
    """Prose inside a note, marked so that each sheet sets it as its format needs."""
    return f"\x02{text}\x03" if isinstance(printer, LatexPrinter) else text


def _latex_note(note: str) -> str:
    """A note typeset in math mode, where one \\text{…} cannot be broken across lines: each word
    is its own \\text, with a break allowed at every space."""
    return _PROSE.sub(lambda m: r"\ \allowbreak ".join(rf"\text{{{word}}}" if word else ""
                                                       for word in m[1].split(" ")), note)


def _markdown_note(note: str) -> str:
    """A note as Markdown prose: its words as words, each formula between them in $…$."""
    parts = []
    for i, piece in enumerate(_PROSE.split(note)):  # formula, prose, formula, …
        if i % 2:
            parts.append(piece)
        elif piece.strip():
            space = piece[:len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()):]
            parts.append(f"{space[0]}${piece.strip()}${space[1]}")
    return "".join(parts)


def _name(printer, name: str, shape) -> str:
    return printer(M("var", (), tuple(shape), name=name))


def introduced_note(model, printer) -> list[str]:
    """What each name derive introduced is: z1, o name the arguments written inline; h1 names the
    output of a layer that a product takes (h1 = tanh(z1)); p names the output σ(z) that a loss
    written inline takes the log of (outputs, not arguments)."""
    if not model.introduced:
        return []
    arguments = [n for n in model.introduced if n not in model.outputs and n not in model.layers]
    groups = [(arguments, "argument", "in the equations"), (list(model.layers), "layer output", "in a product"),
              (list(model.outputs), "output", "in the loss")]
    definitions = dict(model.equations)
    parts = []
    for names, what, where in groups:
        if not names:
            continue
        one = len(names) == 1
        verb = "" if parts else (" names" if one else " name")  # "z names …, p the output …"
        text = ", ".join(_name(printer, n, model.shapes[n]) for n in names)
        text += _words(printer, f"{verb} the {what}{'' if one else 's'} written inline {where}")
        if names is not arguments:
            text += _words(printer, " ") + "(" + ", ".join(_name(printer, n, model.shapes[n]) + " = "
                                                         + printer(definitions[n]) for n in names) + ")"
        parts.append(text)
    return [(_words(printer, ", ") if isinstance(printer, LatexPrinter) else ", ").join(parts)
            + _words(printer, ", each a node with its own adjoint" if len(model.introduced) > 1
                     else ", a node with its own adjoint")]


def function_notes(model, printer) -> list[str]:
    """σ = tanh for a function the problem names ([functions] sigma = "tanh"): the symbol of
    its name is not the symbol of what it is."""
    used = {node.function for _, e in model.equations for node in e.walk() if node.op in ("fn", "dfn")}
    notes = []
    for name, concrete in model.problem.functions.items():
        if name in used and printer.function(name) != printer.function(concrete):
            notes.append(f"{printer.function(name)} = {printer.function(concrete)}")
    return notes


def loss_notes(model, printer) -> list[str]:
    """What a fused loss the equations use is, in the problem's own names: CE(softmax(z), y) =
    −∑(y ⊙ log(softmax(z))), BCE(σ(z), t) = −∑(t ⊙ log(σ(z)) + (1 − t) ⊙ log(1 − σ(z))), ∑ the
    sum of every entry."""
    from ..matrix.expr import add, along, const, fn, had, neg, sub, vector_op

    notes = []
    for _, e in model.equations:
        for node in e.walk():
            if node.op not in ("sce", "bce"):
                continue
            z, t = node.args
            if node.op == "sce":
                inside = had(t, fn("log", vector_op("softmax", z)))
            else:
                p = fn("sigmoid", z)
                inside = add(had(t, fn("log", p)), had(sub(const(1), t), fn("log", sub(const(1), p))))
            note = f"{printer(node)} = {printer(neg(along('sum', inside)))}"
            if note not in notes:
                notes.append(note)
    return notes


def fact_note(fact, model, printer) -> str:
    """One rewrite of the simplified column, with what licenses it."""
    equals = " = "
    if fact.rewrite == "output":
        f = printer.function(fact.function)
        z = _name(printer, fact.arg, model.shapes[fact.arg])
        prime = "'" if isinstance(printer, LatexPrinter) else "′"
        if not fact.output:  # written from f(z) itself: tanh′(c1) = 1 − tanh(c1)^2
            return f"{f}{prime}({z}){equals}{printer(fact.form)}"
        y = _name(printer, fact.output, model.shapes[fact.output])
        return (f"{f}{prime}({z}){equals}{printer(fact.form)}" + _words(printer, ", as ") + y + equals
                + f"{f}({z})")
    if fact.rewrite == "columns":
        t = _name(printer, fact.arg, model.shapes[fact.arg])
        return _condition(printer, fact.function, fact.arg, t, model.shapes[fact.arg], lead=True)
    z = printer.bar(fact.arg)
    rule = ("softmax followed by cross-entropy" if fact.function == "softmax"
            else "sigmoid followed by binary cross-entropy")
    head = f"{z}{equals}{printer(fact.form)}" + _words(printer, f" ({rule}")
    if fact.function == "sigmoid":
        return head + _words(printer, ", for any target)")
    softmax_axis = dict(model.equations)[fact.output].axis  # the target sums to 1 along it
    kind = model.problem.kinds.get(fact.target) or ("distribution_rows" if softmax_axis == 1 else "")
    t = _name(printer, fact.target, model.shapes[fact.target])
    return head + _words(printer, ", as ") + _condition(printer, kind, fact.target, t, model.shapes[fact.target]) \
        + _words(printer, ")")


def _condition(printer, kind: str, name: str, t: str, shape, lead: bool = False) -> str:
    """"t is one-hot", "each column of T sums to 1": what a target's declared kind licenses."""
    rows = kind.endswith("_rows")  # one example per row: T 1 = 1
    column = shape[1] == 1 and not rows
    what = "is one-hot" if kind.startswith("onehot") else "sums to 1"
    each = "each row of " if rows else "each column of "
    if lead:  # 1ᵀ T = 1ᵀ, as each column of T sums to 1
        latex = isinstance(printer, LatexPrinter)
        ones, one = (r"\mathbf{1}^\top", r"\mathbf{1}") if latex else ("𝟏ᵀ", "𝟏")
        total = f"{t} {one} = {one}" if rows else f"{ones} {t} = " + ("1" if column else ones)
        return total + _words(printer, ", as " + ("" if column else each)) + t + _words(printer, f" {what}")
    if column:
        return t + _words(printer, f" {what}")
    return _words(printer, each) + t + _words(printer, f" {what}")


def _dfn_uses(e: M) -> set:
    return {(n.function, n.args[0].name) for n in e.walk() if n.op == "dfn" and n.args[0].op == "var"}


def matrix_json(solution) -> dict:
    """The data of ``derive solve --json`` for a matrix problem."""
    from ..matrix.codegen import numpy_expr

    latex, text = LatexPrinter(), TextPrinter()
    model, derivation = solution.model, solution.derivation
    shapes = model.shapes
    return {
        "kind": "matrix",
        "problem": solution.problem.name,
        "dims": dict(solution.problem.dims),
        "variables": [{"name": v, "shape": list(shapes[v])} for v in model.variables],
        # a node derive named (an argument written inline) has no text of the problem's: its form is printed
        "nodes": [{"name": name, "expr": solution.problem.equations.get(name) or text(e), "shape": list(e.shape),
                   "latex": latex(e), "introduced": name in model.introduced} for name, e in model.equations],
        "adjoints": [{"name": a.name, "shape": list(a.shape), "chain": chain_form(a, text, shapes),
                      "simplified": text(a.simplified), "latex": latex(a.simplified),
                      "chain_latex": chain_form(a, latex, shapes), "numpy": numpy_expr(a.simplified)}
                     for a in derivation.adjoints],
        "gradients": {g.name: {"shape": list(g.shape), "simplified": text(g.expr), "latex": latex(g.expr),
                               "numpy": numpy_expr(g.expr)} for g in derivation.gradients},
        "checks": solution.checks.as_dict(),
    }
