"""PrairieLearn questions (derive prairielearn), tested without a PrairieLearn server.

The generated server.py is imported and its generate/grade are called with the ``data`` dict
PrairieLearn documents (docs/question/server.md: params, correct_answers, submitted_answers,
raw_submitted_answers, format_errors, partial_scores, score, feedback, variant_seed, options).
info.json is validated against PrairieLearn's own schema, copied into tests/data/prairielearn
(its source is in SOURCE.md there).  Right answers come from hand-written references: the
Problem 1 graph of conftest evaluated with the math module, tangents and adjoints by SymPy diff.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import re
import sys
import tomllib
from pathlib import Path

import pytest
import sympy
from typer.testing import CliRunner

from conftest import problem1_graph
from derive.cli import app

SCHEMA = Path(__file__).parent / "data" / "prairielearn" / "infoQuestion.json"
SEED = 4242


def write(tmp_path, problem: str, *options: str) -> Path:
    folder = tmp_path / "course" / "questions" / Path(problem).stem
    result = CliRunner().invoke(app, ["prairielearn", problem, "-o", str(folder), *options])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["info.json", "question.html", "server.py"]
    return folder


def server(folder: Path):
    name = f"pl_server_{abs(hash(str(folder)))}"
    spec = importlib.util.spec_from_file_location(name, folder / "server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pl_data(seed: int = SEED) -> dict:
    """A fresh data dict as PrairieLearn passes it to generate()."""
    return {"params": {}, "correct_answers": {}, "submitted_answers": {}, "raw_submitted_answers": {},
            "format_errors": {}, "partial_scores": {}, "score": 0, "feedback": {}, "variant_seed": seed,
            "options": {}}


def submit(generated: dict, answers: dict[str, str]) -> dict:
    """The data dict of grade(): generate's params and answers, plus the submission."""
    data = pl_data(generated["variant_seed"])
    data["params"], data["correct_answers"] = generated["params"], generated["correct_answers"]
    data["raw_submitted_answers"] = dict(answers)
    data["submitted_answers"] = {k: (float(v) if re.fullmatch(r"-?[\d.]+", v) else None) for k, v in answers.items()}
    return data


