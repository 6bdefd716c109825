"""Softmax cross-entropy: the derivation's equations, stated once.

Notation (rows are samples, the transpose of the derivation's column layout):

- ``X`` of shape (n, d): the data, dense or scipy sparse, never copied here;
- ``W`` of shape (K, d) and ``b`` of shape (K,): the coefficients and intercepts,
  stored together as one parameter array ``P`` of shape (K, d + 1) when an
  intercept is fitted (``W = P[:, :d]``, ``b = P[:, d]``) and (K, d) otherwise;
- ``Y`` of shape (n, K): the one-hot labels, ``Y[i, k] = 1`` iff sample i is
  of class k;
- ``w`` of shape (n,): the sample weights divided by their total, so that a
  weighted mean is a plain sum.

The model and its training loss::

    Z = X W^T + b                                   logits, (n, K)
    S = softmax(Z), S[i, k] = exp(Z[i, k]) / sum_j exp(Z[i, j])
    CE_i = -sum_k Y[i, k] log S[i, k] = logsumexp(Z[i]) - sum_k Y[i, k] Z[i, k]
    J(W, b) = sum_i w_i CE_i + alpha * R(W)         R: see ``_penalties.py``

The hand-derived gradients of the data term (``derivation.md``: the derivation's
``-(1/N) (L - S) X^T`` with the mean replaced by a weighted mean)::

    G = (S - Y) * w[:, None]                        (n, K)
    grad_W = G^T X = (X^T G)^T                      (K, d)
    grad_b = sum_i G[i]                             (K,)

Softmax and log-softmax subtract the row maximum before exponentiating, so that
no logit, however large, overflows, and ``log S`` is computed as ``Z - logsumexp``,
never as ``log`` of a rounded-to-zero probability.

The loss and its gradient are evaluated class-major, in the derivation's own
layout: ``Z^T = W X^T + b`` (K, n), ``G^T`` (K, n), ``grad_W = G^T X``.

Everything here is written against an array namespace ``xp`` (numpy, or an
array-API library such as torch or cupy) and touches ``X`` only through
``W @ X.T`` and ``G^T @ X`` (``X @ W.T`` for predictions), so scipy sparse
matrices go through the same code.
Nothing here knows about class labels, sample weights' origin or estimators.
"""

import copy

import numpy as np
import scipy.sparse as sp

from ._penalties import ElasticNet


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
    """
    if not at_parameters or xp.any(W):
        Z = W @ X.T
    else:
        Z = xp.zeros((W.shape[0], X.shape[0]), dtype=W.dtype)
    if b is not None:
        Z += b[:, None]  # in place: Z is a fresh array
    return Z


def cross_entropy(W, b, X, Y, w, xp):
    """Weighted cross-entropy ``sum_i w_i CE_i`` (a forward pass only)."""
    Z = _logits_t(X, W, b, xp)
    Z -= xp.max(Z, axis=0, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(Z), axis=0))
    return float(xp.sum(w * (lse - xp.sum(Y.T * Z, axis=0))))


def cross_entropy_gradient(W, b, X, Y, w, xp):
    """Weighted cross-entropy and its hand-derived gradients.

    Returns
    -------
    value : float
        ``sum_i w_i CE_i``.
    grad_W : array of shape (K, d)
        ``G^T X`` with ``G = (S - Y) * w[:, None]``.
    grad_b : array of shape (K,) or None
        ``sum_i G[i]``; None when ``b`` is None.
    """
    Z = _logits_t(X, W, b, xp)  # Z^T, (K, n)
    # Shifting each sample's logits by their maximum changes neither S nor CE
    # (both are invariant to adding a constant to all K logits) and keeps
    # exp() finite.
    Z -= xp.max(Z, axis=0, keepdims=True)
    E = xp.exp(Z)
    sum_E = xp.sum(E, axis=0)
    # CE_i = logsumexp(Z_i) - sum_k Y_ik Z_ik, using sum_k Y_ik = 1.
    value = float(xp.sum(w * (xp.log(sum_E) - xp.sum(Y.T * Z, axis=0))))
    # G^T = (S - Y)^T * w, built in place in E (S^T = E / sum_E).
    G_t = E
    G_t /= sum_E
    G_t -= Y.T
    G_t *= w
    grad_W = G_t @ X
    grad_b = None if b is None else xp.sum(G_t, axis=1)
    return value, grad_W, grad_b


def cross_entropy_hessp(V, c, X, S_t, w, xp):
    """The Hessian of the weighted cross-entropy, at the point whose
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


