"""Shared fixtures and independent references.

The Problem 1 references are written here by hand from the assignment's definitions
(y1 = e^{2 x2} + x1 sin(3 x2^2), y2 = x1 x2 + σ(x2)) and computed with the math module and
SymPy's own diff: never with the code under test and never copied from the worked solution.
"""

from __future__ import annotations

import fcntl
import functools
import math
import pickle

import pytest
from hypothesis import settings
import sympy

import derive
from derive.problems import load_problem
from derive.scalar.solve import solve_scalar

#: The suite's verdict never depends on the run: Hypothesis draws the same examples every time
#: (HYPOTHESIS_PROFILE=long in test_properties.py explores with fresh draws, many more of them).
settings.register_profile("derive-default", derandomize=True)
settings.load_profile("derive-default")

X = (2.0, 1.0)

# -- the fast tier (`make check`) ------------------------------------------------------------
#: Modules whose every test compiles TeX, starts processes, runs a long Hypothesis search or
#: grades a simulated class.
SLOW_MODULES = {"test_report", "test_texfigures", "test_texformat", "test_pagebreaks", "test_properties",
                "test_readback", "test_walkthrough", "test_matrix_handout", "test_testing",
                "test_stats", "test_sheet_marks"}
#: Tests elsewhere that took more than about a second of a loaded two-core machine when the tiers
#: were drawn (`pytest --durations=0`): a PDF, a subprocess, dot, a Hypothesis search or an exact
#: proof of a large network.  A new test that is slow belongs here (or in SLOW_MODULES).
SLOW_TESTS = {
    "test_api::test_matrix_solution_is_a_plain_copyable_picklable_object",
    "test_batch::test_batch_reports_the_class_and_lists_what_could_not_be_read",
    "test_batch::test_check_grades_each_worksheet_at_its_students_point",
    "test_batch::test_matrix_answers_in_a_batch_and_for_gradescope",
    "test_batch::test_roster_names_every_file_and_the_id_is_on_every_sheet",
    "test_batch::test_shards_write_their_students_and_their_manifests_concatenate",
    "test_catalogue::test_catalogue_network_is_proved_and_its_code_runs",
    "test_cli::test_a_pole_the_floats_step_over_is_a_domain_error",
    "test_cli::test_dash_o_is_a_folder_for_several_files_and_the_file_for_one",
    "test_cli::test_every_command_has_examples_that_parse",
    "test_cli::test_help_shows_cli_metavars_and_keeps_square_brackets",
    "test_cli::test_hostile_expressions_exit_2_with_one_line_and_touch_nothing",
    "test_cli::test_matrix_solve_json_shape",
    "test_cli::test_matrix_verify_codegen_and_errors",
    "test_cli::test_python_dash_m_and_console_script",
    "test_course_networks::test_every_gradient_is_proved",
    "test_fair_grading::test_every_error_free_student_scores_full_marks",
    "test_fair_grading::test_every_planted_slip_costs",
    "test_files::test_an_output_that_names_the_problem_file_is_refused",
    "test_files::test_special_files_are_refused",
    "test_functions::test_each_function_solves_a_matrix_problem_proved",
    "test_grade_policy::test_weights_tolerance_and_lines_from_the_command_line_and_the_problem_file",
    "test_grading_fuzz::test_no_cell_or_line_stops_the_grader",
    "test_graph::test_builtin_matrix_graphs_have_no_avoidable_crossing",
    "test_graph::test_declared_orders_kept_wherever_a_drawing_without_crossing_keeps_them",
    "test_statement::test_maths_the_subset_admits_compiles_and_maths_it_refuses_is_printed",
    "test_graph::test_edge_labels_are_at_least_seven_points_after_scaling",
    "test_graph::test_generated_matrix_networks_have_no_avoidable_crossing",
    "test_graph::test_matrix_drawings_set_their_shapes_at_seven_points_or_more_after_scaling",
    "test_graph::test_matrix_graph_colours_data_as_inputs_and_only_parameters_grey",
    "test_graph::test_matrix_graph_drawn_by_dot_without_overlaps",
    "test_graph::test_matrix_graph_exports",
    "test_graph::test_no_avoidable_crossing_and_outputs_in_order_where_that_is_free",
    "test_graph::test_random_three_input_problems_drawn_without_overlaps",
    "test_hostile::test_a_formula_too_wide_for_tex_is_replaced_by_a_note",
    "test_hostile::test_a_graph_too_large_for_a_page_is_replaced_by_a_note",
    "test_hostile::test_a_line_that_is_not_a_real_number_is_the_cells_business",
    "test_hostile::test_an_ascii_terminal_gets_escapes_not_a_crash",
    "test_hostile::test_code_in_expressions_is_refused",
    "test_hostile::test_dev_zero_is_refused_without_reading",
    "test_hostile::test_fifo_with_no_writer_is_refused_without_hanging",
    "test_hostile::test_fuzz_csv_worksheet_cells",
    "test_hostile::test_fuzz_markdown_worksheet",
    "test_hostile::test_huge_constants_are_refused_within_memory",
    "test_hostile::test_markup_and_escapes_in_cells_print_inert",
    "test_hostile::test_markup_in_matrix_answers_prints_inert",
    "test_hostile::test_matrix_dims_are_bounded",
    "test_hostile::test_matrix_intermediate_is_bounded",
    "test_hostile::test_tex_in_titles_is_printed_literally",
    "test_hostile::test_thousands_of_inputs_are_refused_quickly",
    "test_matrix_answers::test_a_fully_expanded_answer_is_correct_without_simplify",
    "test_matrix_answers::test_an_activation_derivative_written_out_is_right_when_the_activation_is_named",
    "test_matrix_codegen::test_codegen_exits_1_and_writes_nothing_when_its_code_disagrees",
    "test_matrix_codegen::test_generated_code_refuses_a_target_that_breaks_the_condition_of_p_minus_t",
    "test_matrix_codegen::test_self_check_passes_on_the_generated_code_and_fails_on_a_wrong_one",
    "test_matrix_inline::test_an_inline_rnn_names_each_step_as_a_textbook_and_proves",
    "test_matrix_inline::test_softmax_and_cross_entropy_fuse_to_p_minus_t_with_the_condition_stated",
    "test_matrix_render::test_a_row_of_ones_prints_transposed_so_the_product_type_checks",
    "test_matrix_render::test_a_sheet_with_a_power_of_a_power_compiles",
    "test_matrix_render::test_generated_numpy_reads_back_to_the_trees_value",
    "test_matrix_render::test_latex_of_many_trees_compiles_in_one_document",
    "test_matrix_render::test_no_fraction_is_set_inside_a_fraction",
    "test_matrix_render::test_no_printer_puts_a_number_right_after_another",
    "test_matrix_render::test_sheets_are_the_same_under_every_hash_seed",
    "test_matrix_render::test_the_verification_paragraph_says_what_was_proved",
    "test_matrix_rules::test_a_planted_wrong_rule_is_caught_numerically_and_exactly",
    "test_matrix_rules::test_each_broadcast_and_axis_is_proved",
    "test_matrix_rules::test_each_elementwise_function_through_a_network",
    "test_matrix_rules::test_each_vjp_rule_is_proved",
    "test_matrix_shapes::test_the_error_printer_reads_back_as_the_same_tree",
    "test_matrix_textbook::test_double_negation_and_a_negated_ones_fold",
    "test_matrix_textbook::test_softmax_and_cross_entropy_give_p_minus_t_over_b",
    "test_matrix_textbook::test_without_a_kind_there_is_no_p_minus_t_and_no_softmax_written_again",
    "test_matrix_verify::test_an_inline_rnn_is_proved_not_called_wrong",
    "test_matrix_verify::test_an_option_for_the_other_kind_of_problem_is_refused",
    "test_matrix_verify::test_exact_and_numeric_checks_pass",
    "test_matrix_verify::test_global_limits_are_accepted_after_the_command",
    "test_matrix_verify::test_work_is_bounded_by_a_count_and_the_headline_says_what_was_proved",
    "test_matrix_verify::test_the_five_step_inline_rnn_is_proved_within_the_counted_work",
    "test_matrix_verify::test_a_masked_network_of_trigonometric_and_erf_functions_is_checked_in_50_digits",
    "test_platforms::test_another_students_id_and_copying_stay_with_the_instructor",
    "test_platforms::test_no_file_name_exits_3",
    "test_platforms::test_rosters_and_manifests_go_through_the_file_checks",
    "test_prairielearn::test_info_json_validates_against_prairielearns_schema",
    "test_prairielearn::test_matrix_answers_are_judged_by_meaning",
    "test_prairielearn::test_matrix_question_has_one_text_input_per_answer",
    "test_prairielearn::test_server_py_runs_with_only_prairielearns_packages",
    "test_registry::test_all_the_latex_of_the_tables_compiles_in_one_run",
    "test_safety::test_a_users_template_is_never_compiled_in_derives_own_process",
    "test_statement::test_a_literal_point_is_refused_where_the_sheet_moves",
    "test_statement::test_a_matrix_statement_has_braces_but_no_placeholders",
    "test_statement::test_a_value_no_sheet_changes_may_be_written_out",
    "test_statement::test_each_variant_sheet_names_its_own_point",
    "test_variants::test_a_script_without_a_main_guard_is_told_how_to_call_write_variants",
    "test_variants::test_a_second_run_that_agrees_keeps_the_first_runs_students",
    "test_variants::test_a_sheet_that_cannot_be_written_leaves_a_manifest_of_the_others",
    "test_variants::test_a_students_point_depends_on_seed_problem_and_id_only",
    "test_variants::test_cli_writes_sheets_keys_and_manifest",
    "test_variants::test_ctrl_c_with_workers_writes_the_manifest_of_the_students_finished",
    "test_variants::test_ctrl_c_writes_the_manifest_of_the_students_finished",
    "test_variants::test_kill_9_leaves_no_worker_running",
    "test_variants::test_sighup_ends_like_ctrl_c",
    "test_variants::test_sigterm_to_the_process_group_ends_like_ctrl_c_and_leaves_no_scratch",
}


