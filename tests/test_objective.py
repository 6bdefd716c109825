"""``SoftmaxObjective`` (``_objective.py``): ``J = f + g`` as a function of
the parameter array ``P``, built from a backend. Its value and gradient
(finite differences, several row blocks, float32, sparse ``X``), the Hessian
products and diagonal, the smoothness estimate, the scaled optimality
measure, the proximal step on the coefficients only, and the mini-batch and
Hessian-sample objectives on subsets of the rows."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from _problems import (
    central_differences,
    hessian_matrix,
    make_data,
    objective,
    one_hot,
    several_blocks,
)
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, logsumexp

from sk_softmax._objective import LogisticObjective, SoftmaxObjective


def parameters(W, b, fit_intercept):
    return np.column_stack([W, b]) if fit_intercept else W


def reference_value(P, X, y, w, alpha, l1_ratio, fit_intercept):
    """``J`` from scratch: weighted cross-entropy plus the elastic net."""
    d = X.shape[1]
    W = P[:, :d]
    Z = np.asarray(X @ W.T) + (P[:, d] if fit_intercept else 0.0)
    ce = np.sum(w * (logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]))
    return ce + alpha * (
        (1 - l1_ratio) / 2 * np.sum(W**2) + l1_ratio * np.sum(np.abs(W))
    )


def soft_threshold(v, t):
    """argmin_u (u - v)^2 / 2 + t |u|, piece by piece (u > 0, u < 0, u = 0)."""
    return np.select([v > t, v < -t], [v - t, v + t], default=0.0)


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_join_zeros(fit_intercept, dtype):
    X, W, b, y, w = make_data(0, d=4, K=3, dtype=dtype)
    obj = objective(X, y, w, fit_intercept=fit_intercept)
    assert (obj.n_rows, obj.n_features, obj.n_classes) == (30, 4, 3)
    P = obj.join(W, b if fit_intercept else None)
    assert P.shape == (3, 4 + fit_intercept) and P.dtype == dtype
    W2, b2 = obj.split(P)
    assert_array_equal(W2, W)
    assert np.shares_memory(W2, P)  # views
    if fit_intercept:
        assert_array_equal(b2, b)
    else:
        assert b2 is None and obj.join(W, None) is W
    Z = obj.zeros()
    assert Z.shape == P.shape and Z.dtype == dtype and not Z.any()
    assert obj.product_layout(P) is P
    sparse = objective(sp.csr_array(X), y, w, fit_intercept=fit_intercept)
    assert sparse.product_layout(P).flags.f_contiguous


# ---------------------------------------------------------------------------
# Value and gradient
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha, l1_ratio", [(0.0, 0.0), (0.3, 0.0), (0.3, 0.4)])
def test_smooth_gradient_finite_differences_float64(K, fit_intercept, alpha, l1_ratio):
    X, W, b, y, w = make_data(4, K=K)
    P = parameters(W, b, fit_intercept)
    obj = objective(
        X, y, w, K=K, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    )
    value, grad = obj.smooth_value_and_gradient(P)

    assert grad.shape == P.shape
    expected = reference_value(P, X, y, w, alpha, 0.0, fit_intercept)
    expected -= alpha * l1_ratio / 2 * np.sum(P[:, : X.shape[1]] ** 2)
    assert value == pytest.approx(expected, rel=1e-12)
    assert value == pytest.approx(obj.smooth_value(P), rel=1e-12)
    assert value + obj.nonsmooth_value(P) == pytest.approx(
        reference_value(P, X, y, w, alpha, l1_ratio, fit_intercept), rel=1e-12
    )
    fd = central_differences(obj.smooth_value, P)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    # The data term alone.
    data, grad_W, grad_b = obj.data_value_and_gradient(*obj.split(P))
    assert data == pytest.approx(
        reference_value(P, X, y, w, 0.0, 0.0, fit_intercept), rel=1e-12
    )
    W_ = P[:, : X.shape[1]]
    assert_allclose(grad_W + alpha * (1 - l1_ratio) * W_, grad[:, : X.shape[1]])


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_smooth_gradient_finite_differences_float32(K, fit_intercept, l1_ratio):
    alpha = 0.2
    X, W, b, y, w = make_data(5, K=K, dtype=np.float32)
    P = parameters(W, b, fit_intercept)
    obj = objective(
        X, y, w, K=K, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    )
    value, grad = obj.smooth_value_and_gradient(P)
    assert P.dtype == np.float32
    assert grad.dtype == np.float32

    X64, w64, P64 = (a.astype(np.float64) for a in (X, w, P))
    obj64 = objective(
        X64, y, w64, K=K, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    )
    assert value == pytest.approx(obj64.smooth_value(P64), rel=1e-5)
    fd = central_differences(obj64.smooth_value, P64)
    assert_allclose(grad, fd, rtol=1e-3, atol=1e-3 * np.abs(fd).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_several_blocks_give_the_one_block_results(fit_intercept):
    """The map-sum over row blocks adds up to the one-block evaluation:
    value, gradient, Hessian product, diagonal and optimality."""
    X, W, b, y, w = make_data(6, n=700, d=5, K=4)
    P = parameters(W, b, fit_intercept)
    one = objective(X, y, w, alpha=0.1, fit_intercept=fit_intercept)
    blocks = several_blocks(objective(X, y, w, alpha=0.1, fit_intercept=fit_intercept))
    assert len(one.data.blocks()) == 1
    v1, g1 = one.smooth_value_and_gradient(P)
    v3, g3 = blocks.smooth_value_and_gradient(P)
    assert v3 == pytest.approx(v1, rel=1e-13)
    assert_allclose(g3, g1, rtol=1e-12, atol=1e-16)
    D = np.random.default_rng(0).standard_normal(P.shape)
    assert_allclose(blocks.hessp(P)(D), one.hessp(P)(D), rtol=1e-12, atol=1e-16)
    assert_allclose(blocks.feature_curvature(P), one.feature_curvature(P), rtol=1e-12)
    assert blocks.optimality(P, g3) == pytest.approx(one.optimality(P, g1), rel=1e-12)


def test_hand_computed_three_samples_with_l2():
    """The hand computation of ``test_loss`` through the objective, with an
    L2 term alpha / 2 ||W||^2 = 0.25 * 4 and the intercepts unpenalised."""
    X = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
    b = np.array([0.0, 1.0, -1.0])
    y = np.array([1, 0, 2])
    w = np.array([0.5, 0.25, 0.25])
    Z = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, -2.0], [3.0, 2.0, -3.0]])
    S = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    J = -(0.5 * np.log(S[0, 1]) + 0.25 * np.log(S[1, 0]) + 0.25 * np.log(S[2, 2]))
    G = (S - one_hot(y, 3)) * w[:, None]
    obj = objective(X, y, w, alpha=0.5)
    value, grad = obj.smooth_value_and_gradient(np.column_stack([W, b]))
    assert value == pytest.approx(J + 0.25 * 4.0, rel=1e-14)
    assert_allclose(grad, np.column_stack([G.T @ X + 0.5 * W, G.sum(0)]), rtol=1e-13)


@pytest.mark.parametrize(
    "sparse_container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array]
)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_objective_matches_dense(sparse_container, fit_intercept, dtype):
    X, W, b, y, w = make_data(6, n=40, d=6, K=3, dtype=dtype)
    X[np.random.default_rng(7).uniform(size=X.shape) < 0.6] = 0.0
    P = parameters(W, b, fit_intercept)
    kw = dict(alpha=0.1, l1_ratio=0.3, fit_intercept=fit_intercept)
    obj_dense = objective(X, y, w, **kw)
    obj_sparse = objective(sparse_container(X), y, w, **kw)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    v_dense, g_dense = obj_dense.smooth_value_and_gradient(P)
    v_sparse, g_sparse = obj_sparse.smooth_value_and_gradient(P)
    assert v_sparse == pytest.approx(v_dense, rel=rtol)
    assert g_sparse.dtype == dtype
    assert_allclose(g_sparse, g_dense, rtol=rtol, atol=1e-7)
    assert obj_sparse.optimality(P, g_sparse) == pytest.approx(
        obj_dense.optimality(P, g_dense), rel=rtol
    )


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
    y = rng.integers(0, K, n)
    obj = objective(X, y, np.full(n, 1.0 / n), K=K, alpha=0.1)
    P = rng.standard_normal((K, d + 1))
    tracemalloc.start()
    try:
        obj.smooth_value_and_gradient(P)
        obj.hessp(P)(P)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X_bytes / 4, (peak, X_bytes)


@pytest.mark.parametrize("binary", [False, True])
def test_sparse_gradient_and_products_make_one_parameter_array(binary):
    """On CSR rows with an intercept, the gradient and a Hessian product are
    computed shaped like ``P`` (``SoftmaxObjective._joined_sum``): one new
    array of ``P``'s size each, where joining a ``(K, d)`` result to the
    intercepts' part made two. The numbers are the dense objective's."""
    rng = np.random.default_rng(4)
    n, d, K = 60, 100_000, 2 if binary else 3
    X = sp.random_array((n, d), density=2e-4, random_state=rng, format="csr")
    y = np.arange(n) % K
    w = np.full(n, 1.0 / n)
    obj = objective(X, y, w, K=K, alpha=0.1)
    if binary:
        obj = LogisticObjective(obj.data, alpha=0.1, l1_ratio=0.0, fit_intercept=True)
    P = obj.product_layout(rng.standard_normal((obj.n_outputs, d + 1)))
    forward = obj.probabilities_t(P)
    hessp = obj.hessp(P, forward)
    for compute in (lambda: obj.smooth_value_and_gradient(P)[1], lambda: hessp(P)):
        tracemalloc.start()
        try:
            result = compute()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.shape == P.shape and result.flags.f_contiguous
        assert P.nbytes <= peak < 1.5 * P.nbytes
    dense = type(obj)(
        type(obj.data)(X.toarray(), y, w, K, np),
        alpha=0.1,
        l1_ratio=0.0,
        fit_intercept=True,
    )
    _, g = obj.smooth_value_and_gradient(P)
    assert_allclose(g, dense.smooth_value_and_gradient(P)[1], rtol=1e-12, atol=1e-15)
    assert_allclose(hessp(P), dense.hessp(P)(P), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1])
def test_intercept_gradient_sums_to_zero_with_elastic_net(dtype, seed):
    # Each row of S - Y sums to 0, hence sum_k grad_b[k] = 0; the intercepts
    # are unpenalised, so the elastic net keeps the zero sum.
    X, W, b, y, w = make_data(seed, K=3, dtype=dtype)
    obj = objective(X, y, w, alpha=0.5, l1_ratio=0.5)
    _, grad = obj.smooth_value_and_gradient(np.column_stack([W, b]))
    _, _, grad_b = obj.data_value_and_gradient(W, b)
    atol = 1e-6 if dtype == np.float32 else 1e-15
    assert np.abs(grad[:, -1]).max() > 100 * atol
    assert abs(float(np.sum(grad[:, -1]))) <= atol
    assert_array_equal(grad[:, -1], grad_b)


# ---------------------------------------------------------------------------
# Curvature
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_hessp_is_the_derivative_of_the_gradient(K, fit_intercept, alpha):
    X, W, b, y, w = make_data(5, n=600, K=K)
    P = parameters(W, b, fit_intercept)
    obj = several_blocks(
        objective(X, y, w, K=K, alpha=alpha, fit_intercept=fit_intercept)
    )
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


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_symmetric_positive_semidefinite(fit_intercept):
    X, W, b, y, w = make_data(6, K=3)
    P = parameters(W, b, fit_intercept)
    obj = objective(X, y, w, fit_intercept=fit_intercept)
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
    X, W, b, y, w = make_data(8, n=60, d=5, K=K)
    l2 = 0.05
    obj = objective(X, y, w, K=K, alpha=l2, fit_intercept=fit_intercept)
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
            single = objective(
                X[i : i + 1],
                y[i : i + 1],
                np.ones(1),
                K=K,
                alpha=l2,
                fit_intercept=fit_intercept,
            )
            singles.append(np.linalg.eigvalsh(hessian_matrix(single, P)).max())
        assert np.dot(w, singles) <= L_one * (1 + 1e-9)
    # Exact at P = 0 without a penalty (whose L2 part spares the intercepts).
    obj = objective(X, y, w, K=K, fit_intercept=fit_intercept)
    P = np.zeros((K, X.shape[1] + fit_intercept))
    top = np.linalg.eigvalsh(hessian_matrix(obj, P)).max()
    L_full = obj.smoothness(P, n, np.random.default_rng(0), n_power_iter=200)
    assert_allclose(L_full, top, rtol=1e-6)


def test_smoothness_without_weight_on_the_probe_takes_uniform_weights():
    """Rows of zero weight only in the probe: the estimate falls back to
    uniform weights on those rows rather than dividing by zero."""
    X, W, b, y, _ = make_data(9, n=40, d=3, K=3)
    P = np.column_stack([W, b])
    zero = objective(X, y, np.zeros(40), alpha=0.1)
    uniform = objective(X, y, np.full(40, 1 / 40), alpha=0.1)
    L_zero = zero.smoothness(P, 40, np.random.default_rng(0), n_power_iter=100)
    L_uniform = uniform.smoothness(P, 40, np.random.default_rng(0), n_power_iter=100)
    assert np.isfinite(L_zero) and L_zero > 0.1
    assert L_zero == pytest.approx(L_uniform, rel=1e-6)


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
    X, W, b, y, w = make_data(9, n=600, d=5, K=4)
    X = X * np.array([1e-2, 0.1, 1.0, 10.0, 1.0])
    X[np.abs(X) < 0.3 * np.abs(X).max(axis=0)] = 0.0
    P = parameters(W, b, fit_intercept)
    kw = dict(K=4, alpha=alpha, fit_intercept=fit_intercept)
    if fmt is None:
        obj = several_blocks(objective(X, y, w, **kw))
    else:
        obj = objective(sp.csr_array(X).asformat(fmt), y, w, **kw)
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
    X, W, b, y, w = make_data(10, n=30, d=4, K=3)
    X[:, 1] = 0.0
    P = np.column_stack([W, b])
    for data in (X, sp.csr_array(X)):
        M = objective(data, y, w).feature_curvature(P)
        others = np.delete(M, 1)
        assert np.all(others > 0)
        assert M[1] == pytest.approx(others.mean(), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_feature_curvature_keeps_the_dtype(dtype):
    X, W, b, y, w = make_data(11, n=30, d=4, K=3, dtype=dtype)
    P = np.column_stack([W, b])
    for data in (X, sp.csr_array(X)):
        M = objective(data, y, w, alpha=0.1).feature_curvature(P)
        assert M.dtype == dtype


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_on_support_is_the_objective_on_the_used_columns(fit_intercept):
    """On the columns that no row uses, the gradient and Hessian of ``f`` are
    the penalty's alone (the Hessian is block diagonal); on the others they
    are those of ``on_support``'s objective at the same parameters."""
    X, W, b, y, w = make_data(17, n=40, d=7, K=3)
    X[np.abs(X) < 0.8] = 0.0
    X[:, [2, 5]] = 0.0
    obj = objective(sp.csr_array(X), y, w, alpha=0.3, fit_intercept=fit_intercept)
    P = parameters(W, b, fit_intercept)
    restricted, index = obj.on_support()
    unused = np.setdiff1d(np.arange(P.shape[1]), index)
    assert_array_equal(unused, [2, 5])
    assert restricted.n_features == 5
    _, g = obj.smooth_value_and_gradient(P)
    _, g_used = restricted.smooth_value_and_gradient(P[:, index])
    assert_allclose(g[:, index], g_used, rtol=1e-12)
    assert_allclose(g[:, unused], 0.3 * P[:, unused], rtol=1e-12)
    D = np.random.default_rng(1).standard_normal(P.shape)
    HD = obj.hessp(P)(D)
    assert_allclose(
        HD[:, index], restricted.hessp(P[:, index])(D[:, index]), rtol=1e-12
    )
    assert_allclose(HD[:, unused], 0.3 * D[:, unused], rtol=1e-12)
    assert objective(X, y, w, alpha=0.3).on_support() is None  # dense


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hessp_sparse_matches_dense_and_keeps_dtype(dtype):
    X, W, b, y, w = make_data(7, n=50, d=6, K=3, dtype=dtype)
    X[np.abs(X) < 0.8] = 0
    P = np.column_stack([W, b])
    D = np.random.default_rng(1).standard_normal(P.shape).astype(dtype)
    dense = objective(X, y, w, alpha=0.1)
    sparse = objective(sp.csr_array(X), y, w, alpha=0.1)
    HD_dense = dense.hessp(P)(D)
    HD_sparse = sparse.hessp(P)(D)
    assert HD_dense.dtype == HD_sparse.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(HD_sparse, HD_dense, rtol=rtol, atol=rtol * 1e-2)


