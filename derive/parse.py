"""Safe parsing of user expressions into a small expression tree.

User text is never evaluated: it is parsed with Python's ``ast`` and every node is checked
against a whitelist (numbers, names, + - * / ** and unary minus, calls of known functions by
name).  Constant sub-expressions are folded exactly with SymPy numbers, so ``3/2`` stays 3/2.
The walk is iterative, so deep input raises :class:`LimitError`, never ``RecursionError``.
"""

from __future__ import annotations

import ast
import bisect
import io
import math
import re
import tokenize
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import sympy

from .errors import LimitError, ParseError, did_you_mean, excerpt

#: Names that stand for constants.
CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "e": sympy.E}

#: Identifiers a user may give to an input or a named node: they typeset safely in TeX.
IDENTIFIER = re.compile(r"[A-Za-z\u03b1-\u03c9\u0391-\u03a9][A-Za-z0-9_\u03b1-\u03c9\u0391-\u03a9]{0,31}\Z")

_LITERAL_EXPONENT = re.compile(r"[eE]([-+]?[\d_]{1,20})")

#: Greek letters, written (λ) or spelled (lambda), and how LaTeX typesets them.
_GREEK = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"]
GREEK_LATEX = {**{chr(0x3b1 + i + (i > 16)): rf"\{name}" for i, name in enumerate(_GREEK)},
               **{name: rf"\{name}" for name in _GREEK}, "omicron": "o", "ο": "o", "epsilon": r"\varepsilon",
               "ε": r"\varepsilon", "ς": r"\varsigma",
               # φ is the curly phi (\varphi, read back as φ); \phi is ϕ, another code point
               "phi": r"\varphi", "φ": r"\varphi",
               **dict(zip("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
                          ["A", "B", r"\Gamma", r"\Delta", "E", "Z", "H", r"\Theta", "I", "K", r"\Lambda", "M", "N",
                           r"\Xi", "O", r"\Pi", "P", r"\Sigma", "T", r"\Upsilon", r"\Phi", "X", r"\Psi", r"\Omega"]))}

_INDEXED = re.compile(r"([A-Za-z\u03b1-\u03c9\u0391-\u03a9]+)_?(\d+)\Z")

#: A spelled Greek name and its letter, for text (terminal, Mermaid): lambda -> λ, omicron -> ο.
GREEK_TEXT = {name: chr(0x3b1 + i + (i > 16)) for i, name in enumerate(_GREEK)}


#: A one-letter name with a hat, as a textbook sets it: Xhat, xhat, yhat -> X̂, x̂, ŷ; Xh, xh (the
#: normalised input of a batch or layer norm) -> X̂.  Other names ending in h (Wh, the weight of a
#: GRU's h) keep their subscript.
_HAT = re.compile(r"([A-Za-z])hat\Z|([Xx])h\Z")

#: A capital with one lower-case letter, as a textbook sets it: Wq -> W_Q (Q = X W_Q), Wz -> W_Z;
#: and a bias b with one, labelled as its weight is: bf -> b_F beside W_F (an LSTM's forget gate).
#: Other two-letter names (lr, xc) are words.
_LABELLED = re.compile(r"([A-Z]|b)([a-z])\Z")


def name_parts(name: str) -> tuple[str, str, str] | None:
    """A decorated one-letter name as (letter, accent, subscript): Xhat -> ("X", "hat", ""),
    Wq -> ("W", "", "Q"), bq -> ("b", "", "Q"); None for any other name."""
    hat = _HAT.match(name)
    if hat:
        return hat.group(1) or hat.group(2), "hat", ""
    labelled = _LABELLED.match(name)
    if labelled:
        return labelled.group(1), "", labelled.group(2).upper()
    return None


def text_variable(name: str) -> str:
    """A user's identifier in plain text, Greek spelled names as their letters: lambda -> λ,
    mu2 -> μ2, x1 -> x1 (the glyph, as the PDF prints it; never ``lambda`` or ``mū``); Xh -> X̂,
    Wq -> W_Q (see :func:`name_parts`)."""
    parts = name_parts(name)
    if parts:
        letter, accent, subscript = parts
        return letter + ("\u0302" if accent else "") + (f"_{subscript}" if subscript else "")
    if name in GREEK_TEXT:
        return GREEK_TEXT[name]
    match = _INDEXED.match(name)
    if match and match.group(1) in GREEK_TEXT:
        return GREEK_TEXT[match.group(1)] + name[len(match.group(1)):]
    return name