def problem1_graph(v0, v1, exp=sympy.exp, sin=sympy.sin):
    """The seed's Wengert list v0 ... v11 as a function of the two inputs (or symbols)."""
    v = {0: v0, 1: v1}
    steps = {
        2: lambda v: 2 * v[1],
        3: lambda v: exp(v[2]),
        4: lambda v: v[1] ** 2,
        5: lambda v: 3 * v[4],
        6: lambda v: sin(v[5]),
        7: lambda v: v[0] * v[6],
        8: lambda v: v[3] + v[7],
        9: lambda v: v[0] * v[1],
        10: lambda v: 1 / (1 + exp(-v[1])),
        11: lambda v: v[9] + v[10],
    }
    return v, steps


def problem1_values() -> dict[str, float]:
    v, steps = problem1_graph(*X, exp=math.exp, sin=math.sin)
    for k, step in steps.items():
        v[k] = step(v)
    return {f"v{k}": float(val) for k, val in v.items()}


def problem1_tangents() -> dict[str, dict[str, float]]:
    """d v_k / d x_j by SymPy diff of each node written as a function of x."""
    x1, x2 = sympy.symbols("x1 x2")
    v, steps = problem1_graph(x1, x2)
    for k, step in steps.items():
        v[k] = step(v)
    at = {x1: 2, x2: 1}
    return {name: {f"v{k}": float(sympy.diff(expr, sym).subs(at).evalf(30)) for k, expr in v.items()}
            for name, sym in (("x1", x1), ("x2", x2))}


