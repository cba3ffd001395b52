"""Benchmark: typed matrix answers judged by meaning (targets: one file under a second, a class
of 250 files under a minute, on two cores).

    .venv/bin/python bench/answers.py [--count 250]     (also run by `make bench`)

A tanh MLP with softmax cross-entropy over a mini-batch; each student's answer file gives every
adjoint and gradient, plain or fully expanded (W̄1 = ((1 − tanh(A1)²) ⊙ (W2ᵀ(softmax(A2) − Y))) Xᵀ / B),
with a slip in every fourth file.  One file is judged in process (the time of check_answers
alone, after the problem is solved); then one `derive check` grades the class, whole process.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILE_TARGET = 1.0  # seconds per file
CLASS_TARGET = 60.0  # seconds for the class

#: The network typed answers are judged on (shared with tests/test_matrix_answers.py).
PROBLEM = (ROOT / "tests" / "networks" / "tanh_mlp_batch.toml").read_text(encoding="utf-8")

PLAIN = {"A2": "(softmax(A2) - Y) / B", "H": "W2.T @ A2_bar", "A1": "(1 - H**2) * H_bar",
         "W1": "A1_bar @ X.T", "b1": "sum(A1_bar, axis=1)", "W2": "A2_bar @ H.T", "b2": "sum(A2_bar, axis=1)"}
EXPANDED = {"A2": "softmax(A2) / B - Y / B", "H": "W2.T @ (softmax(A2) - Y) / B",
            "A1": "(1 - tanh(A1)**2) * (W2.T @ (softmax(A2) - Y)) / B",
            "W1": "((1 - tanh(A1)**2) * (W2.T @ (softmax(A2) - Y))) @ X.T / B",
            "b1": "((1 - tanh(A1)**2) * (W2.T @ (softmax(A2) - Y))) @ ones(B) / B",
            "W2": "(softmax(A2) - Y) @ tanh(A1).T / B", "b2": "(softmax(A2) - Y) @ ones(B) / B"}
SLIPS = {"A1": "(1 - H) * H_bar", "W1": "X @ A1_bar.T", "b2": "sum(A2_bar, axis=0)"}


def answer_file(index: int) -> str:
    chosen = dict(EXPANDED if index % 2 else PLAIN)
    if index % 4 == 0:
        slip = list(SLIPS)[index // 4 % len(SLIPS)]
        chosen[slip] = SLIPS[slip]
    adjoints = "\n".join(f'{k} = "{chosen[k]}"' for k in ("A2", "H", "A1"))
    gradients = "\n".join(f'{k} = "{chosen[k]}"' for k in ("W1", "b1", "W2", "b2"))
    return f"[adjoints]\n{adjoints}\n\n[gradients]\n{gradients}\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=250)
    args, _ = parser.parse_known_args()  # run.py passes its own options
    from derive.grading.answers import check_answers
    from derive.matrix.solve import solve_matrix
    from derive.problems import problem_from_toml

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = tmp / "mlp.toml"
        spec.write_text(PROBLEM)
        solution = solve_matrix(problem_from_toml(PROBLEM, "mlp"))
        one = tmp / "one.toml"
        one.write_text(answer_file(1))
        start = time.perf_counter()
        result = check_answers(solution, one)
        first = time.perf_counter() - start
        right = result.all_correct
        print(f"one answer file (expanded forms)   {first:6.2f} s   {first / FILE_TARGET:5.2f}x of {FILE_TARGET:g} s"
              f"   all correct: {right}  (target <= 1x)")
        folder = tmp / "class"
        folder.mkdir()
        for index in range(args.count):
            (folder / f"s{index:03d}.toml").write_text(answer_file(index))
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "derive", "check", str(spec), str(folder), "--csv",
                              str(tmp / "grades.csv")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        grades = tmp / "grades.csv"
        rows = list(csv.DictReader(io.StringIO(grades.read_text()))) if grades.exists() else []
        full = sum(1 for row in rows if float(row["total"]) == 100)
    verdict = "ok" if seconds < CLASS_TARGET and len(rows) == args.count else "OVER TARGET"
    print(f"derive check, {args.count} answer files      {seconds:6.2f} s   {seconds / CLASS_TARGET:5.2f}x of "
          f"{CLASS_TARGET:g} s   graded {len(rows)}, full marks {full} (expected {args.count - (args.count + 3) // 4})"
          f"  {verdict}{'' if run.returncode == 0 else ' (exit ' + str(run.returncode) + ': ' + run.stderr.strip() + ')'}")


if __name__ == "__main__":
    main()
