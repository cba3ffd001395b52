"""The command line: thin commands, JSON shape, exit codes and one-line errors."""

import json
import math
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from derive.cli import app

from conftest import problem1_adjoints, problem1_tangents, problem1_values

runner = CliRunner()


def run(*args):
    """In-process, as the console script calls it; a subprocess only where the real process is
    what a test proves (``python -m derive``, the exit status of the interpreter)."""
    return runner.invoke(app, list(args), prog_name="derive")


def test_solve_json_has_the_promised_shape_and_numbers():
    result = run("solve", "problem1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "scalar"
    assert data["inputs"] == [{"name": "x1", "node": "v0", "value": 2.0}, {"name": "x2", "node": "v1", "value": 1.0}]
    assert [o["node"] for o in data["outputs"]] == ["v8", "v11"]
    values = problem1_values()
    assert data["outputs"][0]["value"] == pytest.approx(values["v8"], rel=1e-15)
    assert [n["id"] for n in data["nodes"]] == [f"v{i}" for i in range(12)]
    v2 = data["nodes"][2]
    assert (v2["op"], v2["args"], v2["text"], v2["value"]) == ("mul", ["v1"], "2*v1", 2.0)
    tangents, adjoints = problem1_tangents(), problem1_adjoints()
    for x in ("x1", "x2"):
        assert list(data["forward"][x]) == [f"v{i}" for i in range(12)]
        for v, value in data["forward"][x].items():
            assert value == pytest.approx(tangents[x][v], rel=1e-12, abs=1e-14)
    for y in ("y1", "y2"):
        for v, value in data["reverse"][y].items():
            assert value == pytest.approx(adjoints[y][v], rel=1e-12, abs=1e-14)
    assert data["reverse"]["y1"]["v0"] == pytest.approx(math.sin(3), rel=1e-15)  # ∂y1/∂x1 = sin(3x2²) at x2 = 1
    assert len(data["jacobian"]) == 2 and len(data["jacobian"][0]) == 2
    assert data["checks"]["symbolic"] == "pass"
    assert data["checks"]["finite_difference_max_error"] < 1e-8


def test_solve_prints_tables_with_rounded_values_and_real_minus_signs():
    result = run("solve", "problem1")
    assert result.exit_code == 0
    for text in ("(c) Evaluation trace", "Product Rule", "7.671", "2.731", "−5.940", "−11.880", "−1.980", "2.898"):
        assert text in result.stdout


def test_inline_problem_and_digits():
    result = run("jacobian", "-f", "x*y", "-f", "sin(x)", "--at", "x=2", "--at", "y=3", "--digits", "5")
    assert result.exit_code == 0, result.output
    assert "y2 = 0.90930" in result.stdout  # sin(2) to 5 decimals
    assert "−0.41615" in result.stdout  # ∂y2/∂x = cos(2), with a real minus


@pytest.mark.parametrize("args, code, message", [
    (["solve", "-f", "exp(2*x3)", "--at", "x1=2", "--at", "x2=1"], 2, "unknown name 'x3' at column 7"),
    (["solve", "-f", "log(x)", "--at", "x=-1"], 2, "v1 = log(v0): v0 = -1.0 is outside the domain of log"),
    (["solve", "-f", "x", "--at", "x=1e400"], 2, "1e400 at column 1 is too large: it overflows a float"),
    (["solve", "nosuchproblem"], 2, "no problem named 'nosuchproblem'"),
    (["solve"], 2, "no problem given"),
    (["solve", "problem1", "--at", "x3=1"], 2, "'x3' is not an input of problem1"),
    (["solve", "-f", "__import__('os').system('touch /tmp/pwned')", "--at", "x=1"], 2, "attribute access"),
    (["--max-exponent", "10", "solve", "-f", "x**20", "--at", "x=1"], 2, "larger than the limit of 10"),
])
def test_bad_input_gives_one_line_on_stderr_and_exit_2(args, code, message):
    result = run(*args)
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("derive: error: ")
    assert "Traceback" not in result.output
    assert not os.path.exists("/tmp/pwned")


def test_verification_failure_exits_1(monkeypatch):
    import dataclasses

    import sympy

    from derive.scalar import rules

    wrong = dataclasses.replace(rules.PRIMITIVES["sin"], partials=(sympy.sin(rules.a),))
    monkeypatch.setitem(rules.PRIMITIVES, "sin", wrong)
    result = run("solve", "problem1")
    assert result.exit_code == 1
    assert "disagree" in result.stderr


def test_debug_shows_the_traceback():
    result = run("--debug", "solve", "-f", "log(x)", "--at", "x=-1")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr


def test_focused_views():
    assert "v11 = v9 + v10" in run("trace", "problem1").stdout
    assert "pass for x2" in run("forward", "problem1").stdout
    assert "pass for y2" in run("reverse", "problem1").stdout
    data = json.loads(run("reverse", "problem1", "--json").stdout)
    assert set(data) == {"kind", "reverse", "jacobian"}


def test_problems_lists_builtins():
    result = run("problems")
    assert "problem1" in result.stdout and "baydin" in result.stdout


def test_python_dash_m_and_console_script():
    out = subprocess.run([sys.executable, "-m", "derive", "jacobian", "problem1"], capture_output=True, text=True)
    assert out.returncode == 0 and "2.898" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "derive", "solve", "-f", "sin(", "--at", "x=1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "x.__class__", "().__class__.__bases__", "(lambda: x)()", "[x for x in (1, 2)]",
    "f'{x}'", "(y := x)", "x[0]", "open('/etc/passwd')", "sin(x=1)", "sin(*x)",
    "exec('import os')", "eval('1')", "x if x else 1",
]


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_expressions_exit_2_with_one_line_and_touch_nothing(expr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if os.path.exists("/tmp/pwned"):
        os.remove("/tmp/pwned")
    result = run("report", "-f", expr, "--at", "x=1", "--pdf")
    assert result.exit_code == 2
    assert result.stderr.startswith('derive: error: y1 = "')
    assert "not allowed" in result.stderr or "unknown function" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists("/tmp/pwned")
    assert list(tmp_path.iterdir()) == []  # no report, not even an empty outputs/ folder


@pytest.mark.parametrize("args, message", [
    (["solve", "-f", "(" * 300 + "x" + ")" * 300, "--at", "x=1"], "nested too deeply"),
    (["--max-depth", "3", "solve", "-f", "sin(sin(sin(sin(x))))", "--at", "x=1"], "nested more than 3 levels"),
    (["--max-length", "5", "solve", "-f", "x + x + x", "--at", "x=1"], "characters long"),
    (["--max-nodes", "3", "solve", "-f", "sin(x)", "-f", "cos(x)", "-f", "tan(x)", "--at", "x=1"], "more than 3 nodes"),
    (["solve", "-f", "x**99999999", "--at", "x=1"], "larger than the limit of 1000"),
])
def test_limits_exit_2_with_the_flag_to_raise_them(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    if "parentheses" not in result.stderr:  # Python's own parser limit has no flag to raise
        assert "(hint: raise the limit with --max-" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("spec, message", [
    ("title = \n", "invalid TOML"),
    ("[inputs]\nx = 1\n[outputs]\ny = 'x'\n[outptus]\n", "unknown key 'outptus' (hint: did you mean 'outputs'?)"),
    ("[inputs]\nx = 'a'\n[outputs]\ny = 'x'\n", "unknown name 'a'"),
    ("[inputs]\nx = 1\n[outputs]\ny = 'x + z'\n", "unknown name 'z' at column 5"),
    ("[inputs]\nx = 1\n[outputs]\ny = 'log(x - 1)'\n", "outside the domain of log"),
])
def test_bad_problem_files_exit_2_and_leave_nothing(spec, message, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(spec)
    out = tmp_path / "out"
    result = run("report", str(path), "--pdf", "-o", str(out))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_matrix_solve_json_shape():
    result = run("solve", "problem2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "matrix" and data["dims"] == {"N": 3, "K": 4, "M": 2}
    assert [n["name"] for n in data["nodes"]] == ["z", "h", "y", "E", "R", "L"]
    assert set(data["nodes"][0]) >= {"name", "expr", "shape"}
    h = next(a for a in data["adjoints"] if a["name"] == "h")
    assert set(h) >= {"name", "shape", "chain", "simplified", "latex", "numpy"}
    assert h["simplified"] == "r + W2ᵀ (y − s)" and h["numpy"] == "r + W2.T @ (y - s)"
    assert data["gradients"]["W1"]["numpy"] == "z_bar @ x.T"
    assert data["checks"]["exact"] == "pass"


def test_matrix_verify_codegen_and_errors(tmp_path):
    result = run("verify", "problem2")
    assert result.exit_code == 0 and "pass" in result.stdout
    out = tmp_path / "p2.py"
    result = run("codegen", "problem2", "-o", str(out))
    assert result.exit_code == 0 and out.exists() and "def gradients(" in out.read_text()
    result = run("trace", "problem2")
    assert result.exit_code == 2 and "matrix problem" in result.stderr
    result = run("codegen", "problem1")
    assert result.exit_code == 2 and "is scalar" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[dims]\nN = 2\nK = 3\n[variables]\nW = 'K x N'\nx = 'K'\n[equations]\nL = 'sum(W @ x)'\n"
                   "[derive]\nloss = 'L'\nwrt = ['x']\n")
    result = run("solve", str(bad))
    assert result.exit_code == 2
    assert 'L = "sum(W @ x)": W @ x: (K×N) @ (N×1) expected, got (K×N) @ (K×1)' in result.stderr


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"derive {version('derive')}"


@pytest.mark.parametrize("args", [["solve", "problem1", "--bogus"], ["--bogus", "solve"], ["check", "problem1"],
                                  ["solve", "problem1", "--digits", "x"]])
def test_usage_errors_are_one_line_and_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derive: error: ") and "--help" in lines[0], result.stderr
    assert "╭" not in result.stderr


def test_hide_without_blank_is_an_error(tmp_path):
    result = run("report", "problem1", "--hide", "rules", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "--blank" in result.stderr
    assert not list(tmp_path.iterdir())


def test_every_command_has_examples_that_parse():
    import shlex

    import typer.main

    from derive.cli import EXAMPLES

    group = typer.main.get_command(app)
    assert set(EXAMPLES) == set(group.commands)
    for name, lines in EXAMPLES.items():
        assert "Examples:" in run(name, "--help").stdout
        for line in lines:
            words = shlex.split(line)
            assert words[:2] == ["derive", name]
            group.commands[name].make_context(name, words[2:])  # raises UsageError if an option is wrong


def test_a_missing_rule_is_a_bug_in_derive_exit_3_not_bad_input(monkeypatch):
    """The parser admits tanh; with its row gone from the table (a bug), the CLI says 'internal'
    with the --debug hint and exits 3, never 2 (bad input)."""
    from derive.scalar import rules

    monkeypatch.delitem(rules.PRIMITIVES, "tanh")
    result = run("jacobian", "-f", "tanh(x)", "--at", "x=1")
    assert result.exit_code == 3, result.output
    assert "no differentiation rule for primitive 'tanh'" in result.stderr and "--debug" in result.stderr


def test_a_missing_vjp_is_a_bug_in_derive_exit_3(monkeypatch):
    import dataclasses

    from derive.matrix import rules

    monkeypatch.setitem(rules.OPS, "matmul", dataclasses.replace(rules.OPS["matmul"], vjps=()))
    result = run("solve", "problem2")
    assert result.exit_code == 3, result.output
    assert "no VJP rule for the operation 'matmul'" in result.stderr and "--debug" in result.stderr


@pytest.mark.parametrize("function, at", [("tan(x)", "x=pi/2"), ("tan(x)", "x=3*pi/2"), ("1/sin(x)", "x=pi"),
                                          ("log(cos(x))", "x=pi/2"), ("sqrt(sin(x))", "x=pi")])
def test_a_pole_the_floats_step_over_is_a_domain_error(function, at):
    """tan(float(pi/2)) is 1.6e16, not infinite: the exact check finds the pole (exit 2, one
    line naming the node), where it used to crash on 'complex infinity' (exit 3)."""
    result = run("jacobian", "-f", function, "--at", at)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("derive: error: v") and result.stderr.count("\n") == 1
    assert "undefined here" in result.stderr


@pytest.mark.parametrize("function, at", [("1/x", "x=0"), ("log(x)", "x=0"), ("x**-1", "x=0"),
                                          ("x*tan(pi/2)", "x=1"), ("x/(1/0)", "x=1")])
def test_other_poles_are_domain_or_parse_errors(function, at):
    result = run("jacobian", "-f", function, "--at", at)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("derive: error: ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("args, kind", [(["report", "problem1"], "folder"), (["graph", "problem1", "--format", "dot"], "file"),
                                        (["codegen", "problem2"], "file")])
def test_dash_o_is_a_folder_for_several_files_and_the_file_for_one(tmp_path, args, kind):
    wrong = tmp_path / "taken"
    wrong.mkdir() if kind == "file" else wrong.write_text("keep me")
    result = run(*args, "-o", str(wrong))
    assert result.exit_code == 2 and "cannot write to" in result.stderr
    assert (wrong.is_dir() and not list(wrong.iterdir())) if kind == "file" else wrong.read_text() == "keep me"
    right = tmp_path / ("out" if kind == "folder" else "out.txt")
    assert run(*args, "-o", str(right)).exit_code == 0
    assert right.is_dir() if kind == "folder" else right.is_file()


@pytest.mark.parametrize("equation, kind, message", [
    ("sum(X + r)", "", "X + r: (K×B) and (B×1) do not broadcast (hint: a transpose (.T) may be missing)"),
    ("sum(softmax(X, axis=3))", "", "unknown axis 3 at column 21"),
    ("sum(X * T)", "onehat", "variable T: unknown kind 'onehat' (hint: did you mean 'onehot'?)"),
])
def test_matrix_language_errors_are_one_line_and_exit_2(tmp_path, equation, kind, message):
    # issue 10: bad shapes, unknown axes and misused kinds
    target = f'{{ shape = "K x B", kind = "{kind}" }}' if kind else '"K x B"'
    path = tmp_path / "bad.toml"
    path.write_text(f'[dims]\nK = 2\nB = 3\n[variables]\nX = "K x B"\nr = "B"\nT = {target}\n'
                    f'[equations]\nL = "{equation}"\n[derive]\nloss = "L"\nwrt = ["X"]\n')
    result = run("solve", str(path))
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["--symbolic-timeout", "nan", "jacobian", "problem1"], ["--symbolic-timeout", "inf", "verify", "problem2"],
    ["--max-nodes", "-5", "solve", "problem1"], ["--max-depth", "0", "solve", "problem1"],
    ["check", "problem1", "tests/data/seed_worksheet.csv", "--weight", "forward=1e308"],
    ["check", "problem1", "tests/data/seed_worksheet.csv", "--weight", "forward=nan"],
    ["check", "problem1", "tests/data/seed_worksheet.csv", "--weight", "trace=0", "--weight", "forward=0",
     "--weight", "reverse=0"],
])
def test_options_out_of_range_are_one_line_exit_2(args):
    """nan and inf seconds crashed the alarm (exit 3); huge weights made the score nan (invalid
    JSON for Gradescope); all-zero weights graded nothing at 0 %; negative limits were taken."""
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("derive: error: ")


def test_batch_errors_are_one_line_each_with_no_progress_residue(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01binary")
    result = run("check", "problem1", str(bad), "tests/data/seed_worksheet.csv")
    assert result.exit_code == 2
    assert result.stderr.splitlines() and all(line.startswith("derive: error: ") for line in result.stderr.splitlines())


def test_more_students_than_points_says_so(tmp_path):
    result = run("variants", "problem1", "--count", "1000", "--no-pdf", "-o", str(tmp_path / "v"))
    assert result.exit_code == 2 and "distinct points, fewer than the 1000 students" in result.stderr


def test_a_usage_error_under_json_is_a_json_object_too():
    result = run("solve", "problem1", "--json", "--bogus")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert (error["kind"], error["exit_code"]) == ("UsageError", 2) and "--bogus" in error["message"]
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["solve", "problem1", "--at", "x1=abc"], "a value is a number or a constant expression"),
    (["solve", "problem1", "--at", "x1=2,5"], "write a decimal point, not a comma: 2.5"),
    (["solve", "-f", "tahn(x)", "--at", "x=1"], "did you mean 'tanh'?"),
])
def test_a_new_users_mistakes_get_hints_that_fit(args, message):
    """From a new-user trial: '--at x1=abc' hinted "the inputs are: none", '2,5' spoke of tuples,
    and 'tahn' suggested 'tan'."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_problem_file_syntax_errors_and_semicolon_worksheets_say_what_and_where(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[inputs]\nx = 1\n[outputs]\ny = "exp(2*x"\n')
    result = runner.invoke(app, ["solve", str(bad)])
    assert result.exit_code == 2 and result.stderr.startswith(f"derive: error: {bad}: y = ")
    semi = tmp_path / "semi.csv"
    semi.write_text("\ufeffsep=;\npart;pass;node;value;line\ntrace;;v0;2;\ntrace;;v6;0,141;sin(3) = 0,141\n")
    result = runner.invoke(app, ["check", "problem1", str(semi), "--json"])  # read as Excel saves it, not refused
    cells = {c["node"]: c for c in json.loads(result.stdout)["cells"] if c["part"] == "trace"}
    assert result.exit_code == 1 and cells["v0"]["verdict"] == "correct" and cells["v6"]["verdict"] == "rounding"


def test_help_shows_cli_metavars_and_keeps_square_brackets():
    """Typer ≥ 0.20 showed Python types (<list[str]>, --json <bool>) and Rich markup ate
    "[grading]" in check --help."""
    import re

    import typer.main

    group = typer.main.get_command(app)
    for name in ["", *group.commands]:
        shown = run(*([name] if name else []), "--help").stdout
        assert not re.search(r"<(str|bool|int|float|path|list\[|Path|int range|float range)", shown), (name, shown)
    check = run("check", "--help").stdout
    assert "[grading] tolerance" in check and "--weight PART=NUMBER" in check and "--csv FILE" in check
    solve = run("solve", "--help").stdout
    assert "--at NAME=VALUE" in solve and "-f, --function EXPR" in solve and "--json  " in solve


def test_the_terminal_names_the_input_vector_as_the_sheet_does_where_an_input_is_x():
    """`derive jacobian` printed f(x) and rows ∂y1/∂x beside columns λ, x: the x of the vector read
    as the input x.  The sheets call that vector 𝐮; the terminal now says u too."""
    result = CliRunner().invoke(app, ["jacobian", "-f", "λ*x", "-f", "x*x", "--at", "λ=1.5", "--at", "x=2"])
    assert result.exit_code == 0, result.output
    assert "f(u) = (" in result.output and "rows ∂y1/∂u, ∂y2/∂u; columns λ, x" in result.output
    plain = CliRunner().invoke(app, ["jacobian", "problem1"])
    assert "f(x) = (" in plain.output and "∂y1/∂x" in plain.output
