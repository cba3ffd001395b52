"""Problems: the built-in ones, TOML problem files, and inline expressions.

A problem here is data only (names, exact input values, expression text); the engines parse
and solve it.  Every malformed file gives a :class:`ProblemError` that says where.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path

import sympy

from .errors import DeriveError, ProblemError, did_you_mean, excerpt, quoted
from .functions import NAMES as FUNCTION_NAMES
from .parse import CONSTANTS, IDENTIFIER, Limits, latex_variable, parse_expression, text_variable
from .userfiles import read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: What a problem file may say about its sheet (all optional strings).
SHEET_TEXT_KEYS = ("title", "description", "statement", "course", "author", "date")

#: Top-level keys of a scalar problem file, with the type each must have.
SCALAR_KEYS = {
    **dict.fromkeys(SHEET_TEXT_KEYS, str),
    "inputs": dict,
    "outputs": dict,
    "constants": dict,
    "grading": dict,
    "variants": dict,
}

#: Top-level keys of a matrix problem file.
MATRIX_KEYS = {
    **dict.fromkeys(SHEET_TEXT_KEYS, str),
    "dims": dict,
    "variables": dict,
    "functions": dict,
    "equations": dict,
    "derive": dict,
}

#: Declared kinds of matrix variables: what the checks sample and what licenses simplifications.
VARIABLE_KINDS = {
    "onehot": "each column is one 1 and zeros",
    "distribution": "non-negative columns summing to 1",
    "onehot_rows": "each row is one 1 and zeros",  # the row convention: one example per row
    "distribution_rows": "non-negative rows summing to 1",
    "binary": "entries 0 or 1",
    "positive": "entries > 0",
}
#: Kinds whose values are constrained: a variable of such a kind is data, never differentiated.
CONSTRAINED_KINDS = frozenset({"onehot", "distribution", "onehot_rows", "distribution_rows", "binary"})

#: Names a variable may not take: they already mean something in expressions.  ``e`` is free:
#: a problem that declares a node or size ``e`` means its own e there (names come before constants).
RESERVED = frozenset({*FUNCTION_NAMES, "pow", *CONSTANTS}) - {"e"}


@dataclass(frozen=True, kw_only=True)
class SheetText:
    """What a problem file may say about its sheet (all optional, shown as the user wrote it)."""

    title: str = ""
    description: str = ""
    statement: str = ""
    course: str = ""
    author: str = ""
    date: str = ""
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class Problem(SheetText):
    """A scalar problem: inputs in order with exact values, outputs in order with their text."""

    name: str
    inputs: dict[str, sympy.Expr]
    outputs: dict[str, str]
    constants: dict[str, sympy.Expr] = field(default_factory=dict)  # named coefficients
    grading: dict[str, float] = field(default_factory=dict)  # weights of trace, forward, reverse
    policy: dict = field(default_factory=dict)  # [grading] tolerance and require_lines
    variants: dict[str, tuple] = field(default_factory=dict)  # name -> (low, high[, step])
    allow_zero: frozenset = frozenset()  # inputs a variant may set to 0
    engine: str = "scalar"  # which engine solves it
    written: dict[str, str] = field(default_factory=dict)  # a decimal value as typed (0.5, not 1/2)

    @property
    def kind(self) -> str:  # the old name of engine, kept for derive.api users
        return self.engine

    def with_values(self, values: dict[str, sympy.Expr], written: dict[str, str] | None = None) -> Problem:
        """The same problem evaluated at other input values (unknown names are an error);
        ``written`` gives the decimals among them as typed."""
        for name in values:
            if name not in self.inputs and name not in self.constants:
                raise ProblemError(f"--at {name}: '{name}' is not an input of {self.name}",
                                   hint=did_you_mean(name, [*self.inputs, *self.constants])
                                   or "inputs: " + ", ".join(self.inputs))
        return replace(self, inputs={**self.inputs, **{k: v for k, v in values.items() if k in self.inputs}},
                       constants={**self.constants, **{k: v for k, v in values.items() if k in self.constants}},
                       written={**{k: v for k, v in self.written.items() if k not in values}, **(written or {})})


@dataclass(frozen=True)
class MatrixProblem(SheetText):
    """A network in matrix form: named sizes, variables with shapes, equations, loss and wrt."""

    name: str
    dims: dict[str, int]
    variables: dict[str, str]
    equations: dict[str, str]
    loss: str
    wrt: list[str]
    functions: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # variable -> onehot, distribution, binary, positive
    engine: str = "matrix"  # which engine solves it

    @property
    def kind(self) -> str:  # the old name of engine, kept for derive.api users
        return self.engine


def builtin_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in resources.files("derive.builtin").iterdir()
                  if p.name.endswith(".toml"))


def builtin_problems() -> list[Problem]:
    return [load_problem(name) for name in builtin_names()]


def load_problem(spec: str, limits: Limits = Limits()) -> Problem:
    """A built-in problem by name, or a TOML problem file by path."""
    if spec in builtin_names():
        text = resources.files("derive.builtin").joinpath(f"{spec}.toml").read_text(encoding="utf-8")
        return problem_from_toml(text, name=spec, source=f"built-in {spec}", limits=limits)
    path = Path(spec)
    if not path.exists():
        hint = did_you_mean(spec, builtin_names()) or (
            "give a built-in problem (" + ", ".join(builtin_names()) + ") or a .toml file")
        raise ProblemError(f"no problem named '{excerpt(spec)}' and no such file", hint=hint)
    text = read_text(path, "problem file")
    return problem_from_toml(text, name=path.stem, source=str(path), limits=limits)


def problem_from_toml(text: str, name: str, source: str = "", limits: Limits = Limits()) -> Problem | MatrixProblem:
    where = source or name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))  # Python 3.11's tomllib says where only in words
        line = getattr(exc, "lineno", None) or (int(at.group(1)) if at else None)
        source_line = text.splitlines()[line - 1] if line and 0 < line <= len(text.splitlines()) else ""
        bare = re.match(r"\s*([^\s=\"'\[]+)\s*=", source_line)
        hint = (f'TOML keys of letters other than a-z (Greek names) are quoted: "{bare.group(1)}" = …'
                if bare and not bare.group(1).isascii() else None)
        raise ProblemError(f"{where}: invalid TOML: {exc}", hint=hint) from None
    if "equations" in data or "dims" in data:
        return _matrix_problem(data, name, source, where)
    _check_keys(data, SCALAR_KEYS, ("inputs", "outputs"), where)
    inputs = {}
    written = {}
    for in_name, value in data["inputs"].items():
        _check_name(in_name, f"{where}: input")
        inputs[in_name] = parse_value(value, f"{where}: input {in_name}", limits)
        if written_decimal(value):
            written[in_name] = written_decimal(value)
    outputs = {}
    for out_name, expr in data["outputs"].items():
        _check_name(out_name, f"{where}: output")
        if out_name in inputs:
            raise ProblemError(f"{where}: '{out_name}' is both an input and an output")
        if not isinstance(expr, str):
            raise ProblemError(f"{where}: output {out_name} must be an expression in quotes, "
                               f"not {type(expr).__name__}")
        outputs[out_name] = expr
    constants = {}
    for const_name, value in data.get("constants", {}).items():
        _check_name(const_name, f"{where}: constant")
        if const_name in inputs or const_name in outputs:
            raise ProblemError(f"{where}: '{const_name}' is both a constant and an input or output")
        constants[const_name] = parse_value(value, f"{where}: constant {const_name}", limits)
        if written_decimal(value):
            written[const_name] = written_decimal(value)
    variants = {}
    allow_zero = _allow_zero(data.get("variants", {}), [*inputs, *constants], where)
    for var_name, spec in data.get("variants", {}).items():
        if var_name == "allow_zero":
            continue
        if var_name not in inputs and var_name not in constants:
            raise ProblemError(f"{where}: variants.{var_name} is not an input or constant",
                               hint=did_you_mean(var_name, [*inputs, *constants]) or "inputs: " + ", ".join(inputs))
        if not (isinstance(spec, list) and len(spec) in (2, 3) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in spec) and spec[0] <= spec[1]):
            raise ProblemError(f"{where}: variants.{var_name} must be [low, high] or [low, high, step]",
                               hint="e.g. x1 = [1, 4] (integers) or x2 = [0.5, 2.0, 0.5]")
        variants[var_name] = tuple(spec)
    _check_printed([*inputs, *constants, *outputs], where)
    grading, policy = _grading(data.get("grading", {}), where)
    if isinstance(data.get("statement"), str):
        _check_statement(data["statement"], [*inputs, *constants], where)
    return Problem(name=name, inputs=inputs, outputs=outputs, constants=constants, grading=grading,
                   variants=variants, allow_zero=allow_zero, source=source, policy=policy, written=written,
                   **_sheet_text(data))


#: In a scalar problem's statement: {point} (the inputs' values), {name} (an input's or a
#: constant's value), {{ and }} (literal braces).  Each sheet fills in its own point.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def statement_pieces(text: str) -> list[tuple[str, str | None]]:
    """``text`` as (literal, placeholder) pairs: the text before each placeholder and its name
    (None after the last)."""
    pieces, literal, at = [], [], 0
    for match in _PLACEHOLDER.finditer(text):
        literal.append(text[at:match.start()])
        at = match.end()
        if match.group(1) is None:  # {{ or }}
            literal.append(match.group()[0])
            continue
        pieces.append(("".join(literal), match.group(1)))
        literal = []
    literal.append(text[at:])
    return [*pieces, ("".join(literal), None)]


def _check_statement(statement: str, names: list[str], where: str, matrix: bool = False) -> None:
    for _, name in statement_pieces(statement):
        if name is not None and matrix:
            raise ProblemError(f"{where}: statement: {{{name}}}: a matrix problem has no point to fill in",
                               hint="placeholders are for scalar problems; write {{ and }} for literal braces")
        if name == "point" and "point" in names:
            raise ProblemError(f"{where}: statement: {{point}} is the whole point, but an input or constant is "
                               "named point too", hint="rename that input or constant")
        if name is not None and name != "point" and name not in names:
            raise ProblemError(f"{where}: statement: {{{name}}} is not an input or a constant",
                               hint=did_you_mean(name, ["point", *names])
                               or "placeholders: {point}, " + ", ".join(f"{{{n}}}" for n in names)
                               + "; {{ and }} are literal braces")


_NUMBER = r"[-+−]?(?:\d+(?:\.\d*)?|\.\d+)(?:\s*/\s*\d+)?"


def _number(text: str) -> float | None:
    try:
        return float(Fraction(re.sub(r"\s+", "", text).replace("−", "-").rstrip(".")))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def _same(text: str, value) -> bool:
    number = _number(text)
    try:
        return number is not None and math.isclose(number, float(value), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError, OverflowError):
        return False


def literal_point(base: Problem, moved: Problem | None = None) -> str | None:
    """Where the statement writes a value of ``base`` literally that ``moved`` changes (every value
    when ``moved`` is None): ``x1 = 2``, ``x1=2.0``, ``lam = 1/4``, or the point as a tuple
    (``(2, 0.5)``, ``(2, {x2})``) instead of with {point} or {x1}; None when it does not.  A
    heuristic: it reads numbers as written (2, 2.0, 0.5, 1/2), not words or formulas."""
    values = {**base.inputs, **base.constants}
    after = {**moved.inputs, **moved.constants} if moved is not None else {}
    changed = [name for name in values if moved is None or after.get(name) != values[name]]
    # placeholders stay visible as {name}: a half-written tuple such as (2, {x2}) is still caught
    text = "".join(piece + (f"{{{name}}}" if name else "") for piece, name in statement_pieces(base.statement))
    for name in changed:
        for found in re.finditer(rf"(?<![\w.]){re.escape(name)}\s*=\s*({_NUMBER})(?!\w|\.\d|\s*/)", text):
            if _same(found.group(1), values[name]):
                return found.group()
    inputs = list(base.inputs)
    if len(inputs) > 1 and any(name in changed for name in inputs):
        item = rf"(?:{_NUMBER}|\{{\w+\}})"
        for found in re.finditer(rf"\(\s*{item}(?:\s*,\s*{item})+\s*\)", text):
            items = [x.strip() for x in found.group()[1:-1].split(",")]
            if len(items) == len(inputs) and all(
                    x == f"{{{n}}}" or _same(x, base.inputs[n]) for x, n in zip(items, inputs)) and any(
                    _same(x, base.inputs[n]) for x, n in zip(items, inputs) if n in changed):
                return found.group()
    return None


def check_moved_point(base: Problem, moved: Problem) -> None:
    """A sheet of ``moved`` (``base`` at other values) must not print a value of ``base`` that it changes."""
    found = literal_point(base, moved)
    if found:
        raise ProblemError(f"{base.name}: the statement writes '{found}', but this sheet is at another point",
                           hint="write {point} (or {x1}, {lam}, ...) in the statement where the values go: "
                                "each sheet then prints its own")


def _allow_zero(table: dict, names: list[str], where: str) -> frozenset[str]:
    """[variants] allow_zero = ["x1"]: the inputs (or constants) a variant may set to 0."""
    chosen = table.get("allow_zero", [])
    if not isinstance(chosen, list) or not all(isinstance(n, str) and n in names for n in chosen):
        raise ProblemError(f"{where}: variants.allow_zero must list inputs or constants",
                           hint='e.g. allow_zero = ["x1"]')
    return frozenset(chosen)


#: The largest weight of a part: weights are relative, and a sum of huge ones overflows to nan.
MAX_WEIGHT = 1000


def check_weight(weight, what: str) -> float:
    """A part's weight: a number from 0 to MAX_WEIGHT (nan and booleans are not)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= MAX_WEIGHT:
        raise ProblemError(f"{what} must be a number from 0 to {MAX_WEIGHT:g}")
    return float(weight)


