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


def _design(X, fit_intercept):
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    return np.column_stack([X, np.ones(len(X))]) if fit_intercept else X


def gradient_and_hessian(W, b, X, y, alpha, sample_weight=None, fit_intercept=True):
    """The gradient (shaped like ``[W, b]``, or ``W`` without intercept) and
    the Hessian (a square matrix on the flattened parameters) of ``J`` with
    the L2 penalty, in the softmax parametrization, from scratch."""
    Xt = _design(X, fit_intercept)
    K, n = W.shape[0], Xt.shape[0]
    _, y_index = np.unique(y, return_inverse=True)
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    w = s / s.sum()
    theta = np.column_stack([W, b]) if fit_intercept else W
    p = np.exp(log_softmax(Xt @ theta.T, axis=1))
    Y = np.eye(K)[y_index]
    penalised = np.ones(theta.shape[1])
    if fit_intercept:
        penalised[-1] = 0.0
    grad = ((p - Y) * w[:, None]).T @ Xt + alpha * theta * penalised
    m = theta.shape[1]
    hess = np.zeros((K, m, K, m))
    for k in range(K):
        for j in range(k, K):
            c = w * ((k == j) * p[:, k] - p[:, k] * p[:, j])
            block = Xt.T @ (c[:, None] * Xt)
            hess[k, :, j, :] = block
            hess[j, :, k, :] = block.T
        hess[k, :, k, :] += alpha * np.diag(penalised)
    return grad, hess.reshape(K * m, K * m)


def polished_optimum(
    coef, intercept, X, y, alpha, sample_weight=None, fit_intercept=True, tol=1e-10
):
    """The L2 optimum of ``J``, from a solver's ``(coef, intercept)`` in
    scikit-learn's shapes, by Newton steps until the largest gradient entry
    is below ``tol``; returned in the same shapes.

    A reference fitted by another solver (``LogisticRegression``) stops
    where its own tests say, which moves with its version; these steps
    (from scratch, a pseudo-inverse for the intercepts' common shift that
    softmax ignores) make the reference the optimum itself."""
    W, b = softmax_parameters(coef, intercept)
    shape = np.column_stack([W, b]).shape if fit_intercept else W.shape
    theta = np.column_stack([W, b]) if fit_intercept else W.copy()
    for _ in range(10):
        W, b = (theta[:, :-1], theta[:, -1]) if fit_intercept else (theta, b)
        grad, hess = gradient_and_hessian(
            W, b, X, y, alpha, sample_weight, fit_intercept
        )
        if np.abs(grad).max() < tol:
            break
        theta = theta - np.linalg.lstsq(hess, grad.ravel(), rcond=None)[0].reshape(
            shape
        )
    assert np.abs(grad).max() < tol, np.abs(grad).max()
    if coef.shape[0] == 1:  # binary: back to one vector, coef_ = W[1] - W[0]
        return (W[1] - W[0])[None, :], np.atleast_1d(b[1] - b[0])
    return W, np.asarray(b)


def probabilities(coef, intercept, X):
    """``predict_proba`` of a linear model in scikit-learn's shapes, from
    scratch."""
    W, b = softmax_parameters(coef, intercept)
    return np.exp(log_softmax(np.asarray(X @ W.T) + b, axis=1))