def problem1_adjoints() -> dict[str, dict[str, float]]:
    """d y / d v_k: node k is replaced by a free symbol t downstream, then y is differentiated in t."""
    values = problem1_values()
    t = sympy.Symbol("t")
    out = {"y1": {}, "y2": {}}
    for k in range(12):
        v, steps = problem1_graph(sympy.Integer(2), sympy.Integer(1))
        if k in v:
            v[k] = t
        for j, step in steps.items():
            v[j] = t if j == k else step(v)
        at = {t: sympy.Float(values[f"v{k}"], 30)}
        for name, node in (("y1", 8), ("y2", 11)):
            out[name][f"v{k}"] = float(sympy.diff(v[node], t).subs(at).evalf(30))
    return out


@pytest.fixture(scope="session")
def problem1():
    return solve_scalar(load_problem("problem1"))


@pytest.fixture(scope="session")
def problem1_api():
    return derive.solve("problem1")


@pytest.fixture(scope="session")
def builtin(request, tmp_path_factory):
    """``builtin(name)`` is ``derive.solve(name)`` of a built-in problem, solved once per run:
    attention, rnn and mlp_batch take seconds each with their exact proofs, and a solution is
    frozen and picklable, so every test may read the same one.  Under xdist the first worker to
    ask solves it and leaves a pickle in the run's own temporary folder for the others (never a
    folder another run could have left)."""
    if not hasattr(request.config, "workerinput"):  # one process: no xdist worker beside it
        return functools.cache(derive.solve)
    shared = tmp_path_factory.getbasetemp().parent  # pytest-N/: this run's, shared by its workers

    @functools.cache
    def solve(name: str):
        stored = shared / f"builtin-{name}.pickle"
        with open(shared / f"builtin-{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker solving it: wait for its pickle
            if stored.exists():
                return pickle.loads(stored.read_bytes())  # noqa: S301 - written by this run
            solution = derive.solve(name)
            stored.write_bytes(pickle.dumps(solution))
            return solution

    return solve


@pytest.fixture(scope="session")
def problem2(builtin):
    return builtin("problem2")


# -- the order the modules are handed to the workers ----------------------------------------------
#: Seconds a module's tests took (setup + call, `pytest --durations=0`, the two-core machine idle),
#: for the modules of more than about 1.5 s.  ``--dist loadfile`` hands a worker one module at a
#: time in collection order (``--no-loadscope-reorder``, set in pytest_configure: xdist would
#: otherwise order them by their count of tests), so the longest go first and the short ones fill
#: the end: the two workers finish together instead of one waiting for the other's last long module.
MODULE_SECONDS = {
    "test_texfigures": 31, "test_variants": 27, "test_report": 23, "test_hostile": 17, "test_matrix_render": 15,
    "test_graph": 14, "test_sheet_marks": 9, "test_properties": 8, "test_readback": 6, "test_cli": 6,
    "test_matrix_verify": 5, "test_pagebreaks": 4.5, "test_matrix_rules": 3.7, "test_batch": 3.4,
    "test_matrix_inline": 3, "test_prairielearn": 3, "test_stats": 2.7, "test_sheet": 2.4, "test_platforms": 2.4,
    "test_safety": 2.1, "test_statement": 2.1, "test_fair_grading": 1.9, "test_files": 1.9,
    "test_matrix_codegen": 1.8, "test_testing": 1.6,
}


def pytest_configure(config):
    """xdist schedules the modules in the order pytest_collection_modifyitems leaves them."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Mark the slow tests (``make check`` runs ``-m "not slow"``) and put the longest modules
    first (a stable sort: a module's tests keep their order, the rest their files' order)."""
    for item in items:
        if item.module.__name__ in SLOW_MODULES or f"{item.module.__name__}::{item.originalname}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: -MODULE_SECONDS.get(item.module.__name__, 0))
