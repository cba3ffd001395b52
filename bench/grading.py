"""Benchmark: grading a class of 300 with one `derive check` (target: under a minute).

    .venv/bin/python bench/grading.py [--count 300]     (also run by `make bench`)

Problem 1 with wide [variants] ranges (300 distinct points); `derive variants --no-pdf` writes
every student's sheets and the manifest (timed too, for information); each student's submission
is their key rounded to 3 decimals, with a slip in every third one and every fifth half empty;
then one batch check grades them all, each at its own point, and writes grades.csv.
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

from derive.problems import load_problem  # noqa: E402

TARGET = 60.0  # seconds


def problem_file(folder: Path) -> Path:
    base = load_problem("problem1")
    outputs = "\n".join(f'{name} = "{expr}"' for name, expr in base.outputs.items())
    path = folder / "class.toml"
    path.write_text(f'title = "Problem 1"\n[inputs]\nx1 = 2\nx2 = 1\n[outputs]\n{outputs}\n'
                    "[variants]\nx1 = [0.5, 12, 0.5]\nx2 = [-2, 2, 0.25]\n")
    return path


def submission(key: str, index: int) -> str:
    """A student's filled CSV from their key (id line, header, rows with full-precision values)."""
    rows = list(csv.reader(io.StringIO(key)))
    body = [r for r in rows if len(r) == 5 and r[0] in ("trace", "forward", "reverse")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows[:2])
    for i, (part, pass_, node, value, line) in enumerate(body):
        written = f"{float(value):.3f}"
        if index % 3 == 0 and i == 7:
            written = f"{-float(value):.3f}"  # a sign slip
        if index % 5 == 0 and i >= len(body) // 2:
            written = ""  # stopped half-way
        writer.writerow([part, pass_, node, written, line])
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    derive = [sys.executable, "-m", "derive"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = problem_file(tmp)
        start = time.perf_counter()
        subprocess.run([*derive, "variants", str(spec), "--count", str(args.count), "--seed", "1", "--no-pdf",
                        "-o", str(tmp / "sheets")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        made = time.perf_counter() - start
        subs = tmp / "submissions"
        subs.mkdir()
        keys = sorted((tmp / "sheets").glob("*-key.csv"))
        for index, key in enumerate(keys):
            (subs / key.name.replace("-key", "")).write_text(submission(key.read_text(), index))
        start = time.perf_counter()
        run = subprocess.run([*derive, "check", str(spec), str(subs), "--manifest", str(tmp / "sheets" / "manifest.csv"),
                              "--csv", str(tmp / "grades.csv")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        checked = time.perf_counter() - start
        graded = len((tmp / "grades.csv").read_text().splitlines()) - 1 if run.returncode == 0 else 0
    verdict = "ok" if checked < TARGET and graded == len(keys) else "OVER TARGET" if graded == len(keys) else "FAILED"
    print(f"check {len(keys)} submissions at their own points  {checked:7.2f} s  ({graded} graded; "
          f"target < {TARGET:.0f} s: {verdict})   variants --count {args.count} --no-pdf  {made:7.2f} s")
    if run.returncode != 0:
        print(run.stderr.strip()[-2000:])


if __name__ == "__main__":
    main()
