"""Benchmark of `derive variants` against sequential `derive report --pdf` runs, same run.

    .venv/bin/python bench/variants.py [--count 30]     (also run by `make bench`)

variants writes two PDFs per student (the blank sheet and the key) on every core; the baseline
compiles one sheet per student, one process after another.  Printed: both times, and the speed-up
per PDF (target: at least the number of cores; sheets compiled from the cached format of their
preamble, the blank and the key sharing it, do better).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from derive.problems import load_problem  # noqa: E402
from derive.grading.variants import draw_variants  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=30)
    args = parser.parse_args()
    derive = [sys.executable, "-m", "derive"]
    variants = draw_variants(load_problem("problem1"), args.count, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for v in variants:
            at = [item for name, value in v.values.items() for item in ("--at", f"{name}={value}")]
            subprocess.run([*derive, "report", "problem1", "--pdf", "-o", f"{tmp}/seq", *at], check=True,
                           stdout=subprocess.DEVNULL)
        sequential = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([*derive, "variants", "problem1", "--count", str(args.count), "--seed", "1",
                        "-o", f"{tmp}/par"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        parallel = time.perf_counter() - start
    per_pdf = (sequential / args.count) / (parallel / (2 * args.count))
    print(f"variants --count {args.count} ({2 * args.count} PDFs)  {parallel:7.2f} s   "
          f"{args.count} sequential report --pdf  {sequential:7.2f} s   speed-up per PDF {per_pdf:4.2f}x "
          f"on {os.cpu_count()} cores  (target >= {os.cpu_count()}x; the round before the format cache "
          f"took 45 s for --count 30 here)")


if __name__ == "__main__":
    main()