def check_weights(weights: dict[str, float], what: str) -> None:
    """Weights (parts not named weigh 1) that leave something to grade."""
    if not any({**dict.fromkeys(("trace", "forward", "reverse"), 1.0), **weights}.values()):
        raise ProblemError(f"{what}: every part has weight 0, so nothing would be graded",
                           hint="give one part a weight above 0")


def _grading(table: dict, where: str) -> tuple[dict[str, float], dict]:
    """[grading]: part weights (``weights = {forward = 2}``, or ``forward = 2`` directly),
    ``tolerance`` (units of the last printed digit) and ``require_lines``."""
    parts, keys = ("trace", "forward", "reverse"), ("weights", "tolerance", "require_lines")
    weights, policy = {}, {}
    nested = table.get("weights", {})
    if not isinstance(nested, dict):
        raise ProblemError(f"{where}: grading.weights must be a table such as {{forward = 2}}")
    for part, weight in [*((k, v) for k, v in table.items() if k not in keys), *nested.items()]:
        if part not in parts:
            raise ProblemError(f"{where}: unknown key 'grading.{part}'",
                               hint=did_you_mean(part, [*parts, *keys]) or ", ".join([*parts, *keys]))
        key = f"grading.weights.{part}" if part in nested else f"grading.{part}"
        weights[part] = check_weight(weight, f"{where}: {key}")
    check_weights(weights, f"{where}: [grading]")
    if "tolerance" in table:
        tolerance = table["tolerance"]
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance <= 1000:
            raise ProblemError(f"{where}: grading.tolerance must be a number of units, from 0 to 1000")
        policy["tolerance"] = float(tolerance)
    if "require_lines" in table:
        if not isinstance(table["require_lines"], bool):
            raise ProblemError(f"{where}: grading.require_lines must be true or false")
        policy["require_lines"] = table["require_lines"]
    return weights, policy


