"""Item analysis (derive check … --stats DIR) of simulated classes.

The classes are written here, independently of the grader: every student's values come from the
hand-written references of conftest (math module and SymPy diff), and a few students make
planted slips (a sign, a missing chain-rule factor, sine in degrees, a carried error, an empty
pass).  The expected shares are counted from the plan, never from the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest
from typer.testing import CliRunner

from derive.cli import app
from derive.grading.worksheet import blank_csv

from conftest import problem1_adjoints, problem1_tangents, problem1_values

STUDENTS = 10
V5 = 3.0  # v5 = 3 x2^2 at x2 = 1


def _right(part: str, pass_: str, node: str) -> float:
    if part == "trace":
        return problem1_values()[node]
    if part == "forward":
        return problem1_tangents()[pass_][node]
    return problem1_adjoints()[pass_][node]


def _plan(student: int) -> dict[tuple[str, str, str], float | None]:
    """What each student writes where it differs from the right value (None: left empty).
    Students 1–2: forward x2 v6 with the wrong sign; 3: the same cell without the factor
    ∂v5/∂x2 = 6 (chain); 4–5: sin(3) in degrees in the trace; 6: the same, and v7, v8 computed
    from it (carried); 7: the reverse pass of y2 left empty; 8–10: all right."""
    x2_v6 = math.cos(V5) * 6
    degrees = math.sin(math.radians(V5))
    if student in (1, 2):
        return {("forward", "x2", "v6"): -x2_v6}
    if student == 3:
        return {("forward", "x2", "v6"): math.cos(V5)}
    if student in (4, 5):
        return {("trace", "", "v6"): degrees}
    if student == 6:
        v7 = 2 * degrees
        return {("trace", "", "v6"): degrees, ("trace", "", "v7"): v7,
                ("trace", "", "v8"): math.exp(2) + v7}
    if student == 7:
        return {("reverse", "y2", node): None for node in problem1_values()}
    return {}


@pytest.fixture(scope="module")
def simulated_class(tmp_path_factory, problem1):
    """Ten filled CSV worksheets of Problem 1 (the blank sheet's cells, values written to 4 decimals)."""
    folder = tmp_path_factory.mktemp("class")
    rows = list(csv.reader(io.StringIO(blank_csv(problem1))))
    for student in range(1, STUDENTS + 1):
        plan = _plan(student)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows[0])
        for part, pass_, node, _value, _line in rows[1:]:
            value = plan.get((part, pass_, node), _right(part, pass_, node))
            writer.writerow([part, pass_, node, "" if value is None else f"{value:.4f}", ""])
        (folder / f"s{student:03d}.csv").write_text(out.getvalue())
    return folder


