"""The objective J (docs/derivation.md) computed from scratch with numpy/scipy, as an
independent reference for the tests (nothing here comes from sk_softmax)."""

import numpy as np
from scipy.special import log_softmax


def softmax_parameters(coef, intercept):
    """(W, b) of the softmax parametrization; binary: W = [-coef/2, coef/2]."""
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    if coef.shape[0] == 1:
        return np.vstack([-coef / 2, coef / 2]), np.hstack(
            [-intercept / 2, intercept / 2]
        )
    return coef, intercept


def objective(coef, intercept, X, y, alpha, sample_weight=None, l1_ratio=0.0):
    """J = weighted mean cross-entropy + alpha * R(W), from scratch."""
    W, b = softmax_parameters(coef, intercept)
    classes, y_index = np.unique(y, return_inverse=True)
    assert W.shape[0] == classes.shape[0]
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    log_p = log_softmax(np.asarray(X @ W.T) + b, axis=1)
    ce = -log_p[np.arange(len(y)), y_index]
    penalty = (1 - l1_ratio) / 2 * np.sum(W**2) + l1_ratio * np.sum(np.abs(W))
    return np.sum(s * ce) / np.sum(s) + alpha * penalty