def latex_variable(name: str) -> str:
    """A user's identifier in math mode: x1 -> x_{1}, lam -> \\mathrm{lam} (upright: one name,
    not a product l·a·m), lambda -> \\lambda (names are checked identifiers, so only ``_`` needs
    escaping); Xh -> \\hat{X}, Wq -> W_{Q} (see :func:`name_parts`)."""
    parts = name_parts(name)
    if parts:
        letter, accent, subscript = parts
        return (rf"\hat{{{letter}}}" if accent else letter) + (f"_{{{subscript}}}" if subscript else "")
    if name in GREEK_LATEX:
        return GREEK_LATEX[name]
    match = _INDEXED.match(name)
    if match:
        stem = match.group(1)
        stem = GREEK_LATEX.get(stem, stem if len(stem) == 1 else rf"\mathrm{{{stem}}}")
        return f"{stem}_{{{match.group(2)}}}"
    if re.search(r"[^\x00-\x7f]", name):  # Greek letters among others: each typeset on its own
        return r"\mathrm{" + "".join("{" + GREEK_LATEX[c] + "}" if c in GREEK_LATEX else c
                                      for c in name.replace("_", "\\_")) + "}"
    return name if len(name) == 1 else rf"\mathrm{{{name.replace('_', chr(92) + '_')}}}"


_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}

#: What a refused piece of syntax is called in an error message.
_REFUSED = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambda expressions",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.Starred: "starred arguments",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators",
    ast.IfExp: "conditional expressions",
    ast.Tuple: "tuples",
    ast.List: "lists",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


@dataclass(frozen=True)
class Limits:
    """Bounds on the cost of an expression; each has a CLI flag to raise it."""

    max_length: int = 20_000
    max_depth: int = 500
    max_nodes: int = 20_000
    max_exponent: int = 1_000
    max_digits: int = 1_000
    max_cells: int = 100_000
    max_entries: int = 4_000_000

    FLAGS = {
        "max_length": "--max-length",
        "max_depth": "--max-depth",
        "max_nodes": "--max-nodes",
        "max_exponent": "--max-exponent",
        "max_digits": "--max-digits",
        "max_cells": "--max-cells",
        "max_entries": "--max-entries",
    }


@dataclass(frozen=True, eq=False)
class Expr:
    """A parsed expression: ``op`` is "num", "name" or an operation/function name.

    ``value`` holds the exact number of a "num"; ``name`` the identifier of a "name";
    ``col`` the 1-based column in the text the user typed.
    """

    op: str
    args: tuple[Expr, ...] = ()
    value: sympy.Expr | None = None
    name: str | None = None
    col: int = 0
    text: str = field(default="", compare=False)

    @property
    def is_number(self) -> bool:
        return self.op == "num"


def parse_expression(
    text: str,
    names: Mapping[str, object] | frozenset[str] | set[str],
    functions: Mapping[str, int],
    aliases: Mapping[str, str] | None = None,
    fold: Mapping[str, object] | None = None,
    limits: Limits = Limits(),
    matrix: bool = False,
    constants: Mapping[str, sympy.Expr] | None = None,
    spellings: Mapping[str, str] | None = None,
) -> Expr:
    """Parse ``text`` into an :class:`Expr`.

    ``names`` are the variables that may appear; ``functions`` maps each callable name to its
    number of arguments; ``aliases`` maps alternative spellings (``ln``) to a function name;
    ``fold`` maps function names to a callable on SymPy numbers used to fold constant calls.
    ``matrix`` also admits ``a @ b`` ("matmul") and the transpose ``a.T`` ("transpose"): the
    only attribute there is.  ``constants`` are named numbers (a problem's coefficients).
    ``spellings`` maps names from other libraries (``concatenate``) to the hint that names ours.
    """
    aliases = aliases or {}
    if len(text) > limits.max_length:
        raise LimitError(
            f"expression is {len(text)} characters long, more than the limit of {limits.max_length}",
            hint=f"raise the limit with {Limits.FLAGS['max_length']}",
        )
    if not text.strip():
        raise ParseError("empty expression", hint="write an expression such as 'x1*sin(x2)'")
    source, shift = _caret_to_power(text)
    if "lambda" in names:  # a variable named lambda (typeset λ): Python's keyword, renamed for ast
        source = _rename_keyword(source, "lambda", _LAMBDA)
    try:
        with warnings.catch_warnings():  # Python's own warnings ("invalid decimal literal") are not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        if "too many nested parentheses" in str(exc):
            raise LimitError("expression is nested too deeply (too many parentheses)",
                             hint="simplify the expression") from None
        col = shift(exc.offset or 1)
        raise ParseError(f"invalid syntax at column {col}: {exc.msg}",
                         hint="use Python syntax: * for products, ** or ^ for powers") from None
    except (RecursionError, MemoryError):  # Python's own parser: no flag of ours moves its bound
        raise LimitError("expression is nested too deeply for Python's parser",
                         hint="simplify the expression") from None
    # strip() may have removed leading spaces: columns are relative to the stripped text.
    lead = len(source) - len(source.lstrip())
    converter = _Converter(source.strip(), names, functions, aliases, fold or {}, limits,
                           lambda c: shift(c + lead), matrix, constants or {}, spellings or {})
    return converter.convert(tree.body)


