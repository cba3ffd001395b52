"""A self-contained NumPy module from a derivation: ``forward`` and ``gradients``.

The code is printed from the project's own expression trees (never from user text), one line
per named node and per adjoint, in the order the sheet shows them.
"""

from __future__ import annotations

import datetime as _dt
import json
import keyword
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VerificationError
from ..functions import numpy_source
from ..precedence import needs_brackets
from .backprop import Derivation
from .expr import M, size_source
from .rules import ELEMENTWISE, OPS, axis_text, fill, printed_binding


#: Python's operators of one level (*, /, @), read left to right.
_PRODUCTS = frozenset({"mul", "hadamard", "matmul", "div"})


def numpy_expr(e: M, names: dict[str, str] | None = None) -> str:
    """NumPy source of an expression; names are variables, adjoints are ``<name>_bar``.  The
    form comes from the operation's registry entry, brackets from derive/precedence.py;
    ``names`` maps the problem's names to the module's (and ``name:bar`` to an adjoint's), for
    names Python would not accept as they are."""
    names = names or {}
    op = e.op

    def sub(a: M, parent: str, side: str = "left") -> str:
        text = numpy_expr(a, names)
        if parent in ("transpose", "matmul") and _numbers_only(a):  # a float is no array: 2.0.T, A @ 2.0
            return f"np.full((1, 1), {text})"
        binding = printed_binding(a)
        if a.op == "const" and binding != "neg":
            binding = "atom"  # 0.5 and 2.0 are floats here, never a fraction or a product; -2.0 a negation
        if side == "right" and parent in _PRODUCTS and binding in _PRODUCTS and (binding, parent) != ("mul", "mul"):
            return f"({text})"  # Python reads a * b @ c as (a * b) @ c: a product on the right keeps its brackets
        return f"({text})" if needs_brackets(binding, parent, side) else text

    if op in ("var", "dim"):
        return names.get(e.name, e.name)
    if op == "adj":
        return names.get(f"{e.name}:bar", f"{e.name}_bar")
    if op == "const":
        return repr(float(e.value))
    if op == "ones":
        return f"np.ones({_shape(e.shape, names)})"
    if op == "zero":
        return f"np.zeros({_shape(e.shape, names)})"
    if op == "eye":
        return f"np.eye({_dim(e.shape[0], names)})"
    if op == "add":
        out = sub(e.args[0], "add")
        for term in e.args[1:]:
            if term.op == "neg":
                out += f" - {sub(term.args[0], 'sub', 'right')}"
            else:
                out += f" + {sub(term, 'add', 'right')}"
        return out
    spec = OPS[op]
    if spec.sides:
        args = [sub(a, spec.binding, side) for a, side in zip(e.args, spec.sides)]
    else:  # a helper reduces along axes: a number becomes a 1 x 1 array first
        args = [f"np.full((1, 1), {numpy_expr(a, names)})" if spec.helper and _numbers_only(a)
                else numpy_expr(a, names) for a in e.args]
    slots = {"a": axis_text(e, "numpy")}
    if op == "fn":
        slots["f"] = names.get(e.function, e.function)
    elif op == "dfn":
        slots["f"] = names.get(f"d:{e.function}", f"d{e.function}")
    elif op == "pow":
        slots["d"] = sub(M("const", (), (1, 1), value=e.exponent), "pow", "right")
    return fill(spec.source, args, **slots)


def _numbers_only(e: M) -> bool:
    """Whether ``e`` is made of constants alone (its NumPy value is a Python float)."""
    if e.op in ("const", "dim"):
        return True
    return bool(e.args) and not (e.op in OPS and OPS[e.op].helper) and all(map(_numbers_only, e.args))


def _dim(d, names: dict[str, str] | None = None) -> str:
    return size_source(d, names)


def _shape(shape, names: dict[str, str] | None = None) -> str:
    return f"({_dim(shape[0], names)}, {_dim(shape[1], names)})"


#: The helpers of every registered operation, for the generated module.
_HELPERS = "\n".join(op.helper for op in OPS.values() if op.helper)


#: Names the module defines or uses itself; a problem's name equal to one of them is renamed.
_MODULE_NAMES = frozenset({"np", "numpy", "math", "forward", "gradients", "_columns", "_dtype", "dtype", "float",
                           *re.findall(r"^def (\w+)", _HELPERS, flags=re.M)})