# -- info.json against PrairieLearn's schema -----------------------------------------------------
def validate(value, schema: dict, root: dict, where: str = "info") -> None:
    """The JSON Schema keywords infoQuestion.json uses (type, enum, pattern, lengths, items,
    required, properties, additionalProperties, $ref, allOf, anyOf); raises AssertionError."""
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    for sub in schema.get("allOf", []):
        validate(value, sub, root, where)
    if "anyOf" in schema:
        errors = []
        for sub in schema["anyOf"]:
            try:
                validate(value, sub, root, where)
                break
            except AssertionError as exc:
                errors.append(str(exc))
        else:
            raise AssertionError(f"{where}: matches none of anyOf: {errors}")
    types = {"string": str, "boolean": bool, "object": dict, "array": list, "number": (int, float), "integer": int}
    if "type" in schema:
        assert isinstance(value, types[schema["type"]]), f"{where}: not a {schema['type']}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: does not match {schema['pattern']}"
    if "minLength" in schema:
        assert len(value) >= schema["minLength"], where
    if "maxLength" in schema:
        assert len(value) <= schema["maxLength"], where
    if isinstance(value, list):
        assert len(value) <= schema.get("maxItems", len(value)), where
        for k, item in enumerate(value):
            validate(item, schema.get("items", {}), root, f"{where}[{k}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: '{key}' is required"
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                validate(item, properties[key], root, f"{where}.{key}")
            else:
                assert schema.get("additionalProperties", True) is not False, f"{where}: '{key}' is not allowed"


def test_the_validator_catches_what_the_schema_forbids():
    schema = json.loads(SCHEMA.read_text())
    good = {"uuid": "e3cb4233-1033-4e9a-9928-c9d5a8761adf", "type": "v3", "title": "t", "topic": "t"}
    validate(good, schema, schema)
    for bad in ({k: v for k, v in good.items() if k != "topic"}, {**good, "type": "v4"},
                {**good, "uuid": "not-a-uuid"}, {**good, "partialcredit": True}, {**good, "tags": "derive"}):
        with pytest.raises(AssertionError):
            validate(bad, schema, schema)


@pytest.mark.parametrize("problem", ["problem1", "problem2"])
def test_info_json_validates_against_prairielearns_schema(tmp_path, problem):
    schema = json.loads(SCHEMA.read_text())
    info = json.loads((write(tmp_path, problem) / "info.json").read_text())
    validate(info, schema, schema)
    assert info["type"] == "v3" and info["partialCredit"] is True


def test_regenerating_keeps_the_uuid(tmp_path):
    first = json.loads((write(tmp_path, "problem1") / "info.json").read_text())["uuid"]
    again = json.loads((write(tmp_path, "problem1") / "info.json").read_text())["uuid"]
    assert first == again


# -- a scalar question ---------------------------------------------------------------------------
def references(x1: float, x2: float) -> dict[str, float]:
    """Every cell of Problem 1 at (x1, x2), by hand: the trace with the math module, tangents
    d v_k/d x_j and adjoints d y/d v_k by SymPy diff (as conftest does at (2, 1))."""
    out = {}
    v, steps = problem1_graph(x1, x2, exp=math.exp, sin=math.sin)
    for k, step in steps.items():
        v[k] = step(v)
    out.update({f"trace_v{k}": float(val) for k, val in v.items()})
    s1, s2, t = sympy.symbols("x1 x2 t")
    at = {s1: sympy.Float(x1, 30), s2: sympy.Float(x2, 30)}
    e, steps = problem1_graph(s1, s2)
    for k, step in steps.items():
        e[k] = step(e)
    for name, sym in (("x1", s1), ("x2", s2)):
        out.update({f"forward_{name}_v{k}": float(sympy.diff(expr, sym).subs(at)) for k, expr in e.items()})
    for k in range(12):
        w, steps = problem1_graph(sympy.Float(x1, 30), sympy.Float(x2, 30))
        if k in w:
            w[k] = t
        for j, step in steps.items():
            w[j] = t if j == k else step(w)
        for name, node in (("y1", 8), ("y2", 11)):
            out[f"reverse_{name}_v{k}"] = float(sympy.diff(w[node], t).subs({t: v[k]}))
    return out


def _question(tmp_path_factory, problem: str):
    """The question's folder, its server.py imported, and the data its generate() filled."""
    folder = write(tmp_path_factory.mktemp("pl"), problem)
    module = server(folder)
    data = pl_data()
    module.generate(data)
    return folder, module, data


@pytest.fixture(scope="module")
def scalar_question(tmp_path_factory):
    return _question(tmp_path_factory, "problem1")


def test_generate_draws_derives_variant_from_the_seed(scalar_question):
    from derive.problems import load_problem
    from derive.grading.variants import draw_variants

    _, module, data = scalar_question
    drawn = draw_variants(load_problem("problem1"), 1, SEED)[0].values
    assert data["params"]["values"] == {k: str(v) for k, v in drawn.items()}
    other = pl_data(SEED + 1)
    module.generate(other)
    again = pl_data()
    module.generate(again)
    assert again["params"] == data["params"]  # same seed, same variant
    assert other["params"]["values"] != data["params"]["values"]


def test_correct_answers_are_the_references_at_the_variant(scalar_question):
    _, _, data = scalar_question
    x1, x2 = (float(sympy.Rational(data["params"]["values"][n])) for n in ("x1", "x2"))
    right = references(x1, x2)
    answers = data["correct_answers"]
    assert answers and set(answers) <= set(right)
    for name, value in answers.items():
        assert value == pytest.approx(right[name], rel=1e-9, abs=1e-9), name


def test_question_html_has_one_number_input_per_cell(scalar_question):
    folder, _, data = scalar_question
    page = (folder / "question.html").read_text()
    names = re.findall(r'<pl-number-input answers-name="([^"]+)"[^>]*comparison="decdig" digits="3"', page)
    assert names == list(data["correct_answers"])
    assert "{{params.point}}" in page and "{{#feedback.parts}}" in page


def _right_submission(data) -> dict[str, str]:
    x1, x2 = (float(sympy.Rational(data["params"]["values"][n])) for n in ("x1", "x2"))
    right = references(x1, x2)
    return {name: f"{right[name]:.3f}" for name in data["correct_answers"]}


def test_right_answers_score_one(scalar_question):
    _, module, generated = scalar_question
    data = submit(generated, _right_submission(generated))
    module.grade(data)
    assert data["score"] == 1.0
    assert all(p["score"] == 1.0 for p in data["partial_scores"].values())
    assert [p["name"] for p in data["feedback"]["parts"]] == ["trace", "forward", "reverse"]
    assert all(p["fraction"] == 1.0 for p in data["feedback"]["parts"])


def test_a_sign_slip_costs_its_cell_with_the_slip_as_feedback(scalar_question):
    _, module, generated = scalar_question
    answers = _right_submission(generated)
    answers["forward_x2_v6"] = f"{-float(answers['forward_x2_v6']):.3f}"
    data = submit(generated, answers)
    module.grade(data)
    assert data["partial_scores"]["forward_x2_v6"]["score"] == 0.0
    assert "sign" in data["partial_scores"]["forward_x2_v6"]["feedback"]
    forward = next(p for p in data["feedback"]["parts"] if p["name"] == "forward")
    cells = sum(name.startswith("forward_") for name in answers)
    assert forward["fraction"] == pytest.approx(1 - 1 / cells)
    assert data["score"] == pytest.approx((2 + forward["fraction"]) / 3)


def test_a_carried_error_keeps_its_credit(scalar_question):
    _, module, generated = scalar_question
    answers = _right_submission(generated)
    v5 = float(answers["trace_v5"])
    v6 = math.sin(math.radians(v5))  # sine in degrees
    answers["trace_v6"] = f"{v6:.3f}"
    answers["trace_v7"] = f"{float(answers['trace_v0']) * v6:.3f}"  # computed from it
    data = submit(generated, answers)
    module.grade(data)
    assert data["partial_scores"]["trace_v6"]["score"] == 0.0
    assert "degrees" in data["partial_scores"]["trace_v6"]["feedback"]
    assert data["partial_scores"]["trace_v7"]["score"] == 1.0
    assert "carried" in data["partial_scores"]["trace_v7"]["feedback"]


def test_an_empty_submission_scores_zero(scalar_question):
    _, module, generated = scalar_question
    data = submit(generated, {})
    module.grade(data)
    assert data["score"] == 0.0
    assert all(p["score"] == 0.0 and "missing" in p["feedback"] for p in data["partial_scores"].values())


@pytest.mark.parametrize("level, shown", [("verdicts", "wrong (sign)"), ("score", "")])
def test_feedback_levels_hide_the_expected_value(tmp_path, level, shown):
    module = server(write(tmp_path, "problem1", "--feedback", level))
    generated = pl_data()
    module.generate(generated)
    answers = _right_submission(generated)
    answers["forward_x2_v6"] = f"{-float(answers['forward_x2_v6']):.3f}"
    data = submit(generated, answers)
    module.grade(data)
    assert data["partial_scores"]["forward_x2_v6"]["feedback"] == shown
    assert data["score"] < 1


def test_an_unknown_feedback_level_is_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["prairielearn", "problem1", "-o", str(tmp_path / "q"), "--feedback", "all"])
    assert result.exit_code == 2 and "feedback" in result.output