#: What the name ``lambda`` is parsed as: an identifier of the same length (columns stay right).
_LAMBDA = "lambd\u03b1"


def _rename_keyword(text: str, keyword: str, replacement: str) -> str:
    """``text`` with every NAME token ``keyword`` replaced (strings and other names untouched)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return text
    lines = text.splitlines(keepends=True) or [""]
    for token in reversed(tokens):
        if token.type == tokenize.NAME and token.string == keyword:
            row, col = token.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + replacement + line[col + len(keyword):]
    return "".join(lines)


def _caret_to_power(text: str):
    """Replace the operator ``^`` by ``**``; return the new text and a column map back."""
    if "^" not in text:
        return text, lambda col: col
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return text.replace("^", "**"), lambda col: col
    carets = [t.start[1] for t in tokens if t.type == tokenize.OP and t.string == "^" and t.start[0] == 1]
    out, last = [], 0
    for pos in carets:
        out += [text[last:pos], "**"]
        last = pos + 1
    out.append(text[last:])

    starts = [pos + i for i, pos in enumerate(carets)]  # where each "**" starts in the new text

    def shift(col: int) -> int:  # col is 1-based in the new text; a bisection, not a scan per node
        return col - bisect.bisect_left(starts, col - 1)

    return "".join(out), shift


def is_real_number(value: sympy.Expr) -> bool:
    """A finite real number: sqrt(1 - 2) or log(cos(2)) folded from constants are not."""
    if not value.is_finite or value.is_extended_real is False:
        return False
    if value.is_extended_real is None:  # SymPy cannot decide symbolically: ask numerically
        return abs(complex(value.evalf(30)).imag) == 0
    return True


_FOLD = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


class _Converter:
    """Iterative post-order conversion of a Python ``ast`` into :class:`Expr`."""

    def __init__(self, source, names, functions, aliases, fold, limits, column, matrix=False, constants=None,
                 spellings=None):
        self.matrix = matrix
        self.spellings = spellings or {}
        self.constants = {**CONSTANTS, **(constants or {})}
        # ast offsets are UTF-8 byte offsets within a line: keep each line's bytes at hand.
        self.lines = [line.encode("utf-8") for line in source.splitlines() or [""]]
        self.names = names
        self.functions = functions
        self.aliases = aliases
        self.fold = fold
        self.limits = limits
        self.column = column
        self.count = 0
        self._char_tables: dict[int, list[int]] = {}
        self._ascii = [line.isascii() for line in self.lines]

    def convert(self, root: ast.AST) -> Expr:
        done: dict[int, Expr] = {}
        stack: list[tuple[ast.AST, bool, int]] = [(root, False, 1)]
        while stack:
            node, visited, depth = stack.pop()
            if depth > self.limits.max_depth:
                raise LimitError(
                    f"expression is nested more than {self.limits.max_depth} levels deep",
                    hint=f"raise the limit with {Limits.FLAGS['max_depth']}")
            if not visited:
                children = self._children(node)
                stack.append((node, True, depth))
                stack.extend((child, False, depth + 1) for child in reversed(children))
                continue
            self.count += 1
            if self.count > self.limits.max_nodes:
                raise LimitError(f"expression has more than {self.limits.max_nodes} operations",
                                 hint=f"raise the limit with {Limits.FLAGS['max_nodes']}")
            done[id(node)] = self._build(node, [done[id(c)] for c in self._children(node)])
        return done[id(root)]

    # -- checking ---------------------------------------------------------------------------
    def _col(self, node: ast.AST) -> int:
        """1-based character column of ``node`` in the user's text."""
        number = min(getattr(node, "lineno", 1), len(self.lines)) - 1
        offset = getattr(node, "col_offset", 0)
        return self.column(self._char_index(number, offset) + 1)

    def _char_index(self, number: int, offset: int) -> int:
        """Characters before byte ``offset`` of line ``number``: a table per non-ASCII line, built
        once (decoding the prefix at every node made long expressions quadratic)."""
        line = self.lines[number]
        if self._ascii[number]:
            return min(offset, len(line))
        table = self._char_tables.get(number)
        if table is None:  # table[i]: characters that start before byte i
            table, count = [], 0
            for byte in line:
                table.append(count)
                count += byte & 0xC0 != 0x80  # not a UTF-8 continuation byte: a character starts
            table.append(count)
            self._char_tables[number] = table
        return table[min(offset, len(line))]

    def _segment(self, node: ast.AST) -> str | None:
        if node.lineno != node.end_lineno:
            return None
        return self.lines[node.lineno - 1][node.col_offset:node.end_col_offset].decode("utf-8")

    def _where(self, node: ast.AST) -> str:
        return f"at column {self._col(node)}"

    def _refuse(self, node: ast.AST, what: str, hint: str | None = None) -> ParseError:
        return ParseError(f"{what} {self._where(node)} not allowed", hint=hint)

    def _children(self, node: ast.AST) -> list[ast.AST]:
        if self.matrix and isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return [node.left, node.right]
        if self.matrix and isinstance(node, ast.Attribute) and node.attr == "T":
            return [node.value]
        if self.matrix and isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARISONS:
                raise self._refuse(node, "this comparison", hint="compare two expressions with < <= > >=, "
                                   "one comparison at a time: where(abs(r) < 1, …)")
            return [node.left, node.comparators[0]]
        if self.matrix and isinstance(node, ast.Subscript):
            return [node.value, *(bound for bound in self._subscript(node)[2:] if bound is not None)]
        if self.matrix and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in METHODS:  # (W @ x).sum(): the method is the function sum(W @ x)
            return self._call_children(node, node.func.attr, [node.func.value, *node.args])
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                symbol = {ast.BitXor: "^", ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%"}.get(
                    type(node.op), type(node.op).__name__)
                raise self._refuse(node, f"operator '{symbol}'", hint="use + - * / ** (or ^)")
            return [node.left, node.right]
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise self._refuse(node, "this unary operator", hint="only unary minus is allowed")
            return [node.operand]
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                what = _REFUSED.get(type(node.func), "calling an expression")
                hint = ("a method call is one of ." + "(), .".join(sorted(METHODS)) + "()"
                        if self.matrix and isinstance(node.func, ast.Attribute)
                        else "call a function by its name, e.g. sin(x)")
                if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                        and node.func.value.id in _LIBRARIES:  # np.maximum(Z, 0): the name without np.
                    attr = node.func.attr
                    hint = self.spellings.get(attr) or (f"write {attr}(…) without '{node.func.value.id}.'"
                                                        if attr in self.functions else
                                                        did_you_mean(attr, self.functions) or "known functions: "
                                                        + ", ".join(sorted(self.functions)))
                raise self._refuse(node.func, what, hint=hint)
            return self._call_children(node, node.func.id, node.args)
        if isinstance(node, ast.Name):
            return []
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                what = "string literals" if isinstance(node.value, (str, bytes)) else "this constant"
                raise self._refuse(node, what, hint="only numbers, names and functions are allowed")
            if isinstance(node.value, float) and not (abs(node.value) < float("inf")):
                written = self._segment(node) or "the number"
                raise ParseError(f"{written} {self._where(node)} is too large: it overflows a float (above about 1.8e308)",
                                 hint="write a number of smaller magnitude")
            return []
        what = _REFUSED.get(type(node), type(node).__name__)
        if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):  # 2,5
            raise self._refuse(node, "a comma between numbers", hint="write a decimal point, not a comma: 2.5")
        raise self._refuse(node, what, hint="only numbers, names, + - * / ** and functions are allowed")

    def _call_children(self, node: ast.Call, written: str, positional: list[ast.AST]) -> list[ast.AST]:
        """The arguments of a call, checked: known function, number of arguments, axis=k (also
        written as a last positional integer, mean(W, 1), or from the end, axis=-1)."""
        for keyword in node.keywords:  # matrix reductions take axis=0 or axis=1, nothing else
            if not (self.matrix and keyword.arg in ("axis", "ddof")):
                raise self._refuse(keyword, "keyword arguments", hint="pass arguments by position"
                                   + ("; the only keywords are axis=0 or axis=1 (and ddof=0 or 1 for var)"
                                      if self.matrix else ""))
            self._axis_value(keyword.value, keyword.arg)
        for arg in positional:
            if isinstance(arg, ast.Starred):
                raise self._refuse(arg, "starred arguments", hint="pass arguments one by one")
        name = self.aliases.get(written, written)
        if name not in self.functions:
            callable_names = [*self.functions, *self.aliases]
            same_letters = [n for n in callable_names if n.lower() == written.lower()]  # GELU is gelu
            hint = self.spellings.get(written) or (f"did you mean '{same_letters[0]}'?" if same_letters
                                                   else did_you_mean(written, callable_names))
            known = ("known functions: " + ", ".join(sorted(self.functions)) if self.functions
                     else "no functions here: write a number or a constant expression such as 3/2 or pi/4")
            raise ParseError(f"unknown function '{written}' {self._where(node)}", hint=hint or known)
        n = self.functions[name]
        pair = self.matrix and name in _CHOOSERS and len(positional) == 2  # max(Z, 0): ReLU or an axis?
        if pair:
            raise ParseError(f"{written}() of two arguments at column {self._col(node)} is ambiguous",
                             hint=f"write {_CHOOSERS[name]}(A, B) entry by entry, or {name}(A, axis=0) for the "
                                  f"{'largest' if name == 'max' else 'smallest'} entry of each column")
        if self.matrix and len(positional) == n + 1 and not any(k.arg == "axis" for k in node.keywords) \
                and _is_integer(positional[-1]):  # mean(W, 1): the axis by position, as NumPy reads it
            self._axis_value(positional[-1], "axis")
        elif len(positional) != n:
            raise ParseError(f"{written}() takes {n} argument{'s' if n != 1 else ''}, "
                             f"got {len(positional)} {self._where(node)}")
        return [*positional, *(keyword.value for keyword in node.keywords)]

    def _axis_value(self, value: ast.AST, keyword: str) -> int:
        """axis=0 or 1 (−1 and −2 count from the end, as NumPy's do); ddof=0 or 1."""
        number = _integer(value)
        allowed = (-2, -1, 0, 1) if keyword == "axis" else (0, 1)
        if number is None or number not in allowed:
            shown = self._segment(value) or "?"
            raise ParseError(f"unknown {keyword} {shown} {self._where(value)}",
                             hint="axis=0 works down each column, axis=1 (or -1) along each row" if keyword == "axis"
                             else "ddof=0 divides by n, ddof=1 by n − 1")
        return number % 2 if keyword == "axis" else number

    def _subscript(self, node: ast.Subscript) -> tuple:
        """W[i] -> ("row", i); Z[a:b] -> ("part", 0, a, b) and Z[:, a:b] -> ("part", 1, a, b), the
        bounds ast nodes or None (the start, the end)."""
        index = node.slice
        number = _integer(index)
        if number is not None:
            return ("row", number)
        if isinstance(index, ast.Tuple) and len(index.elts) == 2 and _whole(index.elts[0]) \
                and isinstance(index.elts[1], ast.Slice) and index.elts[1].step is None:
            return ("part", 1, index.elts[1].lower, index.elts[1].upper)
        if isinstance(index, ast.Tuple) and len(index.elts) == 2 and _whole(index.elts[1]):
            index = index.elts[0]
        if isinstance(index, ast.Slice) and index.step is None:
            return ("part", 0, index.lower, index.upper)
        raise self._refuse(node, "this subscript", hint="write one row W[0], rows Z[:H] or Z[H:2*H], "
                           "columns Z[:, :H]")

    # -- building ---------------------------------------------------------------------------
    def _build(self, node: ast.AST, args: list[Expr]) -> Expr:
        col = self._col(node)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, int):  # 0x…, 0b…, 1_000: the value itself, never via str()
                self._check_size(sympy.Integer(node.value), col)
                return Expr("num", value=sympy.Integer(node.value), col=col)
            segment = self._segment(node) or repr(node.value)
            exponent = _LITERAL_EXPONENT.search(segment)
            if exponent and abs(int(exponent.group(1).replace("_", ""))) > self.limits.max_digits:
                raise self._too_big(abs(int(exponent.group(1).replace("_", ""))), col)  # 1e-999999999
            try:  # Decimal: Fraction refuses more than 4,300 digits, and the float's repr would be used
                value = sympy.Rational(*Decimal(segment.replace("_", "")).as_integer_ratio())
            except (ArithmeticError, ValueError):
                value = sympy.Rational(Fraction(repr(node.value)))
            self._check_size(value, col)
            return Expr("num", value=value, col=col)
        if isinstance(node, ast.Name):
            if node.id == _LAMBDA and "lambda" in self.names:
                return Expr("name", name="lambda", col=col)
            if node.id in self.names:
                return Expr("name", name=node.id, col=col)
            if node.id in self.constants:
                return Expr("num", value=self.constants[node.id], col=col)
            hint = did_you_mean(node.id, [*self.names, *self.constants, *self.functions])
            known = ", ".join(self.names)
            raise ParseError(f"unknown name '{node.id}' at column {col}",
                             hint=hint or (f"the inputs are: {known}" if known else
                                           "a value is a number or a constant expression such as 3/2 or pi/4"))
        if isinstance(node, ast.UnaryOp):
            (operand,) = args
            if isinstance(node.op, ast.UAdd):
                return operand
            if operand.is_number:
                return Expr("num", value=-operand.value, col=col)
            return Expr("neg", (operand,), col=col)
        if isinstance(node, ast.Attribute):  # a.T, admitted in matrix mode only
            return Expr("transpose", tuple(args), col=col)
        if isinstance(node, ast.Compare):  # a < b, admitted in matrix mode only: a 0/1 matrix
            return Expr(_COMPARISONS[type(node.ops[0])], tuple(args), col=col)
        if isinstance(node, ast.Subscript):  # W[i], Z[a:b], Z[:, a:b], admitted in matrix mode only
            form, *rest = self._subscript(node)
            if form == "row":
                return Expr("row", (*args, Expr("index", value=sympy.Integer(rest[0]))), col=col)
            axis, lower, upper = rest
            bounds = iter(args[1:])
            lo = next(bounds) if lower is not None else Expr("num", value=sympy.Integer(0))
            hi = next(bounds) if upper is not None else Expr("end")
            return Expr("part", (args[0], lo, hi, Expr("axis", value=sympy.Integer(axis))), col=col)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # (W @ x).sum()
            return self._build_call(node, node.func.attr, [node.func.value, *node.args], args, col)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return Expr("matmul", tuple(args), col=col)
        if isinstance(node, ast.BinOp):
            op = _BINARY[type(node.op)]
            left, right = args
            if op == "pow":
                self._check_exponent(right, col)
            if left.is_number and right.is_number:
                if op == "pow":
                    self._check_power_size(left.value, right.value, col)
                value = self._fold_binary(op, left.value, right.value, col)
                self._check_size(value, col)
                return Expr("num", value=value, col=col)
            return Expr(op, (left, right), col=col)
        if isinstance(node, ast.Call):
            return self._build_call(node, node.func.id, node.args, args, col)
        raise AssertionError(f"unexpected node {node!r}")  # _children refused it already

    def _build_call(self, node: ast.Call, written: str, positional: list, args: list[Expr], col: int) -> Expr:
        """A call: its positional arguments, then "axis" and "ddof" arguments (axis=k or a last
        positional integer, mean(W, 1)) sorted by name."""
        name = self.aliases.get(written, written)
        options = {k.arg: self._axis_value(k.value, k.arg) for k in node.keywords}
        if self.matrix and len(positional) == self.functions[name] + 1:  # mean(W, 1): the axis by position
            options["axis"] = self._axis_value(positional[-1], "axis")
            args = args[:len(positional) - 1]
        else:
            args = args[:len(positional)]
        if options:
            return Expr(name, (*args, *(Expr(k, value=sympy.Integer(v)) for k, v in sorted(options.items()))), col=col)
        if name == "pow" and len(args) == 2:
            self._check_exponent(args[1], col)
        if all(a.is_number for a in args) and name in self.fold:
            if name == "pow" and len(args) == 2:
                self._check_power_size(args[0].value, args[1].value, col)
            try:
                value = self.fold[name](*(a.value for a in args))
            except (ZeroDivisionError, ValueError):
                value = sympy.nan
            if not is_real_number(value):
                raise ParseError(f"{written}() of a constant is undefined (not a real number) "
                                 f"at column {col}")
            self._check_size(value, col)
            return Expr("num", value=value, col=col)
        return Expr(name, tuple(args), col=col)

    def _check_exponent(self, exponent: Expr, col: int) -> None:
        if exponent.is_number and exponent.value.is_number and _exceeds(abs(exponent.value), self.limits.max_exponent):
            raise LimitError(
                f"exponent {excerpt(str(exponent.value), width=40)} at column {col} is larger than the limit of "
                f"{self.limits.max_exponent}, or too close to it to decide",
                hint=f"raise the limit with {Limits.FLAGS['max_exponent']}")

    def _too_big(self, digits: float, col: int) -> LimitError:
        return LimitError(
            f"the constant at column {col} has about {round(digits):,} digits, more than the limit of "
            f"{self.limits.max_digits}", hint=f"raise the limit with {Limits.FLAGS['max_digits']}")

    def _check_power_size(self, base: sympy.Expr, exponent: sympy.Expr, col: int) -> None:
        """Refuse ``base ** exponent`` BEFORE SymPy computes it exactly: each exponent may be within
        --max-exponent while a tower of them is not ((9**999)**999 has 950,000 digits)."""
        if not exponent.is_Rational or abs(exponent) <= 1:
            return  # 2**pi and 8**(1/3) stay symbolic
        digits = float(abs(exponent)) * _digits(base)
        if digits > self.limits.max_digits:
            raise self._too_big(digits, col)

    def _check_size(self, value: sympy.Expr, col: int) -> None:
        """Bound the exact integers inside a folded constant (numerator and denominator)."""
        digits = _digits(value)
        if digits > self.limits.max_digits:
            raise self._too_big(digits, col)

    @staticmethod
    def _fold_binary(op: str, a: sympy.Expr, b: sympy.Expr, col: int) -> sympy.Expr:
        if op == "div" and b == 0:
            raise ParseError(f"division by zero at column {col}")
        value = _FOLD[op](a, b)
        if not is_real_number(value):
            raise ParseError(f"constant expression at column {col} is undefined (not a real number)")
        return value


