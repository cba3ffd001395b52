"""The library's results are plain engine objects: copyable, picklable, shown in Jupyter."""

import copy
import pickle

import derive
from derive.matrix.solve import MatrixSolution
from derive.scalar.solve import ScalarSolution


def test_scalar_solution_is_a_plain_copyable_picklable_object(problem1_api):
    assert isinstance(problem1_api, ScalarSolution)
    for clone in (copy.copy(problem1_api), copy.deepcopy(problem1_api),
                  pickle.loads(pickle.dumps(problem1_api))):  # RecursionError before
        assert isinstance(clone, derive.Solution)
        assert clone.jacobian == problem1_api.jacobian
        assert clone._repr_latex_() == problem1_api._repr_latex_()


def test_matrix_solution_is_a_plain_copyable_picklable_object(problem2):
    net = problem2
    assert isinstance(net, MatrixSolution) and isinstance(net, derive.MatrixResult)
    for clone in (copy.copy(net), pickle.loads(pickle.dumps(net))):
        assert isinstance(clone, derive.MatrixResult)
        assert clone.checks.exact == "pass"
        assert clone._repr_latex_() == net._repr_latex_()


def test_the_engine_keeps_its_old_name_kind_for_library_users(problem1_api, problem2):
    """Issue 20 renamed a solution's and a problem's "kind" (scalar or matrix) to ``engine``;
    ``.kind`` stays for code written against derive.api, and the JSON key is unchanged."""
    for solved, engine in ((problem1_api, "scalar"), (problem2, "matrix")):
        assert solved.engine == solved.kind == solved.problem.engine == solved.problem.kind == engine
    assert problem1_api.as_dict()["kind"] == "scalar"
