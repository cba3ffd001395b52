"""Generated NumPy modules: self-contained, and their gradients agree with finite differences
of their own forward pass (independent of the derivation)."""

import re
import importlib.util

import numpy as np
import pytest
from pathlib import Path

from derive.matrix.codegen import generate
from derive.matrix.solve import solve_matrix
from derive.problems import load_problem

from test_matrix_verify import NETWORKS


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample(problem, seed=3):
    rng = np.random.default_rng(seed)
    values = {}
    for name, spec in problem.variables.items():
        dims = [problem.dims.get(d.strip(), 1) for d in spec.replace("×", "x").split("x")]
        shape = (dims[0], dims[1] if len(dims) > 1 else 1)
        values[name] = rng.dirichlet(np.ones(shape[0])).reshape(shape) if name == "t" else rng.normal(size=shape)
    return values


@pytest.mark.parametrize("spec", NETWORKS)
def test_generated_gradients_match_finite_differences(spec, tmp_path):
    problem = load_problem(spec)
    path = tmp_path / f"net_{abs(hash(spec))}.py"
    path.write_text(generate(solve_matrix(problem, exact=False).derivation))
    module = load_module(path)
    assert "import derive" not in path.read_text() and "from derive" not in path.read_text()
    values = sample(problem)
    grads = module.gradients(**values)
    assert set(grads) == set(problem.wrt)

    def loss(**kw):
        return module.forward(**kw)[problem.loss].item()

    for name in problem.wrt:
        base = np.asarray(values[name], dtype=float)
        assert grads[name].shape == base.shape
        fd = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[index] += 1e-6
            down[index] -= 1e-6
            fd[index] = (loss(**{**values, name: up}) - loss(**{**values, name: down})) / 2e-6
        assert np.allclose(grads[name], fd, rtol=1e-5, atol=1e-7), name


def test_vectors_may_be_flat_or_columns(tmp_path):
    problem = load_problem("problem2")
    path = tmp_path / "p2.py"
    path.write_text(generate(solve_matrix(problem, exact=False).derivation))
    module = load_module(path)
    values = sample(problem)
    flat = {k: (v.ravel() if v.shape[1] == 1 else v) for k, v in values.items()}
    a, b = module.gradients(**values), module.gradients(**flat)
    for name in a:
        assert np.array_equal(a[name], b[name])
    assert a["x"].shape == (3, 1) and a["W1"].shape == (4, 3)
    assert "vectors as (n, 1)" in module.__doc__


# -- issue 9 #2: the printed code computes what was proved ------------------------------------------
POWERS = (Path(__file__).parent / "networks" / "powers.toml").read_text()  # a power of a power, a transposed power


def test_power_of_a_power_and_a_transposed_power_run_right(tmp_path):
    from derive.problems import problem_from_toml

    path = tmp_path / "powers.py"
    path.write_text(generate(solve_matrix(problem_from_toml(POWERS, "powers"), exact=False).derivation))
    module = load_module(path)
    a, x = np.array([[0.3], [1.7], [2.2]]), np.array([[-0.4], [0.9], [1.3]])
    grads = module.gradients(a, x)
    # by hand: L = Σ a + Σ x² a, so ∂L/∂a = 1 + x², ∂L/∂x = 2 x a
    assert np.allclose(grads["a"], 1 + x ** 2, rtol=1e-12)
    assert np.allclose(grads["x"], 2 * x * a, rtol=1e-12)
    assert np.allclose(module.forward(a, x)["p"], a, rtol=1e-12)


# -- generated code checks itself -----------------------------------------------------------------
def test_self_check_passes_on_the_generated_code_and_fails_on_a_wrong_one():
    from derive.errors import VerificationError
    from derive.matrix.codegen import self_check

    derivation = solve_matrix(load_problem("problem2"), exact=False).derivation
    source = generate(derivation)
    assert self_check(derivation, source).max_relative_difference < 1e-12
    wrong = source.replace("W1.T @ z_bar", "-W1.T @ z_bar")
    assert wrong != source
    with pytest.raises(VerificationError, match="gradient of x differs"):
        self_check(derivation, wrong)
    with pytest.raises(VerificationError, match="fails when run: NameError"):
        self_check(derivation, source.replace("W1.T @ z_bar", "W9.T @ z_bar"))


