"""derive.testing: one-line autograder assertions with readable failures."""

import pytest

from pathlib import Path

from derive.testing import assert_matrix_answers, assert_worksheet

SEED = Path(__file__).parent / "data" / "seed_worksheet.csv"


def test_assert_worksheet_reports_each_wrong_cell():
    with pytest.raises(AssertionError) as info:
        assert_worksheet("problem1", "tests/data/seed_worksheet.csv")
    message = str(info.value)
    assert "3 cell(s) to look at" in message and "v7: carried" not in message  # carried: full credit
    assert "forward x2 v6: wrong (sign), given 5.940, expected −5.940; the sign is lost inside the line: " \
           "cos(v5) × 6 ≈ −5.940, not 5.940" in message
    assert assert_worksheet("problem1", "tests/data/seed_worksheet.csv", minimum=0.9).score()["total"] > 0.9


def test_assert_matrix_answers(tmp_path):
    assert_matrix_answers("problem2", "tests/data/seed_answers.toml")
    bad = tmp_path / "a.toml"
    bad.write_text('[adjoints]\nh = "W2 @ (y - s)"\n')
    with pytest.raises(AssertionError, match="adjoints.h: shape"):
        assert_matrix_answers("problem2", bad)


def test_a_failing_autograder_test_shows_the_cells_not_derives_source(tmp_path):
    test = tmp_path / "test_submission.py"
    test.write_text("from derive.testing import assert_worksheet\n\n"
                    "def test_submission():\n"
                    f"    assert_worksheet('problem1', {str(SEED)!r})\n")
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          str(test)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 1
    assert "given 5.940, expected −5.940" in run.stdout
    assert "wrong = [c for c in result.cells" not in run.stdout  # derive's own lines are hidden
    assert "raise AssertionError" not in run.stdout
