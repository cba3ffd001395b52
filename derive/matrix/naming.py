"""Names for the arguments written inline: ``h1 = tanh(W @ h0 + U @ x1 + b)`` becomes
``z1 = W @ h0 + U @ x1 + b`` and ``h1 = tanh(z1)``, as a textbook writes the layer, so that the
pre-activation has its own adjoint row and the gradients use it by name."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from . import expr as mx
from .expr import M

if TYPE_CHECKING:
    from .shapes import Model


#: Concrete elementwise functions that are activations: a non-trivial argument of one is named.
#: (log, exp, sqrt, abs, square are algebra, not layers: log(1 − p) stays as written.)
ACTIVATIONS = frozenset({"sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "gelu_tanh",
                         "silu", "swish", "mish", "softsign", "selu", "hard_tanh", "hardtanh"})
#: Operations whose first argument is named as well: the logits of a softmax.
SOFTMAX_FAMILY = frozenset({"softmax", "log_softmax", "sce"})
#: The letters a textbook uses, in order of preference: z (or a) for a pre-activation, z (or o,
#: Goodfellow's output logits) for the argument of a softmax.
_LETTERS = {"activation": ("z", "a", "u", "v", "s", "q"), "softmax": ("z", "o", "s", "u", "v", "q")}
_INDEX = re.compile(r"\A[^\W\d_]+_?(\d+)\Z")


def _site(model: Model, e: M) -> str | None:
    """"activation" or "softmax" when the first argument of ``e`` is one that gets a name."""
    if e.op == "fn" and model.concrete.get(e.function, e.function) in ACTIVATIONS:
        return "activation"
    if e.op in SOFTMAX_FAMILY:
        return "softmax"
    return None


def _trivial(e: M) -> bool:
    """A name, a number, or the negation or transpose of one: nothing to name."""
    if not e.args:
        return True
    return e.op in ("neg", "T") and not e.args[0].args


def _weight_index(e: M) -> str | None:
    """The index of the weight on the left of a product (W3 in W3 @ h, w1 in w1.T @ x)."""
    e = e.args[0] if e.op == "T" else e
    return _index(e.name) if e.op == "var" else None


def _index(name: str) -> str | None:
    match = _INDEX.match(name)
    return match.group(1) if match else None


def name_inline_arguments(model: Model) -> Model:
    """The model with a node of its own for each non-trivial argument of an activation or a
    softmax that the problem does not name, placed just before its first use (the names in
    ``model.introduced``).  An argument equal to an earlier node's definition is that node.  The
    user's names are kept; an introduced name never equals one of them (nor a size or a function)."""
    known: dict[M, str] = {}  # definition -> the user's node, for the equations after it
    found: list[tuple[M, str, str, str | None]] = []  # (argument, site, consumer, index) in first-use order
    reuse: dict[M, str] = {}  # arguments that are an earlier node's definition

    def collect(e: M, consumer: str, top: bool) -> None:
        for a in e.args:
            collect(a, consumer, False)
        site = _site(model, e)
        if site is None or not e.args or _trivial(e.args[0]):
            return
        arg = e.args[0]
        if arg in known:  # z = W @ x + b written, then tanh(W @ x + b): that is tanh(z)
            reuse[arg] = known[arg]
            return
        if any(arg == f[0] for f in found):
            return
        index = _index(consumer) if top else None  # h1 = tanh(…): z1; an inline one: from its weights
        if index is None:
            index = next((i for n in arg.walk() if n.op == "matmul" and (i := _weight_index(n.args[0]))), None)
        found.append((arg, site, consumer, index))

    for name, e in model.equations:
        collect(e, name, True)
        if e.args:
            known.setdefault(e, name)
    if not found and not reuse:
        return model
    taken = {*model.shapes, *model.problem.dims, *model.concrete, *model.problem.functions}
    unindexed = [f for f in found if f[3] is None]
    used_indices = {f[3] for f in found if f[3] is not None}
    counter = 0
    names: dict[M, str] = {}
    batch = any(1 not in f[0].shape for f in found)  # columns of a batch: Z1 = W1 X + b1, as the H1 it feeds
    for arg, site, consumer, index in found:
        if index is None and len(unindexed) > 1:  # several unnumbered layers: z1, z2, … in order
            counter += 1
            while str(counter) in used_indices:
                counter += 1
            index = str(counter)
        letters = _LETTERS[site]
        if batch:
            letters = tuple(letter.upper() for letter in letters)
        names[arg] = _fresh(letters, index or "", taken)
        taken.add(names[arg])
    names.update(reuse)

    def rewrite(e: M) -> M:
        args = tuple(mx.var(names[a], a.shape) if position == 0 and _site(model, e) and a in names else rewrite(a)
                     for position, a in enumerate(e.args))
        return e if args == e.args else replace(e, args=args)

    equations: list[tuple[str, M]] = []
    shapes = dict(model.shapes)
    placed: set[str] = set()
    for name, e in model.equations:
        for arg, *_ in found:
            if names[arg] not in placed and arg not in reuse and _uses(e, arg, model):
                _place(arg, names, found, placed, equations, shapes, rewrite, model)
        equations.append((name, rewrite(e)))
    return replace(model, equations=equations, shapes=shapes, introduced=tuple(names[f[0]] for f in found))


def _uses(e: M, arg: M, model: Model) -> bool:
    """Whether ``arg`` is the named argument of a site inside ``e``."""
    return any(_site(model, node) and node.args and node.args[0] == arg for node in e.walk())


def _place(arg, names, found, placed, equations, shapes, rewrite, model) -> None:
    """Put the node for ``arg`` into ``equations``, after the nodes introduced inside it."""
    for inner, *_ in found:
        if inner is not arg and names[inner] not in placed and _uses(arg, inner, model):
            _place(inner, names, found, placed, equations, shapes, rewrite, model)
    placed.add(names[arg])
    shapes[names[arg]] = arg.shape
    equations.append((names[arg], rewrite(arg)))


def _fresh(letters: tuple[str, ...], index: str, taken: set[str]) -> str:
    """The first letter of ``letters`` whose name with ``index`` is free and cannot be read as
    another family of names: no z beside a z1 the problem has, no z1 beside its z."""
    def clashes(letter: str) -> bool:
        name = letter + index
        if name in taken:
            return True
        if index:
            return letter in taken
        return any(re.fullmatch(rf"{letter}_?\d+", t) for t in taken)
    for letter in letters:
        if not clashes(letter):
            return letter + index
    base = letters[0] + index
    while base in taken:
        base += "_"
    return base
