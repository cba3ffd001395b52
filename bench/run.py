"""On-demand benchmarks of derive, each printed as a ratio to a baseline measured in the same run.

    make bench            (or: .venv/bin/python bench/run.py [--repeat N])

1. `derive solve problem1 --json`, whole process, against `python -c "import sympy"`
   (the floor any SymPy-based tool pays; target <= 1.5x).
2. Solve time for traces of about 100, 1,000 and 5,000 nodes (target: near-linear growth,
   5,000 nodes under 3 s), as time per node relative to the 100-node case.
3. `derive report problem1 --pdf`, whole process, against a bare `latexmk -pdf` of the same .tex
   (target <= 1.0x).
4. The matrix engine (bench/matrix.py): the built-in catalogue of networks (derivation + both
   checks of each against a 5 s budget), MLPs of 2, 10 and 50 layers, and a 10^6-parameter check.
5. Typed matrix answers (bench/answers.py): one file, and a class of 250 in one `derive check`.
Timings are medians of --repeat runs. Nothing here is asserted: the numbers are for people.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PYTHON = sys.executable


def timed(command: list[str], cwd: str | None = None, repeat: int = 5, env: dict | None = None) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _balanced_sum(terms: list[str]) -> str:
    """Terms summed as a balanced tree, so nesting grows with log(n), not n."""
    while len(terms) > 1:
        terms = [f"({terms[i]} + {terms[i + 1]})" if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


def sized_problem(n_nodes: int):
    """Two outputs, each a balanced sum of distinct terms of 6 nodes: about n_nodes nodes."""
    from derive.problems import Problem
    import sympy

    per_output = max(1, n_nodes // 11)
    outputs = {
        f"y{k}": _balanced_sum([f"sin({i + 1}*x1 + {k + 1}) * exp(x2/{i + 2})" for i in range(per_output)])
        for k in range(2)
    }
    return Problem("bench", {"x1": sympy.Rational(1, 3), "x2": sympy.Rational(1, 2)}, outputs)


def bench_startup(repeat: int) -> None:
    base = timed([PYTHON, "-c", "import sympy"], repeat=repeat)
    ours = timed([PYTHON, "-m", "derive", "solve", "problem1", "--json"], repeat=repeat)
    print(f"solve problem1 --json      {ours:7.3f} s   import sympy {base:7.3f} s   ratio {ours / base:5.2f}x  (target <= 1.5x)")


def bench_scaling(repeat: int) -> None:
    from derive.scalar.solve import solve_scalar

    rows = []
    for n in (100, 1_000, 5_000):
        problem = sized_problem(n)
        samples = []
        for _ in range(max(1, repeat // 2)):
            start = time.perf_counter()
            solution = solve_scalar(problem)
            samples.append(time.perf_counter() - start)
        rows.append((len(solution.trace), statistics.median(samples)))
    base_nodes, base_time = rows[0]
    for nodes, seconds in rows:
        per_node = (seconds / nodes) / (base_time / base_nodes)
        print(f"solve {nodes:6d} nodes        {seconds:7.3f} s   time per node vs {base_nodes} nodes: {per_node:5.2f}x"
              f"  (target ~1x; 5,000 nodes < 3 s)")


def bench_report(repeat: int) -> None:
    """Each repetition times a bare latexmk and derive back to back, so both see the same machine
    (a shared 2-core machine drifts between batches); ratios are medians of per-repetition ratios.
    derive's caches live in a folder of this run: the format is built by a warm-up run; the
    "first compile" line empties the cache of drawings before each of its runs."""
    if not shutil.which("latexmk"):
        print("report --pdf               skipped: latexmk is not installed (make setup)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        subprocess.run([PYTHON, "-m", "derive", "report", "problem1", "-o", tmp], check=True,
                       stdout=subprocess.DEVNULL)
        fresh = ["sh", "-c", "rm -f problem1.aux problem1.fdb_latexmk problem1.fls problem1.pdf problem1.log && "
                 "latexmk -pdf -silent -interaction=nonstopmode problem1.tex"]
        ours = [PYTHON, "-m", "derive", "report", "problem1", "--pdf", "-o", tmp]
        first = ["sh", "-c", 'rm -rf "$XDG_CACHE_HOME/derive/tex/figures" && exec "$@"', "sh", *ours]
        timed(fresh, cwd=tmp, repeat=1)  # warm-up: the file cache, and derive's cached format
        timed(ours, repeat=1, env=env)
        for label, command in (("report problem1 --pdf", ours), ("  a new problem's first compile", first)):
            pairs = [(timed(fresh, cwd=tmp, repeat=1), timed(command, repeat=1, env=env)) for _ in range(repeat)]
            base = statistics.median(b for b, _ in pairs)
            mine = statistics.median(o for _, o in pairs)
            ratio = statistics.median(o / b for b, o in pairs)
            print(f"{label:<33} {mine:6.3f} s   bare latexmk {base:6.3f} s   ratio {ratio:5.2f}x"
                  + ("  (target <= 1.0x)" if command is ours else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_startup(args.repeat)
    bench_scaling(args.repeat)
    bench_report(args.repeat)
    import matrix  # the matrix engine's benchmarks, in the same run

    matrix.bench_catalogue()
    matrix.bench_layers()
    matrix.bench_million()
    import answers  # typed matrix answers, one file and a class

    answers.main()


if __name__ == "__main__":
    main()
