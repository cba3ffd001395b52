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


def helper_source(function) -> str:
    """A helper's source as generated code defines it (a blank line before it)."""
    return "\n" + inspect.getsource(function)
