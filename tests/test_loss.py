"""The math of ``_loss.py``: values and hand-derived gradients of the softmax
cross-entropy, checked against finite differences, a hand computation,
independent numpy/scipy formulas, extreme logits and sparse input."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp

from sk_softmax._loss import (
    SoftmaxObjective,
    cross_entropy,
    cross_entropy_gradient,
    log_softmax,
    logits,
    softmax,
)

# Float64 steps for central differences: truncation error O(h^2 f''') and
# rounding error O(eps |f| / h) are both around 1e-11 with h = 1e-5.
FD_STEP = 1e-5


def make_data(seed, n=30, d=4, K=3, dtype=np.float64, uniform_weights=False):
    """Random X, W, b, one-hot Y and normalised (non-uniform) sample weights."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((K, d))
    b = 0.5 * rng.standard_normal(K)
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)  # every class present
    Y = np.eye(K)[y]
    w = np.ones(n) if uniform_weights else rng.uniform(0.1, 3.0, size=n)
    w = w / w.sum()
    return tuple(a.astype(dtype) for a in (X, W, b, Y, w))


def reference_cross_entropy(W, b, X, Y, w):
    """Independent float64 formula: sum_i w_i (logsumexp(Z_i) - Z_i[y_i])."""
    W, X, Y, w = (np.asarray(a, dtype=np.float64) for a in (W, X, Y, w))
    Z = X @ W.T
    if b is not None:
        Z = Z + np.asarray(b, dtype=np.float64)
    return float(np.sum(w * (logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1))))


def central_differences(f, P, h=FD_STEP):
    """Gradient of the scalar function ``f`` at the float64 array ``P``."""
    P = np.asarray(P, dtype=np.float64)
    grad = np.zeros_like(P)
    for idx in np.ndindex(P.shape):
        Pp, Pm = P.copy(), P.copy()
        Pp[idx] += h
        Pm[idx] -= h
        grad[idx] = (f(Pp) - f(Pm)) / (2 * h)
    return grad


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
    X, W, b, Y, w = make_data(seed, K=K, uniform_weights=uniform_weights)
    if not fit_intercept:
        b = None
    value, grad_W, grad_b = cross_entropy_gradient(W, b, X, Y, w, np)

    assert value == pytest.approx(reference_cross_entropy(W, b, X, Y, w), rel=1e-12)
    assert value == pytest.approx(cross_entropy(W, b, X, Y, w, np), rel=1e-12)
    assert grad_W.shape == (K, X.shape[1])
    assert grad_W.dtype == np.float64

    fd_W = central_differences(lambda V: cross_entropy(V, b, X, Y, w, np), W)
    assert_allclose(grad_W, fd_W, rtol=1e-6, atol=1e-9)
    if fit_intercept:
        assert grad_b.shape == (K,)
        fd_b = central_differences(lambda c: cross_entropy(W, c, X, Y, w, np), b)
        assert_allclose(grad_b, fd_b, rtol=1e-6, atol=1e-9)
    else:
        assert grad_b is None


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cross_entropy_gradient_finite_differences_float32(K, fit_intercept):
    X, W, b, Y, w = make_data(3, K=K, dtype=np.float32)
    if not fit_intercept:
        b = None
    value, grad_W, grad_b = cross_entropy_gradient(W, b, X, Y, w, np)
    assert grad_W.dtype == np.float32
    if fit_intercept:
        assert grad_b.dtype == np.float32

    # The same numbers in float64: the finite differences are then accurate
    # and only the float32 arithmetic of the gradient is being judged.
    X64, W64, b64, Y64, w64 = to64(X, W, b, Y, w)
    assert value == pytest.approx(
        reference_cross_entropy(W64, b64, X64, Y64, w64), rel=1e-5
    )
    fd_W = central_differences(lambda V: cross_entropy(V, b64, X64, Y64, w64, np), W64)
    assert_allclose(grad_W, fd_W, rtol=1e-3, atol=1e-3 * np.abs(fd_W).max())
    if fit_intercept:
        fd_b = central_differences(
            lambda c: cross_entropy(W64, c, X64, Y64, w64, np), b64
        )
        assert_allclose(grad_b, fd_b, rtol=1e-3, atol=1e-3 * np.abs(fd_b).max())


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha, l1_ratio", [(0.0, 0.0), (0.3, 0.0), (0.3, 0.4)])
def test_objective_smooth_gradient_finite_differences_float64(
    K, fit_intercept, alpha, l1_ratio
):
    X, W, b, Y, w = make_data(4, K=K)
    P = np.column_stack([W, b]) if fit_intercept else W
    obj = SoftmaxObjective(X, Y, w, alpha, l1_ratio, fit_intercept, np)
    value, grad = obj.smooth_value_and_gradient(P)

    assert grad.shape == P.shape
    expected = reference_cross_entropy(
        W, b if fit_intercept else None, X, Y, w
    ) + alpha * (1 - l1_ratio) / 2 * np.sum(W**2)
    assert value == pytest.approx(expected, rel=1e-12)
    assert value == pytest.approx(obj.smooth_value(P), rel=1e-12)
    fd = central_differences(obj.smooth_value, P)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def several_blocks(obj):
    """The same objective evaluated in row blocks of 256 samples (the minimum)."""
    obj.block_bytes = 1
    assert len(obj._row_blocks()) > 1
    return obj


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_hessp_is_the_derivative_of_the_gradient(K, fit_intercept, alpha):
    X, W, b, Y, w = make_data(5, n=600, K=K)
    P = np.column_stack([W, b]) if fit_intercept else W
    obj = several_blocks(SoftmaxObjective(X, Y, w, alpha, 0.0, fit_intercept, np))
    hessp = obj.hessp(P)
    rng = np.random.default_rng(0)
    for _ in range(3):
        D = rng.standard_normal(P.shape)
        # Central differences of the gradient along D: error O(h^2).
        h = 1e-5
        fd = (
            obj.smooth_value_and_gradient(P + h * D)[1]
            - obj.smooth_value_and_gradient(P - h * D)[1]
        ) / (2 * h)
        HD = hessp(D)
        assert HD.shape == P.shape
        assert_allclose(HD, fd, rtol=1e-6, atol=1e-9)
        assert_array_equal(obj.hessp(P, obj.probabilities_t(P))(D), HD)


