"""Generated NumPy modules: self-contained, and their gradients agree with finite differences
of their own forward pass (independent of the derivation)."""

import importlib.util

import numpy as np
import pytest

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
