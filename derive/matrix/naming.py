"""Names for the arguments written inline: ``h1 = tanh(W @ h0 + U @ x1 + b)`` becomes
``z1 = W @ h0 + U @ x1 + b`` and ``h1 = tanh(z1)``, as a textbook writes the layer, so that the
pre-activation has its own adjoint row and the gradients use it by name.  The output of a σ or
softmax that a loss takes the log of is named too (``log(sigmoid(z))`` is ``log(p)``, p = σ(z)),
so that the fused textbook forms (p − t) apply however the loss is written; and so is the output
of an activation that a matrix product takes (``W2 @ relu(Z1) + b2`` is ``W2 @ H1 + b2``,
H1 = relu(Z1)), so that the hidden layer has its adjoint row and tanh′, σ′ read from H1."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from ..functions import FUNCTIONS
from ..parse import latex_variable, text_variable
from . import expr as mx
from .expr import M

if TYPE_CHECKING:
    from .shapes import Model


#: Concrete elementwise functions that are activations (the table's field): a non-trivial argument
#: of one is named.  (log, exp, sqrt, abs, square are algebra, not layers: log(1 − p) stays as written.)
ACTIVATIONS = frozenset(f.name for f in FUNCTIONS.values() if f.activation)
#: Operations whose first argument is named as well: the logits of a softmax.
SOFTMAX_FAMILY = frozenset({"softmax", "log_softmax", "sce"})
#: Operations whose argument is named as well where it is an affine map: the vector a norm measures.
NORMS = frozenset({"norm"})
#: The letters a textbook uses, in order of preference: z (or a) for a pre-activation, z (or o,
#: Goodfellow's output logits) for the argument of a softmax.
_LETTERS = {"activation": ("z", "a", "u", "v", "s", "q"), "softmax": ("z", "o", "s", "u", "v", "q"),
            "norm": ("r", "u", "v", "s", "q"),
            # outputs a loss uses: p = σ(z) or softmax(z) (a probability), s = log_softmax(z)
            "probability": ("p", "q", "y", "a"), "log_probability": ("s", "g", "q", "a"),
            # the output of a hidden layer that the next layer's product takes: h (or Ng's a) = f(z)
            "hidden": ("h", "a", "g", "q")}
_INDEX = re.compile(r"\A[^\W\d_]+_?(\d+)\Z")


def _site(model: Model, e: M) -> str | None:
    """"activation" or "softmax" when the first argument of ``e`` is one that gets a name."""
    if e.op == "fn" and model.concrete.get(e.function, e.function) in ACTIVATIONS:
        return "activation"
    if e.op in SOFTMAX_FAMILY:
        return "softmax"
    if e.op in NORMS:
        return "norm"
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
    """The model with a node of its own for each non-trivial argument of an activation, a
    softmax or a norm that the problem does not name, placed just before its first use (the names in
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
        if site == "norm" and not any(n.op == "matmul" for n in e.args[0].walk()):
            return  # ‖y − s‖ reads as it is; ‖W x + b‖ measures a layer's output, named as one
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
    user = {*model.shapes, *model.problem.dims, *model.concrete, *model.problem.functions}
    meanings = _meanings(model)
    taken = set(user)
    names: dict[M, str] = {}
    if found or reuse:
        unindexed = [f for f in found if f[3] is None]
        used_indices = {f[3] for f in found if f[3] is not None}
        counter = 0
        # columns of a batch: Z1 = W1 X + b1, as the H1 it feeds; the vector a norm measures as itself
        batch = any(1 not in f[0].shape for f in found if f[1] != "norm")
        for arg, site, consumer, index in found:
            if index is None and len(unindexed) > 1:  # several unnumbered layers: z1, z2, … in order
                counter += 1
                while str(counter) in used_indices:
                    counter += 1
                index = str(counter)
            letters = _LETTERS[site]
            if batch if site != "norm" else 1 not in arg.shape:
                letters = tuple(letter.upper() for letter in letters)
            names[arg] = _fresh(letters, index or "", taken, user, _same_family(site, user, meanings))
            taken.add(names[arg])
        names.update(reuse)
        model = _rewritten(model, found, names, reuse)
    return _name_outputs(model, taken, user, meanings)


def _rewritten(model: Model, found, names: dict[M, str], reuse: dict[M, str]) -> Model:
    """The model with each named argument replaced by its node, the node placed before its first use."""
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


def _output_site(model: Model, e: M) -> str | None:
    """"probability" for σ or softmax of a named node, "log_probability" for its log_softmax."""
    if not e.args or e.args[0].op != "var":
        return None
    if e.op == "softmax" or (e.op == "fn" and model.concrete.get(e.function, e.function) == "sigmoid"):
        return "probability"
    return "log_probability" if e.op == "log_softmax" else None


def _outputs_to_name(model: Model, e: M) -> list[tuple[M, str]]:
    """The outputs inside ``e`` (not ``e`` itself) that get a node, with their site: the σ(z),
    softmax(Z) inside a log and the log_softmax(Z) (the probabilities a cross-entropy written
    inline takes the log of), and an activation's output that a matrix product takes, ``relu(Z1)``
    in ``W2 @ relu(Z1)`` (a hidden layer, "hidden")."""
    out: list[tuple[M, str]] = []
    for node in e.walk():
        if node.op == "fn" and model.concrete.get(node.function, node.function) == "log":
            out += [(n, "probability") for n in node.args[0].walk() if _output_site(model, n) == "probability"]
        elif node is not e and _output_site(model, node) == "log_probability":
            out.append((node, "log_probability"))
        elif node.op == "matmul":
            out += [(a, "hidden") for a in (a.args[0] if a.op == "T" else a for a in node.args)
                    if _site(model, a) == "activation" and a.args[0].op == "var"]
    return [(n, site) for n, site in out if n is not e]


def _name_outputs(model: Model, taken: set[str], user: set[str], meanings: dict[str, set[str]]) -> Model:
    """The model with a node for each output a loss written inline takes the log of:
    ``-(t * log(sigmoid(z)) + (1 - t) * log(1 - sigmoid(z)))`` becomes ``p = σ(z)`` and
    ``-(t * log(p) + (1 - t) * log(1 - p))``, so the fused forms (p − t) apply; and for each
    activation's output a matrix product takes (``W2 @ relu(Z1)`` becomes ``H1 = relu(Z1)`` and
    ``W2 @ H1``).  An output that is an earlier node's definition is that node."""
    known: dict[M, str] = {}
    names: dict[M, str] = {}
    added: list[str] = []
    layers: list[str] = []
    equations: list[tuple[str, M]] = []
    shapes = dict(model.shapes)
    for name, e in model.equations:
        found = _outputs_to_name(model, e)
        outputs = [output for output, _ in found]
        for output, site in found:
            if output in known or output in names:
                continue
            letters = _LETTERS[site]
            argument = output.args[0].name  # a batch: P, as the Z it is computed from (also a row: P2 = σ(Z2))
            if 1 not in output.shape or (argument in model.introduced and argument[:1].isupper()):
                letters = tuple(letter.upper() for letter in letters)
            names[output] = _fresh(letters, _index(output.args[0].name) or "", taken,
                                   user, _same_family(site, user, meanings))
            taken.add(names[output])
            added.append(names[output])
            if site == "hidden":
                layers.append(names[output])
            shapes[names[output]] = output.shape
            equations.append((names[output], output))
        rename = {o: names.get(o) or known[o] for o in outputs}
        equations.append((name, _renamed(e, rename)))
        if e.args:
            known.setdefault(e, name)
    if not added:
        return model
    return replace(model, equations=equations, shapes=shapes, introduced=(*model.introduced, *added),
                   outputs=tuple(n for n in added if n not in layers), layers=tuple(layers))


def _renamed(e: M, rename: dict[M, str]) -> M:
    """``e`` with each sub-expression in ``rename`` replaced by its node."""
    if e in rename:
        return mx.var(rename[e], e.shape)
    args = tuple(_renamed(a, rename) for a in e.args)
    return e if args == e.args else replace(e, args=args)


def _meanings(model: Model) -> dict[str, set[str]]:
    """What each of the problem's nodes is: the sites it is the argument of (a pre-activation,
    logits, a residual) and the output site its definition is."""
    out: dict[str, set[str]] = {}
    for name, e in model.equations:
        if (site := _output_site(model, e) or ("hidden" if _site(model, e) == "activation" else None)) is not None:
            out.setdefault(name, set()).add(site)
        for node in e.walk():
            site = _site(model, node)
            if site and node.args and node.args[0].op == "var":
                out.setdefault(node.args[0].name, set()).add(site)
    return out


def _family(letter: str, names) -> list[str]:
    """The numbered names of ``letter``'s family among ``names`` (z1, z_2, Z3 for z)."""
    return [n for n in names if re.fullmatch(rf"{re.escape(letter)}_?\d+", n, flags=re.IGNORECASE)]


def _same_family(site: str, user: set[str], meanings: dict[str, set[str]]) -> frozenset[str]:
    """The letters whose numbered names in the problem all mean ``site`` (the user's z1 is a
    pre-activation too): an introduced node of that site may continue their numbering."""
    letters = {letter.lower() for letter in _LETTERS[site]}
    return frozenset(letter for letter in letters
                     if (family := _family(letter, user)) and all(meanings.get(n) == {site} for n in family))


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


def _fresh(letters: tuple[str, ...], index: str, taken: set[str], user: set[str],
           same: frozenset[str] = frozenset()) -> str:
    """The first letter of ``letters`` whose name with ``index`` is free and cannot be read as
    one of the problem's own families of names: no z beside a z1 the problem has, no z1 beside
    its z or Z, no z2 beside its z1 unless its z1 means the same (a pre-activation too, the
    letters in ``same``), in either case."""
    lowered = {t.lower() for t in taken}
    printed = {shown for t in taken for shown in (latex_variable(t), text_variable(t))}  # z_1 prints as z1

    def clashes(letter: str) -> bool:
        name = letter + index
        if name.lower() in lowered or latex_variable(name) in printed or text_variable(name) in printed:
            return True
        if index:
            return letter.lower() in lowered or (bool(_family(letter, user)) and letter.lower() not in same)
        return bool(_family(letter, taken))
    # then any other letter of the same case (a reader takes H1_ beside H1 for a typo), e, l, o aside
    alphabet = "abcdfghjkmnpqrstuvwxyz"
    rest = tuple((c.upper() if letters[0].isupper() else c) for c in alphabet if c not in {x.lower() for x in letters})
    for letter in (*letters, *rest):
        if not clashes(letter):
            return letter + index
    base = letters[0] + index
    while base.lower() in lowered or latex_variable(base) in printed or text_variable(base) in printed:
        base += "_"
    return base