# ---------------------------------------------------------------------------
# Optimality measure: scaled by each feature's weighted RMS
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_feature_scales_are_the_weighted_rms_of_the_columns(fit_intercept):
    X, _, _, y, w = make_data(12, n=40, d=4)
    X[:, 2] = 0.0  # a zero column takes the scale 1
    X[:, 3] *= 1e3
    obj = objective(X, y, w, fit_intercept=fit_intercept)
    scales, rounding = obj.feature_scales()
    expected = np.sqrt(w @ X**2)
    expected[2] = 1.0
    if fit_intercept:
        expected = np.append(expected, 1.0)
    assert_allclose(scales, expected, rtol=1e-13)
    # The rounding level: 16 eps times the largest ratio of a column's mean
    # |x| to its RMS (at most 1, Cauchy-Schwarz), 1 for the intercept.
    ratio = (w @ np.abs(X))[[0, 1, 3]] / expected[[0, 1, 3]]
    assert np.all(ratio <= 1.0)
    top = max(ratio.max(), float(fit_intercept))
    assert rounding == pytest.approx(16 * np.finfo(np.float64).eps * top, rel=1e-12)
    assert obj.rounding_level() == rounding
    assert obj.feature_scales()[0] is scales  # computed once
    # float32 rounds 2**29 times coarser
    obj32 = objective(X.astype(np.float32), y, w.astype(np.float32))
    assert obj32.rounding_level() == pytest.approx(
        16 * np.finfo(np.float32).eps * max(ratio.max(), 1.0), rel=1e-5
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_optimality_smooth_is_max_abs_scaled_gradient(fit_intercept, alpha):
    X, W, b, y, w = make_data(8, K=3)
    X[:, 0] *= 100.0  # a column in other units
    P = parameters(W, b, fit_intercept)
    obj = objective(X, y, w, alpha=alpha, fit_intercept=fit_intercept)
    assert obj.is_smooth
    _, grad = obj.smooth_value_and_gradient(P)
    fd = central_differences(obj.smooth_value, P)
    rms = np.sqrt(w @ X**2)
    if fit_intercept:
        rms = np.append(rms, 1.0)
    opt = obj.optimality(P, grad)
    assert opt == pytest.approx(np.max(np.abs(grad) / rms), rel=1e-14)
    assert opt == pytest.approx(np.max(np.abs(fd) / rms), rel=1e-6)
    assert opt != pytest.approx(np.abs(grad).max(), rel=1e-3)  # not unscaled
    assert obj.scaled_max(grad) == opt
    assert opt > 0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_optimality_is_unchanged_when_a_column_is_rescaled(fit_intercept):
    """Multiplying column j of X by c_j and dividing W[:, j] by c_j leaves
    the logits, hence the model, unchanged; its gradient column is then
    multiplied by c_j, and so is its scale: the measure does not move (no
    penalty, which is not scale-free)."""
    X, W, b, y, w = make_data(13, n=50, d=4, K=3)
    c = np.array([1e-3, 1.0, 7.0, 1e4])
    P = parameters(W, b, fit_intercept)
    P_c = P.copy()
    P_c[:, :4] /= c
    obj = objective(X, y, w, fit_intercept=fit_intercept)
    obj_c = objective(X * c, y, w, fit_intercept=fit_intercept)
    g, g_c = (
        obj.smooth_value_and_gradient(P)[1],
        obj_c.smooth_value_and_gradient(P_c)[1],
    )
    assert_allclose(g_c[:, :4], g[:, :4] * c, rtol=1e-9)
    opt = obj.optimality(P, g)
    assert obj_c.optimality(P_c, g_c) == pytest.approx(opt, rel=1e-9)
    # ... which the unscaled max-norm is not.
    assert np.abs(g_c).max() > 100 * np.abs(g).max()


def intercept_only_optimum(y, w, K):
    """b with softmax(b) = the weighted class frequencies: grad_b = 0 at W = 0."""
    return np.log(w @ one_hot(y, K))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("K", [2, 3])
def test_optimality_l1_is_zero_at_sparse_optimum(fit_intercept, K):
    X, _, _, y, w = make_data(9, n=50, K=K)
    X[:, 1] *= 10.0
    d = X.shape[1]
    W0 = np.zeros((K, d))
    Y = one_hot(y, K)
    if fit_intercept:
        b0 = intercept_only_optimum(y, w, K)
        P0 = np.column_stack([W0, b0])
    else:
        P0 = W0
    # Hand gradient at W = 0: S = softmax(b0) (uniform 1/K without intercept).
    S = np.full((50, K), 1.0 / K) if not fit_intercept else np.tile(w @ Y, (50, 1))
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
    kw = dict(K=K, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    obj = objective(X, y, w, alpha=alpha, **kw)
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
    # is the soft-thresholded gradient max(|g| - alpha * l1_ratio, 0), each
    # feature's entries divided by its scale.
    lam = 0.8 * gmax
    obj = objective(X, y, w, alpha=lam / l1_ratio, **kw)
    _, grad = obj.smooth_value_and_gradient(P0)
    rms = np.sqrt(w @ X**2)
    expected = np.max(np.maximum(np.abs(gW0) - lam, 0.0) / rms)
    assert expected > 0
    assert obj.optimality(P0, grad) == pytest.approx(expected, rel=1e-10)


def test_optimality_l1_at_nonzero_coefficients():
    # At W != 0 the subdifferential of |W_kj| is the single point sign(W_kj),
    # so the measure is max over entries of |g + l1 sign(W)| (or of the
    # soft-thresholded g where W_kj == 0), together with |grad_b|, each
    # divided by its feature's scale (1 for the intercepts).
    X, W, b, y, w = make_data(10, K=3)
    X[:, 2] *= 0.01
    W[0, 1] = 0.0
    W[2, 3] = 0.0
    P = np.column_stack([W, b])
    alpha, l1_ratio = 0.2, 0.5
    lam = alpha * l1_ratio
    obj = objective(X, y, w, alpha=alpha, l1_ratio=l1_ratio)
    _, grad = obj.smooth_value_and_gradient(P)
    gW, gb = grad[:, :-1], grad[:, -1]
    rms = np.sqrt(w @ X**2)
    expected = np.abs(gb).max()
    for k in range(W.shape[0]):
        for j in range(W.shape[1]):
            if W[k, j] > 0:
                e = abs(gW[k, j] + lam)
            elif W[k, j] < 0:
                e = abs(gW[k, j] - lam)
            else:
                e = max(abs(gW[k, j]) - lam, 0.0)
            expected = max(expected, e / rms[j])
    assert obj.optimality(P, grad) == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------------------
# The penalty: coefficients only, never intercepts
# ---------------------------------------------------------------------------


def penalty_problem(fit_intercept, alpha, l1_ratio, seed=9, n=20, d=4, K=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, K, size=n)
    w = rng.uniform(0.5, 1.5, size=n)
    w /= w.sum()
    obj = objective(
        X, y, w, K=K, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    )
    P = rng.standard_normal((K, d + int(fit_intercept)))
    return obj, P, (X, y, w)


@pytest.mark.parametrize("step", [0.1, 1.0, 10.0])
def test_prox_leaves_intercepts_untouched(step):
    obj, P, _ = penalty_problem(True, 1.0, 0.5)
    P[:, -1] = [0.05, -3.0, 0.2]  # small and large intercepts
    P_before = P.copy()
    Q = obj.prox(P, step)
    assert Q.shape == P.shape
    assert_array_equal(Q[:, -1], P[:, -1])
    assert_allclose(Q[:, :-1], soft_threshold(P[:, :-1], step * 0.5), rtol=1e-15)
    assert_array_equal(P, P_before)  # not modified in place
    # step 10 thresholds every coefficient to zero, intercepts stay.
    if step == 10.0:
        assert_array_equal(Q[:, :-1], 0.0)


def test_prox_without_intercept_thresholds_every_column():
    obj, P, _ = penalty_problem(False, 1.0, 0.5)
    Q = obj.prox(P, 1.0)
    assert_allclose(Q, soft_threshold(P, 0.5), rtol=1e-15)


def test_prox_identity_when_smooth():
    obj, P, _ = penalty_problem(True, 1.0, 0.0)
    assert obj.is_smooth
    assert obj.prox(P, 1.0) is P


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha, l1_ratio", [(0.7, 0.0), (0.7, 0.3), (0.7, 1.0)])
def test_objective_penalises_coefficients_only(fit_intercept, alpha, l1_ratio):
    obj, P, (X, y, w) = penalty_problem(fit_intercept, alpha, l1_ratio)
    d = X.shape[1]
    W = P[:, :d]
    data = reference_value(P, X, y, w, 0.0, 0.0, fit_intercept)
    l2 = alpha * (1 - l1_ratio) / 2 * np.sum(W**2)
    l1 = alpha * l1_ratio * np.sum(np.abs(W))
    assert obj.smooth_value(P) == pytest.approx(data + l2, rel=1e-14)
    assert obj.nonsmooth_value(P) == pytest.approx(l1, rel=1e-14, abs=1e-300)
    if fit_intercept:
        # Changing the intercepts by a constant changes neither the data term
        # (softmax is shift-invariant) nor the penalty.
        Q = P.copy()
        Q[:, d] += 5.0
        assert obj.smooth_value(Q) == pytest.approx(obj.smooth_value(P), rel=1e-12)
        assert obj.nonsmooth_value(Q) == obj.nonsmooth_value(P)
        # The intercept gradient has no penalty term.
        _, grad = obj.smooth_value_and_gradient(P)
        obj0 = objective(X, y, w, K=3)
        _, grad0 = obj0.smooth_value_and_gradient(P)
        assert_array_equal(grad[:, d], grad0[:, d])
        assert_allclose(grad[:, :d], grad0[:, :d] + alpha * (1 - l1_ratio) * W)


# ---------------------------------------------------------------------------
# Subsets: mini-batches and the Hessian sample
# ---------------------------------------------------------------------------


def weighted_iris_like(seed, n=150, d=4, K=3):
    X, _, _, y, w = make_data(seed, n=n, d=d, K=K)
    return X, y, w


def test_batch_gradients_average_to_full_gradient():
    """Over a partition into equal batches, the batch objectives and gradients
    (weights rescaled by ``n / len(batch)`` in ``subset``) average to the full ones."""
    X, y, w = weighted_iris_like(1)
    n = X.shape[0]
    obj = objective(X, y, w, alpha=0.01)
    rng = np.random.default_rng(1)
    P = rng.standard_normal((3, X.shape[1] + 1))
    f_full, g_full = obj.smooth_value_and_gradient(P)
    batches = np.split(rng.permutation(n), 5)  # 5 batches of 30 rows
    values, gradients = zip(
        *(obj.subset(rows, n).smooth_value_and_gradient(P) for rows in batches),
        strict=True,
    )
    assert_allclose(np.mean(values), f_full, rtol=1e-12)
    assert_allclose(np.mean(gradients, axis=0), g_full, rtol=1e-10, atol=1e-14)
    # A single batch is not the full gradient: the rescaling is what averages out.
    assert not np.allclose(gradients[0], g_full)
    # The batch is the same function (penalty, intercept) on other rows.
    batch = obj.subset(batches[0], n)
    assert batch.n_rows == 30 and batch.penalty is obj.penalty
    assert obj.n_rows == n  # the objective itself is unchanged


def test_integer_weights_are_repeated_rows_in_expectation():
    """The expected batch gradient with integer weights is the full gradient on
    the data with the rows repeated."""
    X, y, _ = weighted_iris_like(2)
    n = X.shape[0]
    rng = np.random.default_rng(2)
    counts = rng.integers(1, 4, size=n)
    weighted = objective(X, y, counts / counts.sum(), alpha=0.01)
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    repeated = objective(X_rep, y_rep, np.full(X_rep.shape[0], 1 / X_rep.shape[0]))
    repeated.penalty = weighted.penalty
    P = rng.standard_normal((3, X.shape[1] + 1))
    f_rep, g_rep = repeated.smooth_value_and_gradient(P)
    batches = np.split(rng.permutation(n), 6)
    values, gradients = zip(
        *(weighted.subset(rows, n).smooth_value_and_gradient(P) for rows in batches),
        strict=True,
    )
    assert_allclose(np.mean(values), f_rep, rtol=1e-12)
    assert_allclose(np.mean(gradients, axis=0), g_rep, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("sparse", [False, True])
def test_subset_by_slice_equals_subset_by_indices(sparse):
    X, W, b, y, w = make_data(8, n=300, d=5)
    obj = objective(sp.csr_matrix(X) if sparse else X, y, w, alpha=0.01)
    P = np.random.default_rng(0).standard_normal((3, 6))
    by_slice = obj._on(obj.data.take(slice(1, 300, 7), 300 / 43))
    by_indices = obj.subset(np.arange(1, 300, 7), 300)
    if not sparse:
        assert np.shares_memory(by_slice.data.X, X)  # a view, not a copy
    assert_allclose(by_slice.data.w, by_indices.data.w, rtol=1e-15)
    assert by_indices.data.w.sum() == pytest.approx(300 / 43 * w[1::7].sum())
    for a, b_ in zip(
        by_slice.smooth_value_and_gradient(P),
        by_indices.smooth_value_and_gradient(P),
        strict=True,
    ):
        assert_allclose(a, b_, rtol=1e-14)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_subset_support_is_the_batch_on_its_columns(fit_intercept):
    """On sparse X, the batch restricted to its columns has the batch's value,
    and the gradient of the batch on those columns (zero elsewhere)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 15))
    X[rng.uniform(size=X.shape) < 0.85] = 0.0
    y = rng.integers(0, 3, size=60)
    w = np.full(60, 1 / 60)
    obj = objective(sp.csr_array(X), y, w, alpha=0.1, fit_intercept=fit_intercept)
    rows = np.array([4, 9, 31, 2, 50])
    batch = obj.subset(rows, 60)
    support, columns = obj.subset_support(rows, 60)
    assert columns.shape[0] < 15
    W = rng.standard_normal((3, 15))
    b = rng.standard_normal(3) if fit_intercept else None
    f, grad_W, grad_b = batch.data_value_and_gradient(W, b)
    f_S, grad_W_S, grad_b_S = support.data_value_and_gradient(W[:, columns], b)
    assert f_S == pytest.approx(f, rel=1e-13)
    assert_allclose(grad_W_S, grad_W[:, columns], rtol=1e-13)
    others = np.setdiff1d(np.arange(15), columns)
    assert_array_equal(grad_W[:, others], 0.0)
    if fit_intercept:
        assert_allclose(grad_b_S, grad_b, rtol=1e-13)


def test_on_sample_is_the_objective_on_the_sampled_rows():
    """``on_sample``: the same function on the backend's stratified sample
    (its Hessian products are those of an objective built from the sampled
    arrays), or the objective itself when the sample would be all rows."""
    X, W, b, y, w = make_data(14, n=400, d=3, K=3)
    obj = objective(X, y, w, alpha=0.05)
    assert obj.on_sample(0.1, 400, seed=0) is obj
    assert obj.on_sample(1.0, 1, seed=0) is obj
    sample = obj.on_sample(0.25, 10, seed=0, dtype="float32")
    assert sample is not obj and 100 <= sample.n_rows <= 103
    # Its rows are stored in float32 (``ArrayBackend.sample``), and its
    # passes work in float32: the same numbers as in float64 to float32's
    # precision.
    assert sample.data.X.dtype == np.float32
    X_s, w_s = (a.astype(np.float64) for a in (sample.data.X, sample.data.w))
    direct = objective(X_s, sample.data.y, w_s, alpha=0.05)
    P = np.column_stack([W, b])
    D = np.random.default_rng(0).standard_normal(P.shape)
    for got, expected in [
        (sample.hessp(P)(D), direct.hessp(P)(D)),
        (sample.feature_curvature(P), direct.feature_curvature(P)),
        (
            sample.smooth_value_and_gradient(P)[1],
            direct.smooth_value_and_gradient(P)[1],
        ),
    ]:
        assert got.dtype == np.float32
        assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    # The sample is deterministic for a seed.
    again = obj.on_sample(0.25, 10, seed=0, dtype="float32")
    assert_array_equal(again.data.X, sample.data.X)


def test_from_arrays_is_the_objective_on_an_array_backend():
    X, W, b, y, w = make_data(15)
    obj = SoftmaxObjective.from_arrays(
        X, y, w, n_classes=3, xp=np, alpha=0.1, l1_ratio=0.2, fit_intercept=True
    )
    assert obj.data.X is X and obj.data.y is y and obj.data.w is w
    assert obj.penalty.l2 == pytest.approx(0.08) and obj.penalty.l1 == pytest.approx(
        0.02
    )
    assert not obj.is_smooth


def test_objective_on_torch_equals_numpy():
    """The generic (non-numpy) path of the backend and the loss, on torch
    tensors through scikit-learn's array-API namespace, gives the numpy
    numbers: value, gradient, Hessian product, diagonal, optimality and the
    Hessian sample. Skipped without torch."""
    torch = pytest.importorskip(
        "torch", reason="torch (the array-api extra) is not installed"
    )
    from sklearn import config_context
    from sklearn.utils._array_api import get_namespace

    X, W, b, y, w = make_data(16, n=600, d=4, K=3)
    P = np.column_stack([W, b])
    with config_context(array_api_dispatch=True):
        xp, is_array_api = get_namespace(torch.zeros(1))
    assert is_array_api
    kw = dict(n_classes=3, alpha=0.1, l1_ratio=0.0, fit_intercept=True)
    obj_np = SoftmaxObjective.from_arrays(X, y, w, xp=np, **kw)
    obj_t = SoftmaxObjective.from_arrays(
        torch.asarray(X), torch.asarray(y), torch.asarray(w), xp=xp, **kw
    )
    for obj in (obj_np, obj_t):
        several_blocks(obj)
    P_t = torch.asarray(P)
    v_np, g_np = obj_np.smooth_value_and_gradient(P)
    v_t, g_t = obj_t.smooth_value_and_gradient(P_t)
    assert v_t == pytest.approx(v_np, rel=1e-13)
    assert_allclose(np.asarray(g_t), g_np, rtol=1e-12, atol=1e-16)
    assert_allclose(np.asarray(obj_t.hessp(P_t)(P_t)), obj_np.hessp(P)(P), rtol=1e-12)
    assert_allclose(
        np.asarray(obj_t.feature_curvature(P_t)), obj_np.feature_curvature(P)
    )
    assert obj_t.optimality(P_t, g_t) == pytest.approx(
        obj_np.optimality(P, g_np), rel=1e-12
    )
    sample_t = obj_t.on_sample(0.2, 10, 0, "float32")
    sample_np = obj_np.on_sample(0.2, 10, 0, "float32")
    assert sample_t.data.X.dtype == torch.float32  # both store it in float32
    assert sample_t.smooth_value(P_t) == pytest.approx(
        sample_np.smooth_value(P), rel=1e-6
    )
    assert_allclose(
        np.asarray(sample_t.hessp(P_t)(P_t)), sample_np.hessp(P)(P), rtol=1e-5
    )


# ---------------------------------------------------------------------------
# Two classes on one vector
# ---------------------------------------------------------------------------


def symmetric(P):
    """The softmax parameters ``[-P / 2, P / 2]`` of a binary row ``P``."""
    return np.concatenate([-0.5 * P, 0.5 * P])


@pytest.mark.parametrize("fmt", [None, "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_logistic_objective_is_the_softmax_at_the_symmetric_point(
    fmt, fit_intercept, l1_ratio
):
    """On one row ``P = [v, c]``, the binary objective's value, gradient,
    Hessian product, optimality and proximal step are those of the
    two-row softmax objective at ``[-P / 2, P / 2]``, through the chain rule
    of that linear map: gradient ``(g_1 - g_0) / 2`` (= ``g_1`` there),
    Hessian ``A^T H A``."""
    X, W, b, y, w = make_data(21, n=600, d=5, K=2)
    if fmt is not None:
        X[np.abs(X) < 0.8] = 0.0
        X = sp.csr_array(X)
    kw = dict(n_classes=2, alpha=0.3, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    binary = LogisticObjective.from_arrays(X, y, w, **kw)
    if fmt is None:  # sparse X is one block
        several_blocks(binary)
    softmax = SoftmaxObjective.from_arrays(X, y, w, **kw)
    assert binary.zeros().shape == (1, 5 + fit_intercept)
    rng = np.random.default_rng(1)
    P = rng.standard_normal((1, 5 + fit_intercept))
    P[0, 1] = 0.0  # a zero coefficient: the L1 part's subgradient set
    S = symmetric(P)
    f_b, g_b = binary.smooth_value_and_gradient(P)
    f_s, g_s = softmax.smooth_value_and_gradient(S)
    assert f_b == pytest.approx(f_s, rel=1e-13)
    assert binary.nonsmooth_value(P) == pytest.approx(
        softmax.nonsmooth_value(S), rel=1e-13
    )
    assert_allclose(g_b[0], 0.5 * (g_s[1] - g_s[0]), rtol=1e-12, atol=1e-15)
    assert_allclose(g_b[0], g_s[1], rtol=1e-12, atol=1e-15)
    assert binary.optimality(P, g_b) == pytest.approx(
        softmax.optimality(S, g_s), rel=1e-12
    )
    D = rng.standard_normal(P.shape)
    HD_s = softmax.hessp(S)(symmetric(D))
    assert_allclose(
        binary.hessp(P)(D)[0], 0.5 * (HD_s[1] - HD_s[0]), rtol=1e-12, atol=1e-15
    )
    assert_allclose(
        symmetric(binary.prox(P, 0.2)), softmax.prox(S, 0.1), rtol=1e-13, atol=1e-15
    )


def test_logistic_feature_curvature_is_the_hessian_diagonal():
    """With one row, the class mean of the Hessian's diagonal is the
    diagonal itself: ``sum_i w_i s_i (1 - s_i) x_ij^2`` plus the L2 part."""
    X, W, b, y, w = make_data(22, n=400, d=4, K=2)
    obj = LogisticObjective.from_arrays(
        X, y, w, n_classes=2, alpha=0.2, l1_ratio=0.0, fit_intercept=True
    )
    P = np.random.default_rng(2).standard_normal((1, 5))
    assert_allclose(
        obj.feature_curvature(P), np.diag(hessian_matrix(obj, P)), rtol=1e-12
    )


def test_logistic_gradient_keeps_well_classified_samples_in_float32():
    """A sample of class 1 with logit z = 30 has ``sigmoid(z) - 1 = -9.4e-14``:
    in float32 that difference rounds to 0, the margin form keeps it. The
    float32 gradient matches the float64 one to float32's precision."""
    X = np.array([[30.0], [-30.0], [1.0], [-2.0]])
    y = np.array([1, 0, 1, 0])
    grads = []
    for dtype in (np.float32, np.float64):
        obj = LogisticObjective.from_arrays(
            X.astype(dtype),
            y,
            np.full(4, 0.25, dtype=dtype),
            n_classes=2,
            alpha=0.0,
            l1_ratio=0.0,
            fit_intercept=False,
        )
        grads.append(obj.smooth_value_and_gradient(np.ones((1, 1), dtype=dtype))[1])
    assert grads[0].dtype == np.float32
    # Only the two well-classified samples: tiny, and not zero.
    only_far = LogisticObjective.from_arrays(
        X[:2].astype(np.float32),
        y[:2],
        np.full(2, 0.5, dtype=np.float32),
        n_classes=2,
        alpha=0.0,
        l1_ratio=0.0,
        fit_intercept=False,
    )
    g_far = only_far.smooth_value_and_gradient(np.ones((1, 1), dtype=np.float32))[1]
    assert_allclose(g_far, [[-30.0 * expit(-30.0)]], rtol=1e-5)
    assert_allclose(grads[0], grads[1], rtol=1e-6)


@pytest.mark.parametrize("fmt", [None, "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_softmax_hessian_is_the_matrix_of_hessp(fmt, fit_intercept):
    """``SoftmaxObjective.hessian`` of K classes, built whole, is the matrix
    whose columns are the Hessian products with the unit vectors, in the
    order of ``P``'s entries (the L2 part on the coefficients only); the
    intercepts' common shift is a null direction of it; the shared forward
    pass changes nothing."""
    X, W, b, y, w = make_data(23, n=600, d=5, K=4)
    if fmt is not None:
        X[np.abs(X) < 0.8] = 0.0
        X = sp.csr_array(X)
    obj = objective(X, y, w, K=4, alpha=0.3, fit_intercept=fit_intercept)
    if fmt is None:
        several_blocks(obj)
    P = np.random.default_rng(3).standard_normal((4, 5 + fit_intercept))
    H = obj.hessian(P)
    assert H.shape == (P.size, P.size)
    assert_allclose(H, hessian_matrix(obj, P), rtol=1e-12, atol=1e-15)
    assert_array_equal(obj.hessian(P, obj.probabilities_t(P)), H)
    if fit_intercept:
        shift = np.zeros_like(P)
        shift[:, -1] = 1.0
        assert_allclose(H @ shift.ravel(), 0.0, atol=1e-15)
    assert np.linalg.eigvalsh(H).min() > -1e-12


@pytest.mark.parametrize("fmt", [None, "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_hessian_is_the_matrix_of_hessp(fmt, fit_intercept):
    """``LogisticObjective.hessian``, built whole, is the matrix whose
    columns are the Hessian products with the unit vectors (the L2 part on
    the coefficients only), and the shared forward pass changes nothing."""
    X, W, b, y, w = make_data(23, n=600, d=5, K=2)
    if fmt is not None:
        X[np.abs(X) < 0.8] = 0.0
        X = sp.csr_array(X)
    obj = LogisticObjective.from_arrays(
        X, y, w, n_classes=2, alpha=0.3, l1_ratio=0.0, fit_intercept=fit_intercept
    )
    if fmt is None:
        several_blocks(obj)
    P = np.random.default_rng(3).standard_normal((1, 5 + fit_intercept))
    H = obj.hessian(P)
    assert H.shape == (P.size, P.size)
    assert_allclose(H, hessian_matrix(obj, P), rtol=1e-12, atol=1e-15)
    assert_array_equal(obj.hessian(P, obj.probabilities_t(P)), H)
