"""The NumPy helpers of the matrix operations, written once: the numeric checks call them and
generated code copies their source (:func:`helper_source`), so the two can never differ.

Every result keeps two dimensions (a reduction of everything is a 1×1 matrix), as the engine
types it.  Only ``np`` may be used inside: the copies run in a module that imports NumPy alone.
"""

from __future__ import annotations

import inspect

import numpy as np


def _sum(a, axis=None):
    return np.full((1, 1), np.sum(a)) if axis is None else np.sum(a, axis=axis, keepdims=True)


def _mean(a, axis=None):
    return np.full((1, 1), np.mean(a)) if axis is None else np.mean(a, axis=axis, keepdims=True)


def _var(a, axis=None):
    return np.full((1, 1), np.var(a)) if axis is None else np.var(a, axis=axis, keepdims=True)


def _var1(a, axis=None):
    """The sample variance (``ddof=1``: divided by n − 1)."""
    return np.full((1, 1), np.var(a, ddof=1)) if axis is None else np.var(a, axis=axis, keepdims=True, ddof=1)


def _max(a, axis=None):
    return np.full((1, 1), np.max(a)) if axis is None else np.max(a, axis=axis, keepdims=True)


def _min(a, axis=None):
    return np.full((1, 1), np.min(a)) if axis is None else np.min(a, axis=axis, keepdims=True)


def _max_share(a, axis=None):
    """Each entry's share in the maximum along ``axis``: 1 for a unique winner, 1/k for each of k
    tied winners, 0 elsewhere (autograd's grad_chooser)."""
    winners = (a == _max(a, axis)).astype(float)
    return winners / (np.sum(winners) if axis is None else np.sum(winners, axis=axis, keepdims=True))


def _min_share(a, axis=None):
    """Each entry's share in the minimum along ``axis`` (ties split as in :func:`_max_share`)."""
    winners = (a == _min(a, axis)).astype(float)
    return winners / (np.sum(winners) if axis is None else np.sum(winners, axis=axis, keepdims=True))


def _above(a, b):
    """The weight of ``a`` in maximum(a, b): 1 where a > b, ½ at a tie, 0 elsewhere."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)) + np.zeros(np.broadcast(a, b).shape)


def _below(a, b):
    """The weight of ``a`` in minimum(a, b): 1 where a < b, ½ at a tie, 0 elsewhere."""
    return np.where(a < b, 1.0, np.where(a == b, 0.5, 0.0)) + np.zeros(np.broadcast(a, b).shape)


def _concat(a, b, axis=0):
    return np.concatenate((a, b), axis=axis)


def _trace(a):
    return np.full((1, 1), np.trace(a))


def _norm(a):
    return np.full((1, 1), np.sqrt(np.sum(a * a)))


def _dot(a, b):
    return np.full((1, 1), np.sum(a * b))


def _softmax(z, axis=0):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _logsumexp(z, axis=0):
    m = np.max(z, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def _log_softmax(z, axis=0):
    return z - _logsumexp(z, axis)


def _softmax_cross_entropy(z, t):
    return np.full((1, 1), -np.sum(t * _log_softmax(z, 0)))


def _binary_cross_entropy_with_logits(z, t):
    """Σ (softplus(z) − t ⊙ z), the logistic loss of the logits z, without overflow."""
    return np.full((1, 1), np.sum(np.logaddexp(0, z) - t * z))


def helper_source(function) -> str:
    """A helper's source as generated code defines it (a blank line before it)."""
    return "\n" + inspect.getsource(function)
