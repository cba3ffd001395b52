"""Matrix problems get blank handouts: the graph and the adjoint and gradient equations left
empty (PDF via LaTeX, Markdown), and the TOML answer file to fill, which derive check reads."""

import re

from typer.testing import CliRunner

from derive.cli import app

runner = CliRunner()

# Problem 2's answers, written by hand from the network's definition (not from derive)
ANSWERS = {"y": "y - s", "h": "r + W2.T @ y_bar", "z": "dsigma(z) * h_bar", "x": "W1.T @ z_bar",
           "W1": "z_bar @ x.T", "b1": "z_bar", "W2": "y_bar @ h.T", "b2": "y_bar"}


def test_blank_matrix_handout_and_its_answer_file(tmp_path):
    for fmt in ("md", "tex"):
        result = runner.invoke(app, ["report", "problem2", "--blank", "--format", fmt, "-o", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert result.stdout.split() == [str(tmp_path / f"problem2-blank.{fmt}"), str(tmp_path / "problem2-blank.toml")]
    blank = (tmp_path / "problem2-blank.md").read_text()
    for answer in ("W_{1}^\\top", "x^\\top", "mermaid", "Finite differences", "sigma'"):
        assert answer not in blank  # nothing of the key (W1ᵀ z̄, z̄ xᵀ, the graph, the checks) in the handout
    tex = (tmp_path / "problem2-blank.tex").read_text()
    assert "W_{1}^\\top" not in tex and "Verification" not in tex and "framebox" in tex

    template = (tmp_path / "problem2-blank.toml").read_text()
    assert re.findall(r'^(\w+) = ""', template, re.M) == list(ANSWERS)
    empty = runner.invoke(app, ["check", "problem2", str(tmp_path / "problem2-blank.toml"), "--json"])
    assert empty.exit_code == 1 and '"verdict": "missing"' in empty.stdout and "invalid" not in empty.stdout
    filled = template
    for name, formula in ANSWERS.items():
        filled = re.sub(rf'^{name} = ""', f'{name} = "{formula}"', filled, flags=re.M)
    (tmp_path / "answers.toml").write_text(filled)
    result = runner.invoke(app, ["check", "problem2", str(tmp_path / "answers.toml")])
    assert result.exit_code == 0, result.output