def _csr_rows(X, rows):
    """The rows ``rows`` of scipy sparse ``X``, in CSR.

    For CSR ``X`` the rows' nonzeros are gathered directly from its arrays:
    scipy's own row indexing costs several times more for the small batches
    of the mini-batch solver.
    """
    if X.format != "csr":
        return X[rows].tocsr()
    starts = X.indptr[rows]
    lengths = X.indptr[rows + 1] - starts
    indptr = np.zeros(rows.shape[0] + 1, dtype=X.indptr.dtype)
    np.cumsum(lengths, out=indptr[1:])
    nonzeros = np.arange(indptr[-1]) + np.repeat(starts - indptr[:-1], lengths)
    return sp.csr_array(
        (X.data[nonzeros], X.indices[nonzeros], indptr),
        shape=(rows.shape[0], X.shape[1]),
    )


class SoftmaxObjective:
    """The training objective ``J`` on fixed data, as a function of ``P``.

    ``J = f + g`` with ``f`` smooth (cross-entropy and the L2 part of the
    penalty) and ``g`` the L1 part, handled by its proximal operator.
    The solvers in ``_solvers.py`` see only this interface.

    Parameters
    ----------
    X : {array, sparse matrix} of shape (n, d)
    Y : array of shape (n, K)
        One-hot labels, in the dtype of ``X``.
    w : array of shape (n,)
        Sample weights divided by their total (non-negative, summing to 1 for
        the full-data objective).
    alpha, l1_ratio : float
        Penalty strength and elastic-net mixing, see ``ElasticNet``.
    fit_intercept : bool
    xp : array namespace
    """

    #: Dense rows are processed in blocks of about this many bytes of ``X``, so
    #: that a block read for the forward pass is still in cache for the
    #: backward one and the (n, K) temporaries never exist whole.
    block_bytes = 2**21

    def __init__(self, X, Y, w, alpha, l1_ratio, fit_intercept, xp):
        self.X, self.Y, self.w, self.xp = X, Y, w, xp
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]
        self.penalty = ElasticNet(alpha, l1_ratio, xp)

    def _row_blocks(self):
        """``(X, Y, w)`` in blocks of rows covering the data.

        Sparse ``X`` is one block, the data themselves: its products do not
        gain from cache reuse, each block would pay for a (K, d) gradient,
        large when d is, and slicing a scipy sparse matrix, even with ``[:]``,
        copies it.
        """
        X, Y, w = self.X, self.Y, self.w
        if sp.issparse(X):
            return [(X, Y, w)]
        n = X.shape[0]
        size = max(self.block_bytes // max(1, X.shape[1] * X.dtype.itemsize), 256)
        return [
            (X[r], Y[r], w[r])
            for r in (slice(start, min(start + size, n)) for start in range(0, n, size))
        ]

    def _data_value(self, W, b):
        xp = self.xp
        return sum(cross_entropy(W, b, X, Y, w, xp) for X, Y, w in self._row_blocks())

    def data_value_and_gradient(self, W, b):
        """The cross-entropy term alone (no penalty) and its gradients
        ``(value, grad_W, grad_b)``, as ``cross_entropy_gradient``."""
        value, grad_W, grad_b = 0.0, None, None
        for X, Y, w in self._row_blocks():
            v, gW, gb = cross_entropy_gradient(W, b, X, Y, w, self.xp)
            value += v
            if grad_W is None:  # the first block's arrays are fresh: sum in place
                grad_W, grad_b = gW, gb
            else:
                grad_W += gW
                grad_b = None if gb is None else grad_b + gb
        return value, grad_W, grad_b

    def subset(self, rows, n_rows):
        """The objective of a mini-batch: the same function on ``X[rows]``
        (``rows`` an index array, or a slice: then dense arrays are views).

        The batch's weights are ``w[rows] * n_rows / len(rows)``: for batches
        drawn uniformly from ``n_rows`` rows, the expected batch objective and
        gradient are the full ones, and with uniform weights the batch term is
        the plain mean over the batch, as in the derivation.
        """
        xp = self.xp
        batch = copy.copy(self)  # same penalty and settings, other rows
        if isinstance(rows, slice):  # views of dense arrays, no copy
            batch.X, batch.Y, w = self.X[rows], self.Y[rows], self.w[rows]
        else:
            batch.X = (
                _csr_rows(self.X, rows)
                if sp.issparse(self.X)
                else xp.take(self.X, rows, axis=0)
            )
            batch.Y = xp.take(self.Y, rows, axis=0)
            w = xp.take(self.w, rows, axis=0)
        batch.w = w * (n_rows / w.shape[0])
        return batch

    def subset_support(self, rows, n_rows):
        """The mini-batch objective of ``subset`` on sparse ``X``, restricted
        to the columns its rows use.

        Returns ``(batch, columns)``: ``batch.X`` holds the columns
        ``columns`` of ``X[rows]`` (sorted; the others are zero on these rows,
        so the batch's data term neither depends on their coefficients nor
        has a gradient on them), in CSR. Its cost is that of the batch's
        nonzeros, not of the ``d`` features.
        """
        batch = self.subset(rows, n_rows)
        X = batch.X
        columns, compact = np.unique(X.indices, return_inverse=True)
        batch.X = sp.csr_array(
            (X.data, compact, X.indptr), shape=(X.shape[0], columns.shape[0])
        )
        batch.n_features = columns.shape[0]
        return batch, columns

    def smoothness(self, P, batch_size, rng, n_probe=1000, n_power_iter=20):
        """An estimate of the Lipschitz constant ``L_B`` of mini-batch
        gradients around ``P``.

        The Hessian of ``CE_i`` in the logits, ``diag(s_i) - s_i s_i^T``, is at
        most ``I / 2`` (two classes at 1/2), and at a given point at most
        ``c_i I`` with ``c_i = min(max_k s_ik, 2 max_k s_ik (1 - s_ik))``: the
        first because it is at most ``diag(s_i)``, the second by Gershgorin's
        theorem. At ``P = 0``, ``c_i = 1 / K``.

        For batches of size ``B`` out of ``n`` drawn without replacement
        (Gower et al., 2019)::

            L_B = (n - B) / (B (n - 1)) * L_mean + n (B - 1) / (B (n - 1)) * L_full

        ``L_mean``, the mean smoothness of single samples, takes the global
        bound: a sample contributes ``(||x_i||^2 + 1) / 2`` (the 1 for the
        intercept), as one sample can end up anywhere between two classes.
        ``L_full``, the smoothness of the whole data term, takes the
        curvatures at ``P``: ``lambda_max(X^T diag(w c) X)``. An average over
        many samples moves little, and as the fit improves its curvature
        drops; the global bound ``lambda_max(X^T diag(w) X) / 2`` would make
        the steps of large batches up to ``K / 2`` times too short.

        Both terms are estimated on ``n_probe`` random rows (power iteration
        for ``lambda_max``), so the estimate costs far less than a pass over
        ``X``. The L2 part of the penalty adds its strength.
        """
        xp = self.xp
        n = self.X.shape[0]
        probe = rng.choice(n, size=min(n, n_probe), replace=False)
        sample = self.subset(xp.asarray(probe), n)
        total = float(xp.sum(sample.w))
        Xs = sample.X
        ws = sample.w / total if total > 0 else xp.ones_like(sample.w) / probe.shape[0]
        if sp.issparse(Xs):
            row_sq = xp.asarray(Xs.multiply(Xs).sum(axis=1)).ravel()
        else:
            row_sq = xp.sum(Xs * Xs, axis=1)
        L_mean = 0.5 * float(xp.sum(ws * (row_sq + float(self.fit_intercept))))
        S = softmax(logits(Xs, *self.split(P)), xp)
        ws = ws * xp.minimum(xp.max(S, axis=1), 2.0 * xp.max(S * (1.0 - S), axis=1))
        # Power iteration for the top eigenvalue of [X, 1]^T diag(w c) [X, 1].
        v = xp.asarray(rng.standard_normal(Xs.shape[1]), dtype=ws.dtype)
        v0 = 1.0 if self.fit_intercept else 0.0
        lam = 0.0
        for _ in range(n_power_iter):
            u = ws * (Xs @ v + v0)
            v = Xs.T @ u
            v0 = float(xp.sum(u)) if self.fit_intercept else 0.0
            lam = float(xp.sqrt(xp.sum(v * v) + v0 * v0))
            if lam == 0.0:
                break
            v, v0 = v / lam, v0 / lam
        L_full = lam
        B = min(batch_size, n)
        if n > 1:
            L = (n - B) / (B * (n - 1)) * L_mean + n * (B - 1) / (B * (n - 1)) * L_full
        else:
            L = L_mean
        return L + self.penalty.l2

    def rounding_level(self, n_probe=1000):
        """The size of the rounding errors of the gradient, an optimality that
        no iterate can beat: ``16 eps`` times the largest mean ``|x_ij|`` of a
        feature (1 for the intercept), on up to ``n_probe`` evenly spaced rows."""
        xp, X = self.xp, self.X
        rows = slice(0, X.shape[0], max(1, X.shape[0] // n_probe))
        if sp.issparse(X):
            probe = X[rows]
            mean_abs = float(abs(probe).mean(axis=0).max())
        else:
            mean_abs = float(xp.max(xp.mean(xp.abs(X[rows]), axis=0)))
        if self.fit_intercept:
            mean_abs = max(mean_abs, 1.0)
        return 16 * float(xp.finfo(X.dtype).eps) * mean_abs

    def split(self, P):
        """Views ``(W, b)`` of the parameter array ``P`` (``b`` None if no intercept)."""
        d = self.n_features
        return P[:, :d], (P[:, d] if self.fit_intercept else None)

    def join(self, W, b):
        """The parameter array ``[W, b]`` (``W`` itself when ``b`` is None):
        the inverse of ``split``."""
        if b is None:
            return W
        return self.xp.concat([W, b[:, None]], axis=1)

    def product_layout(self, P):
        """``P`` in the memory order that the products with ``X`` read
        without a transposing copy.

        Scipy's sparse-times-dense kernels take the dense operand row-major:
        ``W X^T`` is computed as ``(X W^T)^T`` and reads ``W^T``, which is
        row-major when ``W`` is column-major; ``G^T X`` is computed as ``(X^T
        G)^T``, a column-major result. So for sparse ``X`` the parameters go
        column-major, and every array a solver derives from them follows
        (numpy keeps the order of its operands, ``concat`` too); on the
        sparse problem of ``benchmarks/`` a Hessian product is then about
        15% faster. Dense ``X`` goes through BLAS, which reads either order:
        ``P`` is returned as it is. For the full-batch solvers only: the
        column-major copy of the parameters costs a parameter array, which
        mini-batch steps on sparse data, storing theirs feature-major
        (``_solvers._LazySparseIterates``), would pay for nothing.
        """
        return np.asfortranarray(P) if sp.issparse(self.X) else P

    def smooth_value(self, P):
        """``f(P)``: cross-entropy plus the L2 part of the penalty."""
        W, b = self.split(P)
        return self._data_value(W, b) + self.penalty.smooth_value(W)

    def smooth_value_and_gradient(self, P):
        """``f(P)`` and its gradient, an array shaped like ``P``."""
        W, b = self.split(P)
        data, grad_W, grad_b = self.data_value_and_gradient(W, b)
        self.penalty.add_smooth_gradient(grad_W, W)
        return data + self.penalty.smooth_value(W), self.join(grad_W, grad_b)

    def probabilities_t(self, P):
        """The blocks of ``_row_blocks`` with their probabilities ``S^T``
        (K, rows) at ``P``: a forward pass."""
        W, b = self.split(P)
        blocks = self._row_blocks()
        # softmax works along rows: pass it Z (a transposed view of Z^T).
        return blocks, [
            softmax(_logits_t(X, W, b, self.xp).T, self.xp).T for X, _, _ in blocks
        ]

    def hessp(self, P, forward=None):
        """The Hessian of ``f`` at ``P``, as the function ``D -> H D`` on
        directions shaped like ``P``.

        Building it is a forward pass (the probabilities at ``P``, (K, n)
        numbers, are kept), unless ``forward``, the result of
        ``probabilities_t(P)``, is given; each product is one more pass over
        ``X`` (``cross_entropy_hessp``). The L2 part of the penalty is
        quadratic: its Hessian applied to ``D`` is its gradient at ``D``.
        """
        xp = self.xp
        blocks, probas = self.probabilities_t(P) if forward is None else forward

        def apply(D):
            V, c = self.split(D)
            HV = Hc = None
            for (X, _, w), S_t in zip(blocks, probas, strict=True):
                hv, hc = cross_entropy_hessp(V, c, X, S_t, w, xp)
                if HV is None:  # the first block's arrays are fresh: sum in place
                    HV, Hc = hv, hc
                else:
                    HV += hv
                    Hc = None if hc is None else Hc + hc
            self.penalty.add_smooth_gradient(HV, V)
            return self.join(HV, Hc)

        return apply

    def feature_curvature(self, P, forward=None):
        """A diagonal approximation of the Hessian of ``f`` at ``P``, the same
        for every class: one number per column of ``P`` (per feature, then
        the intercepts), an array of shape ``(P.shape[1],)`` that broadcasts
        against ``P``.

        The Hessian's diagonal entry for class k and feature j is ``sum_i w_i
        s_ik (1 - s_ik) x_ij^2`` (plus the L2 strength); its mean over the
        classes replaces ``s_ik (1 - s_ik)`` by ``c_i = (1 - sum_k s_ik^2) /
        K``, which gives::

            M[j] = sum_i w_i c_i x_ij^2 + l2        (the intercepts: sum_i w_i c_i)

        On data whose features differ in frequency or scale (rare words of a
        text) these numbers span orders of magnitude: dividing a step by them
        is the per-feature scaling that makes a diagonal preconditioner
        (``_solvers._conjugate_gradient``). It costs a forward pass and a
        pass over the squared entries of ``X``, with no copy of ``X``'s
        indices; ``forward``, as in ``hessp``, saves the forward pass.
        Entries without curvature (a feature absent from these rows, no
        penalty) take the mean of the others, so that all are positive.
        """
        xp = self.xp
        M_W, M_b = 0.0, 0.0
        blocks, probas = self.probabilities_t(P) if forward is None else forward
        for (X, _, w), S_t in zip(blocks, probas, strict=True):
            wc = w * (1.0 - xp.sum(S_t * S_t, axis=0)) / S_t.shape[0]
            if sp.issparse(X):  # CSR or CSC: the squared entries, same indices
                X2 = type(X)((X.data * X.data, X.indices, X.indptr), shape=X.shape)
                M_W = M_W + X2.T @ wc
            else:
                M_W = M_W + wc @ (X * X)
            M_b = M_b + xp.sum(wc)
        M = M_W + self.penalty.l2
        if self.fit_intercept:
            M = xp.concat([M, xp.reshape(M_b, (1,))])
        positive = M > 0
        n_positive = int(xp.sum(positive))
        fill = (
            float(xp.sum(xp.where(positive, M, 0.0))) / n_positive
            if n_positive
            else 1.0
        )
        return xp.where(positive, M, fill)

    def nonsmooth_value(self, P):
        """``g(P)``: the L1 part of the penalty (0 when ``l1_ratio == 0``)."""
        return self.penalty.nonsmooth_value(self.split(P)[0])

    @property
    def is_smooth(self):
        return self.penalty.is_smooth

    def prox(self, P, step):
        """Proximal step of ``step * g`` on ``P`` (the intercepts are untouched)."""
        if self.is_smooth:
            return P
        W, b = self.split(P)
        return self.join(self.penalty.prox(W, step), b)

    def optimality(self, P, grad):
        """Max-norm of the minimal-norm subgradient of ``J`` at ``P``.

        ``grad`` is the gradient of ``f`` at ``P``. Zero exactly at the optimum.
        """
        if self.is_smooth:
            return float(self.xp.max(self.xp.abs(grad)))
        W, b = self.split(P)
        grad_W, grad_b = self.split(grad)
        sub_W = self.penalty.min_norm_subgradient(W, grad_W)
        return float(self.xp.max(self.xp.abs(self.join(sub_W, grad_b))))
