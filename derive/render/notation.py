"""How numbers, node names, partials and SymPy expressions are written, in text and in LaTeX.

Both notations offer the same small vocabulary, so the lines of the tables are built once
(``lines.py``) and written in either.  No mathematics happens here: values come solved.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from ..functions import FUNCTIONS
from ..parse import latex_variable, text_variable
from ..precedence import binding_of_sympy, binding_of_sympy_latex, needs_brackets

MINUS = "\u2212"
_TEXT_SYMBOLS = {f.name: f.text_symbol for f in FUNCTIONS.values() if f.text_symbol}  # sigmoid( -> σ(
_NODE = re.compile(r"v(-?\d+)\Z")
_HYPHEN = re.compile(r"(?<!v)-")  # a minus sign; "v-1" (Baydin's numbering) is a node name


def _minus(text: str) -> str:
    """ASCII hyphens as the minus sign −, node names such as v-1 left as they are."""
    return _HYPHEN.sub(MINUS, text)


class PrintedNumber(NamedTuple):
    """A number as the sheets print it, with the facts a printer needs, decided where its form is
    chosen (never read back from the text): its sign, and whether it is in scientific notation."""

    text: str  # ASCII - and e: each notation turns them into its own
    negative: bool
    scientific: bool

    @property
    def binding(self) -> str:
        """How it binds (derive/precedence.py): −0.5 is a negation, 1.5e−05 (1.5 × 10⁻⁵) a product,
        0.5 an atom."""
        return "neg" if self.negative else "mul" if self.scientific else "atom"


def printed_number(x: float, digits: int) -> PrintedNumber:
    """``x`` rounded to ``digits`` decimals, integers without decimals, tiny or huge values in
    scientific notation."""
    if x == round(x) and abs(x) < 1e15 or abs(x - round(x)) <= 1e-12 * max(1.0, abs(x)):
        if abs(x) < 1e15:
            whole = int(round(x))  # −1e−13 is 0, not a negation
            return PrintedNumber(str(whole), whole < 0, False)
        return PrintedNumber(f"{x:.{digits}e}", x < 0, True)
    if abs(x) < 10.0 ** (-digits) or abs(x) >= 1e7:
        return PrintedNumber(f"{x:.{digits}e}", x < 0, True)
    return PrintedNumber(f"{x:.{digits}f}", x < 0, False)


def format_number(x: float, digits: int) -> str:
    """``x`` as the sheets print it (printed_number), with ASCII ``-`` and ``e``."""
    return printed_number(x, digits).text


class _SheetStr(StrPrinter):
    """SymPy's str printer with the sheet's habits: 2v1, σ, a·b, x²."""

    def _print_Mul(self, expr):
        out = super()._print_Mul(expr)
        out = re.sub(r"(?<![\w.])(\d+)\*(?=[A-Za-z(σ])", r"\1", out)
        return out.replace("*", "·")

    def _print_Pow(self, expr, rational=False):
        out = super()._print_Pow(expr, rational)
        return out.replace("**", "^")

    def _print_Exp1(self, expr):
        return "e"  # as the user writes it (and the parsers read it), not SymPy's E

    def _print_sigmoid(self, expr):
        return f"σ({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        return f"H({self._print(expr.args[0])})"


class _SheetLatex(LatexPrinter):
    """SymPy's LaTeX printer with compact function calls (\\sin(v_5)) and v_{-1} names."""

    def __init__(self):
        super().__init__({"mul_symbol": None})

    def _print_Symbol(self, expr, style="plain"):
        match = _NODE.match(expr.name)
        return f"v_{{{match.group(1)}}}" if match else super()._print_Symbol(expr, style)

    def _print_Function(self, expr, exp=None):
        if len(expr.args) == 1 and exp is None and not hasattr(self, "_print_" + expr.func.__name__):
            name = self._hprint_Function(expr.func.__name__)
            return rf"{name}({self._print(expr.args[0])})"
        return super()._print_Function(expr, exp)

    def _print_log(self, expr, exp=None):  # \log, as derive/functions.py writes it
        body = rf"\log({self._print(expr.args[0])})"
        return body if exp is None else rf"\log^{{{exp}}}({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr, exp=None):
        return rf"H({self._print(expr.args[0])})"


