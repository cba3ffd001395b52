"""derive.testing: one-line autograder assertions with readable failures."""

import pytest

from derive.testing import assert_matrix_answers, assert_worksheet


def test_assert_worksheet_reports_each_wrong_cell():
    with pytest.raises(AssertionError) as info:
        assert_worksheet("problem1", "tests/data/seed_worksheet.csv")
    message = str(info.value)
    assert "4 cell(s) to look at" in message
    assert "forward x2 v6: wrong (sign), given 5.940; the sign is wrong: expected −5.940" in message
    assert assert_worksheet("problem1", "tests/data/seed_worksheet.csv", minimum=0.9).score()["total"] > 0.9


def test_assert_matrix_answers(tmp_path):
    assert_matrix_answers("problem2", "tests/data/seed_answers.toml")
    bad = tmp_path / "a.toml"
    bad.write_text('[adjoints]\nh = "W2 @ (y - s)"\n')
    with pytest.raises(AssertionError, match="adjoints.h: shape"):
        assert_matrix_answers("problem2", bad)
