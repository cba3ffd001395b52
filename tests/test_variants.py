"""Per-student variants: distinct, reproducible, inside every function's domain."""

import csv

from typer.testing import CliRunner

from derive.cli import app
from derive.problems import load_problem, problem_from_toml
from derive.variants import draw_variants

runner = CliRunner()


def test_thirty_distinct_reproducible_variants(tmp_path):
    first = draw_variants(load_problem("problem1"), 30, seed=1)
    again = draw_variants(load_problem("problem1"), 30, seed=1)
    other = draw_variants(load_problem("problem1"), 30, seed=2)
    assert [v.values for v in first] == [v.values for v in again]
    assert len({v.point for v in first}) == 30
    assert [v.point for v in first] != [v.point for v in other]


def test_points_leaving_the_domain_are_drawn_again():
    problem = problem_from_toml("[inputs]\nx = 1\n[outputs]\ny = 'log(x) + sqrt(x)'\n[variants]\nx = [-3, 3]\n", "p")
    variants = draw_variants(problem, 3, seed=5)
    assert all(v.values["x"] > 0 for v in variants)


def test_constants_vary_too():
    problem = problem_from_toml("[inputs]\nx = 1\n[constants]\na = 2\n[outputs]\ny = 'a*sin(x)'\n"
                                "[variants]\na = [1, 9]\nx = [0.5, 1.5, 0.5]\n", "p")
    variants = draw_variants(problem, 5, seed=3)
    assert {"a", "x"} == set(variants[0].values) and len({v.point for v in variants}) == 5


def test_cli_writes_sheets_keys_and_manifest(tmp_path):
    result = runner.invoke(app, ["variants", "problem1", "--count", "30", "--seed", "1", "--no-pdf",
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    assert [r["id"] for r in rows] == [f"s{i:03d}" for i in range(1, 31)]
    assert len({(r["x1"], r["x2"]) for r in rows}) == 30
    keys = {(tmp_path / f"s{i:03d}-key.md").read_text().split("## (a)")[1] for i in range(1, 31)}
    assert len(keys) == 30  # thirty different keys
    assert (tmp_path / "s030-blank.tex").exists() and (tmp_path / "s030-blank.csv").exists()
    result = runner.invoke(app, ["variants", "problem1", "--count", "2", "--seed", "1", "-o", str(tmp_path / "pdf")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "pdf").glob("*.pdf")) == [
        "s001-blank.pdf", "s001-key.pdf", "s002-blank.pdf", "s002-key.pdf"]
    assert (tmp_path / "manifest.csv").read_text().splitlines()[1:3] == \
        (tmp_path / "pdf" / "manifest.csv").read_text().splitlines()[1:3]  # same seed, same first students