def inline_problem(expressions: list[str], values: list[tuple[str, str]], limits: Limits = Limits()) -> Problem:
    """Outputs y1, y2, ... from ``-f`` expressions; inputs are the ``--at`` names in order."""
    inputs = {}
    for in_name, text in values:
        _check_name(in_name, "--at")
        if in_name in inputs:
            raise ProblemError(f"--at {in_name} is given twice")
        inputs[in_name] = parse_value(text, f"--at {in_name}", limits)
    outputs = {f"y{i}": text for i, text in enumerate(expressions, start=1)}
    _check_printed([*inputs, *outputs], "--at")
    written = {name: written_decimal(text) for name, text in values if written_decimal(text)}
    return Problem(name="inline", inputs=inputs, outputs=outputs, title="Inline problem", written=written)


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``--at name=value``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ProblemError(f"--at '{text}' is not of the form name=value", hint="e.g. --at x1=2")
    return name.strip(), value.strip()


_DECIMAL = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)\Z", re.ASCII)  # ASCII: Fraction reads ١.٥ too


def written_decimal(value) -> str | None:
    """How a decimal value was typed (TOML ``0.5``, ``--at x=0.50``), so that a sheet prints it
    so and not as the exact fraction derive computes with; None for any other value."""
    text = repr(value) if isinstance(value, float) else value.strip() if isinstance(value, str) else None
    if text is None or not _DECIMAL.match(text):
        return None
    sign, digits = ("-", text[1:]) if text[0] == "-" else ("", text.lstrip("+"))
    digits = ("0" if digits.startswith(".") else "") + digits + ("0" if digits.endswith(".") else "")
    return digits if Decimal(digits) == 0 else sign + digits  # −.5 as −0.5, 1. as 1.0, −0.0 as 0.0


