"""Matrix expressions as LaTeX and as Unicode text, by dispatch on the operation.

``diag=True`` writes an elementwise derivative times a vector as diag(f′(z)) h̄ instead of
f′(z) ⊙ h̄.  No mathematics here: the expressions come derived and simplified.
"""

from __future__ import annotations

import re

import sympy

from ..matrix.expr import M, leads_with_number, printed_kind
from ..precedence import needs_brackets
from ..parse import latex_variable

_LATEX_FUNCTIONS = {"sigma": r"\sigma", "sigmoid": r"\sigma", "tanh": r"\tanh", "exp": r"\exp", "log": r"\log",
                    "relu": r"\operatorname{relu}", "softplus": r"\operatorname{softplus}",
                    "square": r"\operatorname{sq}"}
_TEXT_FUNCTIONS = {"sigma": "σ", "sigmoid": "σ"}
_INDEXED = re.compile(r"([A-Za-z]+)_?(\d+)\Z")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class _Printer:
    """Brackets come from derive/precedence.py alone (``wrap``); a number is never printed
    right after another one (no "2 1/2 W")."""

    def __init__(self, diag: bool = False):
        self.diag = diag

    def __call__(self, e: M) -> str:
        return getattr(self, f"_print_{e.op}")(e)

    def wrap(self, e: M, parent: str, side: str = "left") -> str:
        text = self(e)
        return self.parens(text) if needs_brackets(printed_kind(e), parent, side) else text

    def factor(self, e: M, parent: str) -> str:
        """The right operand of a product written by juxtaposition: bracketed by the table, or
        when it would start with a number (never "2 1/2 W")."""
        text = self(e)
        if needs_brackets(printed_kind(e), parent, "right") or leads_with_number(e):
            return self.parens(text)
        return text

    def _print_add(self, e: M) -> str:
        out = self.wrap(e.args[0], "add")
        for term in e.args[1:]:
            if term.op == "neg":
                out += f" {self.minus} {self.wrap(term.args[0], 'sub', 'right')}"
            elif term.op == "scale" and term.args[0].is_const and term.args[0].data < 0:
                positive = M("scale", (M("const", (), (1, 1), -term.args[0].data), term.args[1]), term.shape)
                out += f" {self.minus} {self.wrap(positive, 'sub', 'right')}"
            elif term.is_const and term.data < 0:
                out += f" {self.minus} {self.wrap(M('const', (), (1, 1), -term.data), 'sub', 'right')}"
            else:
                out += f" + {self.wrap(term, 'add', 'right')}"
        return out

    def _print_neg(self, e: M) -> str:
        return f"{self.minus}{self.wrap(e.args[0], 'neg', 'right')}"

    def _print_scale(self, e: M) -> str:
        c, a = e.args
        return f"{self.wrap(c, 'mul')}{self.space}{self.factor(a, 'mul')}"

    def _print_matmul(self, e: M) -> str:
        a, b = e.args
        return f"{self.wrap(a, 'matmul')}{self.space}{self.factor(b, 'matmul')}"

    def _print_had(self, e: M) -> str:
        a, b = e.args
        if self.diag and a.op == "dfn" and b.shape[1] == 1:
            return f"{self.diag_of(self(a))}{self.space}{self.factor(b, 'matmul')}"
        return f"{self.wrap(a, 'hadamard')} {self.odot} {self.wrap(b, 'hadamard', 'right')}"

    def _print_T(self, e):
        return f"{self.wrap(e.args[0], 'transpose')}{self.transposed}"

    def _print_div(self, e):
        return f"{self.wrap(e.args[0], 'div')} / {self.wrap(e.args[1], 'div', 'right')}"


class LatexPrinter(_Printer):
    minus = "-"
    space = r" \, "
    odot = r"\odot"
    transposed = r"^\top"

    def parens(self, text: str) -> str:
        return rf"\left({text}\right)"

    def wrap(self, e: M, parent: str, side: str = "left") -> str:
        if needs_brackets(printed_kind(e), parent, side):
            return self.parens(self(e))
        if parent in ("pow", "transpose") and side == "left" and e.op in ("T", "pow"):
            return f"{{{self(e)}}}"  # (xᵀ)ᵀ as {x^\top}^\top: TeX allows one superscript per base
        return self(e)

    def diag_of(self, text: str) -> str:
        return rf"\operatorname{{diag}}\left({text}\right)"

    def bar(self, name: str) -> str:
        match = _INDEXED.match(name)
        if match and len(match.group(1)) == 1:
            return rf"\bar{{{match.group(1)}}}_{{{match.group(2)}}}"
        return rf"\bar{{{latex_variable(name)}}}"

    def _print_var(self, e):
        return latex_variable(e.data)

    def _print_adj(self, e):
        return self.bar(e.data)

    def _print_const(self, e):
        return sympy.latex(e.data)

    def _print_ones(self, e):
        return r"\mathbf{1}"

    def _print_zero(self, e):
        return r"\mathbf{0}"

    def _print_eye(self, e):
        return "I"

    def _print_pow(self, e):
        return rf"{self.wrap(e.args[0], 'pow')}^{{\circ {sympy.latex(e.data)}}}"

    def _print_fn(self, e):
        return rf"{_LATEX_FUNCTIONS.get(e.data, latex_variable(e.data))}\left({self(e.args[0])}\right)"

    def _print_dfn(self, e):
        return rf"{_LATEX_FUNCTIONS.get(e.data, latex_variable(e.data))}'\left({self(e.args[0])}\right)"

    def _print_sum(self, e):
        return rf"\textstyle\sum\left({self(e.args[0])}\right)"

    def _print_norm(self, e):
        return rf"\left\lVert {self(e.args[0])} \right\rVert"

    def _print_dot(self, e):
        return rf"\left\langle {self(e.args[0])}, {self(e.args[1])} \right\rangle"

    def _print_trace(self, e):
        return rf"\operatorname{{tr}}\left({self(e.args[0])}\right)"

    def _print_softmax(self, e):
        return rf"\operatorname{{softmax}}\left({self(e.args[0])}\right)"

    def _print_log_softmax(self, e):
        return rf"\log\operatorname{{softmax}}\left({self(e.args[0])}\right)"

    def _print_logsumexp(self, e):
        return rf"\operatorname{{logsumexp}}\left({self(e.args[0])}\right)"

    def _print_sce(self, e):
        return rf"\operatorname{{CE}}\left(\operatorname{{softmax}}({self(e.args[0])}), {self(e.args[1])}\right)"

    def _print_div(self, e):
        return rf"\frac{{{self(e.args[0])}}}{{{self(e.args[1])}}}"


