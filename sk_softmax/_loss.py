"""Softmax cross-entropy: the equations of ``docs/derivation.md``, stated once.

Notation (rows are samples, the transpose of the derivation's column layout):

- ``X`` of shape (n, d): the data, dense or scipy sparse, never copied here;
- ``W`` of shape (K, d) and ``b`` of shape (K,): the coefficients and
  intercepts (``b`` is None when no intercept is fitted);
- ``y`` of shape (n,): the label indices, ``0 <= y[i] < K``; the one-hot
  labels of the derivation are ``Y[i, k] = 1`` iff ``k == y[i]``, an (n, K)
  array the code never builds;
- ``w`` of shape (n,): the sample weights divided by their total, so that a
  weighted mean is a plain sum.

The model and its training loss::

    Z = X W^T + b                                   logits, (n, K)
    S = softmax(Z), S[i, k] = exp(Z[i, k]) / sum_j exp(Z[i, j])
    CE_i = -sum_k Y[i, k] log S[i, k] = logsumexp(Z[i]) - Z[i, y[i]]
    J(W, b) = sum_i w_i CE_i + alpha * R(W)         R: see ``_penalties.py``

The hand-derived gradients of the data term (the derivation's
``-(1/N) (L - S) X^T`` with the mean replaced by a weighted mean)::

    G = (S - Y) * w[:, None]                        (n, K)
      : S, then S[i, y[i]] -= 1, then * w[:, None]  (label indices: no Y)
    grad_W = G^T X = (X^T G)^T                      (K, d)
    grad_b = sum_i G[i]                             (K,)

Softmax and log-softmax subtract the row maximum before exponentiating, so
that no logit, however large, overflows, and ``log S`` is computed as
``Z - logsumexp``, never as ``log`` of a rounded-to-zero probability.

The loss and its gradient are evaluated class-major, in the derivation's own
layout: ``Z^T = W X^T + b`` (K, n), ``G^T`` (K, n), ``grad_W = G^T X``.

The functions that take ``(xp, X, y, w, ...)`` compute one block of rows'
share of a sum over the samples; a backend (``_backend.py``) maps them over
the blocks where the data live and adds the results. Everything is written
against an array namespace ``xp`` (numpy, or an array-API library such as
torch or cupy) and touches ``X`` only through ``W @ X.T`` and ``G^T @ X``
(``X @ W.T`` for predictions), so scipy sparse matrices go through the same
code. Nothing here knows about class labels' values, sample weights' origin
or estimators.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import device

from ._array_ops import label_values, positive_part, subtract_at_labels


def softmax(Z, xp):
    """Row-wise softmax of ``Z`` of shape (n, K), computed stably."""
    E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
    return E / xp.sum(E, axis=1, keepdims=True)


def log_softmax(Z, xp):
    """Row-wise log-softmax of ``Z``: ``Z - logsumexp(Z)``, computed stably."""
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    return Z - xp.log(xp.sum(xp.exp(Z), axis=1, keepdims=True))


def logits(X, W, b):
    """``Z = X W^T + b`` of shape (n, K); ``b`` may be None (no intercept)."""
    Z = X @ W.T
    if b is not None:
        Z += b  # in place: Z is a fresh array
    return Z


def _logits_t(X, W, b, xp, at_parameters=True):
    """``Z^T = W X^T + b`` of shape (K, n): the derivation's own layout.

    Computing the logits class-major makes every reduction over the classes
    (max, sum) an elementwise operation between K long rows, which is faster
    than reducing K-long rows n times; scipy sparse ``X`` goes through the
    same expression (scipy evaluates it as ``(X W^T)^T``). At ``W = 0``,
    where every fit starts, the logits are the intercepts and the product
    with ``X`` is skipped. Hessian products pass ``at_parameters=False``:
    their ``W`` is a conjugate-gradient direction, never zero, and the test
    would cost a pass over it in the solver's inner loop.

    Float32 numpy rows (a Hessian sample, or float32 data) with few classes
    (``4 K <= d``) take the product ``X W^T`` and a class-major copy of it:
    OpenBLAS's single-precision GEMM is slower with the few classes as the
    rows of its result, and the copy, ``K n`` numbers against the product's
    ``K n d``, costs less than that (``benchmarks/HISTORY.md``, "float32
    logits").
    """
    if not at_parameters or xp.any(W):
        few = 4 * W.shape[0] <= X.shape[1]
        if isinstance(X, np.ndarray) and X.dtype == np.float32 and few:
            Z = np.ascontiguousarray((X @ W.T).T)
        else:
            Z = W @ X.T
    else:
        Z = xp.zeros((W.shape[0], X.shape[0]), dtype=W.dtype, device=device(W))
    if b is not None:
        Z += b[:, None]  # in place: Z is a fresh array
    return Z


def _exp_shifted_t(Z_t, y, xp):
    """The exponentials of the fresh class-major logits ``Z_t`` (K, n), each
    sample's shifted by their maximum, written over ``Z_t``.

    Returns ``(E_t, sum_E, z_y)``: ``E_t = exp(Z_t - max)`` (``Z_t`` itself
    on numpy), its column sums, and the shifted logits at the labels,
    ``Z_t[y_i, i] - max_i``, read before they are overwritten (None when
    ``y`` is None). The shift changes neither ``S`` nor ``CE`` (both are
    invariant to adding a constant to all K logits) and keeps ``exp()``
    finite; ``CE_i = log(sum_E[i]) - z_y[i]``.

    On sparse data the (K, n) logits are the largest temporary of a pass (a
    third of ``X``'s bytes on a text-like matrix with 20 classes): ``exp``
    writes into them (numpy's ``out=``) rather than beside them, and ``S^T``
    and ``G^T`` are then built in the same memory. Other namespaces have no
    ``out=`` in the standard: there ``E_t`` is a new array.
    """
    Z_t -= xp.max(Z_t, axis=0, keepdims=True)
    z_y = None if y is None else label_values(Z_t, y, xp)
    E_t = np.exp(Z_t, out=Z_t) if isinstance(Z_t, np.ndarray) else xp.exp(Z_t)
    return E_t, xp.sum(E_t, axis=0), z_y


def cross_entropy(xp, X, y, w, W, b):
    """This block's weighted cross-entropy ``sum_i w_i CE_i``, a 0-d array
    (a forward pass only)."""
    _, sum_E, z_y = _exp_shifted_t(_logits_t(X, W, b, xp), y, xp)
    return xp.sum(w * (xp.log(sum_E) - z_y))


def cross_entropy_gradient(xp, X, y, w, W, b):
    """This block's weighted cross-entropy and its hand-derived gradients.

    Returns
    -------
    value : 0-d array
        ``sum_i w_i CE_i``.
    grad_W : array of shape (K, d)
        ``G^T X`` with ``G = (S - Y) * w[:, None]``.
    grad_b : array of shape (K,) or None
        ``sum_i G[i]``; None when ``b`` is None.
    """
    # E^T = exp(Z^T - max), (K, n), in the logits' own memory.
    G_t, sum_E, z_y = _exp_shifted_t(_logits_t(X, W, b, xp), y, xp)
    # CE_i = logsumexp(Z_i) - Z[i, y_i].
    value = xp.sum(w * (xp.log(sum_E) - z_y))
    # G^T = (S - Y)^T * w, built in place in E^T: S^T = E^T / sum_E, then
    # S^T[y_i, i] -= 1 (the one-hot Y, never built), then the weights.
    G_t /= sum_E
    subtract_at_labels(G_t, y, 1.0, xp)
    G_t *= w
    grad_W = G_t @ X
    grad_b = None if b is None else xp.sum(G_t, axis=1)
    return value, grad_W, grad_b


def probabilities_t(xp, X, y, w, W, b):
    """This block's probabilities ``S^T`` (K, n): a forward pass, in the
    logits' memory (``softmax`` would add two (n, K) arrays beside them)."""
    S_t, sum_E, _ = _exp_shifted_t(_logits_t(X, W, b, xp), None, xp)
    S_t /= sum_E
    return S_t


# Two classes on one vector. For K = 2 only the difference of the two rows
# of (W, b) matters: with ``v = W[1] - W[0]``, ``c = b[1] - b[0]`` and ``z =
# X v + c``, the softmax of ``(Z[:, 0], Z[:, 1])`` is that of ``(0, z)``,
# ``S[:, 1] = sigmoid(z)``, and::
#
#     CE_i = log(1 + exp(z_i)) - y_i z_i     (y_i in {0, 1}: the label index)
#     G = (sigmoid(z) - y) * w               (n,)
#     grad_v = G^T X,  grad_c = sum_i G_i
#
# which is the softmax formulas with class 0's logit pinned at zero: ``W``
# is the one row ``v``, ``S^T`` the one row ``sigmoid(z)^T``, and the
# Hessian product (``cross_entropy_hessp``) and curvature (``curvature``)
# of the softmax hold as they are, their sums over the classes running over
# the stored row (class 0's logit does not move). Half the products of the
# two-row form, for the same model.
#
# The loss and G are computed from the margin ``m_i = t_i z_i``, ``t_i = 1 -
# 2 y_i`` (+1 for class 0, -1 for class 1): ``CE_i = log(1 + exp(m_i))`` and
# ``G_i = t_i sigmoid(m_i) w_i``, the same numbers, without the difference
# ``sigmoid(z_i) - 1`` that rounds to zero for a well-classified sample of
# class 1 (in float32, from z = 17).


def _softplus_sigmoid(m, xp):
    """``log(1 + exp(m))`` and ``sigmoid(m)``, elementwise and stably, from
    one ``exp(-|m|)``: neither overflows, whatever ``m``."""
    e = xp.exp(-xp.abs(m))
    softplus = positive_part(m, xp) + xp.log1p(e)
    s = 1.0 / (1.0 + e)
    return softplus, xp.where(m >= 0, s, e * s)


def _margins(X, y, W, b, xp):
    """``t`` and the margins ``m = t z`` (1, n) of two classes on one row,
    ``t = 1 - 2 y``."""
    z = _logits_t(X, W, b, xp)  # (1, n)
    t = 1.0 - 2.0 * xp.astype(y == 1, z.dtype)
    z *= t  # in place: z is a fresh array
    return t, z


def logistic_cross_entropy(xp, X, y, w, W, b):
    """``cross_entropy`` of two classes on one row ``W`` (1, d), ``b`` (1,):
    this block's ``sum_i w_i log(1 + exp(m_i))``, ``m_i = (1 - 2 y_i) z_i``."""
    _, m = _margins(X, y, W, b, xp)
    return xp.sum(w * _softplus_sigmoid(m, xp)[0][0, :])


def logistic_cross_entropy_gradient(xp, X, y, w, W, b):
    """``cross_entropy_gradient`` of two classes on one row: the value, and
    ``grad_W = G^T X`` (1, d), ``grad_b = sum_i G_i`` (1,) with ``G_i = t_i
    sigmoid(m_i) w_i = (sigmoid(z_i) - y_i) w_i``."""
    t, m = _margins(X, y, W, b, xp)
    softplus, G_t = _softplus_sigmoid(m, xp)
    value = xp.sum(w * softplus[0, :])
    G_t *= t
    G_t *= w
    grad_W = G_t @ X
    grad_b = None if b is None else xp.sum(G_t, axis=1)
    return value, grad_W, grad_b


def logistic_probabilities_t(xp, X, y, w, W, b):
    """``probabilities_t`` of two classes on one row: ``sigmoid(z)^T`` (1,
    n), the probability of class 1 (class 0's is its complement)."""
    return _softplus_sigmoid(_logits_t(X, W, b, xp), xp)[1]


def cross_entropy_hessp(xp, X, y, w, S_t, V, c):
    """The Hessian of this block's weighted cross-entropy, at the point whose
    probabilities are ``S_t`` (K, n), applied to a direction ``(V, c)``.

    Per sample, the Hessian of ``CE_i`` in its logits is ``diag(s_i) - s_i
    s_i^T``; the logits move by ``dz_i = V x_i + c`` along the direction, so
    the chain rule gives::

        R = w[:, None] * (S * (dZ - sum_k S[:, k] dZ[:, k]))      (n, K)
        H (V, c) = (R^T X, sum_i R[i])

    ``c`` may be None (no intercept). Returns ``(HV, Hc)``, ``Hc`` None then.
    """
    R_t = _logits_t(X, V, c, xp, at_parameters=False)  # dZ^T, (K, n)
    R_t -= xp.sum(S_t * R_t, axis=0)
    R_t *= S_t
    R_t *= w
    return R_t @ X, (None if c is None else xp.sum(R_t, axis=1))


def hessian(xp, X, y, w, S_t, intercept):
    """This block's share of the whole Hessian of the weighted cross-entropy
    in the parameters ``P = [W, b]`` (``b`` when ``intercept``), at the
    point whose probabilities are ``S_t`` (K, n): a ``(K p, K p)`` array,
    ``p = d + intercept``, its rows and columns in the order of ``P``'s
    entries (row-major). With ``X~ = [X, 1]`` (``X`` without intercept)::

        H = blockdiag_k(X~^T diag(w s_k) X~) - B^T diag(w) B,
        B = [diag(s_1) X~, ..., diag(s_K) X~]                  (n, K p)

    the sum over the samples of ``(diag(s_i) - s_i s_i^T)`` (the Hessian of
    ``CE_i`` in its logits) times ``x~_i x~_i^T``. Two classes on one row
    (K = 1): ``X~^T diag(w s (1 - s)) X~``. Costs ``n (K p)^2``
    multiply-adds: for few parameters only (Newton-CG's direct step).
    Sparse ``X`` is densified a slice of rows at a time.
    """
    if sp.issparse(X):
        return _sliced_hessian(xp, X, w, S_t, intercept)
    if intercept:
        ones = xp.ones((X.shape[0], 1), dtype=X.dtype, device=device(X))
        X = xp.concat([X, ones], axis=1)
    K, (n, p) = S_t.shape[0], X.shape
    if K == 1:
        q = w * (S_t[0, :] * (1.0 - S_t[0, :]))
        return X.T @ (q[:, None] * X)
    B = xp.reshape(S_t.T[:, :, None] * X[:, None, :], (n, K * p))
    wB = w[:, None] * B
    H = -(B.T @ wB)
    # X~^T diag(w s_k) X~ = X~^T (w B)[:, block k]: the K blocks side by side.
    blocks = X.T @ wB
    for k in range(K):
        H[k * p : (k + 1) * p, k * p : (k + 1) * p] += blocks[:, k * p : (k + 1) * p]
    return H


def _sliced_hessian(xp, X, w, S_t, intercept, rows=4096):
    """``hessian`` of sparse ``X``, from dense slices of ``rows`` rows."""
    total = None
    for start in range(0, X.shape[0], rows):
        r = slice(start, start + rows)
        part = hessian(xp, X[r].toarray(), None, w[r], S_t[:, r], intercept)
        total = part if total is None else total + part
    return total


def curvature(xp, X, y, w, S_t, per_class=False):
    """This block's share of the class mean of the Hessian's diagonal, per
    feature and for the intercepts: ``(sum_i w_i c_i x_ij^2, sum_i w_i
    c_i)`` with ``c_i`` the mean over the rows of ``S^T`` of ``s_ik (1 -
    s_ik)``: ``(1 - sum_k s_ik^2) / K`` for the softmax, whose
    probabilities sum to 1, and ``s_i (1 - s_i)`` for two classes on one
    row. With ``per_class``, the diagonal itself, one row per row of
    ``S^T``: ``c_ik = s_ik (1 - s_ik)``, shapes (K, d) and (K,). Sparse
    ``X`` is squared on its data array only, sharing the indices."""
    K = S_t.shape[0]
    if per_class:
        wc = w * (S_t * (1.0 - S_t))
        return _entries_product(X, wc, _square), xp.sum(wc, axis=1)
    if K == 1:
        wc = w * (S_t[0, :] * (1.0 - S_t[0, :]))
    else:
        wc = w * (1.0 - xp.sum(S_t * S_t, axis=0)) / K
    return _entries_product(X, wc, _square), xp.sum(wc)


def column_moments(xp, X, y, w):
    """This block's weighted first absolute and second moments of each
    column: ``(sum_i w_i |x_ij|, sum_i w_i x_ij^2)``, both from one copy
    ``|X|`` (of its data array, on sparse ``X``), squared in place for the
    second."""
    if sp.issparse(X):
        A = type(X)((xp.abs(X.data), X.indices, X.indptr), shape=X.shape)
        first = A.T @ w
        A.data *= A.data
        return first, A.T @ w
    A = xp.abs(X)
    first = w @ A
    A *= A
    return first, w @ A


def _square(a):
    return a * a


def _entries_product(X, v, f):
    """``v @ f(X)`` for an elementwise ``f`` with ``f(0) = 0``, ``v`` of
    shape (n,) or (K, n).

    Sparse ``X`` (CSR or CSC): ``f`` of its data array only, sharing the
    indices. That copy of the data array is two thirds of ``X``'s bytes
    (float64, 32-bit indices); it is freed on return.
    """
    if sp.issparse(X):
        X_f = type(X)((f(X.data), X.indices, X.indptr), shape=X.shape)
        return X_f.T @ v if v.ndim == 1 else (X_f.T @ v.T).T
    return v @ f(X)


def correct(xp, X, y, w, W, b):
    """This block's weighted count of samples whose largest logit is their
    own class's (the weighted accuracy's numerator), a 0-d array. Two
    classes on one row ``W``: class 1 where its logit ``z`` is positive."""
    Z = logits(X, W, b)
    if Z.shape[1] == 1:
        predicted = xp.astype(Z[:, 0] > 0, y.dtype)
    else:
        predicted = xp.argmax(Z, axis=1)
    return xp.sum(xp.where(predicted == y, w, 0.0))


def sample_bounds(xp, X, y, w, W, b):
    """This block's ``(sum_i w_i, sum_i w_i ||x_i||^2)`` and the weights
    ``w_i c_i`` of its rows' curvature at ``(W, b)``, ``c_i = min(max_k s_ik,
    2 max_k s_ik (1 - s_ik))``: the pieces of ``SoftmaxObjective.smoothness``."""
    if sp.issparse(X):
        row_sq = X.multiply(X).sum(axis=1)
        row_sq = xp.asarray(row_sq).reshape(-1)
    else:
        row_sq = xp.sum(X * X, axis=1)
    S = softmax(logits(X, W, b), xp)
    wc = w * xp.minimum(xp.max(S, axis=1), 2.0 * xp.max(S * (1.0 - S), axis=1))
    return (xp.sum(w), xp.sum(w * row_sq)), wc


def gram_product(xp, X, y, w, wc, v, v0):
    """This block's share of ``[X, 1]^T diag(w c) [X, 1] (v, v0)``, as
    ``(X^T u, sum_i u_i)`` with ``u = w c (X v + v0)``."""
    u = wc * (X @ v + v0)
    return X.T @ u, xp.sum(u)