def hessian_matrix(obj, P):
    """The Hessian of the smooth objective at ``P``, column by column."""
    hessp = obj.hessp(P)
    basis = np.eye(P.size).reshape(P.size, *P.shape)
    return np.stack([hessp(E).ravel() for E in basis])


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_symmetric_positive_semidefinite(fit_intercept):
    X, W, b, Y, w = make_data(6, K=3)
    P = np.column_stack([W, b]) if fit_intercept else W
    obj = SoftmaxObjective(X, Y, w, 0.0, 0.0, fit_intercept, np)
    H = hessian_matrix(obj, P)
    assert_allclose(H, H.T, atol=1e-14)
    eigenvalues = np.linalg.eigvalsh(H)
    assert eigenvalues.min() > -1e-12
    # Adding the same number to every class's logits changes nothing: for each
    # feature (and the intercept), the all-ones direction over the classes is
    # in the kernel of the unpenalised Hessian.
    ones = np.zeros_like(P)
    ones[:, 0] = 1.0
    assert_allclose(obj.hessp(P)(ones), 0.0, atol=1e-14)
    assert eigenvalues.max() > 1e-3


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_smoothness_is_the_hessian_bound_at_the_point(K, fit_intercept):
    """``smoothness`` bounds the curvature: for the full batch, the Hessian's
    largest eigenvalue at ``P``, from the probabilities at ``P`` (exact at
    ``P = 0``, where they are uniform); for batches of one, the mean of the
    single samples' largest eigenvalues."""
    X, W, b, Y, w = make_data(8, n=60, d=5, K=K)
    l2 = 0.05
    obj = SoftmaxObjective(X, Y, w, l2, 0.0, fit_intercept, np)
    n = X.shape[0]
    for P in (np.zeros_like(W), 3 * W):
        P = np.column_stack([P, 3 * b if P.any() else 0 * b]) if fit_intercept else P
        rng = np.random.default_rng(0)
        L_full = obj.smoothness(P, n, rng, n_power_iter=200)
        L_one = obj.smoothness(P, 1, rng, n_power_iter=200)
        top = np.linalg.eigvalsh(hessian_matrix(obj, P)).max()
        assert top <= L_full * (1 + 1e-9)
        singles = []
        for i in range(n):
            single = SoftmaxObjective(
                X[i : i + 1], Y[i : i + 1], np.ones(1), l2, 0.0, fit_intercept, np
            )
            singles.append(np.linalg.eigvalsh(hessian_matrix(single, P)).max())
        assert np.dot(w, singles) <= L_one * (1 + 1e-9)
    # Exact at P = 0 without a penalty (whose L2 part spares the intercepts).
    obj = SoftmaxObjective(X, Y, w, 0.0, 0.0, fit_intercept, np)
    P = np.zeros((K, X.shape[1] + fit_intercept))
    top = np.linalg.eigvalsh(hessian_matrix(obj, P)).max()
    L_full = obj.smoothness(P, n, np.random.default_rng(0), n_power_iter=200)
    assert_allclose(L_full, top, rtol=1e-6)


