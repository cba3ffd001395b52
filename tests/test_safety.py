"""No user text is ever evaluated: the package never calls eval, exec, sympify or parse_expr.

(lambdify runs exec on code SymPy prints from the rule table's own expressions, which the
project builds itself; user text never reaches it: it is parsed by derive.parse into a
whitelisted tree first.)
"""

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "derive"
FORBIDDEN = re.compile(r"(?<![\w.])(eval|exec|sympify|parse_expr|compile|__import__)\s*\(|(?<![\w.])S\(|sympy\.(sympify|S)\(")


def test_no_eval_exec_sympify_or_parse_expr_in_the_package():
    hits = []
    for path in PACKAGE.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if FORBIDDEN.search(code):
                hits.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert hits == []


def test_lambdify_only_sees_the_rule_table():
    users = [p for p in PACKAGE.rglob("*.py") if "lambdify(" in p.read_text()]
    assert [p.name for p in users] == ["rules.py"]


# -- a user's template is compiled in the bounded child only (issue 19) --------------------------
def test_a_users_template_is_never_compiled_in_derives_own_process(monkeypatch):
    """Jinja2 folds constants when it compiles: {{ 7**(10**7) % 10 }} ran unbounded in the parent."""
    import pytest

    from derive import sandbox
    from derive.errors import ReportError

    def refuse(*args, **kwargs):
        raise AssertionError("a user's template was compiled in derive's own process")

    monkeypatch.setattr(sandbox, "compile_template", refuse)
    monkeypatch.setattr(sandbox, "environment", refuse)
    assert sandbox.render_bounded("md", "{{ 6 * 7 }}", {}, "t") == "42"
    with pytest.raises(ReportError, match="4300 digits"):  # folded, then printed: the child's error
        sandbox.render_bounded("md", "{{ 3**(10**6) }}", {}, "t")


def test_a_huge_constant_list_in_a_template_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from derive.cli import app

    template = tmp_path / "t.md.j2"
    template.write_text("{{ [0]*(3*10**8) }}\n")
    result = CliRunner().invoke(app, ["report", "problem1", "--format", "md", "--template", str(template),
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "512 MB" in result.stderr and len(result.stderr.splitlines()) == 1


def test_every_promise_of_the_security_page_names_a_test_that_exists():
    import ast
    import fnmatch

    page = (PACKAGE.parent / "docs" / "security.md").read_text(encoding="utf-8")
    named = re.findall(r"`(test_\w+\.py)::(test_[\w*]+)`", page)
    assert len(named) > 30
    tests = PACKAGE.parent / "tests"
    defined = {}
    for file in {f for f, _ in named}:
        tree = ast.parse((tests / file).read_text(encoding="utf-8"))
        defined[file] = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    missing = [f"{f}::{t}" for f, t in named if not fnmatch.filter(defined[f], t)]
    assert missing == []