def written_as(text: str, value) -> bool:
    """Whether ``text`` is a decimal as typed that is exactly ``value``: only such a text is printed
    in place of the value (a Problem built in Python may carry any ``written``)."""
    if not isinstance(text, str) or written_decimal(text) != text or not getattr(value, "is_Rational", False):
        return False
    return Decimal(text).as_integer_ratio() == (int(value.p), int(value.q))  # Fraction stops at 4,300 digits


def parse_value(value, where: str, limits: Limits = Limits()) -> sympy.Expr:
    """An exact number from a TOML number or a constant expression such as "3/2" or "pi/4"."""
    if isinstance(value, bool):
        raise ProblemError(f"{where} must be a number, not a boolean")
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ProblemError(f"{where} must be a finite number")
        return sympy.Rational(*Fraction(repr(value)).as_integer_ratio())  # 0.1 stays 1/10
    if isinstance(value, str):
        try:
            parsed = parse_expression(value, frozenset(), {}, limits=limits)
        except DeriveError as exc:
            raise ProblemError(f"{where} = {quoted(value, exc.message)}: {exc.message}", hint=exc.hint) from None
        if parsed.op != "num":
            raise ProblemError(f"{where} = {quoted(value)} is not a constant")
        return parsed.value
    raise ProblemError(f"{where} must be a number, not {type(value).__name__}")