class _Factors:
    """Brackets by the one precedence table (derive/precedence.py), shared by both notations."""

    def factor(self, text: str, binding: str, parent: str, side: str = "left") -> str:
        """``text`` (of precedence ``binding``) as the ``side`` operand of ``parent``, bracketed
        when the table says so: (1 − tanh(v3)^2) × 2, 1 × (−8), (v^2)^3."""
        return self.group(text) if needs_brackets(binding, parent, side) else text

    def number_binding(self, x: float) -> str:
        """How ``x`` binds as this notation prints it (PrintedNumber.binding)."""
        return printed_number(x, self.digits).binding

    def binding(self, expr: sympy.Expr) -> str:
        return binding_of_sympy(expr)

    def exact(self, value) -> str:
        """An input's value as the problem gives it: 2, 1/2, π/4 stay exact; a decimal the user
        typed (a SymPy Float) or a plain float is a rounded number like every other value."""
        if not isinstance(value, sympy.Basic) or not value.is_number or value.is_Float or value.is_Integer:
            return self.number(float(value))
        out = self.expr(value)
        return re.sub(r"\bpi\b", "π", out) if self.name == "text" else out


class TextNotation(_Factors):
    """Plain Unicode text, for the terminal."""

    name = "text"
    minus = MINUS
    times = " × "
    dot = " "
    arrow = " = "

    def __init__(self, digits: int = 3):
        self.digits = digits
        self._printer = _SheetStr()

    def number(self, x: float, parens: bool = False) -> str:
        out = format_number(x, self.digits).replace("-", MINUS)
        return f"({out})" if parens and x < 0 else out

    def node(self, node_id: str) -> str:
        return node_id

    def var(self, name: str) -> str:
        return text_variable(name)

    def bar(self, node_id: str) -> str:
        return f"v\u0304{node_id[1:]}"  # combining macron: v̄7

    def partial(self, top: str, bottom: str) -> str:
        return f"∂{top}/∂{bottom}"

    def expr(self, expr: sympy.Expr) -> str:
        return _minus(self._printer.doprint(expr))

    def template(self, pair: tuple[str, str]) -> str:
        return pair[0]

    def bracket(self, body: str) -> str:
        return f"[{body}]"

    def group(self, body: str) -> str:
        return f"({body})"

    def code(self, text: str) -> str:
        text = text.replace("**", "^").replace("*", "·")
        for name, symbol in _TEXT_SYMBOLS.items():
            text = re.sub(rf"\b{name}\(", f"{symbol}(", text)
        return _minus(text)

    def evaluation_template(self, rule) -> str:
        return self.code(rule.text).replace("·", " × ")

    def matrix(self, rows: list[list[str]]) -> str:
        width = max(len(cell) for row in rows for cell in row)
        return "\n".join("[ " + "  ".join(cell.rjust(width) for cell in row) + " ]" for row in rows)


class LatexNotation(_Factors):
    """LaTeX math (without the surrounding $), for the PDF sheet and Markdown."""

    name = "latex"
    minus = "-"
    times = r" \times "
    dot = r" \, "
    arrow = " = "

    def __init__(self, digits: int = 3):
        self.digits = digits
        self._printer = _SheetLatex()
        self._printed: dict[sympy.Expr, str] = {}

    def number(self, x: float, parens: bool = False) -> str:
        printed = printed_number(x, self.digits)
        out = printed.text
        if printed.scientific:
            mantissa, exponent = out.split("e")
            out = rf"{mantissa} \times 10^{{{int(exponent)}}}"
        return rf"\left({out}\right)" if parens and x < 0 else out

    def node(self, node_id: str) -> str:
        return f"v_{{{node_id[1:]}}}"

    def var(self, name: str) -> str:
        return latex_variable(name)

    def bar(self, node_id: str) -> str:
        return rf"\bar{{v}}_{{{node_id[1:]}}}"

    def partial(self, top: str, bottom: str) -> str:
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"

    def expr(self, expr: sympy.Expr) -> str:
        if expr not in self._printed:  # each partial is printed for its formula and its binding
            self._printed[expr] = self._printer.doprint(expr)
        return self._printed[expr]

    def template(self, pair: tuple[str, str]) -> str:
        return pair[1]

    def bracket(self, body: str) -> str:
        return rf"\left[{body}\right]"

    def group(self, body: str) -> str:
        return rf"\left({body}\right)"

    def binding(self, expr: sympy.Expr) -> str:
        """As in text, but a call written with a superscript (e^{x}) is a power: it cannot take
        another superscript without brackets."""
        return binding_of_sympy_latex(expr)

    def code(self, text: str) -> str:
        return text

    def evaluation_template(self, rule) -> str:
        return rule.evaluation_latex

    def matrix(self, rows: list[list[str]]) -> str:
        body = r" \\ ".join(" & ".join(row) for row in rows)
        return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"