@pytest.fixture(scope="module")
def stats_folder(simulated_class, tmp_path_factory):
    out = tmp_path_factory.mktemp("stats")
    result = CliRunner().invoke(app, ["check", "problem1", str(simulated_class), "--stats", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _cells(folder) -> dict[tuple[str, str, str], dict]:
    rows = csv.DictReader(io.StringIO((folder / "stats.csv").read_text()))
    return {(r["part"], r["pass"], r["node"]): r for r in rows}


def test_shares_and_slips_per_cell_are_the_planted_ones(stats_folder):
    cells = _cells(stats_folder)
    assert set(next(iter(cells.values()))) == {"part", "pass", "node", "students", "correct", "carried", "wrong",
                                               "missing", "review", "sign", "chain", "degrees", "arithmetic",
                                               "rule", "point", "top_slip", "first_wrong"}
    x2_v6 = cells[("forward", "x2", "v6")]
    assert (float(x2_v6["wrong"]), int(x2_v6["sign"]), int(x2_v6["chain"]), x2_v6["top_slip"]) == (0.3, 2, 1, "sign")
    v6 = cells[("trace", "", "v6")]
    assert (float(v6["wrong"]), int(v6["degrees"]), v6["top_slip"]) == (0.3, 3, "degrees")
    for node in ("v7", "v8"):  # student 6 carried the degrees slip
        assert (float(cells[("trace", "", node)]["carried"]), float(cells[("trace", "", node)]["correct"])) == (0.1, 0.9)
    reverse_y2 = [row for key, row in cells.items() if key[:2] == ("reverse", "y2")]
    assert reverse_y2 and all(float(r["missing"]) == 0.1 and float(r["correct"]) == 0.9 for r in reverse_y2)
    untouched = cells[("forward", "x1", "v3")]
    assert (float(untouched["correct"]), untouched["top_slip"]) == (1.0, "")
    assert all(int(r["students"]) == STUDENTS for r in cells.values())


def test_first_wrong_cell_of_each_pass(stats_folder):
    data = json.loads((stats_folder / "stats.json").read_text())
    first = data["first_wrong"]
    assert first["trace"] == {"v6": 3, "(none)": 7}
    assert first["forward:x2"] == {"v6": 3, "(none)": 7}
    assert first["forward:x1"] == {"(none)": 10}
    top_of_y2 = next(k for k in first["reverse:y2"] if k != "(none)")
    assert first["reverse:y2"] == {top_of_y2: 1, "(none)": 9}
    assert data["students"] == STUDENTS and data["kind"] == "scalar"


def test_totals_histogram_and_parts(stats_folder):
    data = json.loads((stats_folder / "stats.json").read_text())
    bins = data["totals"]["histogram"]
    assert [b["from"] for b in bins] == list(range(0, 100, 10)) and sum(b["students"] for b in bins) == STUDENTS
    assert bins[-1]["students"] >= 3  # students 8–10 (and those with one slip) score 90 % or more
    # student 7 lost the reverse y2 pass: half of the reverse cells; nobody else lost a reverse cell
    assert data["parts"]["reverse"]["mean"] == pytest.approx(1 - 0.5 / STUDENTS)
    assert data["parts"]["trace"]["mean"] < 1 and data["parts"]["forward"]["mean"] < 1


def test_heatmapped_key_markdown_and_tex(stats_folder):
    md = (stats_folder / "key-heatmap.md").read_text()
    assert "🟧 30%" in md and "sign ×2" in md and "degrees ×3" in md
    assert "linkStyle" in md and "```mermaid" in md
    tex = (stats_folder / "key-heatmap.tex").read_text()
    assert r"\cellcolor{red!36}" in tex  # 30 % wrong: 0.6 × 60
    assert r"\textit{sign} $\times$2" in tex and r"\begin{axis}" in tex
    assert "draw=red!" in tex  # an edge of the graph is shaded (∂v6/∂v5 is missed)


def test_heatmapped_key_compiles_to_a_pdf(stats_folder):
    assert (stats_folder / "key-heatmap.pdf").read_bytes()[:5] == b"%PDF-"


def test_edge_share_is_the_share_wrong_of_the_cells_using_the_partial(problem1, simulated_class):
    from derive.grading.batch import grade_class
    from derive.grading.stats import class_stats, edge_shares

    stats = class_stats(grade_class(problem1, [simulated_class]))
    shares = edge_shares(stats, problem1)
    v6 = problem1.trace.by_id["v6"]
    # ∂v6/∂v5 is used by forward v6 (2 passes) and reverse v5 (2 passes): 3 wrong of 40
    assert shares[f"v6:{v6.partials[0].position}"] == pytest.approx(3 / 40)
    assert max(shares.values()) == shares[f"v6:{v6.partials[0].position}"]


# -- a matrix class --------------------------------------------------------------------------------
#: Problem 2's answers, by hand: z = W1 x + b1, h = σ(z), y = W2 h + b2, L = ½|y − s|² + rᵀh.
RIGHT = {"adjoints": {"y": "y - s", "h": "r + W2.T @ y_bar", "z": "dsigma(z) * h_bar"},
         "gradients": {"x": "W1.T @ z_bar", "W1": "z_bar @ x.T", "b1": "z_bar", "W2": "y_bar @ h.T", "b2": "y_bar"}}


def _toml(answers: dict) -> str:
    return "".join(f"[{section}]\n" + "".join(f'{k} = "{v}"\n' for k, v in table.items())
                   for section, table in answers.items())


@pytest.fixture(scope="module")
def matrix_stats(tmp_path_factory):
    """Six students: 1–2 write ∂L/∂W1 as x z̄ᵀ (a transpose missing), 3 writes h̄ with W2ᵀ ⊙ ȳ
    (an elementwise product for a matrix one), 4–5 are right, 6 hands in an empty file."""
    folder, out = tmp_path_factory.mktemp("matrix-class"), tmp_path_factory.mktemp("matrix-stats")
    for student in range(1, 6):
        answers = {section: dict(table) for section, table in RIGHT.items()}
        if student in (1, 2):
            answers["gradients"]["W1"] = "x @ z_bar.T"
        if student == 3:
            answers["adjoints"]["h"] = "r + W2.T * y_bar"
        (folder / f"s{student}.toml").write_text(_toml(answers))
    (folder / "s6.toml").write_text("")
    result = CliRunner().invoke(app, ["check", "problem2", str(folder), "--stats", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_matrix_answers_share_correct_and_diagnoses(matrix_stats):
    cells = _cells(matrix_stats)
    w1 = cells[("gradients", "", "W1")]
    assert (float(w1["correct"]), float(w1["wrong"]), int(w1["transpose"]), w1["top_slip"]) == (0.5, 0.3333, 2, "transpose")
    h = cells[("adjoints", "", "h")]
    assert (float(h["correct"]), float(h["wrong"]), int(h["hadamard"])) == (0.6667, 0.1667, 1)
    b2 = cells[("gradients", "", "b2")]
    assert (float(b2["correct"]), float(b2["wrong"]), float(b2["missing"])) == (0.8333, 0.0, 0.1667)
    md = (matrix_stats / "key-heatmap.md").read_text()
    assert "transpose ×2" in md and "hadamard ×1" in md
    b2_row = next(line for line in md.splitlines() if line.startswith("| b2 |"))
    assert b2_row.endswith("| ⬜ 0% | 0% | 17% | 0% |  |")  # an empty answer is missing, not wrong
    first = json.loads((matrix_stats / "stats.json").read_text())["first_wrong"]
    assert first["gradients"] == {"W1": 2, "x": 1, "(none)": 3}


def test_a_class_with_no_file_graded_writes_empty_figures(tmp_path):
    bad = tmp_path / "class"
    bad.mkdir()
    (bad / "s1.csv").write_text("not,a,worksheet\n")
    (bad / "s2.csv").write_text("")
    out = tmp_path / "stats"
    result = CliRunner().invoke(app, ["check", "problem1", str(bad), "--stats", str(out)])
    assert result.exit_code == 2  # the files that could not be graded are errors, as without --stats
    data = json.loads((out / "stats.json").read_text())
    assert (data["students"], data["ungraded"], data["cells"]) == (0, 2, [])
    assert sorted(p.name for p in out.iterdir()) == ["stats.csv", "stats.json"]


def test_the_heatmap_draws_the_sheets_backpropagation_graph(stats_folder, problem1):
    """The heatmap laid (b) out on its own and drew x2 above x1 where the sheet's (b), laid out with
    (a), draws x1 above x2: a TA comparing the two saw the nodes move."""
    from derive.render import graph

    def places(tex: str) -> dict:
        return dict(re.findall(r"\\node\[[^\]]*\] \(([^)]+)\) at \(([^)]+)\)", tex))

    sheet = places(graph.tikz(problem1.trace, adjoint=True))
    heatmap = places((stats_folder / "key-heatmap.tex").read_text())
    assert sheet and heatmap == sheet


def test_a_cell_refused_carried_credit_counts_as_wrong():
    """A cell that follows from a wrong value making its step trivial gets no credit (verdict
    wrong, kind carried); the item analysis counted it carried and said the pass had no wrong cell."""
    from derive.grading.stats import category

    assert category({"verdict": "wrong", "kind": "carried"}) == "wrong"
    assert category({"verdict": "carried", "kind": "carried"}) == "carried"


def test_the_part_means_are_printed_as_rounded_once(stats_folder):
    """The bar chart wrote a mean of 95.45 % as 95.5 and printed it at 0 decimals: 96, where the
    class's mean rounds to 95."""
    tex = (stats_folder / "key-heatmap.tex").read_text()
    shown = re.search(r"nodes near coords style=\{[^}]*precision=(\d+)\}", tex).group(1)
    coordinates = re.search(r"\\addplot\[fill=blue!25[^\]]*\] coordinates \{([^}]*)\}", tex).group(1)
    written = {len(x.split(".")[1]) if "." in x else 0 for x in re.findall(r",([\d.]+)\)", coordinates)}
    assert written == {int(shown)}