#: Comparisons a matrix expression may hold (where(abs(r) < 1, …)), by the operation they build.
_COMPARISONS = {ast.Lt: "less", ast.LtE: "less_equal", ast.Gt: "greater", ast.GtE: "greater_equal"}

#: max(Z, 0) is ReLU to a course and the maxima of the columns to NumPy: refused, naming both.
_CHOOSERS = {"max": "maximum", "min": "minimum"}

#: Module names a user may copy from NumPy or PyTorch code: np.maximum(Z, 0) is maximum(Z, 0).
_LIBRARIES = frozenset({"np", "numpy", "jnp", "torch", "F", "tf", "math"})

#: Reductions a matrix expression may call as methods, NumPy's way: (W @ x).sum(axis=0).
METHODS = frozenset({"sum", "mean", "var", "max", "min"})


def _integer(node: ast.AST) -> int | None:
    """The integer a literal stands for (−1 included), or None; iterative (W[------1] is no
    recursion)."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -sign, node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    return None


def _whole(node: ast.AST) -> bool:
    """``:`` alone, every row or column."""
    return isinstance(node, ast.Slice) and node.lower is None and node.upper is None and node.step is None


def _is_integer(node: ast.AST) -> bool:
    return _integer(node) is not None


def _exceeds(magnitude: sympy.Expr, limit: int) -> bool:
    """Whether ``magnitude`` > ``limit``; one SymPy cannot decide (1000**(999**1e-320) is 1000 plus
    about 1e-316) counts as beyond it, since it is too close to the limit to be known within it."""
    beyond = magnitude > limit
    if beyond in (sympy.true, sympy.false):
        return bool(beyond)
    difference = (magnitude - limit).evalf(50)
    return not (difference.is_number and difference.is_comparable and difference < -1e-40)


def _digits(value: sympy.Expr) -> float:
    """Decimal digits of the exact integers a SymPy number is built from (summed over its
    rational pieces: a bound on what a power of it costs), from bit lengths, never via str()."""
    pieces = [value] if value.is_Rational else value.atoms(sympy.Rational)
    return sum(_log10(max(abs(int(r.p)), int(r.q))) for r in pieces)


def _log10(n: int) -> float:
    return math.log10(n) if n < 2 ** 1000 else n.bit_length() * math.log10(2)
