"""The math of ``_loss.py``, one block of rows at a time: values and
hand-derived gradients of the softmax cross-entropy with label indices,
checked against finite differences, a hand computation, the one-hot formulas
of the derivation, extreme logits and sparse input; and the per-block pieces
of the curvature (Hessian products, its diagonal, the smoothness bounds)."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _problems import central_differences, make_data, one_hot
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp

from sk_softmax._loss import (
    column_moments,
    correct,
    cross_entropy,
    cross_entropy_gradient,
    cross_entropy_hessp,
    curvature,
    gram_product,
    log_softmax,
    logits,
    probabilities_t,
    sample_bounds,
    softmax,
)


def ce(W, b, X, y, w):
    """``cross_entropy`` as a float, in the argument order of the math."""
    return float(cross_entropy(np, X, y, w, W, b))


def ce_gradient(W, b, X, y, w):
    value, grad_W, grad_b = cross_entropy_gradient(np, X, y, w, W, b)
    assert np.ndim(value) == 0
    return float(value), grad_W, grad_b


def reference_cross_entropy(W, b, X, y, w):
    """Independent float64 formula: sum_i w_i (logsumexp(Z_i) - Z_i[y_i])."""
    W, X, w = (np.asarray(a, dtype=np.float64) for a in (W, X, w))
    Z = X @ W.T
    if b is not None:
        Z = Z + np.asarray(b, dtype=np.float64)
    Y = one_hot(y, W.shape[0])
    return float(np.sum(w * (logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1))))


def to64(*arrays):
    return tuple(None if a is None else a.astype(np.float64) for a in arrays)


# ---------------------------------------------------------------------------
# Finite differences
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("uniform_weights", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_cross_entropy_gradient_finite_differences_float64(
    K, fit_intercept, uniform_weights, seed
):
    X, W, b, y, w = make_data(seed, K=K, uniform_weights=uniform_weights)
    if not fit_intercept:
        b = None
    value, grad_W, grad_b = ce_gradient(W, b, X, y, w)

    assert value == pytest.approx(reference_cross_entropy(W, b, X, y, w), rel=1e-12)
    assert value == pytest.approx(ce(W, b, X, y, w), rel=1e-12)
    assert grad_W.shape == (K, X.shape[1])
    assert grad_W.dtype == np.float64

    fd_W = central_differences(lambda V: ce(V, b, X, y, w), W)
    assert_allclose(grad_W, fd_W, rtol=1e-6, atol=1e-9)
    if fit_intercept:
        assert grad_b.shape == (K,)
        fd_b = central_differences(lambda c: ce(W, c, X, y, w), b)
        assert_allclose(grad_b, fd_b, rtol=1e-6, atol=1e-9)
    else:
        assert grad_b is None


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cross_entropy_gradient_finite_differences_float32(K, fit_intercept):
    X, W, b, y, w = make_data(3, K=K, dtype=np.float32)
    if not fit_intercept:
        b = None
    value, grad_W, grad_b = ce_gradient(W, b, X, y, w)
    assert grad_W.dtype == np.float32
    if fit_intercept:
        assert grad_b.dtype == np.float32

    # The same numbers in float64: the finite differences are then accurate
    # and only the float32 arithmetic of the gradient is being judged.
    X64, W64, b64, w64 = to64(X, W, b, w)
    assert value == pytest.approx(
        reference_cross_entropy(W64, b64, X64, y, w64), rel=1e-5
    )
    fd_W = central_differences(lambda V: ce(V, b64, X64, y, w64), W64)
    assert_allclose(grad_W, fd_W, rtol=1e-3, atol=1e-3 * np.abs(fd_W).max())
    if fit_intercept:
        fd_b = central_differences(lambda c: ce(W64, c, X64, y, w64), b64)
        assert_allclose(grad_b, fd_b, rtol=1e-3, atol=1e-3 * np.abs(fd_b).max())


# ---------------------------------------------------------------------------
# Label indices against the one-hot formulas of the derivation
# ---------------------------------------------------------------------------


def one_hot_gradient(Z, y, w):
    """``G = (softmax(Z) - Y) * w[:, None]`` with an explicit one-hot ``Y``."""
    Z = np.asarray(Z, dtype=np.float64)
    S = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
    return (S - one_hot(y, Z.shape[1])) * w[:, None]


@pytest.mark.parametrize("K", [2, 3, 6])
@pytest.mark.parametrize("seed", [0, 1])
def test_label_index_gradient_is_the_one_hot_formula(K, seed):
    """With ``X`` the identity and no intercept, the logits are ``W^T``, so
    ``grad_W = G^T X`` is ``G^T`` itself: the label-index gradient must be
    ``(softmax(Z) - Y) * w`` with an explicit one-hot ``Y``, and the value
    ``sum_i w_i (logsumexp(Z_i) - sum_k Y_ik Z_ik)``."""
    rng = np.random.default_rng(seed)
    n = 9
    Z = 3.0 * rng.standard_normal((n, K))
    y = rng.integers(0, K, size=n)
    w = rng.uniform(0.1, 2.0, size=n)
    w /= w.sum()
    Y = one_hot(y, K)
    value, grad_W, grad_b = ce_gradient(Z.T.copy(), None, np.eye(n), y, w)
    assert grad_b is None
    assert_allclose(grad_W, one_hot_gradient(Z, y, w).T, rtol=1e-13, atol=1e-16)
    expected = np.sum(w * (logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)))
    assert value == pytest.approx(expected, rel=1e-13)
    # With intercepts (X = 0): grad_b is the column sums of the same G.
    b = Z[0]
    _, grad_W, grad_b = ce_gradient(np.zeros((K, 2)), b, np.zeros((n, 2)), y, w)
    G = one_hot_gradient(np.tile(b, (n, 1)), y, w)
    assert_allclose(grad_b, G.sum(axis=0), rtol=1e-13, atol=1e-16)
    assert_array_equal(grad_W, 0.0)


@pytest.mark.parametrize("K", [2, 4])
def test_label_index_gradient_is_the_one_hot_formula_generic(K):
    """The same on a non-numpy array namespace (array_api_strict), where the
    label gather and scatter take their mask branch."""
    xp = pytest.importorskip(
        "array_api_strict",
        reason="array-api-strict (the test and array-api extras) is not installed",
    )
    rng = np.random.default_rng(K)
    n = 7
    Z = rng.standard_normal((n, K))
    y = rng.integers(0, K, size=n)
    w = rng.uniform(0.1, 2.0, size=n)
    w /= w.sum()
    value = cross_entropy(
        xp, xp.asarray(np.eye(n)), xp.asarray(y), xp.asarray(w), xp.asarray(Z.T), None
    )
    expected = np.sum(w * (logsumexp(Z, axis=1) - Z[np.arange(n), y]))
    assert float(value) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("K", [2, 4])
def test_label_index_gradient_generic_namespace(K):
    """``cross_entropy_gradient`` on array_api_strict arrays equals the
    one-hot formula (see ``test_backend`` for the scatter alone)."""
    xp = pytest.importorskip(
        "array_api_strict",
        reason="array-api-strict (the test and array-api extras) is not installed",
    )
    rng = np.random.default_rng(K)
    n = 7
    Z = rng.standard_normal((n, K))
    y = rng.integers(0, K, size=n)
    w = rng.uniform(0.1, 2.0, size=n)
    w /= w.sum()
    _, grad_W, _ = cross_entropy_gradient(
        xp, xp.asarray(np.eye(n)), xp.asarray(y), xp.asarray(w), xp.asarray(Z.T), None
    )
    assert_allclose(np.asarray(grad_W), one_hot_gradient(Z, y, w).T, rtol=1e-13)


# ---------------------------------------------------------------------------
# A hand computation
# ---------------------------------------------------------------------------


def test_hand_computed_three_samples():
    X = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
    b = np.array([0.0, 1.0, -1.0])
    y = np.array([1, 0, 2])
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    w = np.array([0.5, 0.25, 0.25])

    # Z = X W^T + b, worked out by hand:
    #   x0 = (1, 2):  (1, 2, -1 + 2) + (0, 1, -1) = (1, 3, 0)
    #   x1 = (0, -1): (0, -1, -1)    + (0, 1, -1) = (0, 0, -2)
    #   x2 = (3, 1):  (3, 1, -3 + 1) + (0, 1, -1) = (3, 2, -3)
    Z = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, -2.0], [3.0, 2.0, -3.0]])
    assert_array_equal(logits(X, W, b), Z)

    E = np.array(
        [
            [np.exp(1.0), np.exp(3.0), np.exp(0.0)],
            [np.exp(0.0), np.exp(0.0), np.exp(-2.0)],
            [np.exp(3.0), np.exp(2.0), np.exp(-3.0)],
        ]
    )
    totals = np.array(
        [
            E[0, 0] + E[0, 1] + E[0, 2],
            E[1, 0] + E[1, 1] + E[1, 2],
            E[2, 0] + E[2, 1] + E[2, 2],
        ]
    )
    S = E / totals[:, None]
    # CE_i = -log S[i, y_i]
    CE = np.array([-np.log(S[0, 1]), -np.log(S[1, 0]), -np.log(S[2, 2])])
    J = w[0] * CE[0] + w[1] * CE[1] + w[2] * CE[2]
    G = (S - Y) * w[:, None]
    grad_W = np.zeros((3, 2))
    for k in range(3):
        for j in range(2):
            grad_W[k, j] = G[0, k] * X[0, j] + G[1, k] * X[1, j] + G[2, k] * X[2, j]
    grad_b = G[0] + G[1] + G[2]

    assert_allclose(softmax(Z, np), S, rtol=1e-14)
    assert_allclose(log_softmax(Z, np), np.log(S), rtol=1e-14)
    assert_allclose(probabilities_t(np, X, y, w, W, b), S.T, rtol=1e-14)
    value, gW, gb = ce_gradient(W, b, X, y, w)
    assert value == pytest.approx(J, rel=1e-14)
    assert ce(W, b, X, y, w) == pytest.approx(J, rel=1e-14)
    assert_allclose(gW, grad_W, rtol=1e-13, atol=1e-15)
    assert_allclose(gb, grad_b, rtol=1e-13, atol=1e-15)

    # Sample 1 has two equal largest logits: S[1] = (1, 1, e^-2) / (2 + e^-2).
    assert S[1, 0] == pytest.approx(1 / (2 + np.exp(-2.0)), rel=1e-15)
    # Its largest logit is its own class 0 (argmax takes the first of the
    # tie); sample 0 predicts 1 = y_0; sample 2 predicts 0 != 2.
    assert float(correct(np, X, y, w, W, b)) == pytest.approx(w[0] + w[1])


# ---------------------------------------------------------------------------
# Stability with extreme logits
# ---------------------------------------------------------------------------


def fail_on_float_problems():
    """Overflow, invalid operations and divisions by zero raise (underflow of
    exp to 0 is the correct result for a very negative logit)."""
    return np.errstate(over="raise", invalid="raise", divide="raise", under="ignore")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_extreme_logits(dtype):
    Z = np.array(
        [
            [1e4, -1e4],
            [-1e4, 1e4],
            [1e4, 1e4 - 1.0],
            [-1e4, -1e4 + 3.0],
            [1e4, 1e4],
        ],
        dtype=dtype,
    )
    # Worked out by hand: log_softmax(a, a - c) = (-log(1 + e^-c), -c - log(1 + e^-c)).
    l1, l3 = np.log1p(np.exp(-1.0)), np.log1p(np.exp(-3.0))
    expected_log = np.array(
        [
            [0.0, -2e4],
            [-2e4, 0.0],
            [-l1, -1.0 - l1],
            [-3.0 - l3, -l3],
            [-np.log(2.0), -np.log(2.0)],
        ]
    )
    with warnings.catch_warnings(), fail_on_float_problems():
        warnings.simplefilter("error")
        S = softmax(Z, np)
        logS = log_softmax(Z, np)

    assert S.dtype == dtype and logS.dtype == dtype
    assert np.all(np.isfinite(S))
    assert np.all(np.isfinite(logS))  # no -inf where the true value is finite
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    assert_allclose(logS, expected_log, rtol=rtol, atol=rtol)
    assert_allclose(S, np.exp(expected_log), rtol=rtol, atol=1e-30)
    assert_allclose(S.sum(axis=1), 1.0, rtol=rtol)


def extreme_case(case):
    """X, W, b with logits of +-1e4, and the logits worked out by hand."""
    if case == "huge X entry":
        X = np.array([[1e4, 1.0], [-1.0, 2.0]])
        W = np.array([[1.0, 0.0], [-1.0, 0.0]])
        b = None
        Z = np.array([[1e4, -1e4], [-1.0, 1.0]])
    elif case == "huge W":
        X = np.array([[1.0, 0.5], [-1.0, 2.0]])
        W = np.array([[1e4, 0.0], [-1e4, 0.0]])
        b = None
        Z = np.array([[1e4, -1e4], [-1e4, 1e4]])
    else:  # huge intercept
        X = np.array([[1.0, 0.5], [-1.0, 2.0]])
        W = np.array([[1.0, 0.0], [-1.0, 0.0]])
        b = np.array([1e4, -1e4])
        Z = np.array([[1e4 + 1, -1e4 - 1], [1e4 - 1, -1e4 + 1]])
    return X, W, b, Z


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["huge X entry", "huge W", "huge intercept"])
def test_cross_entropy_gradient_extreme_logits(dtype, case):
    X, W, b, Z = extreme_case(case)
    # Sample 0 is labelled with its *least* likely class: CE_0 is about 2e4.
    y = np.array([1, 0])
    Y = one_hot(y, 2)
    w = np.array([0.5, 0.5])

    # Expected values from the hand-written logits, in float64.
    lse = np.logaddexp(Z[:, 0], Z[:, 1])
    expected_value = float(np.sum(w * (lse - np.sum(Y * Z, axis=1))))
    S = np.exp(Z - lse[:, None])
    G = (S - Y) * w[:, None]
    expected_grad_W = G.T @ X
    expected_grad_b = G.sum(axis=0)
    assert expected_value > 0.5 * 2e4  # really is a huge loss

    args = [a.astype(dtype) for a in (X, W)] + [None if b is None else b.astype(dtype)]
    Xd, Wd, bd = args
    wd = w.astype(dtype)
    with warnings.catch_warnings(), fail_on_float_problems():
        warnings.simplefilter("error")
        value, grad_W, grad_b = ce_gradient(Wd, bd, Xd, y, wd)
        value_fwd = ce(Wd, bd, Xd, y, wd)
        Zd = logits(Xd, Wd, bd)
        S_pkg = softmax(Zd, np)
        logS_pkg = log_softmax(Zd, np)
        S_t = probabilities_t(np, Xd, y, wd, Wd, bd)

    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.isfinite(value) and np.isfinite(value_fwd)
    assert value == pytest.approx(expected_value, rel=rtol)
    assert value_fwd == pytest.approx(expected_value, rel=rtol)
    assert grad_W.dtype == dtype
    assert np.all(np.isfinite(grad_W))
    assert_allclose(grad_W, expected_grad_W, rtol=rtol, atol=rtol)
    if b is not None:
        assert np.all(np.isfinite(grad_b))
        assert_allclose(grad_b, expected_grad_b, rtol=rtol, atol=rtol)
    assert np.all(np.isfinite(S_pkg)) and np.all(np.isfinite(logS_pkg))
    assert_allclose(S_pkg.sum(axis=1), 1.0, rtol=rtol)
    assert_allclose(logS_pkg, Z - lse[:, None], rtol=rtol)
    assert_allclose(S_t, S.T, rtol=rtol, atol=1e-30)


# ---------------------------------------------------------------------------
# Sparse X
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sparse_container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array]
)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_X_matches_dense(sparse_container, fit_intercept, dtype):
    X, W, b, y, w = make_data(6, n=40, d=6, K=3, dtype=dtype)
    rng = np.random.default_rng(7)
    X[rng.uniform(size=X.shape) < 0.6] = 0.0  # a genuinely sparse matrix
    X_sparse = sparse_container(X)
    assert X_sparse.nnz < X.size
    if not fit_intercept:
        b = None
    rtol = 1e-5 if dtype == np.float32 else 1e-12

    dense = ce_gradient(W, b, X, y, w)
    sparse = ce_gradient(W, b, X_sparse, y, w)
    assert sparse[0] == pytest.approx(dense[0], rel=rtol)
    assert isinstance(sparse[1], np.ndarray)
    assert sparse[1].dtype == dtype
    assert_allclose(sparse[1], dense[1], rtol=rtol, atol=1e-7)
    if fit_intercept:
        assert_allclose(sparse[2], dense[2], rtol=rtol, atol=1e-7)
    else:
        assert sparse[2] is None
    assert ce(W, b, X_sparse, y, w) == pytest.approx(dense[0], rel=rtol)

    # The other per-block pieces, too.
    S_t = probabilities_t(np, X, y, w, W, b)
    assert_allclose(probabilities_t(np, X_sparse, y, w, W, b), S_t, rtol=rtol)
    for fn in (curvature, lambda *a: column_moments(*a[:4])):
        for got, expected in zip(
            fn(np, X_sparse, y, w, S_t), fn(np, X, y, w, S_t), strict=True
        ):
            assert np.asarray(got).dtype == dtype
            assert_allclose(got, expected, rtol=rtol, atol=1e-7)


# ---------------------------------------------------------------------------
# Memory on sparse X
# ---------------------------------------------------------------------------


def _traced_peak(fn):
    """The peak of the bytes numpy allocates (tracemalloc) while ``fn()`` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _text_like(n, d, K, nnz_per_row, seed=0):
    """CSR data, label indices, uniform weights and column-major parameters
    (the layout ``ArrayBackend.parameter_layout`` gives the full-batch fit)."""
    rng = np.random.default_rng(seed)
    indices = np.sort(rng.choice(d, size=(n, nnz_per_row)), axis=1).ravel()
    indptr = np.arange(0, n * nnz_per_row + 1, nnz_per_row)
    X = sp.csr_array((rng.random(n * nnz_per_row), indices, indptr), (n, d))
    W = np.asfortranarray(0.1 * rng.standard_normal((K, d)))
    return X, rng.integers(0, K, n), np.full(n, 1.0 / n), W, rng.standard_normal(K)


