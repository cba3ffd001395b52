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