class TextPrinter(_Printer):
    minus = "−"
    space = " "
    odot = "⊙"
    transposed = "ᵀ"

    def parens(self, text: str) -> str:
        return f"({text})"

    def diag_of(self, text: str) -> str:
        return f"diag({text})"

    def bar(self, name: str) -> str:
        match = _INDEXED.match(name)
        if match and len(match.group(1)) == 1:
            return f"{match.group(1)}\u0304{match.group(2)}"
        return f"{name}\u0304"

    def _print_var(self, e):
        return e.data

    def _print_adj(self, e):
        return self.bar(e.data)

    def _print_const(self, e):
        return str(e.data).replace("-", "−")

    def _print_ones(self, e):
        return "𝟏"

    def _print_zero(self, e):
        return "0"

    def _print_eye(self, e):
        return "I"

    def _print_pow(self, e):
        exponent = M("const", (), (1, 1), e.data)
        return f"{self.wrap(e.args[0], 'pow')}^{self.wrap(exponent, 'pow', 'right')}"

    def _print_fn(self, e):
        return f"{_TEXT_FUNCTIONS.get(e.data, e.data)}({self(e.args[0])})"

    def _print_dfn(self, e):
        return f"{_TEXT_FUNCTIONS.get(e.data, e.data)}′({self(e.args[0])})"

    def _print_sum(self, e):
        return f"sum({self(e.args[0])})"

    def _print_norm(self, e):
        return f"‖{self(e.args[0])}‖"

    def _print_dot(self, e):
        return f"⟨{self(e.args[0])}, {self(e.args[1])}⟩"

    def _print_trace(self, e):
        return f"tr({self(e.args[0])})"

    def _print_softmax(self, e):
        return f"softmax({self(e.args[0])})"

    def _print_log_softmax(self, e):
        return f"log_softmax({self(e.args[0])})"

    def _print_logsumexp(self, e):
        return f"logsumexp({self(e.args[0])})"

    def _print_sce(self, e):
        return f"CE(softmax({self(e.args[0])}), {self(e.args[1])})"



def shape_latex(shape: tuple) -> str:
    rows, cols = (latex_variable(d) if isinstance(d, str) else str(d) for d in shape)
    return rf"\mathbb{{R}}^{{{rows} \times {cols}}}"


def shape_text(shape: tuple) -> str:
    return f"ℝ^({shape[0]}×{shape[1]})"


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
            d = f"∂{consumer}/∂{adjoint.name}"
            jac = d if shapes[consumer] == (1, 1) and shapes[adjoint.name] == (1, 1) else f"({d})ᵀ"
            terms.append(f"{jac} {printer.bar(consumer)}")
    return " + ".join(terms)


def derivative_notes(solution, printer) -> list[str]:
    """σ′(z) = σ(z) ⊙ (1 − σ(z)) and the like, for the elementwise functions the equations use."""
    from ..matrix.rules import ELEMENTWISE

    used = set()
    for a in solution.derivation.adjoints:
        used |= _dfn_uses(a.simplified)
    notes = []
    for name, arg in sorted(used, key=lambda pair: pair[0]):
        if name in solution.model.abstract:
            continue
        kind = ELEMENTWISE[solution.model.concrete.get(name, name)]
        if kind.derivative_latex and isinstance(printer, LatexPrinter):
            f = _LATEX_FUNCTIONS.get(name, latex_variable(name))
            z = latex_variable(arg)
            notes.append(rf"{f}'({z}) = " + kind.derivative_latex.format(f=f, z=z))
    return notes


def _dfn_uses(e: M) -> set:
    found = {(e.data, e.args[0].data)} if e.op == "dfn" and e.args[0].op == "var" else set()
    for a in e.args:
        found |= _dfn_uses(a)
    return found


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
        "nodes": [{"name": name, "expr": solution.problem.equations[name], "shape": list(e.shape),
                   "latex": latex(e)} for name, e in model.equations],
        "adjoints": [{"name": a.name, "shape": list(a.shape), "chain": chain_form(a, text, shapes),
                      "simplified": text(a.simplified), "latex": latex(a.simplified),
                      "chain_latex": chain_form(a, latex, shapes), "numpy": numpy_expr(a.simplified)}
                     for a in derivation.adjoints],
        "gradients": {g.name: {"shape": list(g.shape), "simplified": text(g.expr), "latex": latex(g.expr),
                               "numpy": numpy_expr(g.expr)} for g in derivation.gradients},
        "checks": solution.checks.as_dict(),
    }