@pytest.mark.parametrize(
    "fn", [cross_entropy, cross_entropy_gradient, probabilities_t], ids=repr
)
def test_a_pass_on_sparse_X_holds_one_n_by_K_array(fn):
    """The (K, n) logits are the only array of that size a pass builds: the
    exponentials, ``S^T`` and ``G^T`` are computed in their memory, and scipy
    reads the column-major ``W`` and ``G^T`` without a transposing copy.
    Separate exponentials (or softmax's shifted copy) would reach twice or
    three times ``n K`` numbers."""
    n, d, K = 20_000, 50, 20
    X, y, w, W, b = _text_like(n, d, K, nnz_per_row=5)
    nK_bytes = n * K * 8  # 3.2 MB; W and the (n,) vectors are 8 KB and 160 KB
    peak = _traced_peak(lambda: fn(np, X, y, w, W, b))
    assert peak < 1.5 * nK_bytes, (peak, nK_bytes)


def test_column_moments_on_sparse_X_hold_one_copy_of_its_data():
    """``|X|`` and ``X * X`` are one copy of ``X.data`` each, made one after
    the other: never both at once."""
    X, y, w, _, _ = _text_like(n=20_000, d=50, K=2, nnz_per_row=20)
    peak = _traced_peak(lambda: column_moments(np, X, y, w))
    assert peak < 1.5 * X.data.nbytes, (peak, X.data.nbytes)


