"""docs/architecture.md's two worked examples, run as written: a function added by one entry of
derive/functions.py works in scalar and matrix problems; a reduction added by one Op entry, its
VJP and its helper is proved; and docs/functions.md is the table of functions."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import sympy

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of one section of docs/architecture.md, in order."""
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    section = text[text.index(heading):]
    section = section[:section.find("\n## ", 1)] if "\n## " in section[1:] else section
    return re.findall(r"```python\n(.*?)```", section, re.S)


def module_of(source: str, tmp_path: Path, name: str, header: str):
    """``source`` as a real module (so inspect.getsource sees it, as generated code needs)."""
    path = tmp_path / f"{name}.py"
    path.write_text(header + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_function_added_by_one_entry_works_in_both_engines(tmp_path, monkeypatch):
    import numpy as np

    from derive import api, functions
    from derive.matrix import rules as matrix_rules
    from derive.matrix.solve import solve_matrix
    from derive.problems import problem_from_toml
    from derive.scalar import rules as scalar_rules

    implementations, entry = python_blocks("## How to add a function")
    numpy_module = module_of(implementations, tmp_path, "softsign_numpy", "import numpy as np\n\n\n")
    namespace = {**vars(functions), **vars(numpy_module)}
    f = eval(entry, namespace)  # noqa: S307  (the project's own documentation)
    # what importing derive does with every entry of the table
    monkeypatch.setitem(scalar_rules.PRIMITIVES, f.name, scalar_rules._function_row(f))
    monkeypatch.setitem(scalar_rules.FUNCTIONS, f.name, 1)
    monkeypatch.setitem(scalar_rules.FOLD, f.name, lambda x: f.definition(x))
    monkeypatch.setitem(matrix_rules.ELEMENTWISE, f.name, matrix_rules._elementwise_row(f))

    x = sympy.Symbol("x", real=True)
    solved = api.solve(functions=["softsign(x1) + softsign(2)"], at={"x1": "-0.5"})
    assert solved.checks.symbolic == "pass" and solved.checks.finite_difference == "pass"
    assert solved.jacobian[0][0] == pytest.approx(1 / 1.5 ** 2, rel=1e-12)  # d/dx x/(1+|x|) = 1/(1+|x|)²
    assert float(sympy.diff(x / (1 + sympy.Abs(x)), x).subs(x, -0.5)) == pytest.approx(1 / 1.5 ** 2)
    toml = ('[dims]\nN = 3\n[variables]\nA = "N x N"\nu = "N"\n[equations]\nh = "softsign(A @ u)"\n'
            'L = "sum(h * h)"\n[derive]\nloss = "L"\nwrt = ["A", "u"]\n')
    solution = solve_matrix(problem_from_toml(toml, "softsign"))
    assert solution.checks.exact == "pass" and solution.checks.numeric_max_relative_error < 1e-6
    assert np.allclose(f.numpy(np.array([-2.0, 3.0])), [-2 / 3, 3 / 4])


def test_a_reduction_added_by_one_entry_and_its_vjp_is_proved(tmp_path, monkeypatch):
    import types

    from derive.matrix import expr, rules, runtime, shapes
    from derive.matrix.solve import solve_matrix
    from derive.problems import problem_from_toml

    helper, vjp, entry = python_blocks("## How to add a reduction")
    helper_module = module_of(helper, tmp_path, "meansq_runtime", "import numpy as np\n\n\n")
    rt = types.SimpleNamespace(**{**vars(runtime), **vars(helper_module)})
    namespace = {**vars(rules), "rt": rt}
    exec(vjp, namespace)  # noqa: S102  (the project's own documentation)
    op = eval(entry, namespace)  # noqa: S307
    assert "def _meansq(" in op.helper
    monkeypatch.setitem(rules.OPS, op.name, op)
    monkeypatch.setitem(expr.TAKES, op.name, frozenset(op.takes))
    monkeypatch.setitem(shapes.CALLS, op.call, op.arity)
    monkeypatch.setitem(shapes.CALLED, op.call, op.name)
    monkeypatch.setattr(shapes, "AXIS_OPS", shapes.AXIS_OPS | {op.name})
    toml = ('[dims]\nN = 3\nB = 2\n[variables]\nX = "N x B"\nu = "N"\n[equations]\n'
            'L = "sum(tanh(meansq(X, axis=1)) * u) + meansq(X) + sum(meansq(tanh(X), axis=0))"\n'
            '[derive]\nloss = "L"\nwrt = ["X", "u"]\n')
    solution = solve_matrix(problem_from_toml(toml, "meansq"))
    assert solution.checks.exact == "pass", solution.checks
    assert solution.checks.numeric_max_relative_error < 1e-6


def test_the_functions_page_is_the_table():
    from derive.functions import markdown_table

    assert markdown_table() in (DOCS / "functions.md").read_text(encoding="utf-8")


# -- the import direction -------------------------------------------------------------------------
PACKAGE = Path(__file__).resolve().parent.parent / "derive"


def layers() -> dict[str, int]:
    """docs/architecture.md's layer picture: each module or package of derive/ → its layer (0 on top)."""
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    section = text[text.index("## The import direction"):]
    picture = re.search(r"```\n(.*?)```", section, re.S).group(1)
    return {name.strip().removesuffix(".py").removesuffix("/"): level
            for level, line in enumerate(picture.strip().splitlines()) for name in line.split(",")}


def unit(module: str) -> str:
    """What the picture names for a dotted module: derive.render.lines → render, derive.api → api."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every module of derive that ``path`` imports (at the top or inside a function), with its line."""
    import ast

    package = ["derive", *path.relative_to(PACKAGE).parent.parts]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # from . import lines: the names are modules
            targets = [f"{module}.{a.name}" for a in node.names] if node.module is None else [module]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        out += [(target, node.lineno) for target in targets if target.split(".")[0] == "derive"]
    return out


def import_edges() -> list[tuple[str, str, str]]:
    """(importer's unit, imported unit, where) for every import between two units of derive."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = unit(".".join(["derive", *path.relative_to(PACKAGE).with_suffix("").parts]))
        for target, line in imports_of(path):
            if unit(target) != importer:
                edges.append((importer, unit(target), f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"))
    return edges


def test_imports_point_down_the_layers_of_the_architecture_page():
    """Every module of derive is in the picture, and none imports from a layer above its own."""
    level = layers()
    units = {unit(".".join(["derive", *p.relative_to(PACKAGE).with_suffix("").parts])) for p in PACKAGE.rglob("*.py")}
    assert units - set(level) == set(), "modules missing from docs/architecture.md's layer picture"
    upward = [where for importer, imported, where in import_edges() if level[imported] < level[importer]]
    assert upward == []


def test_renderers_import_no_grading_and_engines_no_renderer():
    """render/ prints what it is handed: it imports nothing of grading/ or the CLI; the engines
    (scalar/, matrix/) import nothing of render/, grading/ or the reader of hand-written lines."""
    edges = import_edges()
    assert [w for a, b, w in edges if a == "render" and b in ("grading", "cli", "report", "api")] == []
    assert [w for a, b, w in edges if a in ("scalar", "matrix")
            and b in ("render", "grading", "handwriting", "cli", "report", "api")] == []
    assert {("render", "handwriting"), ("grading", "render")} <= {(a, b) for a, b, _ in edges}  # the scan sees


# -- thin commands ----------------------------------------------------------------------------------
#: Most statements in one command's body (its docstring and imports not counted, the statements
#: nested in an if, for or with counted): gather the options (and refuse a combination only the
#: command line can get wrong), solve, call one library function, print what it returns.  A body
#: longer than this does work that belongs in the library (docs/architecture.md, "Thin commands").
COMMAND_STATEMENTS = 8


def statements(body: list) -> int:
    import ast

    count = 0
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            continue
        count += 1 + sum(statements(getattr(node, name, None) or [])
                         for name in ("body", "orelse", "finalbody", "handlers"))
    return count


def test_every_command_is_a_thin_wrapper_over_one_library_function():
    """Every command of the CLI, the ones made in a loop (solve, trace, forward, ...) too."""
    import ast
    import inspect
    import textwrap

    from derive.cli import app

    commands = app.registered_commands
    assert len(commands) >= 13
    long = {}
    for command in commands:
        function = ast.parse(textwrap.dedent(inspect.getsource(command.callback))).body[0]
        if statements(function.body) > COMMAND_STATEMENTS:
            long[command.name or command.callback.__name__] = statements(function.body)
    assert long == {}, f"commands longer than {COMMAND_STATEMENTS} statements: move their work into the library"
    source = textwrap.dedent("def check():\n    for x in y:\n        if x:\n            a = 1\n        else:\n"
                             "            b = 2\n    return a\n")
    assert statements(ast.parse(source).body[0].body) == 5  # the count is of nested statements