def python_names(derivation: Derivation) -> dict[str, str]:
    """The module's identifier for each name of the problem (dims, variables, nodes, functions
    as ``f`` and ``d:f``, adjoints as ``n:bar``): the name itself where Python accepts it, else
    the name with ``_`` appended until it is free.  Greek names (λ, γ, β, μ) are identifiers as
    they are; keywords (``lambda`` becomes ``lambda_``) and the module's own names (``np``,
    ``forward``, ``float``) are never used as they are."""
    model = derivation.model
    taken = set(keyword.kwlist) | set(keyword.softkwlist) | _MODULE_NAMES
    names: dict[str, str] = {}

    def fresh(key: str, base: str) -> None:
        if not (base.isidentifier() and unicodedata.normalize("NFKC", base) == base):  # Python reads ﬁ as fi
            base = re.sub(r"\W", "_", base, flags=re.ASCII) or "_"
        base = base if not base[0].isdigit() else f"_{base}"
        while base in taken:
            base += "_"
        taken.add(base)
        names[key] = base

    for d in model.problem.dims:
        fresh(d, d)
    for v in model.variables:
        fresh(v, v)
    for name, _ in model.equations:
        fresh(name, name)
    for f in sorted(_used_functions(derivation)):
        fresh(f, f)
        fresh(f"d:{f}", f"d{names[f]}")
    for adjoint in derivation.adjoints:
        fresh(f"{adjoint.name}:bar", f"{names[adjoint.name]}_bar")
    return names


def _used_functions(derivation: Derivation) -> set[str]:
    model = derivation.model
    return ({name for _, e in model.equations for name in _functions(e)}
            | {name for a in derivation.adjoints for name in _functions(a.simplified)}
            | {name for g in derivation.gradients for name in _functions(g.expr)})


def _docstring(lines: list[str]) -> list[str]:
    """A module docstring written as string literals made by repr(): user text inside it can
    neither end it nor break it (a title with \"\"\" or backslashes is only text)."""
    return ["("] + [f"    {line + chr(10)!r}" for line in lines] + [")"]


def generate(derivation: Derivation) -> str:
    """The module's source.  Every name of the problem in it is an identifier from
    :func:`python_names`; every other piece of user text (title, loss, names in prose and as
    dict keys) enters through repr()."""
    model = derivation.model
    problem = model.problem
    variables = model.variables
    names = python_names(derivation)
    lines: list[str] = []
    add = lines.append
    shapes = ", ".join(f"{v}: ({shape[0]}x{shape[1]})" for v in variables for shape in [model.shapes[v]])
    doc = [f"{problem.title or problem.name}: forward pass and gradients, generated by derive.",
           "",
           f"Loss {problem.loss}; gradients of {', '.join(problem.wrt)}. Shapes: {shapes}.",
           "Vectors may be given as (n,) or (n, 1), rows (1 x n) as (n,) or (1, n); every array returned",
           "is 2-D: vectors as (n, 1), scalars as (1, 1). Sizes: "
           + ", ".join(f"{d} = {n}" for d, n in problem.dims.items())
           + " in the problem file; any sizes that fit together work.",
           f"Generated on {_dt.date.today().isoformat()}; depends on NumPy only."]
    conditions = _conditions(derivation)
    for target, axis in conditions.items():
        doc.append(f"Assumes each {'row' if axis else 'column'} of {target} sums to 1, as the problem declares: the "
                   "gradients use the textbook form (P - T), which holds only then; gradients() checks it.")
    renamed = [f"{k} -> {v}" for k, v in names.items() if ":" not in k and k != v and k in {*variables}]
    if renamed:
        doc.append("Arguments renamed for Python: " + ", ".join(renamed) + "; the dicts returned use the "
                   "problem's names.")
    lines.extend(_docstring(doc))
    add("")
    functions = []  # the NumPy implementations of derive/functions.py, copied under the problem's names
    for name in sorted(_used_functions(derivation)):
        row = ELEMENTWISE[model.concrete.get(name, name)]
        note = "# abstract in the problem; sigmoid here\n" if name in model.abstract else ""
        functions += [note + numpy_source(row.numpy_f, names[name]),
                      numpy_source(row.numpy_df, names["d:" + name])]
    if any("math." in source for source in functions):
        add("import math")
        add("")
    add("import numpy as np")
    add("")
    for source in functions:
        add("")
        lines.extend(source.splitlines())
        add("")
    lines.extend(_HELPERS.splitlines())
    add("")
    add("")
    add("def _columns(*values):")
    add('    """Arrays as 2-D: a 1-D vector becomes a column, a number a 1 x 1 matrix; floats keep their')
    add('    precision (float32 stays float32), anything else becomes float64."""')
    add("    out = []")
    add("    for value in values:")
    add("        value = np.asarray(value)")
    add("        value = value if value.dtype.kind == 'f' else value.astype(float)")
    add("        out.append(value.reshape(-1, 1) if value.ndim < 2 else value)")
    add("    return out")
    add("")
    add("")
    add("def _dtype(*values):")
    add('    """The precision of the results: that of the float arrays given (float32 in, float32 out; a')
    add('    Python number or a list takes the arrays\' precision), float64 when none is given."""')
    add("    floats = [v.dtype for v in values if isinstance(v, (np.ndarray, np.generic)) and v.dtype.kind == 'f']")
    add("    return np.result_type(*floats) if floats else np.dtype(float)")
    add("")
    add("")
    params = ", ".join(names[v] for v in variables)
    sizes = _size_lines(model, names)
    # a row variable (1 x B) given as a 1-D array is a row, not a column
    rows = [f"    {names[v]} = {names[v]}.reshape(1, -1)" for v in variables
            if model.shapes[v][0] == 1 and model.shapes[v][1] != 1]
    add(f"def forward({params}):")
    add('    """Every named node, in order, as a dict."""')
    add(f"    dtype = _dtype({params})")
    add(f"    {params}, = _columns({params})")
    lines.extend(rows)
    lines.extend(sizes)
    for name, e in model.equations:
        add(f"    {names[name]} = {numpy_expr(e, names)}")
    add("    return {")
    for name, _ in model.equations:
        add(f"        {name!r}: np.asarray({names[name]}, dtype=dtype),")
    add("    }")
    add("")
    add("")
    add(f"def gradients({params}):")
    add("    " + repr(f"The gradient of {problem.loss} with respect to each of {', '.join(problem.wrt)}, as a dict."))
    add(f"    dtype = _dtype({params})")
    add(f"    {params}, = _columns({params})")
    lines.extend(rows)
    lines.extend(sizes)
    nodes, adjoints = _needed(derivation)
    for name, e in model.equations:
        if name in nodes:
            add(f"    {names[name]} = {numpy_expr(e, names)}")
    for target, axis in conditions.items():  # what the fused P - T form was proved under
        add(f"    if not np.allclose(np.sum({names[target]}, axis={axis}), 1.0):")
        add("        raise ValueError(" + repr(f"{target}: each {'row' if axis else 'column'} must sum to 1 (as the "
                                              "problem declares); the gradients use P - T, which holds only then") + ")")
    for adjoint in derivation.adjoints:
        if adjoint.name not in adjoints:
            continue
        expr = numpy_expr(adjoint.simplified, names)
        if adjoint.simplified.is_const and not adjoint.shape == (1, 1):
            expr = f"np.full({_shape(adjoint.shape, names)}, {expr})"
        add(f"    {names[adjoint.name + ':bar']} = {expr}")
    add("    return {")
    for g in derivation.gradients:
        expr = numpy_expr(g.expr, names)
        if g.expr.op in ("const", "zero") and g.shape != (1, 1):
            expr = f"np.zeros({_shape(g.shape, names)}) + {expr}"
        add(f"        {g.name!r}: np.array({expr}, dtype=dtype).reshape({_shape(g.shape, names)}),")
    add("    }")
    add("")
    return "\n".join(lines) + "\n"