@pytest.mark.parametrize("fmt", [None, "csr", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_feature_curvature_is_the_class_mean_of_the_hessian_diagonal(
    fmt, fit_intercept, alpha
):
    """Column j (and the intercepts' column) of ``feature_curvature`` holds
    the mean over the classes of the Hessian's diagonal entries of feature
    j, computed from the exact Hessian; features of very different scales
    give very different entries."""
    X, W, b, Y, w = make_data(9, n=600, d=5, K=4)
    X = X * np.array([1e-2, 0.1, 1.0, 10.0, 1.0])
    X[np.abs(X) < 0.3 * np.abs(X).max(axis=0)] = 0.0
    P = np.column_stack([W, b]) if fit_intercept else W
    if fmt is None:
        obj = several_blocks(SoftmaxObjective(X, Y, w, alpha, 0.0, fit_intercept, np))
    else:
        data = sp.csr_array(X).asformat(fmt)
        obj = SoftmaxObjective(data, Y, w, alpha, 0.0, fit_intercept, np)
    M = obj.feature_curvature(P)
    assert M.shape == (P.shape[1],)
    # the forward pass newton_cg shares with hessp gives the same numbers
    assert_array_equal(obj.feature_curvature(P, obj.probabilities_t(P)), M)
    expected = np.diag(hessian_matrix(obj, P)).reshape(P.shape).mean(axis=0)
    assert_allclose(M, expected, rtol=1e-12)
    data_part = M[:5] - alpha  # the penalty's L2 part is alpha here
    assert data_part[3] > 1e4 * data_part[0] > 0


def test_feature_curvature_fills_features_without_curvature():
    """A feature that is zero on every row has no curvature without a
    penalty: its entry takes the mean of the others, so that every entry can
    divide a step."""
    X, W, b, Y, w = make_data(10, n=30, d=4, K=3)
    X[:, 1] = 0.0
    P = np.column_stack([W, b])
    for data in (X, sp.csr_array(X)):
        M = SoftmaxObjective(data, Y, w, 0.0, 0.0, True, np).feature_curvature(P)
        others = np.delete(M, 1)
        assert np.all(others > 0)
        assert M[1] == pytest.approx(others.mean(), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_feature_curvature_keeps_the_dtype(dtype):
    X, W, b, Y, w = make_data(11, n=30, d=4, K=3, dtype=dtype)
    P = np.column_stack([W, b])
    for data in (X, sp.csr_array(X)):
        M = SoftmaxObjective(data, Y, w, 0.1, 0.0, True, np).feature_curvature(P)
        assert M.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hessp_sparse_matches_dense_and_keeps_dtype(dtype):
    X, W, b, Y, w = make_data(7, n=50, d=6, K=3, dtype=dtype)
    X[np.abs(X) < 0.8] = 0
    P = np.column_stack([W, b])
    D = np.random.default_rng(1).standard_normal(P.shape).astype(dtype)
    dense = SoftmaxObjective(X, Y, w, 0.1, 0.0, True, np)
    sparse = SoftmaxObjective(sp.csr_array(X), Y, w, 0.1, 0.0, True, np)
    HD_dense = dense.hessp(P)(D)
    HD_sparse = sparse.hessp(P)(D)
    assert HD_dense.dtype == HD_sparse.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(HD_sparse, HD_dense, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_objective_smooth_gradient_finite_differences_float32(
    K, fit_intercept, l1_ratio
):
    alpha = 0.2
    X, W, b, Y, w = make_data(5, K=K, dtype=np.float32)
    P = np.column_stack([W, b]) if fit_intercept else W
    obj = SoftmaxObjective(X, Y, w, alpha, l1_ratio, fit_intercept, np)
    value, grad = obj.smooth_value_and_gradient(P)
    assert P.dtype == np.float32
    assert grad.dtype == np.float32

    X64, Y64, w64, P64 = to64(X, Y, w, P)
    obj64 = SoftmaxObjective(X64, Y64, w64, alpha, l1_ratio, fit_intercept, np)
    assert value == pytest.approx(obj64.smooth_value(P64), rel=1e-5)
    fd = central_differences(obj64.smooth_value, P64)
    assert_allclose(grad, fd, rtol=1e-3, atol=1e-3 * np.abs(fd).max())


# ---------------------------------------------------------------------------
# A hand computation
# ---------------------------------------------------------------------------


def test_hand_computed_three_samples():
    X = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
    b = np.array([0.0, 1.0, -1.0])
    # labels 1, 0, 2
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
    value, gW, gb = cross_entropy_gradient(W, b, X, Y, w, np)
    assert value == pytest.approx(J, rel=1e-14)
    assert cross_entropy(W, b, X, Y, w, np) == pytest.approx(J, rel=1e-14)
    assert_allclose(gW, grad_W, rtol=1e-13, atol=1e-15)
    assert_allclose(gb, grad_b, rtol=1e-13, atol=1e-15)

    # Sample 1 has two equal largest logits: S[1] = (1, 1, e^-2) / (2 + e^-2).
    assert S[1, 0] == pytest.approx(1 / (2 + np.exp(-2.0)), rel=1e-15)

    # The same through the objective, with an L2 term alpha / 2 ||W||^2 = 0.25 * 4.
    obj = SoftmaxObjective(X, Y, w, 0.5, 0.0, True, np)
    value, grad = obj.smooth_value_and_gradient(np.column_stack([W, b]))
    assert value == pytest.approx(J + 0.25 * 4.0, rel=1e-14)
    assert_allclose(grad, np.column_stack([grad_W + 0.5 * W, grad_b]), rtol=1e-13)


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
    Y = np.array([[0.0, 1.0], [1.0, 0.0]])
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
    Yd, wd = Y.astype(dtype), w.astype(dtype)
    with warnings.catch_warnings(), fail_on_float_problems():
        warnings.simplefilter("error")
        value, grad_W, grad_b = cross_entropy_gradient(Wd, bd, Xd, Yd, wd, np)
        value_fwd = cross_entropy(Wd, bd, Xd, Yd, wd, np)
        Zd = logits(Xd, Wd, bd)
        S_pkg = softmax(Zd, np)
        logS_pkg = log_softmax(Zd, np)

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


# ---------------------------------------------------------------------------
# Sparse X
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sparse_container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array]
)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_X_matches_dense(sparse_container, fit_intercept, dtype):
    X, W, b, Y, w = make_data(6, n=40, d=6, K=3, dtype=dtype)
    rng = np.random.default_rng(7)
    X[rng.uniform(size=X.shape) < 0.6] = 0.0  # a genuinely sparse matrix
    X_sparse = sparse_container(X)
    assert X_sparse.nnz < X.size
    if not fit_intercept:
        b = None
    rtol = 1e-5 if dtype == np.float32 else 1e-12

    dense = cross_entropy_gradient(W, b, X, Y, w, np)
    sparse = cross_entropy_gradient(W, b, X_sparse, Y, w, np)
    assert sparse[0] == pytest.approx(dense[0], rel=rtol)
    assert isinstance(sparse[1], np.ndarray)
    assert sparse[1].dtype == dtype
    assert_allclose(sparse[1], dense[1], rtol=rtol, atol=1e-7)
    if fit_intercept:
        assert_allclose(sparse[2], dense[2], rtol=rtol, atol=1e-7)
    else:
        assert sparse[2] is None
    assert cross_entropy(W, b, X_sparse, Y, w, np) == pytest.approx(dense[0], rel=rtol)

    P = np.column_stack([W, b]) if fit_intercept else W
    obj_dense = SoftmaxObjective(X, Y, w, 0.1, 0.3, fit_intercept, np)
    obj_sparse = SoftmaxObjective(X_sparse, Y, w, 0.1, 0.3, fit_intercept, np)
    v_dense, g_dense = obj_dense.smooth_value_and_gradient(P)
    v_sparse, g_sparse = obj_sparse.smooth_value_and_gradient(P)
    assert v_sparse == pytest.approx(v_dense, rel=rtol)
    assert g_sparse.dtype == dtype
    assert_allclose(g_sparse, g_dense, rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("sparse_container", [sp.csr_array, sp.csc_array])
def test_sparse_objective_does_not_copy_X(sparse_container):
    # 20_000 rows with 50 nonzeros each: X holds 12 MB; the (n, K) temporaries
    # of an evaluation are 0.5 MB. Slicing a scipy sparse matrix copies it, so
    # a pass that took X[rows], even X[:], would allocate a second X.
    rng = np.random.default_rng(0)
    n, d, K, nnz = 20_000, 500, 3, 50
    indices = np.sort(rng.choice(d, size=(n, nnz)), axis=1).ravel()
    indptr = np.arange(0, n * nnz + 1, nnz)
    X = sparse_container(sp.csr_array((rng.random(n * nnz), indices, indptr), (n, d)))
    X_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    Y = np.eye(K)[rng.integers(0, K, n)]
    obj = SoftmaxObjective(X, Y, np.full(n, 1.0 / n), 0.1, 0.0, True, np)
    P = rng.standard_normal((K, d + 1))
    tracemalloc.start()
    try:
        obj.smooth_value_and_gradient(P)
        obj.hessp(P)(P)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X_bytes / 4, (peak, X_bytes)


# ---------------------------------------------------------------------------
# Properties of the derivation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intercept_gradient_sums_to_zero_over_classes(K, dtype, seed):
    # Each row of S - Y sums to 1 - 1 = 0, hence sum_k grad_b[k] = 0; the same
    # holds for the columns of grad_W (sum_k grad_W[k, j] = 0) without L2.
    X, W, b, Y, w = make_data(seed, K=K, dtype=dtype)
    _, grad_W, grad_b = cross_entropy_gradient(W, b, X, Y, w, np)
    atol = 1e-6 if dtype == np.float32 else 1e-15
    assert np.abs(grad_b).max() > 100 * atol  # the zero sum is not trivial
    assert abs(float(np.sum(grad_b))) <= atol
    assert_allclose(grad_W.sum(axis=0), 0.0, atol=10 * atol)

    # With an elastic net the intercepts are unpenalised: still a zero sum.
    obj = SoftmaxObjective(X, Y, w, 0.5, 0.5, True, np)
    _, grad = obj.smooth_value_and_gradient(np.column_stack([W, b]))
    assert abs(float(np.sum(grad[:, -1]))) <= atol
    assert_allclose(grad[:, -1], grad_b, rtol=1e-6 if dtype == np.float32 else 1e-15)


# ---------------------------------------------------------------------------
# Optimality measure
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_optimality_smooth_is_max_abs_gradient(fit_intercept, alpha):
    X, W, b, Y, w = make_data(8, K=3)
    P = np.column_stack([W, b]) if fit_intercept else W
    obj = SoftmaxObjective(X, Y, w, alpha, 0.0, fit_intercept, np)
    assert obj.is_smooth
    _, grad = obj.smooth_value_and_gradient(P)
    fd = central_differences(obj.smooth_value, P)
    opt = obj.optimality(P, grad)
    assert opt == np.abs(grad).max()
    assert opt == pytest.approx(np.abs(fd).max(), rel=1e-6)
    assert opt > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_zero_coefficients_take_the_intercepts_as_logits(dtype, fit_intercept, sparse):
    """At W = 0, where fits start, the product with X is skipped: the value
    and gradients are those of the logits Z = b, by the hand formulas."""
    X, W, b, Y, w = make_data(12, n=40, d=5, K=3, dtype=dtype)
    W0 = np.zeros_like(W)
    b = b if fit_intercept else None
    data = sp.csr_array(X) if sparse else X
    value, grad_W, grad_b = cross_entropy_gradient(W0, b, data, Y, w, np)
    Z = np.zeros((X.shape[0], 3)) + (0.0 if b is None else b)
    G = (softmax(Z, np) - Y) * w[:, None]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert value == pytest.approx(reference_cross_entropy(W0, b, X, Y, w), rel=rtol)
    assert grad_W.dtype == dtype
    assert_allclose(grad_W, G.T @ X, rtol=rtol, atol=1e-7)
    if fit_intercept:
        assert_allclose(grad_b, G.sum(axis=0), rtol=rtol, atol=1e-7)
    else:
        assert grad_b is None
    assert cross_entropy(W0, b, data, Y, w, np) == pytest.approx(value, rel=rtol)


def intercept_only_optimum(Y, w):
    """b with softmax(b) = the weighted class frequencies: grad_b = 0 at W = 0."""
    return np.log(w @ Y)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("K", [2, 3])
def test_optimality_l1_is_zero_at_sparse_optimum(fit_intercept, K):
    X, _, _, Y, w = make_data(9, n=50, K=K)
    d = X.shape[1]
    W0 = np.zeros((K, d))
    if fit_intercept:
        b0 = intercept_only_optimum(Y, w)
        P0 = np.column_stack([W0, b0])
    else:
        b0 = None
        P0 = W0
    # Hand gradient at W = 0: S = softmax(b0) (uniform 1/K without intercept).
    S = np.full((X.shape[0], K), 1.0 / K) if b0 is None else np.tile(w @ Y, (50, 1))
    G = (S - Y) * w[:, None]
    gW0 = G.T @ X
    if fit_intercept:
        assert_allclose(G.sum(axis=0), 0.0, atol=1e-15)
    gmax = np.abs(gW0).max()
    assert gmax > 0

    l1_ratio = 0.5
    # alpha * l1_ratio just above max|grad_W(0)|: W = 0 (with the
    # intercept-only b) is the minimiser; the L2 part has zero gradient at W=0.
    alpha = 1.01 * gmax / l1_ratio
    obj = SoftmaxObjective(X, Y, w, alpha, l1_ratio, fit_intercept, np)
    _, grad = obj.smooth_value_and_gradient(P0)
    assert_allclose(grad[:, :d], gW0, rtol=1e-12, atol=1e-15)
    assert obj.optimality(P0, grad) <= 1e-15

    # Minimality checked directly: no perturbation decreases J.
    J0 = obj.smooth_value(P0) + obj.nonsmooth_value(P0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        Pt = P0 + 1e-3 * rng.standard_normal(P0.shape)
        assert obj.smooth_value(Pt) + obj.nonsmooth_value(Pt) >= J0

    # alpha * l1_ratio just below: W = 0 is no longer optimal and the measure
    # is the soft-thresholded gradient max(|g| - alpha * l1_ratio, 0).
    alpha = 0.8 * gmax / l1_ratio
    obj = SoftmaxObjective(X, Y, w, alpha, l1_ratio, fit_intercept, np)
    _, grad = obj.smooth_value_and_gradient(P0)
    assert obj.optimality(P0, grad) == pytest.approx(0.2 * gmax, rel=1e-10)


def test_optimality_l1_at_nonzero_coefficients():
    # At W != 0 the subdifferential of |W_kj| is the single point sign(W_kj),
    # so the measure is max over entries of |g + l1 sign(W)| (or of the
    # soft-thresholded g where W_kj == 0), together with |grad_b|.
    X, W, b, Y, w = make_data(10, K=3)
    W[0, 1] = 0.0
    W[2, 3] = 0.0
    P = np.column_stack([W, b])
    alpha, l1_ratio = 0.2, 0.5
    lam = alpha * l1_ratio
    obj = SoftmaxObjective(X, Y, w, alpha, l1_ratio, True, np)
    _, grad = obj.smooth_value_and_gradient(P)
    gW, gb = grad[:, :-1], grad[:, -1]
    expected = np.abs(gb).max()
    for k in range(W.shape[0]):
        for j in range(W.shape[1]):
            if W[k, j] > 0:
                e = abs(gW[k, j] + lam)
            elif W[k, j] < 0:
                e = abs(gW[k, j] - lam)
            else:
                e = max(abs(gW[k, j]) - lam, 0.0)
            expected = max(expected, e)
    assert obj.optimality(P, grad) == pytest.approx(expected, rel=1e-14)