# -- a matrix question ---------------------------------------------------------------------------
#: Problem 2's answers, by hand: z = W1 x + b1, h = σ(z), y = W2 h + b2, L = ½|y − s|² + rᵀh.
RIGHT = {"adjoints_y": "y - s", "adjoints_h": "r + W2.T @ y_bar", "adjoints_z": "dsigma(z) * h_bar",
         "gradients_x": "W1.T @ z_bar", "gradients_W1": "z_bar @ x.T", "gradients_b1": "z_bar",
         "gradients_W2": "y_bar @ h.T", "gradients_b2": "y_bar"}


@pytest.fixture(scope="module")
def matrix_question(tmp_path_factory):
    return _question(tmp_path_factory, "problem2")


def test_matrix_question_has_one_text_input_per_answer(matrix_question):
    folder, _, data = matrix_question
    page = (folder / "question.html").read_text()
    assert re.findall(r'<pl-string-input answers-name="([^"]+)"', page) == list(RIGHT)
    assert set(data["correct_answers"]) == set(RIGHT)


def test_matrix_answers_are_judged_by_meaning(matrix_question):
    _, module, generated = matrix_question
    right = submit(generated, {**RIGHT, "adjoints_z": "diag(dsigma(z)) @ h_bar"})
    module.grade(right)
    assert right["score"] == 1.0
    slipped = submit(generated, {**RIGHT, "gradients_W1": "x @ z_bar.T"})
    module.grade(slipped)
    assert slipped["partial_scores"]["gradients_W1"]["score"] == 0.0
    assert "transpose" in slipped["partial_scores"]["gradients_W1"]["feedback"]
    assert slipped["score"] == pytest.approx(7 / 8)
    empty = submit(generated, {})
    module.grade(empty)
    assert empty["score"] == 0.0


