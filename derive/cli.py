"""The ``derive`` command line: gather options, call one library function, map errors.

Exit codes: 0 success; 1 a verification failed; 2 bad input or usage; 3 an internal error.
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

try:  # Typer ≥ 0.20 carries its own copy of Click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older Typer on top of Click
    from click.exceptions import UsageError

from . import api
from .errors import DeriveError, ReportError
from .parse import Limits
from .errors import ProblemError
from .problems import builtin_problems, parse_assignment
from .matrix import EXACT_ENTRY_LIMIT
from .scalar.trace import NUMBERINGS, ORDERS
from .scalar.verify import SYMBOLIC_LIMIT, SYMBOLIC_TIMEOUT


@dataclass(frozen=True)
class Settings:
    debug: bool = False
    limits: Limits = Limits()
    symbolic_limit: int = SYMBOLIC_LIMIT
    symbolic_timeout: float = SYMBOLIC_TIMEOUT
    exact_limit: int = EXACT_ENTRY_LIMIT


class DeriveGroup(TyperGroup):
    """Turns the project's exceptions into one line on stderr and an exit code."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        """Click's usage errors (an unknown option, a missing argument) become one line on
        stderr and exit 2, like every other error; Click draws a box around them otherwise."""
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "derive"
            message = " ".join(exc.format_message().split())
            typer.echo(f"derive: error: {message} (hint: see '{command} --help')", err=True)
            code = 2
        except typer.Abort:
            typer.echo("derive: interrupted", err=True)
            code = 130
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except DeriveError as exc:
            if _settings(ctx).debug:
                traceback.print_exc()
            typer.echo(f"derive: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except RecursionError:
            if _settings(ctx).debug:
                traceback.print_exc()
            typer.echo("derive: error: the input is nested too deeply to process "
                       "(hint: lower the nesting or raise --max-depth)", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:  # a bug: say so plainly, traceback on --debug
            if type(exc).__module__.split(".")[0] in ("typer", "click"):
                raise  # usage errors and exits: Typer reports them itself
            if _settings(ctx).debug:
                traceback.print_exc()
            typer.echo(f"derive: internal error: {type(exc).__name__}: {exc} "
                       "(hint: run with --debug for the traceback and report it)", err=True)
            raise typer.Exit(3) from None


app = typer.Typer(cls=DeriveGroup, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Derive, check and typeset derivatives: evaluation traces, forward and "
                       "reverse mode tables, Jacobians, and solution sheets.")


def _settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, Settings) else Settings()


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"derive {version('derive')}")
        except PackageNotFoundError:  # a source tree that was never installed
            typer.echo("derive (not installed)")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print derive's version and exit.",
                                          callback=_print_version, is_eager=True)] = False,
    max_length: Annotated[int, typer.Option(help="Longest expression, in characters.")] = Limits.max_length,
    max_depth: Annotated[int, typer.Option(help="Deepest nesting of an expression.")] = Limits.max_depth,
    max_nodes: Annotated[int, typer.Option(help="Most nodes in a trace.")] = Limits.max_nodes,
    max_exponent: Annotated[int, typer.Option(help="Largest constant exponent.")] = Limits.max_exponent,
    symbolic_limit: Annotated[int, typer.Option(
        help="Most nodes for which the Jacobian is also checked with SymPy's diff.")] = SYMBOLIC_LIMIT,
    symbolic_timeout: Annotated[float, typer.Option(
        help="Seconds the SymPy check may take before it is skipped with a note.")] = SYMBOLIC_TIMEOUT,
    exact_limit: Annotated[int, typer.Option(
        help="Matrix problems: most variable entries for the exact (entry-wise SymPy) check.")] = EXACT_ENTRY_LIMIT,
) -> None:
    ctx.obj = Settings(debug, Limits(max_length, max_depth, max_nodes, max_exponent), symbolic_limit,
                       symbolic_timeout, exact_limit)


# -- options shared by the commands that solve a problem ---------------------------------------
ProblemArg = Annotated[Optional[str], typer.Argument(
    help="A built-in problem (see 'derive problems') or a TOML problem file; omit it with -f.",
    show_default=False)]
FunctionOpt = Annotated[Optional[list[str]], typer.Option(
    "-f", "--function", help="An output expression (repeat for y1, y2, ...).", show_default=False)]
AtOpt = Annotated[Optional[list[str]], typer.Option(
    "--at", help="An input value, name=value (repeat; gives input order for -f).", show_default=False)]
Numbering = Enum("Numbering", {name: name for name in NUMBERINGS}, type=str)
Order = Enum("Order", {name: name for name in ORDERS}, type=str)
SheetFormat = Enum("SheetFormat", {name: name for name in ("tex", "md", "json", "csv")}, type=str)
Hidden = Enum("Hidden", {name: name for name in ("rules", "expressions")}, type=str)
GraphFormat = Enum("GraphFormat", {name: name for name in ("dot", "svg", "png", "tikz")}, type=str)

NumberingOpt = Annotated[Numbering, typer.Option(
    help="Node numbering: 'zero' (v0 = x1, ...) or 'baydin' (v-1, v0 = inputs, as in Baydin et al.).")]
OrderOpt = Annotated[Order, typer.Option(
    help="Node order: 'postorder' (as the expressions are written) or 'depth' (by graph depth).")]
DigitsOpt = Annotated[int, typer.Option(help="Decimals shown (JSON keeps full precision).", min=0, max=15)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
DiagOpt = Annotated[bool, typer.Option("--diag", help="Matrix problems: write f′(z) ⊙ ū as diag(f′(z)) ū.")]


def _solve(ctx: typer.Context, problem, functions, at, numbering=Numbering.zero, order=Order.postorder,
           seed: int = 0):
    settings = _settings(ctx)
    if problem is None and not functions:
        raise ProblemError("no problem given", hint="name a PROBLEM (see 'derive problems') or give -f EXPR --at x=1")
    if problem is not None and functions:
        raise ProblemError("give either a PROBLEM or -f expressions, not both")
    values = dict(parse_assignment(text) for text in at or [])
    solved = api.solve(problem, functions=functions or (), at=values, numbering=Numbering(numbering).value,
                       order=Order(order).value,
                       limits=settings.limits, symbolic_limit=settings.symbolic_limit,
                       symbolic_timeout=settings.symbolic_timeout, seed=seed, exact_limit=settings.exact_limit)
    return solved._solved


def _terminal():
    from .render import terminal  # rich loads only when tables are printed

    return terminal


_VIEWS = {
    "solve": ("Print parts (c)-(e): the trace, forward and reverse tables, the Jacobian and the checks.",
              lambda t, s, nt: [t.trace_view(s, nt), *t.forward_views(s, nt), *t.reverse_views(s, nt),
                                t.jacobian_view(s, nt), t.checks_view(s, nt)], None),
    "trace": ("Print the evaluation trace (Wengert list) with every node's value.",
              lambda t, s, nt: [t.trace_view(s, nt)], ("inputs", "outputs", "nodes")),
    "forward": ("Print the forward-mode tables, one pass per input.",
                lambda t, s, nt: t.forward_views(s, nt), ("forward", "jacobian_forward")),
    "reverse": ("Print the reverse-mode tables, one pass per output.",
                lambda t, s, nt: t.reverse_views(s, nt), ("reverse", "jacobian")),
    "jacobian": ("Print f(x), the Jacobian and the checks.",
                 lambda t, s, nt: [t.jacobian_view(s, nt), t.checks_view(s, nt)],
                 ("outputs", "jacobian", "checks")),
}


def _view_command(name: str):
    help_text, views, json_keys = _VIEWS[name]

    def command(ctx: typer.Context, problem: ProblemArg = None, function: FunctionOpt = None,
                at: AtOpt = None, numbering: NumberingOpt = Numbering.zero, order: OrderOpt = Order.postorder,
                digits: DigitsOpt = 3, as_json: JsonOpt = False, diag: DiagOpt = False) -> None:
        solution = _solve(ctx, problem, function, at, numbering, order)
        if solution.kind == "matrix":
            _matrix_view(name, solution, as_json, diag)
        elif as_json:
            data = solution.as_dict()
            if json_keys:
                data = {"kind": data["kind"], **{key: data[key] for key in json_keys}}
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            from .render.notation import TextNotation

            terminal = _terminal()
            terminal.print_views(views(terminal, solution, TextNotation(digits)))

    command.__name__ = f"{name}_command"
    command.__doc__ = help_text
    return command


def _matrix_view(name: str, solution, as_json: bool, diag: bool) -> None:
    if name != "solve":
        raise ProblemError(f"'{name}' shows a scalar problem's tables; {solution.problem.name} is a matrix problem",
                           hint="use derive solve, verify, codegen or report")
    if as_json:
        from .render.matrix import matrix_json

        typer.echo(json.dumps(matrix_json(solution), indent=2, ensure_ascii=False))
    else:
        terminal = _terminal()
        terminal.print_views(terminal.matrix_views(solution, diag))


#: Each command's help ends with examples that run as written (a test runs them).
EXAMPLES = {
    "solve": ["derive solve problem1", "derive solve -f 'x1*x2 + sin(x1)' --at x1=2 --at x2=1",
              "derive solve problem2 --json"],
    "trace": ["derive trace problem1", "derive trace baydin --numbering baydin --order depth"],
    "forward": ["derive forward problem1 --digits 4"],
    "reverse": ["derive reverse problem1"],
    "jacobian": ["derive jacobian -f 'tanh(x1*x2)' -f 'x1/x2' --at x1=1 --at x2=2"],
    "verify": ["derive verify problem1", "derive verify problem2 --seed 7"],
    "check": ["derive check problem1 filled.csv", "derive check problem2 answers.toml --json"],
    "variants": ["derive variants problem1 --count 30 --seed 2026 -o outputs/variants"],
    "codegen": ["derive codegen problem2 -o outputs/problem2_gradients.py"],
    "problems": ["derive problems"],
    "report": ["derive report problem1 --pdf", "derive report problem1 --blank --hide rules --pdf",
               "derive report problem2 --format md -o sheets"],
    "graph": ["derive graph problem1 --adjoint --format png -o outputs/adjoint.png"],
}


def _epilog(name: str) -> str:
    return "Examples:\n\n" + "\n\n".join(f"  $ {line}" for line in EXAMPLES[name])


for _name in _VIEWS:
    app.command(_name, help=_VIEWS[_name][0], epilog=_epilog(_name))(_view_command(_name))


@app.command("verify", epilog=_epilog("verify"))
def verify_command(
    ctx: typer.Context,
    problem: ProblemArg = None,
    function: FunctionOpt = None,
    at: AtOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the random values of the numeric check.")] = 0,
) -> None:
    """Prove the derivatives: exactly (SymPy, entry by entry) and numerically (finite differences).

    Exits 1 with a report when a check fails."""
    solution = _solve(ctx, problem, function, at, seed=seed)
    terminal = _terminal()
    if solution.kind == "matrix":
        from .matrix.codegen import generate, self_check

        terminal.print_views(terminal.matrix_views(solution)[2:])
        ran = self_check(solution.derivation, generate(solution.derivation), seed)  # the code codegen writes
        typer.echo(f"Generated code: runs and agrees (max relative difference {ran.max_relative_difference:.1e})")
    else:
        from .render.notation import TextNotation

        terminal.print_views([terminal.jacobian_view(solution, TextNotation()), terminal.checks_view(solution, None)])


@app.command("check", epilog=_epilog("check"))
def check_command(
    ctx: typer.Context,
    problem: Annotated[str, typer.Argument(help="The problem the worksheet answers.")],
    answers: Annotated[Path, typer.Argument(help="Filled worksheet: CSV, the --blank Markdown, or TOML formulas.")],
    as_json: JsonOpt = False,
) -> None:
    """Grade a filled worksheet cell by cell (or typed matrix formulas by meaning).

    Exits 0 when everything is right, 1 otherwise."""
    solution = _solve(ctx, problem, None, None)
    if solution.kind == "matrix":
        from .matrix.answers import check_answers

        result = check_answers(solution, answers)
    else:
        from .grade import grade
        from .worksheet import read_answers

        result = grade(solution, read_answers(answers), solution.problem.grading)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        terminal = _terminal()
        terminal.print_views(terminal.grade_views(result) if solution.kind == "scalar"
                             else terminal.matrix_answer_views(result))
    if not result.all_correct:
        raise typer.Exit(1)


@app.command("variants", epilog=_epilog("variants"))
def variants_command(
    problem: Annotated[str, typer.Argument(help="A scalar problem (built-in name or TOML file).")],
    count: Annotated[int, typer.Option(help="How many students.", min=1)] = 30,
    seed: Annotated[int, typer.Option(help="Same seed, same variants.")] = 0,
    out_dir: Annotated[Path, typer.Option("-o", "--output", help="Folder to write into.")] = Path("outputs/variants"),
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also compile every sheet to PDF.")] = True,
    digits: DigitsOpt = 3,
    workers: Annotated[Optional[int], typer.Option(help="Processes (default: one per core).", min=1)] = None,
) -> None:
    """Give each student their own point: a blank sheet and a key each, and manifest.csv."""
    from rich.progress import Progress

    from .report import SheetOptions
    from .variants import write_variants

    with Progress(transient=True, console=_terminal().Console(stderr=True)) as bar:
        task = bar.add_task("sheets", total=count)
        manifest = write_variants(problem, count, seed, out_dir, pdf, SheetOptions(digits=digits), workers,
                                  progress=lambda: bar.advance(task))
    typer.echo(str(manifest))


@app.command("codegen", epilog=_epilog("codegen"))
def codegen_command(
    ctx: typer.Context,
    problem: ProblemArg = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="The .py file to write.")] = None,
) -> None:
    """Write a self-contained NumPy module with forward() and gradients() for a matrix problem."""
    from .matrix.codegen import generate, self_check
    from .report import atomic_write

    solution = _solve(ctx, problem, None, None)
    if solution.kind != "matrix":
        raise ProblemError(f"codegen writes matrix problems' backward passes; {solution.problem.name} is scalar",
                           hint="try derive codegen problem2")
    output = output or Path("outputs") / f"{solution.problem.name}_gradients.py"
    source = generate(solution.derivation)
    self_check(solution.derivation, source)  # run at the check point before anything is written
    atomic_write(output, source)
    typer.echo(str(output))


@app.command("problems", epilog=_epilog("problems"))
def problems_command() -> None:
    """List the built-in problems."""
    for problem in builtin_problems():
        typer.echo(f"{problem.name:<12} {problem.description or problem.title}")


@app.command("report", epilog=_epilog("report"))
def report_command(
    ctx: typer.Context,
    problem: ProblemArg = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also compile the LaTeX sheet to PDF.")] = False,
    fmt: Annotated[SheetFormat, typer.Option("--format", help="Sheet format.")] = SheetFormat.tex,
    out_dir: Annotated[Path, typer.Option("-o", "--output", help="Folder to write into.")] = Path("outputs"),
    digits: DigitsOpt = 3,
    title: Annotated[Optional[str], typer.Option(help="Title (default: the problem's).")] = None,
    author: Annotated[Optional[str], typer.Option(help="Author line.")] = None,
    course: Annotated[Optional[str], typer.Option(help="Course line.")] = None,
    date: Annotated[Optional[str], typer.Option(help="Date line (default: today).")] = None,
    template: Annotated[Optional[Path], typer.Option(help="Your own Jinja2 template.")] = None,
    function: FunctionOpt = None,
    at: AtOpt = None,
    numbering: NumberingOpt = Numbering.zero,
    order: OrderOpt = Order.postorder,
    diag: DiagOpt = False,
    blank: Annotated[bool, typer.Option("--blank", help="A worksheet: values, lines and answers left empty.")] = False,
    hide: Annotated[Optional[list[Hidden]], typer.Option(
        help="With --blank, also empty the 'rules' or 'expressions' column (repeatable).")] = None,
) -> None:
    """Write the solution sheet (scalar: parts (a)-(e); matrix: graph and backprop equations)
    as LaTeX (and PDF), Markdown, JSON or CSV; --blank writes the worksheet to fill in."""
    from .report import SheetOptions, write_report  # Jinja2 and PyLaTeX load only for sheets

    if hide and not blank:
        raise ProblemError("--hide empties columns of a blank worksheet", hint="add --blank")
    solution = _solve(ctx, problem, function, at, numbering, order)
    options = SheetOptions(digits, diag, blank, frozenset(Hidden(h).value for h in hide or ()), title, author,
                           course, date, Numbering(numbering).value, Order(order).value)
    for path in write_report(solution, out_dir, SheetFormat(fmt).value, pdf, options, template):
        typer.echo(str(path))


@app.command("graph", epilog=_epilog("graph"))
def graph_command(
    ctx: typer.Context,
    problem: ProblemArg = None,
    adjoint: Annotated[bool, typer.Option("--adjoint", help="Draw the backpropagation graph.")] = False,
    fmt: Annotated[GraphFormat, typer.Option("--format", help="Output format.")] = GraphFormat.svg,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="File to write.")] = None,
    function: FunctionOpt = None,
    at: AtOpt = None,
    numbering: NumberingOpt = Numbering.zero,
    order: OrderOpt = Order.postorder,
) -> None:
    """Draw the computational graph (or with --adjoint the backpropagation graph)."""
    from .render import graph as graph_render
    from .report import atomic_write

    solution = _solve(ctx, problem, function, at, numbering, order)
    fmt = GraphFormat(fmt).value
    suffix = "-adjoint" if adjoint else "-graph"
    output = output or Path("outputs") / f"{solution.problem.name}{suffix}.{fmt}"
    if solution.kind == "matrix":
        if adjoint:
            raise ProblemError("--adjoint draws a scalar problem's backpropagation graph",
                               hint="a matrix problem's adjoints are equations: derive solve or report")
        tikz, dot = graph_render.matrix_tikz(solution.model), graph_render.matrix_dot(solution.model)
    else:
        tikz, dot = graph_render.tikz(solution.trace, adjoint), graph_render.dot_source(solution.trace, adjoint)
    if fmt == "tikz":
        atomic_write(output, tikz + "\n")
    elif fmt == "dot":
        atomic_write(output, dot)
    else:
        _write_bytes(output, _graphviz_render(dot, fmt))
    typer.echo(str(output))


def _graphviz_render(source: str, fmt: str) -> bytes:
    import graphviz

    try:
        return graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise ReportError("Graphviz's 'dot' is not installed",
                          hint="apt-get install graphviz, or use --format dot or tikz") from None


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.part")
    staged.write_bytes(data)
    staged.replace(path)


def main() -> None:
    """Entry point of the ``derive`` console script."""
    app(prog_name="derive")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
