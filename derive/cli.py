"""The ``derive`` command line: gather options, call one library function, map errors.

Exit codes: 0 success; 1 a verification failed; 2 bad input or usage; 3 an internal error.
"""

from __future__ import annotations

import json
import sys
import traceback
import typing
from contextlib import contextmanager
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
from .errors import DeriveError, ProblemError, one_line
from .parse import Limits
from .problems import builtin_problems, check_moved_point, parse_assignment
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
    given: frozenset = frozenset()  # the global options typed on the command line


#: Global options that mean something for one engine only (scalar or matrix); given for the other
#: they are refused, never silently ignored.
SCALAR_ONLY = {"symbolic_limit": "--symbolic-limit", "symbolic_timeout": "--symbolic-timeout",
               "max_cells": "--max-cells"}
MATRIX_ONLY = {"exact_limit": "--exact-limit", "max_entries": "--max-entries"}


def cli_metavar(param) -> str | None:
    """How a parameter's value is written in --help, the command-line way (TEXT, FILE,
    INTEGER, NAME=VALUE), never as a Python type (``<list[str]>``); None for a flag."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if param.param_type_name == "argument":
        return (param.name or "VALUE").upper()
    described = getattr(param, "type_descriptor", None)  # Typer ≥ 0.20 types its own parameters
    if described is not None:
        if described.is_choice:
            return "[" + "|".join(str(getattr(c, "value", c)) for c in described.choices) + "]"
        if described.is_path:
            return "FOLDER" if described.path_type == "dir" else "FILE"
        annotation = described.annotation
        while typing.get_args(annotation):  # Optional[list[str]] -> str
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        name = getattr(annotation, "__name__", "text")
    else:  # older Typer: Click's own parameter types
        choices = getattr(param.type, "choices", None)
        if choices:
            return "[" + "|".join(str(getattr(c, "value", c)) for c in choices) + "]"
        name = {"text": "str", "integer": "int", "integer range": "int", "float range": "float",
                "path": "Path"}.get(param.type.name, param.type.name)
    return {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "FILE"}.get(name, name.upper())


def _show_cli_metavars(command) -> None:
    """Give every parameter of ``command`` without a metavar of its own its CLI metavar."""
    for param in command.params:
        if param.metavar is None:
            shown = cli_metavar(param)
            if shown is not None:
                param.metavar = shown
        if param.param_type_name == "argument" and hasattr(param, "display_type_rich"):
            param.display_type_rich = lambda ctx: None  # Typer ≥ 0.20 adds <str> beside the NAME


class DeriveGroup(TyperGroup):
    """Turns the project's exceptions into one line on stderr and an exit code; help shows CLI
    metavars (TEXT, FILE, NAME=VALUE) and keeps brackets such as "[grading]" as written."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _show_cli_metavars(command)
        return command

    def format_help(self, ctx, formatter):
        _show_cli_metavars(self)
        return super().format_help(ctx, formatter)

    def main(self, args=None, *rest, standalone_mode: bool = True, **kwargs):
        """Click's usage errors (an unknown option, a missing argument) become one line on
        stderr and exit 2, like every other error; Click draws a box around them otherwise.
        Global options typed after the command (derive verify P --exact-limit 0) are moved
        in front of it, where Click reads them."""
        args = self.hoist_global_options(list(sys.argv[1:] if args is None else args))
        kwargs["args"] = args
        try:
            code = super().main(*rest, standalone_mode=False, **kwargs)
        except UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "derive"
            message, hint = one_line(" ".join(exc.format_message().split())), f"see '{command} --help'"
            words = kwargs.get("args")
            if "--json" in (sys.argv[1:] if words is None else list(words)):  # as every other error under --json
                typer.echo(json.dumps({"error": {"kind": "UsageError", "message": message, "hint": hint,
                                                 "exit_code": 2}}, ensure_ascii=False))
            typer.echo(f"derive: error: {message} (hint: {hint})", err=True)
            code = 2
        except typer.Abort:
            typer.echo("derive: interrupted", err=True)
            code = 130
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def hoist_global_options(self, words: list[str]) -> list[str]:
        """``words`` with every global option after the command moved before it.  A command's
        own option of the same name stays, and so does everything after ``--`` and the value
        of a command's option (``--title --debug`` is a title)."""
        def takes_value(param, word):
            return not getattr(param, "is_flag", False) and not getattr(param, "count", False) and "=" not in word

        options = {o: p for p in self.params for o in (*p.opts, *p.secondary_opts)}
        start = 0
        while start < len(words) and words[start].startswith("-") and words[start] != "--":
            param = options.get(words[start].split("=", 1)[0])
            start += 2 if param is not None and takes_value(param, words[start]) else 1
        command = self.commands.get(words[start]) if start < len(words) else None
        if command is None:
            return words
        own = {o: p for p in command.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
        moved, kept = [], []
        index = start + 1
        while index < len(words):
            word = words[index]
            if word == "--":
                kept.extend(words[index:])
                break
            name = word.split("=", 1)[0]
            param = own.get(name) or (options.get(name) if word.startswith("--") else None)
            width = 2 if param is not None and takes_value(param, word) else 1
            (moved if name not in own and name in options else kept).extend(words[index:index + width])
            index += width
        return words[:start] + moved + words[start:start + 1] + kept

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except DeriveError as exc:
            if _settings(ctx).debug:
                traceback.print_exc()
            _report(ctx, type(exc).__name__, exc.message, exc.hint, exc.exit_code)
        except RecursionError:
            if _settings(ctx).debug:
                traceback.print_exc()
            _report(ctx, "LimitError", "the input is nested too deeply to process",
                    "simplify the expression", 2)
        except MemoryError:
            if _settings(ctx).debug:
                traceback.print_exc()
            _report(ctx, "LimitError", "the input needs more memory than is available",
                    "lower the limits (derive --help lists them) or simplify the input", 2)
        except Exception as exc:  # a bug: say so plainly, traceback on --debug
            if type(exc).__module__.split(".")[0] in ("typer", "click"):
                raise  # usage errors and exits: Typer reports them itself
            if _settings(ctx).debug:
                traceback.print_exc()
            _report(ctx, "InternalError", f"internal error: {type(exc).__name__}: {exc}",
                    "run with --debug for the traceback and report it", 3)


def _report(ctx: typer.Context, error_class: str, message: str, hint: str | None, exit_code: int):
    """One line on stderr (and, under --json, the same as a JSON object on stdout); then exit."""
    message, hint = one_line(message), one_line(hint) if hint else None
    if ctx.meta.get(_JSON_ERRORS):
        typer.echo(json.dumps({"error": {"kind": error_class, "message": message, "hint": hint,
                                         "exit_code": exit_code}}, ensure_ascii=False))
    prefix = "derive: " if exit_code == 3 else "derive: error: "
    typer.echo(prefix + (f"{message} (hint: {hint})" if hint else message), err=True)
    raise typer.Exit(exit_code) from None


_JSON_ERRORS = "derive.json_errors"


def _json_errors(ctx: typer.Context, as_json: bool) -> None:
    """Commands with --json report their errors as JSON on stdout too."""
    if as_json:
        ctx.meta[_JSON_ERRORS] = True


app = typer.Typer(cls=DeriveGroup, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
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


def _seconds(value: float) -> float:
    """A time limit: a finite number of seconds (nan and inf are not; the alarm cannot take them)."""
    if not 0 <= value <= 86_400:  # nan fails this too
        raise typer.BadParameter(f"{value} is not a number of seconds from 0 to 86400")
    return value


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print derive's version and exit.",
                                          callback=_print_version, is_eager=True)] = False,
    max_length: Annotated[int, typer.Option(help="Longest expression, in characters.", min=1)] = Limits.max_length,
    max_depth: Annotated[int, typer.Option(help="Deepest nesting of an expression.", min=1)] = Limits.max_depth,
    max_nodes: Annotated[int, typer.Option(help="Most nodes in a trace.", min=1)] = Limits.max_nodes,
    max_exponent: Annotated[int, typer.Option(help="Largest constant exponent.", min=1)] = Limits.max_exponent,
    max_digits: Annotated[int, typer.Option(
        help="Most decimal digits of an exact constant (its numerator or denominator).", min=1)] = Limits.max_digits,
    max_cells: Annotated[int, typer.Option(
        help="Scalar problems: most cells of the forward and reverse tables: (inputs + outputs) × nodes.",
        min=1)] = Limits.max_cells,
    max_entries: Annotated[int, typer.Option(
        help="Matrix problems: most entries of one matrix (variable, node or intermediate).", min=1)] = Limits.max_entries,
    symbolic_limit: Annotated[int, typer.Option(
        help="Scalar problems: most nodes for which the Jacobian is also checked with SymPy's diff.",
        min=0)] = SYMBOLIC_LIMIT,
    symbolic_timeout: Annotated[float, typer.Option(
        help="Scalar problems: seconds the SymPy check may take before it is skipped with a note (0: no limit).",
        callback=_seconds)] = SYMBOLIC_TIMEOUT,
    exact_limit: Annotated[int, typer.Option(
        help="Matrix problems: most variable entries for the exact proof (against the SymPy loss's derivative).",
        min=0)] = EXACT_ENTRY_LIMIT,
) -> None:
    if max_digits > 4000 and hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(max_digits + 1000)  # Python's own bound on printing integers
    limits = Limits(max_length, max_depth, max_nodes, max_exponent, max_digits, max_cells, max_entries)
    given = frozenset(name for name in (*SCALAR_ONLY, *MATRIX_ONLY)
                      if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE")
    ctx.obj = Settings(debug, limits, symbolic_limit, symbolic_timeout, exact_limit, given)


def _refuse_other_engine(settings: Settings, solution) -> None:
    """A scalar-only option given for a matrix problem (or the other way round) is an error."""
    other = SCALAR_ONLY if solution.engine == "matrix" else MATRIX_ONLY
    typed = [flag for name, flag in other.items() if name in settings.given]
    if not typed:
        return
    name = solution.problem.name
    if solution.engine == "matrix":
        raise ProblemError(f"{', '.join(typed)} applies to scalar problems; {name} is a matrix problem",
                           hint="a matrix proof is bounded by --exact-limit (variable entries) and a count of "
                                "work, never by time; drop the option")
    raise ProblemError(f"{', '.join(typed)} applies to matrix problems; {name} is a scalar problem",
                       hint="drop the option (scalar problems: --symbolic-limit, --symbolic-timeout, --max-cells)")


# -- options shared by the commands that solve a problem ---------------------------------------
ProblemArg = Annotated[Optional[str], typer.Argument(
    help="A built-in problem (see 'derive problems') or a TOML problem file; omit it with -f.",
    show_default=False)]
FunctionOpt = Annotated[Optional[list[str]], typer.Option(
    "-f", "--function", help="An output expression (repeat for y1, y2, ...).", show_default=False,
    metavar="EXPR")]
AtOpt = Annotated[Optional[list[str]], typer.Option(
    "--at", help="An input value, name=value (repeat; gives input order for -f).", show_default=False,
    metavar="NAME=VALUE")]
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
    if problem is not None:  # no output of this command may overwrite the problem file
        from .files import reading

        ctx.with_resource(reading(problem, what="problem file"))
    values: dict[str, str] = {}
    for name, value in (parse_assignment(text) for text in at or []):
        if name in values:
            raise ProblemError(f"--at {name} is given twice ({name}={values[name]} and {name}={value})",
                               hint="give each input once")
        values[name] = value
    solved = api.solve(problem, functions=functions or (), at=values, numbering=Numbering(numbering).value,
                       order=Order(order).value,
                       limits=settings.limits, symbolic_limit=settings.symbolic_limit,
                       symbolic_timeout=settings.symbolic_timeout, seed=seed, exact_limit=settings.exact_limit)
    _refuse_other_engine(settings, solved._solved)
    return solved._solved


@contextmanager
def _progress_bar(label: str, total: int):
    """A progress bar of ``total`` steps on stderr, shown only on a terminal (piped or logged,
    stderr keeps just the one line an error takes: rich leaves an empty line behind even when
    transient); yields the callable that advances it."""
    from rich.progress import Progress

    console = _terminal().Console(stderr=True)
    with Progress(transient=True, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


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
    def command(ctx: typer.Context, problem: ProblemArg = None, function: FunctionOpt = None,
                at: AtOpt = None, numbering: NumberingOpt = Numbering.zero, order: OrderOpt = Order.postorder,
                digits: DigitsOpt = 3, as_json: JsonOpt = False, diag: DiagOpt = False) -> None:
        _json_errors(ctx, as_json)
        _print_view(name, _solve(ctx, problem, function, at, numbering, order), as_json, digits, diag)

    command.__name__ = f"{name}_command"
    command.__doc__ = _VIEWS[name][0]
    return command


def _print_view(name: str, solution, as_json: bool, digits: int, diag: bool) -> None:
    """What the view command ``name`` shows of ``solution``: its tables, or their JSON."""
    if solution.engine == "matrix":
        return _matrix_view(name, solution, as_json, diag)
    _, views, json_keys = _VIEWS[name]
    if as_json:
        data = solution.as_dict()
        if json_keys:
            data = {"kind": data["kind"], **{key: data[key] for key in json_keys}}
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from .render.notation import TextNotation

        terminal = _terminal()
        terminal.print_views(views(terminal, solution, TextNotation(digits)))


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
    "check": ["derive check problem1 filled.csv", "derive check problem2 answers.toml --json",
              "derive check problem1 submissions/ --manifest manifest.csv --csv grades.csv",
              "derive check problem1 submissions/ --stats outputs/stats"],
    "variants": ["derive variants problem1 --count 30 --seed 2026 -o outputs/variants",
                 "derive variants problem1 --roster roster.csv --shard 1/4 --no-pdf"],
    "codegen": ["derive codegen problem2 -o outputs/problem2_gradients.py"],
    "problems": ["derive problems"],
    "report": ["derive report problem1 --pdf", "derive report problem1 --blank --hide rules --pdf",
               "derive report problem2 --format md -o sheets"],
    "graph": ["derive graph problem1 --adjoint --format png -o outputs/adjoint.png"],
    "prairielearn": ["derive prairielearn problem1 -o course/questions/problem1",
                     "derive prairielearn problem2 -o course/questions/backprop --feedback verdicts"],
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
    """Prove the derivatives: exactly against SymPy, numerically against finite differences.

    A scalar problem is checked against SymPy's diff; each entry of a matrix problem's gradient
    against the SymPy loss's derivative at certified random rational points.  Exits 1 with a report
    when a check fails."""
    solution = _solve(ctx, problem, function, at, seed=seed)
    terminal = _terminal()
    if solution.engine == "matrix":
        from .matrix.codegen import generate, self_check

        terminal.print_views(terminal.matrix_views(solution)[2:])
        ran = self_check(solution.derivation, generate(solution.derivation), seed)  # the code codegen writes
        typer.echo(f"Generated code: runs and agrees (max relative difference {ran.max_relative_difference:.1e})")
    else:
        from .render.notation import TextNotation

        terminal.print_views([terminal.jacobian_view(solution, TextNotation()), terminal.checks_view(solution, None)])


Feedback = Enum("Feedback", {name: name for name in ("full", "verdicts", "score")}, type=str)
Visibility = Enum("Visibility", {name: name for name in ("visible", "hidden", "after_due_date", "after_published")},
                  type=str)


@app.command("check", epilog=_epilog("check"))
def check_command(
    ctx: typer.Context,
    problem: Annotated[str, typer.Argument(help="The problem the worksheets answer.")],
    answers: Annotated[list[Path], typer.Argument(
        help="Filled worksheets (CSV, the --blank Markdown, or TOML formulas) and folders of them.")],
    as_json: JsonOpt = False,
    csv_out: Annotated[Optional[Path], typer.Option(
        "--csv", help="Write the grades: id, total, one column per part, needs_review, file (percentages).")] = None,
    gradescope_out: Annotated[Optional[Path], typer.Option(
        "--gradescope", help="Write Gradescope's results.json for the one submission (always written).")] = None,
    feedback: Annotated[Feedback, typer.Option(
        help="What the student sees in --gradescope: full (expected values), verdicts (each cell's verdict and "
             "slip, no expected values), score (part scores only).")] = Feedback.verdicts,
    visibility: Annotated[Visibility, typer.Option(
        help="Gradescope's visibility of the results (after_due_date: shown once the due date passes).")]
        = Visibility.visible,
    answers_after_due_date: Annotated[bool, typer.Option(
        "--answers-after-due-date", help="With --gradescope: add the full feedback (expected values) as a test "
                                         "Gradescope shows once the due date has passed.")] = False,
    submission_metadata: Annotated[Optional[Path], typer.Option(
        help="Gradescope's submission_metadata.json: who handed the submission in (default: the one beside "
             "a folder named 'submission').")] = None,
    canvas_out: Annotated[Optional[Path], typer.Option(
        "--canvas", help="Write a Canvas gradebook import (ids as SIS User IDs; provisional grades left out).")] = None,
    moodle_out: Annotated[Optional[Path], typer.Option(
        "--moodle", help="Write a Moodle grade import (email address and ID number; provisional grades left out).")]
        = None,
    assignment: Annotated[Optional[str], typer.Option(
        help="The gradebook column of --canvas and --moodle (default: the problem's title).")] = None,
    manifest: Annotated[Optional[Path], typer.Option(
        help="manifest.csv of derive variants: grade each worksheet at its student's point.")] = None,
    roster: Annotated[Optional[Path], typer.Option(
        help="The roster (id, name, email; or Canvas's export): names and emails for the gradebooks and "
             "for matching Gradescope's submitter.")] = None,
    overrides: Annotated[Optional[Path], typer.Option(
        help="overrides.csv (id, part, pass, node, credit, note): a person's decisions on cells, applied on "
             "this grade.")] = None,
    tolerance: Annotated[Optional[float], typer.Option(
        help="Slack in units of the sheet's last printed digit (default 1, or [grading] tolerance).",
        min=0, max=1000)] = None,
    weight: Annotated[Optional[list[str]], typer.Option(
        help="A part's weight, part=number (repeatable; overrides [grading] weights).",
        metavar="PART=NUMBER")] = None,
    require_lines: Annotated[Optional[bool], typer.Option(
        "--require-lines/--no-require-lines", help="A right value without its evaluation line earns half.",
        show_default=False)] = None,
    decimal_comma: Annotated[Optional[bool], typer.Option(
        "--decimal-comma/--decimal-point", help="Read 1,649 as 1.649 (default: read each sheet's separator "
        "from the sheet: a semicolon CSV, or commas and no points).", show_default=False)] = None,
    stats_dir: Annotated[Optional[Path], typer.Option(
        "--stats", help="Write the class's item analysis to DIR: stats.csv, stats.json, a heat-mapped key "
                        "(Markdown, LaTeX, PDF).", metavar="DIR")] = None,
) -> None:
    """Grade filled worksheets cell by cell (or typed matrix formulas by meaning).

    One file: exits 0 when everything is right, 1 otherwise. Many files or a folder: one report
    for the class; exits 0 when every file was graded, whatever the scores, 2 when one could not be."""
    from .grading.check import CheckRequest, check

    _json_errors(ctx, as_json)
    request = CheckRequest(
        problem, tuple(answers), csv=csv_out, gradescope=gradescope_out, feedback=Feedback(feedback).value,
        visibility=Visibility(visibility).value, answers_after_due_date=answers_after_due_date,
        submission_metadata=submission_metadata, canvas=canvas_out, moodle=moodle_out, assignment=assignment,
        manifest=manifest, roster=roster, overrides=overrides, tolerance=tolerance, weights=tuple(weight or ()),
        require_lines=require_lines, decimal_comma=decimal_comma, stats=stats_dir)
    checked = check(request, lambda: _solve(ctx, problem, None, None), _solve_at(ctx), _progress_bar, _note)
    _print_checked(checked, as_json)
    raise typer.Exit(checked.exit_code)


def _solve_at(ctx: typer.Context):
    """How a variant's point is solved: with the limits of the command line."""
    from .scalar.solve import solve_scalar

    settings = _settings(ctx)
    return lambda p: solve_scalar(p, limits=settings.limits, symbolic_limit=settings.symbolic_limit,
                                  symbolic_timeout=settings.symbolic_timeout)


def _note(text: str) -> None:
    typer.echo(one_line(f"derive: note: {text}"), err=True)


def _print_checked(checked, as_json: bool) -> None:
    """A class's report (then one line on stderr per file that could not be graded), or one file's cells."""
    if not checked.batch:
        return _print_one(_terminal(), checked.solution, checked.report.submissions[0], as_json)
    if as_json:
        typer.echo(json.dumps(checked.report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _terminal().print_views(_terminal().class_views(checked.report))
    for failed in checked.report.errors:
        typer.echo("derive: error: " + one_line(" ".join(failed.error.split())), err=True)  # one line each


def _print_one(terminal, solution, submission, as_json: bool) -> None:
    """One graded file for the instructor: every cell, the scores and the notes."""
    result = submission.result
    if as_json:
        data = result.as_dict()
        data["notes"] = [*data.get("notes", []), *submission.notes]
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    terminal.print_views(terminal.grade_views(result) if solution.engine == "scalar"
                         else terminal.matrix_answer_views(result))
    for note in submission.notes:
        typer.echo("To look at: " + one_line(note))


@app.command("variants", epilog=_epilog("variants"))
def variants_command(
    problem: Annotated[str, typer.Argument(help="A scalar problem (built-in name or TOML file).")],
    count: Annotated[Optional[int], typer.Option(
        help="How many anonymous students, s001... (default 30; or --roster).", min=1, show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same variants.")] = 0,
    out_dir: Annotated[Path, typer.Option("-o", "--output", help="Folder to write into.", metavar="FOLDER")] = Path("outputs/variants"),
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also compile every sheet to PDF.")] = True,
    digits: DigitsOpt = 3,
    workers: Annotated[Optional[int], typer.Option(help="Processes (default: one per core).", min=1)] = None,
    roster: Annotated[Optional[Path], typer.Option(
        help="CSV with an 'id' column (optional name, email): one sheet per student, named by id.")] = None,
    shard: Annotated[str, typer.Option(help="K/N: write only students K, K+N, K+2N, ... (for job arrays).")] = "1/1",
) -> None:
    """Give each student their own point: a blank sheet and a key each, and manifest.csv."""

    from .grading.variants import write_class_variants
    from .report import SheetOptions

    typer.echo(str(write_class_variants(problem, count, roster, shard, seed, out_dir, pdf, SheetOptions(digits=digits),
                                        workers, _progress_bar)))


@app.command("codegen", epilog=_epilog("codegen"))
def codegen_command(
    ctx: typer.Context,
    problem: ProblemArg = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="The .py file to write.")] = None,
) -> None:
    """Write a self-contained NumPy module with forward() and gradients() for a matrix problem."""
    from .report import write_code

    typer.echo(str(write_code(_solve(ctx, problem, None, None), output)))


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
    out_dir: Annotated[Path, typer.Option("-o", "--output", help="Folder to write into.", metavar="FOLDER")] = Path("outputs"),
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
    keep_log: Annotated[bool, typer.Option("--keep-log", help="Keep TeX's .log beside the PDF "
                                           "(it is always kept when the compile fails).")] = False,
) -> None:
    """Write the solution sheet (scalar: parts (a)-(e); matrix: graph and backprop equations)
    as LaTeX (and PDF), Markdown, JSON or CSV; --blank writes the worksheet to fill in."""
    from .report import SheetOptions, write_report  # Jinja2 and PyLaTeX load only for sheets

    if hide and not blank:
        raise ProblemError("--hide empties columns of a blank worksheet", hint="add --blank")
    solution = _solve(ctx, problem, function, at, numbering, order)
    if at and solution.engine == "scalar" and problem is not None and SheetFormat(fmt).value in ("tex", "md"):
        # the statement (printed in tex and md) must not name another point
        check_moved_point(api.load(problem), solution.problem)
    options = SheetOptions(digits, diag, blank, frozenset(Hidden(h).value for h in hide or ()), title, author,
                           course, date, Numbering(numbering).value, Order(order).value)
    for path in write_report(solution, out_dir, SheetFormat(fmt).value, pdf, options, template,
                             keep_log=keep_log):
        typer.echo(str(path))


@app.command("prairielearn", epilog=_epilog("prairielearn"))
def prairielearn_command(
    problem: Annotated[str, typer.Argument(help="A built-in problem or a TOML problem file.")],
    out_dir: Annotated[Path, typer.Option("-o", "--output", help="The question's folder, e.g. "
                                          "course/questions/NAME.")],
    feedback: Annotated[str, typer.Option(help="What a student sees per cell: messages (the grader's, with "
                                          "the expected value), verdicts, or score.")] = "messages",
) -> None:
    """Write a PrairieLearn question (info.json, question.html, server.py) graded by derive:
    variants drawn from PrairieLearn's seed, partial and carried credit, slip messages."""
    from .grading.prairielearn import write_question

    for path in write_question(problem, out_dir, feedback):
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
    from .report import write_graph

    solution = _solve(ctx, problem, function, at, numbering, order)
    typer.echo(str(write_graph(solution, output, GraphFormat(fmt).value, adjoint)))


def main() -> None:
    """Entry point of the ``derive`` console script."""
    for stream in (sys.stdout, sys.stderr):  # PYTHONIOENCODING=ascii, a C locale: ∂ prints as \u2202
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    app(prog_name="derive")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
