"""Benchmarks of the matrix engine, printed as ratios to baselines measured in the same run.

    .venv/bin/python bench/matrix.py      (also run by `make bench`)

1. Derivation + verification of MLP specs with 2, 10 and 50 layers (target: near-linear
   growth, 50 layers under 5 s), as time per layer relative to the 2-layer spec.
2. Numeric verification of a network with 10^6 parameters against one forward + backward pass
   of the NumPy code derive generates for it (target <= 20x).
3. The built-in catalogue (every matrix problem of derive/builtin): derivation + exact proof +
   numeric check of each at its stated sizes, as a fraction of a 5 s budget (target <= 1x, and
   every gradient proved: "pass").  The proof is bounded by counts, so its verdict is the same
   on a busy machine; only the time changes.
4. The course networks of tests/networks (RNN steps, GRU cell, SwiGLU, max-pooling, inline
   layers): the same measure and target as the catalogue.

    .venv/bin/python bench/matrix.py networks catalogue      (only those sections)
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from derive.matrix.backprop import derive  # noqa: E402
from derive.matrix.codegen import generate  # noqa: E402
from derive.matrix.shapes import build_model  # noqa: E402
from derive.matrix.verify import check, exact_check, numeric_check, random_values  # noqa: E402
from derive.problems import problem_from_toml  # noqa: E402


def mlp(layers: int, width: int = 4, inputs: int = 3) -> str:
    variables = ['x = "N"', *(f'W{i} = "H x {"N" if i == 1 else "H"}"\nb{i} = "H"' for i in range(1, layers + 1)),
                 'V = "M x H"', 's = "M"']
    equations = []
    previous = "x"
    for i in range(1, layers + 1):
        equations.append(f'h{i} = "tanh(W{i} @ {previous} + b{i})"')
        previous = f"h{i}"
    equations += [f'y = "V @ {previous}"', 'L = "0.5 * sum((y - s)**2)"']
    wrt = ", ".join(f'"W{i}"' for i in range(1, layers + 1))
    return (f"[dims]\nN = {inputs}\nH = {width}\nM = 2\n[variables]\n" + "\n".join(variables)
            + "\n[equations]\n" + "\n".join(equations) + f'\n[derive]\nloss = "L"\nwrt = ["x", {wrt}]\n')


def bench_layers(repeat: int = 3) -> None:
    """Derivation + numeric verification (comparable at every size); the exact check, which
    runs only on small specs (--exact-limit), is timed on its own."""
    rows = []
    for layers in (2, 10, 50):
        problem = problem_from_toml(mlp(layers), f"mlp{layers}")
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            derivation = derive(build_model(problem))
            check(derivation, exact=False)
            samples.append(time.perf_counter() - start)
        rows.append((layers, statistics.median(samples)))
    base_layers, base_time = rows[0]
    for layers, seconds in rows:
        ratio = (seconds / layers) / (base_time / base_layers)
        print(f"derive + numeric check, MLP {layers:2d} layers  {seconds:7.3f} s   time per layer vs 2 layers: "
              f"{ratio:5.2f}x  (target ~1x; 50 layers < 5 s)")
    derivation = derive(build_model(problem_from_toml(mlp(2), "mlp2")))
    exact = _time(lambda: exact_check(derivation))
    print(f"exact check, MLP  2 layers (53 entries)  {exact:7.3f} s   (larger specs: numeric only, with a note)")


def bench_million(repeat: int = 3) -> None:
    text = ("[dims]\nN = 1000\nK = 1000\n[variables]\nx = \"N\"\nW = \"K x N\"\nb = \"K\"\nr = \"K\"\n"
            "[equations]\nz = \"W @ x + b\"\nh = \"tanh(z)\"\nL = \"r.T @ h\"\n[derive]\nloss = \"L\"\nwrt = [\"W\"]\n")
    derivation = derive(build_model(problem_from_toml(text, "million")))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "million.py"
        path.write_text(generate(derivation))
        spec = importlib.util.spec_from_file_location("million", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        values = random_values(derivation, seed=0)
        base = statistics.median(_time(lambda: (module.forward(**values), module.gradients(**values)))
                                 for _ in range(repeat))
        ours = statistics.median(_time(lambda: numeric_check(derivation)) for _ in range(repeat))
    print(f"numeric check, 10^6 params  {ours:7.3f} s   generated forward+backward {base:7.3f} s"
          f"   ratio {ours / base:5.2f}x  (target <= 20x)")


BUDGET = 5.0


def bench_catalogue() -> None:
    from derive.problems import MatrixProblem, load_problem

    for name in sorted(path.stem for path in (ROOT / "derive" / "builtin").glob("*.toml")):
        problem = load_problem(name)
        if isinstance(problem, MatrixProblem):
            _bench_proof("catalogue", name, problem)


def bench_networks() -> None:
    from derive.problems import load_problem

    for path in sorted((ROOT / "tests" / "networks").glob("*.toml")):
        _bench_proof("network", path.stem, load_problem(str(path)))


def _bench_proof(kind: str, name: str, problem) -> None:
    """Derivation + exact proof + numeric check of one problem at its stated sizes."""
    from derive.matrix.solve import solve_matrix

    start = time.perf_counter()
    solution = solve_matrix(problem)
    seconds = time.perf_counter() - start
    print(f"{kind} {name:<16} derivation + both checks {seconds:6.2f} s   {seconds / BUDGET:5.2f}x of "
          f"{BUDGET:g} s   exact: {solution.checks.exact}   numeric: "
          f"{solution.checks.numeric_max_relative_error:.1e}  (target <= 1x, exact pass)"
          + ("" if seconds <= BUDGET and solution.checks.exact == "pass" else "  OVER TARGET"))


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


SECTIONS = {"catalogue": bench_catalogue, "networks": bench_networks, "layers": bench_layers,
            "million": bench_million}

if __name__ == "__main__":
    for section in sys.argv[1:] or SECTIONS:
        SECTIONS[section]()