def _needed(derivation: Derivation) -> tuple[set[str], set[str]]:
    """The named nodes and the adjoints the returned gradients use, directly or through each
    other: the fused Z̄ = P − T needs no P̄ (which divides by P and warns where a softmax
    saturates), and no gradient needs the loss's own value."""
    model = derivation.model
    definitions = dict(model.equations)
    simplified = {a.name: a.simplified for a in derivation.adjoints}
    nodes: set[str] = set()
    adjoints: set[str] = set()
    stack = [g.expr for g in derivation.gradients]
    while stack:
        for leaf in stack.pop().walk():
            if leaf.op == "adj" and leaf.name not in adjoints and leaf.name in simplified:
                adjoints.add(leaf.name)
                stack.append(simplified[leaf.name])
            elif leaf.op == "var" and leaf.name not in nodes and leaf.name in definitions:
                nodes.add(leaf.name)
                stack.append(definitions[leaf.name])
    return nodes, adjoints


def _conditions(derivation: Derivation) -> dict[str, int]:
    """The targets whose columns (0) or rows (1) must sum to 1 for the simplified adjoints to hold
    (softmax followed by cross-entropy written P − T): what the sheet states as a condition."""
    kinds = derivation.model.problem.kinds
    out: dict[str, int] = {}
    for fact in derivation.facts:
        if fact.rewrite == "columns":
            out[fact.arg] = 1 if fact.function.endswith("_rows") else 0
    for fact in derivation.facts:
        if fact.rewrite == "fused" and fact.function == "softmax" and fact.target:
            out.setdefault(fact.target, 1 if kinds.get(fact.target, "").endswith("_rows") else 0)
    return out


def _size_lines(model, names: dict[str, str]) -> list[str]:
    """Each size, read off the first argument that has it (any sizes that fit together work)."""
    out = []
    for dim, value in model.problem.dims.items():
        for var in model.variables:
            shape = model.shapes[var]
            if dim in shape:
                out.append(f"    {names[dim]} = {names[var]}.shape[{shape.index(dim)}]")
                break
        else:
            out.append(f"    {names[dim]} = {int(value)}")
    return out


