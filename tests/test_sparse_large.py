"""Sparse input end to end: a problem whose dense form could not exist here."""

import tracemalloc

import numpy as np
import scipy.sparse as sp

from sk_softmax import SoftmaxGDClassifier


def _planted_csr(n_samples, n_features, nnz_per_row, n_classes, seed):
    """CSR data with exactly ``nnz_per_row`` nonzeros a row and labels from a
    planted softmax model, built without any dense (n, d) array."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n_features, size=(n_samples, nnz_per_row))
    data = rng.standard_normal((n_samples, nnz_per_row))
    indptr = np.arange(0, n_samples * nnz_per_row + 1, nnz_per_row)
    X = sp.csr_array((data.ravel(), indices.ravel(), indptr), (n_samples, n_features))
    X.sum_duplicates()
    W = rng.standard_normal((n_classes, n_features))
    y = np.argmax(X @ W.T + rng.gumbel(size=(n_samples, n_classes)), axis=1)
    return X, y


def test_fit_200k_by_100k_csr_without_densifying():
    # Densified in float64, X would take 200_000 * 100_000 * 8 bytes = 160 GB.
    X, y = _planted_csr(200_000, 100_000, 10, n_classes=3, seed=0)
    X_before = X.copy()
    clf = SoftmaxGDClassifier(alpha=1e-4, max_iter=100, tol=1e-3)
    tracemalloc.start()
    try:
        clf.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    n, K, d = X.shape[0], 3, X.shape[1]
    # Memory is O(n K + K d): a few (n, K) temporaries and the
    # L-BFGS memory of 10 pairs of (K, d + 1) arrays; nothing of size n d.
    nK_bytes, P_bytes = n * K * 8, K * (d + 1) * 8
    assert peak < 16 * nK_bytes + 32 * P_bytes, (peak, nK_bytes, P_bytes)
    assert clf.coef_.shape == (3, 100_000)
    # The planted model is learnable: far above the 1/3 of chance.
    assert clf.score(X, y) > 0.8
    # X is untouched.
    assert (X != X_before).nnz == 0
