"""Templates run in Jinja2's SandboxedEnvironment (no attribute of Python's internals, no
unsafe call, ranges of at most 100,000); a user's own template also runs in a child process
bounded in time, memory and output size, so `{% for i in range(99999) %}{% for j in range(99999)
%}…` or a string doubled forty times ends with one error line instead of a hang or an OOM kill.

The child is this module run as ``python -m derive.sandbox``: it reads the template and its
context as JSON on stdin and writes the rendered text on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import ReportError

TIME_LIMIT = 30                 # seconds of CPU (and, with start-up, of wall time) for a user template
MEMORY_LIMIT = 512 * 2**20      # bytes a user template may allocate beyond the renderer's own
OUTPUT_LIMIT = 20 * 2**20       # characters a sheet may have


def environment(fmt: str) -> jinja2.Environment:
    """The sandboxed environment of a format (TeX gets delimiters that leave braces alone)."""
    common = dict(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True, autoescape=False,
                  undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    if fmt == "tex":
        return SandboxedEnvironment(
            block_start_string=r"\BLOCK{", block_end_string="}",
            variable_start_string=r"\VAR{", variable_end_string="}",
            comment_start_string=r"\#{", comment_end_string="}",
            line_statement_prefix="%%", line_comment_prefix="%#", **common)
    return SandboxedEnvironment(**common)


def compile_template(fmt: str, source: str, name: str) -> jinja2.Template:
    try:
        return environment(fmt).from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"template {name}: line {exc.lineno}: {exc.message}") from None


def render(template: jinja2.Template, context: dict, name: str, limit: int = OUTPUT_LIMIT) -> str:
    """Render with the output bounded; a template's mistake (an undefined name, a blocked
    attribute, a too-big range, 1/0) is a ReportError naming the template."""
    parts, size = [], 0
    try:
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > limit:
                raise ReportError(f"template {name}: the sheet would exceed {limit // 2**20} MB of text",
                                  hint="a template may write at most that much")
            parts.append(chunk)
    except ReportError:
        raise
    except jinja2.TemplateError as exc:
        raise ReportError(f"template {name}: {exc.message or type(exc).__name__}") from None
    return "".join(parts)


def _plain(value):
    """The context as JSON data (rows are dataclasses; templates read their fields by name)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot pass {type(value).__name__} to a template")


def render_bounded(fmt: str, source: str, context: dict, name: str) -> str:
    """Render a user's template in a child process with the limits above.  The template is
    compiled there too, never here: Jinja2's compiler folds constants (``{{ 7**(10**7) % 10 }}``,
    ``{{ [0]*(3*10**8) }}``), which would run unbounded in derive's own process."""
    request = json.dumps({"fmt": fmt, "source": source, "context": context, "name": name,
                          "time": TIME_LIMIT, "memory": MEMORY_LIMIT, "output": OUTPUT_LIMIT},
                         default=_plain)
    with tempfile.TemporaryDirectory(prefix="derive-template-") as scratch:  # an empty cwd: nothing to import from
        try:
            result = subprocess.run([sys.executable, "-m", "derive.sandbox"], input=request.encode(),
                                    capture_output=True, cwd=scratch, timeout=TIME_LIMIT + 30, env=_child_env())
        except subprocess.TimeoutExpired:
            raise ReportError(f"template {name}: did not finish within {TIME_LIMIT} s",
                              hint="a template may run at most that long") from None
    if result.returncode == 0:
        return result.stdout.decode("utf-8")
    message = result.stderr.decode("utf-8", "replace").strip().splitlines()
    if result.returncode == 2 and message:
        raise ReportError(message[-1])
    raise ReportError(f"template {name}: stopped after using more than {TIME_LIMIT} s or "
                      f"{MEMORY_LIMIT // 2**20} MB", hint="a template may use at most that much")


def _child_env() -> dict[str, str]:
    """The child imports this very derive, wherever it was imported from."""
    package_root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": package_root + (os.pathsep + path if path else "")}


def _limit_self(seconds: int, memory: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (used + memory, resource.RLIM_INFINITY))
    except (OSError, StopIteration, ValueError):
        pass


def _fail(message: str) -> int:
    sys.stderr.write(" ".join(message.split())[:1000] + "\n")
    return 2


def _child() -> int:
    request = json.loads(sys.stdin.buffer.read())
    from .render.markdown import cell

    _limit_self(request["time"], request["memory"])
    name = request["name"]
    try:
        template = compile_template(request["fmt"], request["source"], name)
        text = render(template, {**request["context"], "cell": cell}, name, request["output"])
    except ReportError as exc:
        return _fail(str(exc))
    except MemoryError:
        return _fail(f"template {name}: used more than {request['memory'] // 2**20} MB of memory "
                     "(hint: a template may use at most that much)")
    except RecursionError:
        return _fail(f"template {name}: nested too deeply")
    except Exception as exc:  # a user's template's own mistake (1/0, a wrong type), not derive's
        return _fail(f"template {name}: {type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