def _functions(e: M) -> set[str]:
    return {node.function for node in e.walk() if node.op in ("fn", "dfn")}


# -- the generated module checks itself ------------------------------------------------------------
#: How long the module may take to import and run once at the check point.
SELF_CHECK_TIMEOUT = 60.0
#: Largest relative difference between the module's gradients and the derivation's.
SELF_CHECK_TOLERANCE = 1e-8

#: The runner: fixed text, run with ``python -I -c`` in a scratch folder holding ``module.py``,
#: ``values.npz`` and ``names.json`` (fixed names: nothing the user wrote is on the command line).
_RUNNER = """
import importlib.util, json
import numpy as np
spec = importlib.util.spec_from_file_location("generated", "module.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
names = json.load(open("names.json", encoding="utf-8"))
values = np.load("values.npz")
args = [values[f"v{i}"] for i in range(len(names["variables"]))]
nodes = module.forward(*args)
grads = module.gradients(*args)
out = {"loss": np.asarray(nodes[names["loss"]], dtype=float)}
out.update({f"g{i}": np.asarray(grads[name], dtype=float) for i, name in enumerate(names["wrt"])})
np.savez("out.npz", **out)
"""


@dataclass(frozen=True)
class CodegenCheck:
    """The generated module run at the numeric check's point: its largest relative difference
    from the derivation's gradients."""

    max_relative_difference: float

    def as_dict(self) -> dict:
        return {"codegen": "pass", "codegen_max_relative_difference": self.max_relative_difference}


def _limit_child() -> None:  # pragma: no cover - runs in the child
    import resource

    limit = 4 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def self_check(derivation: Derivation, source: str, seed: int = 0) -> CodegenCheck:
    """Run ``source`` (from :func:`generate`) in a fresh Python at the numeric check's point and
    compare its loss and gradients with the derivation's; a difference or a failure to import or
    run raises VerificationError."""
    from .evaluate import NumpyBackend, run_backward, run_forward
    from .verify import check_point

    model = derivation.model
    sizes = model.problem.dims
    env = check_point(derivation, seed)
    backend = NumpyBackend(model.concrete)
    with np.errstate(all="ignore"):
        values = run_forward(model, env, backend, sizes)
        expected = run_backward(derivation, values, backend, sizes)
    wrt = [g.name for g in derivation.gradients]
    with tempfile.TemporaryDirectory(prefix="derive-codegen-") as scratch:
        folder = Path(scratch)
        (folder / "module.py").write_text(source, encoding="utf-8")
        (folder / "names.json").write_text(json.dumps({"variables": model.variables, "loss": model.problem.loss,
                                                       "wrt": wrt}), encoding="utf-8")
        np.savez(folder / "values.npz", **{f"v{i}": env[v] for i, v in enumerate(model.variables)})
        child_env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")}
        child_env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        try:
            result = subprocess.run([sys.executable, "-I", "-c", _RUNNER], cwd=folder, env=child_env,
                                    capture_output=True, text=True, timeout=SELF_CHECK_TIMEOUT,
                                    stdin=subprocess.DEVNULL,
                                    preexec_fn=_limit_child if os.name == "posix" else None)
        except subprocess.TimeoutExpired:
            raise VerificationError(f"the generated code did not finish within {SELF_CHECK_TIMEOUT:g} s "
                                    "at the check point", hint="report it: derive generated this code") from None
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise VerificationError(f"the generated code fails when run: {last[:200]}",
                                    hint="report it: derive generated this code")
        with np.load(folder / "out.npz") as out:
            got = {name: out[f"g{i}"] for i, name in enumerate(wrt)}
            got_loss = out["loss"]
    worst = _relative(got_loss, values[model.problem.loss])
    if worst > SELF_CHECK_TOLERANCE:
        raise VerificationError(f"the generated code's loss {model.problem.loss} differs from the derivation's "
                                f"(relative difference {worst:.1e})", hint="report it: derive generated this code")
    for name in wrt:
        difference = _relative(got[name], expected[name])
        if difference > SELF_CHECK_TOLERANCE:
            raise VerificationError(f"the generated code's gradient of {name} differs from the derivation's "
                                    f"(relative difference {difference:.1e} > {SELF_CHECK_TOLERANCE:g})",
                                    hint="report it: derive generated this code")
        worst = max(worst, difference)
    return CodegenCheck(float(worst))


def _relative(got, want) -> float:
    want = np.asarray(want, dtype=float)
    got = np.asarray(got, dtype=float)
    if got.shape != want.shape and got.size == want.size:
        got = got.reshape(want.shape)
    if got.shape != want.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(want), initial=0.0)), float(np.max(np.abs(got), initial=0.0)), 1e-300)
    return float(np.max(np.abs(got - want), initial=0.0)) / scale