def test_codegen_exits_1_and_writes_nothing_when_its_code_disagrees(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from derive.cli import app
    from derive.matrix import codegen

    real = codegen.generate
    monkeypatch.setattr(codegen, "generate", lambda d: real(d).replace(" ** 2.0", " ** 3.0"))
    out = tmp_path / "p2.py"
    result = CliRunner().invoke(app, ["codegen", "problem2", "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert not out.exists()
    result = CliRunner().invoke(app, ["verify", "problem2"])
    assert result.exit_code == 1 and "generated code" in result.output


# -- issue 13: user text cannot run code on import; names Python refuses are renamed ---------------
HOSTILE = '''title = "T\\"\\"\\" ; import os; os.system('touch {marker}') ; \\"\\"\\" C:\\\\Users\\\\teacher \\\\ x"
[dims]
N = 2
np = 3
[variables]
x = "N"
W = "np x N"
forward = "np"
[functions]
float = "tanh"
[equations]
gradients = "W @ x + forward"
dict = "float(gradients)"
lambda = "sum(dict)"
[derive]
loss = "lambda"
wrt = ["x", "W", "forward"]
'''


def test_hostile_titles_and_names_give_a_module_that_imports_and_runs(tmp_path):
    import subprocess
    import sys

    from derive.problems import problem_from_toml

    marker = tmp_path / "PWNED"
    problem = problem_from_toml(HOSTILE.format(marker=marker), "hostile")
    path = tmp_path / "hostile.py"
    path.write_text(generate(solve_matrix(problem, exact=False).derivation))
    script = ("import importlib.util, sys, numpy as np\n"
              "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
              "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
              "g = m.gradients(np.array([0.5, -1.0]), np.arange(6.0).reshape(3, 2) / 10, np.ones(3))\n"
              "print(sorted(g), m.__doc__.splitlines()[0])\n")
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert "['W', 'forward', 'x']" in result.stdout
    assert 'T""" ; import os' in result.stdout and "C:\\Users\\teacher \\ x" in result.stdout
    # the gradient itself, by hand: L = Σ tanh(W x + f)
    module = load_module(path)
    x, W, f = np.array([[0.5], [-1.0]]), np.arange(6.0).reshape(3, 2) / 10, np.ones((3, 1))
    s = 1 - np.tanh(W @ x + f) ** 2
    grads = module.gradients(x, W, f)
    assert np.allclose(grads["x"], W.T @ s) and np.allclose(grads["W"], s @ x.T) and np.allclose(grads["forward"], s)


def test_generated_code_reads_sizes_from_the_arrays(tmp_path):
    # issue 10: "sum(...) / B" in the equations; the module must work for any batch size
    from test_catalogue import mlp_batch

    path = tmp_path / "mlp_batch.py"
    path.write_text(generate(solve_matrix(load_problem("mlp_batch"), exact=False).derivation))
    module = load_module(path)
    rng = np.random.default_rng(3)
    B = 7  # the problem file says 2
    X, W1, b1, W2, b2 = rng.normal(size=(3, B)), rng.normal(size=(4, 3)), rng.normal(size=4), \
        rng.normal(size=(3, 4)), rng.normal(size=3)
    T = np.eye(3)[:, rng.integers(0, 3, size=B)]
    grads = module.gradients(X, T, W1, b1, W2, b2, 0.1)
    want = mlp_batch(X, T, W1, b1.reshape(-1, 1), W2, b2.reshape(-1, 1), 0.1)
    for name, value in want.items():
        assert np.allclose(grads[name], value, rtol=1e-10), name


def test_a_row_variable_given_as_a_1d_array_is_a_row(tmp_path):
    # issue 10: labels t (1 x B) passed as (B,) must not become a column
    from test_catalogue import logistic

    path = tmp_path / "logistic.py"
    path.write_text(generate(solve_matrix(load_problem("logistic"), exact=False).derivation))
    module = load_module(path)
    rng = np.random.default_rng(5)
    X, t, w, b = rng.normal(size=(3, 6)), rng.integers(0, 2, size=6).astype(float), rng.normal(size=3), 0.3
    grads = module.gradients(X, t, w, b)
    want = logistic(X, t.reshape(1, -1), w.reshape(-1, 1), b)
    assert np.allclose(grads["w"], want["w"], rtol=1e-10) and np.allclose(grads["b"], want["b"], rtol=1e-10)


# -- issue 21: the spec's names, and the caller's precision -----------------------------------------
GREEK = '''[dims]
N = 3
[variables]
x = "N"
"γ" = "N"
"β" = "N"
"ν" = "1"
"μ" = "N"
lambda = "1"
[equations]
y = "γ * (x - μ) + β"
L = "0.5 * sum(y * y) + ν * sum(γ * γ) + lambda * sum(β)"
[derive]
loss = "L"
wrt = ["γ", "β", "ν", "μ", "lambda"]
'''


def _greek_reference(x, γ, β, λ, μ, lam):
    y = γ * (x - μ) + β
    return {"γ": y * (x - μ) + 2 * λ * γ, "β": y + lam, "ν": np.sum(γ * γ).reshape(1, 1), "μ": -γ * y,
            "lambda": np.sum(β).reshape(1, 1)}


def test_generated_code_takes_and_returns_the_specs_greek_names(tmp_path):
    from derive.problems import problem_from_toml

    path = tmp_path / "greek.py"
    path.write_text(generate(solve_matrix(problem_from_toml(GREEK, "greek"), exact=False).derivation),
                    encoding="utf-8")
    module = load_module(path)
    rng = np.random.default_rng(4)
    x, γ, β, μ = (rng.normal(size=(3, 1)) for _ in range(4))
    λ, lam = 0.3, 0.7
    grads = module.gradients(x=x, γ=γ, β=β, ν=λ, μ=μ, lambda_=lam)  # ν as itself; only the keyword is renamed
    assert list(grads) == ["γ", "β", "ν", "μ", "lambda"]
    for name, value in _greek_reference(x, γ, β, λ, μ, lam).items():
        assert np.allclose(grads[name], value, rtol=1e-12), name
    assert "lambda -> lambda_" in module.__doc__
    assert set(module.forward(x, γ, β, λ, μ, lam)) == {"y", "L"}


def test_float32_in_gives_float32_out(tmp_path):
    from test_catalogue import mlp_batch

    path = tmp_path / "mlp_batch.py"
    path.write_text(generate(solve_matrix(load_problem("mlp_batch"), exact=False).derivation))
    module = load_module(path)
    rng = np.random.default_rng(3)
    X, W1, b1, W2, b2 = (rng.normal(size=s).astype(np.float32) for s in [(3, 5), (4, 3), 4, (3, 4), 3])
    T = np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, size=5)]
    grads = module.gradients(X, T, W1, b1, W2, b2, 0.1)  # a Python number takes the arrays' precision
    nodes = module.forward(X, T, W1, b1, W2, b2, 0.1)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    assert {n.dtype for n in nodes.values()} == {np.dtype(np.float32)}
    want = mlp_batch(*(a.astype(float) for a in (X, T, W1, b1.reshape(-1, 1), W2, b2.reshape(-1, 1))), 0.1)
    for name, value in want.items():
        assert np.allclose(grads[name], value, rtol=1e-4, atol=1e-5), name
    as64 = module.gradients(*(a.astype(float) for a in (X, T, W1, b1, W2, b2)), 0.1)
    assert {g.dtype for g in as64.values()} == {np.dtype(np.float64)}
    ints = module.gradients(X.astype(int), T.astype(int), W1.astype(int), b1.astype(int), W2.astype(int),
                            b2.astype(int), 1)
    assert {g.dtype for g in ints.values()} == {np.dtype(np.float64)}  # integers are not a precision


def test_generated_code_refuses_a_target_that_breaks_the_condition_of_p_minus_t(tmp_path, builtin):
    """The fused (P − T)/B holds only when each column of T sums to 1: the module says so and
    checks it, instead of returning gradients 50 % off (a reviewer's finding)."""
    import importlib.util

    import numpy as np

    from derive.matrix.codegen import generate

    source = generate(builtin("mlp_batch")._solved.derivation)
    assert "sums to 1" in source.split('"""', 2)[1] or "sums to 1" in source[:2000]
    path = tmp_path / "mlp.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("mlp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    args = {}
    import inspect

    problem = builtin("mlp_batch")._solved.model
    sizes = {"N": 3, "K": 4, "M": 3, "B": 5}
    for name in inspect.signature(module.gradients).parameters:
        shape = problem.shapes.get(name, (1, 1))
        dims = [sizes.get(d, d) if isinstance(d, str) else d for d in shape]
        args[name] = rng.normal(size=[int(d) for d in dims]) if name != "T" else np.eye(3)[:, rng.integers(0, 3, 5)]
    module.gradients(**args)  # one-hot: fine
    args["T"] = args["T"] * 0.5
    with pytest.raises(ValueError, match="must sum to 1"):
        module.gradients(**args)


SATURATED = """
[dims]
N = 2
M = 3
B = 4
[variables]
X = "N x B"
T = { shape = "M x B", kind = "onehot" }
W = "M x N"
b = "M"
[equations]
P = "softmax(W @ X + b)"
L = "{loss}"
[derive]
loss = "L"
wrt = ["W", "b"]
"""


@pytest.mark.parametrize("loss", ["-sum(T * log(P)) / B", "-mean(T * log(P))",
                                  "mean(-sum(T * log_softmax(W @ X + b), axis=0))"])
def test_generated_gradients_compute_only_what_they_return_and_run_on_a_saturated_softmax(loss, tmp_path):
    """Z̄ = (P − T)/B needs no P̄ = −T ⊘ P / B, which divides by zero where the softmax saturates,
    and no loss value (T ⊙ log P is 0 · −∞ there): with logits ±1000 the gradients run with
    every NumPy warning an error and equal hand-written NumPy."""
    import warnings

    from derive.problems import problem_from_toml

    path = tmp_path / "saturated.py"
    text = SATURATED.replace("{loss}", loss)
    if "log_softmax" in loss:  # written inline: S = log_softmax(Z) is named, Z̄ = (softmax(Z) − T) / B
        text = text.replace('P = "softmax(W @ X + b)"\n', "")
    source = generate(solve_matrix(problem_from_toml(text, "sat"), exact=False).derivation)
    path.write_text(source)
    module = load_module(path)
    assert "P_bar" not in source.split("def gradients", 1)[1]
    X = np.array([[1.0, -1.0, 1.0, 0.5], [0.0, 0.0, 1.0, -0.5]])
    W = np.array([[1000.0, 0.0], [-1000.0, 0.0], [0.0, 1000.0]])  # logits ±1000
    b = np.zeros((3, 1))
    T = np.eye(3)[:, [1, 0, 2, 1]]
    with warnings.catch_warnings(), np.errstate(divide="raise", invalid="raise", over="raise"):  # exp(−2000) = 0 is no error
        warnings.simplefilter("error")
        grads = module.gradients(X, T, W, b)
    Z = W @ X + b  # by hand, the stable softmax
    P = np.exp(Z - Z.max(0)) / np.exp(Z - Z.max(0)).sum(0)
    dZ = (P - T) / (12 if "-mean" in loss else 4)
    assert np.allclose(grads["W"], dZ @ X.T, rtol=1e-12, atol=1e-12)
    assert np.allclose(grads["b"], dZ.sum(1, keepdims=True), rtol=1e-12, atol=1e-12)


def test_the_modules_docstring_keeps_the_title_as_written(tmp_path):
    """'gradients of A one-hidden-layer classifier': a title is a heading, not a noun phrase."""
    from derive.problems import problem_from_toml

    text = re.sub(r'^title = ".*"$', 'title = "A one-hidden-layer classifier"', POWERS, count=1, flags=re.M)
    path = tmp_path / "doc.py"
    path.write_text(generate(solve_matrix(problem_from_toml(text, "powers"), exact=False).derivation))
    doc = load_module(path).__doc__
    assert doc.startswith("A one-hidden-layer classifier: forward pass and gradients"), doc[:80]