def _check_name(name: str, where: str) -> None:
    if not IDENTIFIER.match(name):
        raise ProblemError(f"{where} name '{name}' is not allowed",
                           hint="use a letter followed by letters, digits or _ (at most 32)")
    if name in RESERVED:
        raise ProblemError(f"{where} name '{name}' is reserved (a function or constant)",
                           hint="choose another name")


def _check_keys(data: dict, schema: dict, required: tuple[str, ...], where: str) -> None:
    """Unknown keys (with a "did you mean"), wrong types, and missing tables, one line each."""
    for key, value in data.items():
        if key not in schema:
            raise ProblemError(f"{where}: unknown key '{key}'",
                               hint=did_you_mean(key, schema) or "keys: " + ", ".join(schema))
        if not isinstance(value, schema[key]):
            expected = "a table" if schema[key] is dict else "a string"
            raise ProblemError(f"{where}: '{key}' must be {expected}, not {type(value).__name__}")
    for key in required:
        if not data.get(key):
            raise ProblemError(f"{where}: the [{key}] table is missing or empty",
                               hint="see the README for the problem file format")


def _matrix_problem(data: dict, name: str, source: str, where: str) -> MatrixProblem:
    _check_keys(data, MATRIX_KEYS, ("dims", "variables", "equations", "derive"), where)
    if isinstance(data.get("statement"), str):
        _check_statement(data["statement"], [], where, matrix=True)
    dims = {}
    for dim, size in data["dims"].items():
        _check_name(dim, f"{where}: dim")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ProblemError(f"{where}: dim {dim} must be a positive integer, not {size!r}")
        dims[dim] = size
    seen: dict[str, str] = {}
    kinds: dict[str, str] = {}
    shapes: dict[str, str] = {}
    for table in ("variables", "equations"):
        for key, value in data[table].items():
            _check_name(key, f"{where}: {table[:-1]}")
            if key in seen:
                raise ProblemError(f"{where}: '{key}' is both a {seen[key]} and a {table[:-1]}")
            if key in dims:
                raise ProblemError(f"{where}: '{key}' is both a dim and a {table[:-1]}")
            if table == "variables" and isinstance(value, dict):  # T = { shape = "M x B", kind = "onehot" }
                value = _variable_table(key, value, kinds, where)
                shapes[key] = value
            if not isinstance(value, str):
                raise ProblemError(f"{where}: {table[:-1]} {key} must be a string, not {type(value).__name__}")
            seen[key] = table[:-1]
    functions = data.get("functions", {})
    for key, value in functions.items():
        _check_name(key, f"{where}: function")
        if key in seen or key in dims:
            raise ProblemError(f"{where}: '{key}' is both a function and a {seen.get(key, 'dim')}",
                               hint="give the function or the other one another name")
        if not isinstance(value, str):
            raise ProblemError(f"{where}: function {key} must be a string such as \"sigmoid\"")
    _check_symbols(functions, data["equations"], where)
    _check_printed([*dims, *seen, *functions], where)
    derive_table = data["derive"]
    for key in derive_table:
        if key not in ("loss", "wrt"):
            raise ProblemError(f"{where}: unknown key 'derive.{key}'",
                               hint=did_you_mean(key, ["loss", "wrt"]) or "keys: loss, wrt")
    loss = derive_table.get("loss")
    if not isinstance(loss, str) or loss not in data["equations"]:
        raise ProblemError(f"{where}: derive.loss must name an equation",
                           hint=did_you_mean(str(loss), data["equations"]) or "e.g. loss = \"L\"")
    wrt = derive_table.get("wrt", [])
    if isinstance(wrt, str):
        wrt = [wrt]
    if not isinstance(wrt, list) or not wrt or not all(isinstance(w, str) for w in wrt):
        raise ProblemError(f"{where}: derive.wrt must be a list of names")
    for w in wrt:
        if w not in seen:
            raise ProblemError(f"{where}: derive.wrt names '{w}', which is not a variable or equation",
                               hint=did_you_mean(w, seen) or "variables: " + ", ".join(data["variables"]))
        if w in kinds and kinds[w] in CONSTRAINED_KINDS:
            raise ProblemError(f"{where}: derive.wrt names '{w}', declared {kinds[w]}: its values are data, "
                               "not parameters", hint=f"drop {w} from wrt, or declare it without a kind")
    variables = {key: shapes.get(key, value) for key, value in data["variables"].items()}
    return MatrixProblem(name=name, dims=dims, variables=variables, equations=dict(data["equations"]),
                         loss=loss, wrt=list(wrt), functions=dict(functions), kinds=kinds, source=source,
                         **_sheet_text(data))


