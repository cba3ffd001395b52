"""A simulated class, written independently of derive's grader.

Students fill the worksheet of a scalar problem the way real students do: they read the trace
off the sheet (each node's operation and arguments), compute every value with their own
calculator (SymPy here, never derive's rule table or grader), round what they write to the
digits the sheet asks (half up, or half to even), and carry the rounded value on to the next
cell.  Habits vary: lines written or not, Unicode or ASCII minus signs, trailing zeros dropped by
Excel, decimal commas in a semicolon CSV with a byte-order mark.  A slip can be planted in one
cell; the cells after it are computed from the slipped value, as a student would.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import mpmath
import sympy

a, b = sympy.symbols("a b", real=True)

#: Each operation of a Wengert list as a student's calculator knows it.
CALCULATOR = {
    "add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "pow": a ** b, "neg": -a,
    "exp": sympy.exp(a), "log": sympy.log(a), "sqrt": sympy.sqrt(a), "sin": sympy.sin(a),
    "cos": sympy.cos(a), "tan": sympy.tan(a), "tanh": sympy.tanh(a),
    "sigmoid": 1 / (1 + sympy.exp(-a)), "relu": sympy.Max(0, a), "abs": sympy.Abs(a),
}
#: How a student writes each operation with numbers in a line.
WRITTEN = {
    "add": "{0} + {1}", "sub": "{0} − {1}", "mul": "{0} × {1}", "div": "{0} / {1}", "pow": "{0}^{1}",
    "neg": "−{0}", "exp": "exp({0})", "log": "ln({0})", "sqrt": "sqrt({0})", "sin": "sin({0})",
    "cos": "cos({0})", "tan": "tan({0})", "tanh": "tanh({0})", "sigmoid": "σ({0})", "relu": "relu({0})",
    "abs": "abs({0})",
}


@functools.lru_cache(maxsize=None)
def _compiled(op: str, position: int | None):
    """The operation (position None) or its partial in one argument, compiled once for mpmath
    at 30 digits."""
    expr = CALCULATOR[op] if position is None else sympy.diff(CALCULATOR[op], (a, b)[position])
    if op == "relu" and position is not None:
        expr = sympy.Heaviside(a, 0)
    if op == "abs" and position is not None:
        expr = sympy.sign(a)
    return sympy.lambdify((a, b), expr, "mpmath")


def _call(function, args: list[float]) -> float:
    with mpmath.workdps(30):
        value = function(*[mpmath.mpf(x) for x in args], *([0] * (2 - len(args))))
    if isinstance(value, mpmath.mpc):
        raise TypeError("a complex value: the student's calculator says 'error'")
    return float(value)


def _value(op: str, args: list[float]) -> float:
    return _call(_compiled(op, None), args)


def _partial(op: str, position: int, args: list[float]) -> float:
    return _call(_compiled(op, position), args)


@dataclass(frozen=True)
class Habit:
    digits: int = 3
    rounding: str = "half_up"  # half_up | half_even
    lines: bool = True
    minus: str = "−"
    excel: bool = False  # trailing zeros dropped (a number cell saved from Excel)
    comma: bool = False  # decimal commas, semicolon CSV, BOM

    def rounded(self, x: float) -> Decimal:
        mode = ROUND_HALF_UP if self.rounding == "half_up" else ROUND_HALF_EVEN
        return Decimal(repr(x)).quantize(Decimal(1).scaleb(-self.digits), rounding=mode)

    def text(self, x: Decimal | float | int, exact_integer: bool = False) -> str:
        if exact_integer:
            s = str(int(x))
        else:
            s = f"{x:.{self.digits}f}"
            if self.excel and "." in s:
                s = s.rstrip("0").rstrip(".")
        if s in ("-0", "-0.000") or s.startswith("-0") and float(s) == 0:
            s = s[1:]
        s = s.replace("-", self.minus)
        return s.replace(".", ",") if self.comma else s

    def in_line(self, text: str) -> str:
        """A number inside a line: negatives bracketed, as people write 2 × (−5.940)."""
        return f"({text})" if text[:1] in "−-" else text


@dataclass
class Slip:
    part: str
    pass_: str
    node: str
    kind: str  # sign, offset, chain, arithmetic


@dataclass
class Student:
    id: str
    habit: Habit = field(default_factory=Habit)
    slip: Slip | None = None


def _integer(x: float) -> bool:
    return float(x).is_integer() and abs(x) < 1e12


def fill(trace_nodes, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]], point: dict[str, float],
         student: Student) -> list[tuple[str, str, str, str, str]]:
    """The student's rows (part, pass, node, value, line).  ``trace_nodes`` are the sheet's
    Wengert list: objects with ``id``, ``op``, ``args`` (node ids or numbers) and ``input_name``."""
    h = student.habit
    rows = []
    written: dict[tuple[str, str, str], float] = {}

    def write(part, pass_, node, value: float, parts_of_line: list[str], exact: bool = False):
        """Round, maybe slip, record; the line shows the numbers the student used."""
        if exact:
            shown, carried = h.text(value, exact_integer=True), float(value)
        else:
            r = h.rounded(value)
            shown, carried = h.text(r), float(r)
        line = ""
        if parts_of_line and h.lines:
            line = " = ".join([*parts_of_line, shown])
        slip = student.slip
        if slip and (slip.part, slip.pass_, slip.node) == (part, pass_, node):
            if slip.kind == "sign" and carried != 0:
                carried = -carried
                shown = h.text(h.rounded(carried))
                line = " = ".join([*parts_of_line, shown]) if line else ""
            elif slip.kind == "offset":
                carried = carried + 0.25 + abs(carried) * 0.5
                shown = h.text(h.rounded(carried))
                line = " = ".join([*parts_of_line, shown]) if line else ""
        written[(part, pass_, node)] = carried
        rows.append((part, pass_, node, shown, line))
        return carried

    def number(x: float, is_exact: bool) -> str:
        return h.text(x, exact_integer=True) if is_exact else h.text(h.rounded(x))

    # (c) the trace
    trace_val: dict[str, float] = {}
    exact_int: dict[str, bool] = {}
    for n in trace_nodes:
        if n.op == "input":
            v = float(point[n.input_name])
            exact_int[n.id] = _integer(v)
            trace_val[n.id] = write("trace", "", n.id, v, [], exact=_integer(v))
            continue
        args = [trace_val[x] if isinstance(x, str) else float(x) for x in n.args]
        arg_text = [number(trace_val[x], exact_int[x]) if isinstance(x, str) else h.text(float(x), _integer(float(x)))
                    for x in n.args]
        value = _value(n.op, args)
        exact = all(exact_int.get(x, True) if isinstance(x, str) else _integer(float(x)) for x in n.args) \
            and _integer(value) and n.op in ("add", "sub", "mul", "neg")
        exact_int[n.id] = exact
        line = WRITTEN[n.op].format(*[h.in_line(t) if n.op not in ("exp", "log", "sqrt", "sin", "cos", "tan",
                                                                    "tanh", "sigmoid", "relu", "abs") else t
                                      for t in arg_text])
        trace_val[n.id] = write("trace", "", n.id, value, [line], exact=exact)

    def local(n, position: int) -> tuple[float, str, bool]:
        """A local partial as the student writes it: rounded, or exact when it is an integer
        that does not depend on a rounded value."""
        args = [trace_val[x] if isinstance(x, str) else float(x) for x in n.args]
        p = _partial(n.op, position, args)
        depends = n.op not in ("add", "sub", "neg") and not (
            n.op == "mul" and not isinstance(n.args[1 - position], str))
        if n.op == "mul" and isinstance(n.args[1 - position], str):
            other = n.args[1 - position]
            if exact_int[other]:
                depends = False
        if not depends and _integer(p):
            return p, h.text(p, exact_integer=True), True
        r = float(h.rounded(p))
        return r, h.text(h.rounded(p)), False

    # (d) forward passes
    for name, seed in inputs:
        tangent: dict[str, float] = {}
        for n in trace_nodes:
            if n.op == "input":
                tangent[n.id] = write("forward", name, n.id, 1.0 if n.id == seed else 0.0, [], exact=True)
                continue
            terms, texts = [], []
            for position, arg in enumerate(n.args):
                if not isinstance(arg, str):
                    continue
                p, p_text, _ = local(n, position)
                t = tangent[arg]
                t_text = h.text(t, exact_integer=True) if _integer(t) and t in (0.0, 1.0) else h.text(h.rounded(t))
                terms.append(p * t)
                texts.append(f"{h.in_line(p_text)} × {h.in_line(t_text)}")
            tangent[n.id] = write("forward", name, n.id, sum(terms), [" + ".join(texts)])
    # (e) reverse passes
    consumers: dict[str, list[tuple[object, int]]] = {n.id: [] for n in trace_nodes}
    for n in trace_nodes:
        for position, arg in enumerate(n.args):
            if isinstance(arg, str):
                consumers[arg].append((n, position))
    for name, seed in outputs:
        adjoint: dict[str, float] = {}
        for n in reversed(trace_nodes):
            direct = 1.0 if n.id == seed else 0.0
            if not consumers[n.id]:
                adjoint[n.id] = write("reverse", name, n.id, direct, [], exact=True)
                continue
            terms, texts = [], []
            for c, position in consumers[n.id]:
                p, p_text, _ = local(c, position)
                u = adjoint[c.id]
                u_text = h.text(u, exact_integer=True) if _integer(u) and u in (0.0, 1.0) else h.text(h.rounded(u))
                terms.append(u * p)
                texts.append(f"{h.in_line(u_text)} × {h.in_line(p_text)}")
            if direct:
                terms.insert(0, direct)
                texts.insert(0, "1")
            adjoint[n.id] = write("reverse", name, n.id, sum(terms), [" + ".join(texts)])
    return rows


def to_csv(rows, student: Student, with_id: bool = False) -> bytes:
    """The worksheet file as the student's software saves it."""
    h = student.habit
    sep = ";" if h.comma else ","

    def cell(text: str) -> str:
        return f'"{text}"' if sep in text or '"' in text else text

    lines = []
    if with_id:
        lines.append(sep.join(["id", student.id]))
    lines.append(sep.join(["part", "pass", "node", "value", "line"]))
    lines += [sep.join(cell(x) for x in row) for row in rows]
    text = ("\r\n" if h.comma else "\n").join(lines) + "\n"
    return (("\ufeff" if h.comma else "") + text).encode("utf-8")


def classroom(n: int, seed: int = 0, slips: bool = False) -> list[Student]:
    """``n`` students with a spread of habits; with ``slips`` every one has one planted slip
    (its place is drawn later, per problem)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        habit = Habit(rounding=rng.choice(["half_up", "half_up", "half_even"]), lines=rng.random() < 0.7,
                      minus=rng.choice(["−", "-"]), excel=rng.random() < 0.2, comma=rng.random() < 0.2)
        out.append(Student(f"s{i:03d}", habit))
    return out
