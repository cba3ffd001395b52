"""The one template syntax of forms (derive/forms.py) and every table's forms in it."""

import pytest

from derive.errors import InternalError
from derive.forms import fill, slots_of
from derive.matrix.rules import OPS


def test_tex_braces_are_never_read_as_slots():
    """\\mathbf{1} in a LaTeX form was read as "argument 1": report exited 3."""
    assert fill(r"\mathbf{1}^\top $0", ["x"]) == r"\mathbf{1}^\top x"
    assert fill(r"\frac{$0}{$1}", ["a", "b"]) == r"\frac{a}{b}"
    assert fill(r"$f\left($0\right)$a", ["z"], f=r"\sigma") == r"\sigma\left(z\right)"


def test_a_slot_without_an_argument_is_a_bug_that_names_the_form():
    with pytest.raises(InternalError, match="names argument 1"):
        fill("$0 + $1", ["a"])


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_form_of_every_operation_names_each_argument(name):
    op = OPS[name]
    arguments = {str(i) for i in range(2 if op.arity is None else op.arity)}  # add: any number; eᵢ: none
    for form in (op.text, op.latex, op.source):
        assert arguments <= slots_of(form), (name, form)
        assert "{0}" not in form, (name, form)  # the old str.format syntax