#: Names printed with the symbol of a function they need not be: sigma is σ, the logistic
#: sigmoid's symbol (a sheet states what a named function is: "σ = tanh").
SYMBOL_OF = {"sigma": "sigmoid"}


def _check_symbols(functions: dict, equations: dict, where: str) -> None:
    """One symbol, one function: ``sigma = "tanh"`` beside a call of sigmoid would print σ for both."""
    for name, meaning in SYMBOL_OF.items():
        concrete = functions.get(name)
        if concrete is None or concrete == meaning:
            continue
        pattern = re.compile(rf"(?<![\w]){meaning}\s*\(")
        if any(isinstance(text, str) and pattern.search(text) for text in equations.values()):
            raise ProblemError(f"{where}: function {name} is {concrete!r}, but the equations also call {meaning}: "
                               f"both would print as the one symbol of {name}",
                               hint=f"give the {concrete} another name, such as f = \"{concrete}\"")


def _check_printed(names: list[str], where: str) -> None:
    """Two names a sheet would print alike are refused: lambda and λ are both λ, x1 and x_1 both
    x₁, Wf and W_F both W_F (in LaTeX or in text), and a reader could not tell them apart."""
    seen: dict[str, str] = {}
    for name in names:
        for shown in {latex_variable(name), text_variable(name)}:
            other = seen.setdefault(shown, name)
            if other != name:
                raise ProblemError(f"{where}: '{other}' and '{name}' would print alike on a sheet",
                                   hint="give one of them another name")


def _variable_table(name: str, table: dict, kinds: dict, where: str) -> str:
    """The shape of a variable written as a table, its kind recorded in ``kinds``."""
    for key in table:
        if key not in ("shape", "kind", "axis"):
            raise ProblemError(f"{where}: variable {name}: unknown key '{key}'",
                               hint=did_you_mean(key, ["shape", "kind", "axis"]) or "keys: shape, kind, axis")
    shape = table.get("shape")
    if not isinstance(shape, str):
        raise ProblemError(f"{where}: variable {name} needs a shape such as \"M x B\"")
    kind = table.get("kind")
    if kind is not None:
        if kind not in VARIABLE_KINDS:
            raise ProblemError(f"{where}: variable {name}: unknown kind {kind!r}",
                               hint=did_you_mean(str(kind), VARIABLE_KINDS) or "kinds: " + ", ".join(VARIABLE_KINDS))
        kinds[name] = kind
    if "axis" in table:  # kind = "distribution", axis = 1: each row sums to 1 (one example per row)
        axis = table["axis"]
        if kind not in ("onehot", "distribution") or isinstance(axis, bool) or axis not in (0, 1):
            raise ProblemError(f"{where}: variable {name}: axis = {axis!r} applies to a onehot or distribution "
                               "kind, and is 0 (each column) or 1 (each row)")
        kinds[name] = f"{kind}_rows" if axis == 1 else kind
    return shape


def _sheet_text(data: dict) -> dict:
    return {key: data[key] for key in SHEET_TEXT_KEYS if key in data}