# ---------------------------------------------------------------------------
# Properties of the derivation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intercept_gradient_sums_to_zero_over_classes(K, dtype, seed):
    # Each row of S - Y sums to 1 - 1 = 0, hence sum_k grad_b[k] = 0; the same
    # holds for the columns of grad_W (sum_k grad_W[k, j] = 0) without L2.
    X, W, b, y, w = make_data(seed, K=K, dtype=dtype)
    _, grad_W, grad_b = ce_gradient(W, b, X, y, w)
    atol = 1e-6 if dtype == np.float32 else 1e-15
    assert np.abs(grad_b).max() > 100 * atol  # the zero sum is not trivial
    assert abs(float(np.sum(grad_b))) <= atol
    assert_allclose(grad_W.sum(axis=0), 0.0, atol=10 * atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_zero_coefficients_take_the_intercepts_as_logits(dtype, fit_intercept, sparse):
    """At W = 0, where fits start, the product with X is skipped: the value
    and gradients are those of the logits Z = b, by the hand formulas."""
    X, W, b, y, w = make_data(12, n=40, d=5, K=3, dtype=dtype)
    W0 = np.zeros_like(W)
    b = b if fit_intercept else None
    data = sp.csr_array(X) if sparse else X
    value, grad_W, grad_b = ce_gradient(W0, b, data, y, w)
    Z = np.zeros((X.shape[0], 3)) + (0.0 if b is None else b)
    G = (softmax(Z, np) - one_hot(y, 3)) * w[:, None]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert value == pytest.approx(reference_cross_entropy(W0, b, X, y, w), rel=rtol)
    assert grad_W.dtype == dtype
    assert_allclose(grad_W, G.T @ X, rtol=rtol, atol=1e-7)
    if fit_intercept:
        assert_allclose(grad_b, G.sum(axis=0), rtol=rtol, atol=1e-7)
    else:
        assert grad_b is None
    assert ce(W0, b, data, y, w) == pytest.approx(value, rel=rtol)


# ---------------------------------------------------------------------------
# Curvature, one block
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessp_is_the_derivative_of_the_block_gradient(K, fit_intercept):
    """``cross_entropy_hessp`` at the probabilities of ``(W, b)`` applied to
    ``(V, c)`` is the directional derivative of ``cross_entropy_gradient``
    along ``(V, c)`` (central differences, error O(h^2))."""
    X, W, b, y, w = make_data(5, n=60, K=K)
    if not fit_intercept:
        b = None
    S_t = probabilities_t(np, X, y, w, W, b)
    rng = np.random.default_rng(0)
    h = 1e-5
    for _ in range(3):
        V = rng.standard_normal(W.shape)
        c = None if b is None else rng.standard_normal(K)
        plus = ce_gradient(W + h * V, None if b is None else b + h * c, X, y, w)
        minus = ce_gradient(W - h * V, None if b is None else b - h * c, X, y, w)
        HV, Hc = cross_entropy_hessp(np, X, y, w, S_t, V, c)
        assert_allclose(HV, (plus[1] - minus[1]) / (2 * h), rtol=1e-6, atol=1e-9)
        if b is None:
            assert Hc is None
        else:
            assert_allclose(Hc, (plus[2] - minus[2]) / (2 * h), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("fmt", [None, "csr", "csc"])
def test_curvature_is_the_class_mean_of_the_hessian_diagonal(fmt):
    """``curvature`` gives ``sum_i w_i c_i x_ij^2`` and ``sum_i w_i c_i``,
    ``c_i`` the mean over the classes of ``s_ik (1 - s_ik)``: the mean over
    the classes of the Hessian's diagonal entries of feature j (and of the
    intercepts), each one ``H(E_kj) [k, j]`` for the unit direction
    ``E_kj``."""
    X, W, b, y, w = make_data(9, n=50, d=4, K=3)
    data = X if fmt is None else sp.csr_array(X).asformat(fmt)
    S_t = probabilities_t(np, X, y, w, W, b)
    M_W, M_b = curvature(np, data, y, w, S_t)
    diag_W, diag_b = np.zeros_like(W), np.zeros_like(b)
    for k in range(3):
        for j in range(4):
            V = np.zeros_like(W)
            V[k, j] = 1.0
            diag_W[k, j] = cross_entropy_hessp(np, X, y, w, S_t, V, None)[0][k, j]
        c = np.zeros_like(b)
        c[k] = 1.0
        diag_b[k] = cross_entropy_hessp(np, X, y, w, S_t, np.zeros_like(W), c)[1][k]
    assert_allclose(M_W, diag_W.mean(axis=0), rtol=1e-12)
    assert float(M_b) == pytest.approx(diag_b.mean(), rel=1e-12)
    # and the hand formula
    c_i = np.mean(S_t * (1 - S_t), axis=0)
    assert_allclose(M_W, (w * c_i) @ X**2, rtol=1e-12)


@pytest.mark.parametrize("fmt", [None, "csr", "csc"])
def test_column_moments_are_weighted_absolute_and_squared_means(fmt):
    X, _, _, y, w = make_data(10, n=40, d=5)
    X[X < -0.5] = 0.0
    data = X if fmt is None else sp.csr_array(X).asformat(fmt)
    first, second = column_moments(np, data, y, w)
    assert_allclose(first, w @ np.abs(X), rtol=1e-13)
    assert_allclose(second, w @ (X * X), rtol=1e-13)


def test_correct_is_the_weighted_count_of_right_predictions():
    X, W, b, y, w = make_data(11, n=50, K=4)
    predicted = np.argmax(X @ W.T + b, axis=1)
    assert (predicted == y).any() and (predicted != y).any()
    assert float(correct(np, X, y, w, W, b)) == pytest.approx(
        w[predicted == y].sum(), rel=1e-14
    )
    predicted = np.argmax(X @ W.T, axis=1)
    assert float(correct(np, X, y, w, W, None)) == pytest.approx(
        w[predicted == y].sum(), rel=1e-14
    )


@pytest.mark.parametrize("sparse", [False, True])
def test_sample_bounds_and_gram_product(sparse):
    """``sample_bounds``: the weight, the weighted squared row norms and the
    per-row curvature weights ``w_i min(max_k s_ik, 2 max_k s_ik (1 - s_ik))``;
    ``gram_product``: ``[X, 1]^T diag(u) [X, 1] (v, v0)``."""
    X, W, b, y, w = make_data(12, n=30, d=4, K=3)
    data = sp.csr_array(X) if sparse else X
    (total, row_sq), wc = sample_bounds(np, data, y, w, W, b)
    assert float(total) == pytest.approx(w.sum(), rel=1e-14)
    assert float(row_sq) == pytest.approx(np.sum(w * np.sum(X * X, axis=1)))
    S = softmax(X @ W.T + b, np)
    c = np.minimum(S.max(axis=1), 2 * np.max(S * (1 - S), axis=1))
    assert_allclose(wc, w * c, rtol=1e-13)
    assert np.all(c <= 0.5 + 1e-15)  # the global bound of the curvature
    v = np.random.default_rng(0).standard_normal(4)
    Xe = np.column_stack([X, np.ones(30)])
    expected = Xe.T @ (wc[:, None] * Xe) @ np.append(v, 0.7)
    Xv, u_sum = gram_product(np, data, y, w, wc, v, 0.7)
    assert_allclose(Xv, expected[:4], rtol=1e-13)
    assert float(u_sum) == pytest.approx(expected[4], rel=1e-13)


@pytest.mark.parametrize("K, d", [(3, 40), (10, 40), (1, 8)])
def test_logits_of_float32_rows_are_class_major_whatever_the_product(K, d):
    """The class-major logits ``W X^T + b`` of float32 rows, whichever
    product computes them (``X W^T`` with few classes, ``4 K <= d``): the
    same numbers, row-major (K, n), a fresh array, and ``W`` and ``X``
    unchanged."""
    from sk_softmax._loss import _logits_t

    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, d)).astype(np.float32)
    P = rng.standard_normal((K, d + 1)).astype(np.float32)
    W, b = P[:, :d], P[:, d]  # a strided view, as the solvers pass
    before = (X.copy(), P.copy())
    Z = _logits_t(X, W, b, np)
    assert Z.shape == (K, 300) and Z.dtype == np.float32
    assert Z.flags.c_contiguous
    assert not np.shares_memory(Z, X) and not np.shares_memory(Z, P)
    expected = W.astype(np.float64) @ X.T.astype(np.float64) + b[:, None]
    assert_allclose(Z, expected, rtol=1e-5, atol=1e-5)
    assert_array_equal(X, before[0])
    assert_array_equal(P, before[1])