def test_typed_formulas_reach_the_toml_file_as_written():
    from derive.grading.prairielearn import answer_toml

    hostile = {"adjoints_h": 'r" \n[gradients]\nW1 = "z_bar @ x.T', "gradients_W1": "a\\b\x7f\x01 ✓",
               "other_x": "ignored", "adjoints_bad name": "ignored"}
    parsed = tomllib.loads(answer_toml(hostile))
    assert parsed == {"adjoints": {"h": hostile["adjoints_h"]}, "gradients": {"W1": hostile["gradients_W1"]}}


# -- untrusted problem text ----------------------------------------------------------------------
def test_an_authors_text_is_escaped_in_the_html_and_quoted_in_server_py(tmp_path):
    text = ('title = "</h4><script>alert(1)</script> {{params.secret}}"\n'
            "statement = \"''' \\\"\\\"\\\" at {point} {{x}} & <b>\"\n"
            '[inputs]\nx = 2\n[outputs]\ny = "x*x"\n')
    problem = tmp_path / "evil.toml"
    problem.write_text(text)
    folder = write(tmp_path, str(problem))
    page = (folder / "question.html").read_text()
    assert "<script>" not in page and "<b>" not in page and "{{params.secret}}" not in page and "{{x}}" not in page
    assert "&lt;script&gt;" in page and "{{params.point}}" in page
    source = (folder / "server.py").read_text()
    ast.parse(source)
    assert server(folder).PROBLEM == text
    module = server(folder)
    data = pl_data()
    module.generate(data)
    assert set(data["correct_answers"]) >= {"trace_v0", "forward_x_v1", "reverse_y_v0"}


#: Packages derive uses that PrairieLearn's Python runtime lacks (its apps/prairielearn/python/
#: pyproject.toml lists numpy, sympy, rich, lxml, … but not these).
NOT_IN_PRAIRIELEARN = ("jinja2", "markupsafe", "typer", "click", "graphviz")


@pytest.mark.parametrize("problem, answers", [("problem1", {}), ("problem2", {"gradients_b2": "y_bar"})])
def test_server_py_runs_with_only_prairielearns_packages(tmp_path, problem, answers):
    """A fresh interpreter in which the packages PrairieLearn lacks cannot be imported."""
    import subprocess

    folder = write(tmp_path, problem)
    script = (f"import sys\nfor m in {NOT_IN_PRAIRIELEARN!r}: sys.modules[m] = None\n"
              "import importlib.util\n"
              f"spec = importlib.util.spec_from_file_location('server', {str(folder / 'server.py')!r})\n"
              "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
              "data = {'params': {}, 'correct_answers': {}, 'variant_seed': 7, 'submitted_answers': {},\n"
              f"        'raw_submitted_answers': {answers!r}, 'partial_scores': {{}}, 'feedback': {{}}}}\n"
              "mod.generate(data); mod.grade(data); print(data['score'])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == (0.0 if problem == "problem1" else pytest.approx(1 / 8))


def test_a_statements_maths_reaches_mathjax_only_when_it_is_the_safe_subset_and_html_escaped(tmp_path):
    """A statement's $…$ outside the safe maths (``\\href{javascript:…}``) was left in question.html
    for PrairieLearn's MathJax to typeset; maths inside it was written raw, so ``$a<b>c$`` opened a
    bold tag and ``$x^{{{{a}}}}$`` a Mustache tag."""
    text = ('title = "Costs $\\\\href{javascript:alert(1)}{x}$"\n'
            'statement = "Pay $\\\\href{{javascript:alert(1)}}{{here}}$ and see $a<b>c$ and $x^{{{{secret}}}}$ at {point}."\n'
            '[inputs]\nx = 2\n[outputs]\ny = "x*x"\n')
    problem = tmp_path / "evil.toml"
    problem.write_text(text)
    page = (write(tmp_path, str(problem)) / "question.html").read_text()
    panel = page.split("</pl-question-panel>")[0]
    # Every \href is inside a span MathJax skips; nothing is a tag but derive's own.
    for match in re.finditer(r"\\href", panel):
        opened = panel.rfind('<span class="mathjax_ignore tex2jax_ignore">', 0, match.start())
        assert opened != -1 and panel.find("</span>", opened) > match.start()
    assert "<b>" not in panel and "{{secret}}" not in panel
    assert r"\(a&lt;b&gt;c\)" in panel and "{{params.point}}" in panel
