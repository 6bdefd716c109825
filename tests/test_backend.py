"""Where the data live, ``_backend.py``: the inner products and ``y += a x``
on parameter arrays, the label-indexed gather and scatter (against their
one-hot formulas, on numpy and on a generic array-API namespace), the row
blocks and their map-sum, row subsets (mini-batches, their column support,
the CSR row gather) and the class-stratified Hessian sample."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from _problems import make_data, one_hot
from numpy.testing import assert_allclose, assert_array_equal

from sk_softmax import _backend
from sk_softmax._backend import (
    BLAS_MIN_ENTRIES,
    ArrayBackend,
    _csr_rows,
    add_scaled,
    dot,
    label_values,
    norm1,
    scaled_abs_max,
    subtract_at_labels,
)

# ---------------------------------------------------------------- vectors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layouts", ["CC", "FF", "CF", "FC", "view"])
@pytest.mark.parametrize("columns", [7, 30_000])  # numpy's loops, then BLAS
def test_dot_and_add_scaled_are_the_plain_formulas(dtype, layouts, columns):
    """``dot``, ``add_scaled`` and ``norm1`` (BLAS on the memory of large
    arrays of one layout, numpy otherwise) compute ``sum(a * b)``, ``y += a
    * x`` and ``sum |a|`` for every pair of layouts, in place for ``y``,
    leaving ``x`` alone."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, columns)).astype(dtype)
    y = rng.standard_normal((3, columns)).astype(dtype)
    if layouts == "view":  # a non-contiguous view, as split(P) gives
        x = rng.standard_normal((3, columns + 1)).astype(dtype)[:, :columns]
    else:
        x = np.asarray(x, order=layouts[0])
        y = np.asarray(y, order=layouts[1])
    x_before, y_before = x.copy(), y.copy()
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    result = dot(x, y, np)
    assert isinstance(result, float)
    assert_allclose(result, np.sum(x_before * y_before), rtol=rtol)
    assert isinstance(norm1(x, np), float)
    assert_allclose(norm1(x, np), np.sum(np.abs(x_before)), rtol=rtol)
    y_id = id(y)
    add_scaled(y, -0.75, x, np)
    assert id(y) == y_id and y.dtype == dtype
    # BLAS's axpy may fuse the multiply-add: entries that cancel differ by ulps.
    assert_allclose(y, y_before - 0.75 * x_before, rtol=rtol, atol=rtol)
    assert_array_equal(x, x_before)


@pytest.mark.parametrize("order", ["C", "F", "row"])
def test_dot_and_add_scaled_make_no_temporary_on_one_layout(order):
    """On two float64 arrays of one layout, none of ``dot``, ``add_scaled``
    and ``norm1`` makes an array the size of its operands (``sum(a * b)``,
    ``y += a * x`` and ``sum(abs(a))`` would); a single row is one layout
    whatever its (meaningless) stride between rows."""
    if order == "row":  # strides (800000, 8) and (8, 8)
        x = np.asfortranarray(np.ones((1, 100_000)))
        y = np.ones((100_000, 1)).T
        assert x.strides != y.strides
    else:
        x = np.ones((20, 5000), order=order)
        y = np.ones((20, 5000), order=order)
    tracemalloc.start()
    try:
        dot(x, y, np)
        add_scaled(y, 2.0, x, np)
        assert norm1(x, np) == x.size
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 10
    assert_array_equal(y, 3.0)


def test_level_one_blas_on_large_arrays_only_and_from_one_library(monkeypatch):
    """Below ``BLAS_MIN_ENTRIES`` entries ``dot`` and ``add_scaled`` call no
    BLAS (a thread pool's wake-up would cost more); from it on both call
    scipy's, never numpy's ``np.dot``: one library, one thread pool."""
    calls = []
    for name in ("ddot", "daxpy"):
        real = getattr(_backend.blas, name)

        def spy(*args, real=real, name=name, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(_backend.blas, name, spy)

    def no_numpy_dot(*args, **kwargs):
        raise AssertionError("np.dot called")

    monkeypatch.setattr(_backend.np, "dot", no_numpy_dot)
    for size, expected in [
        (BLAS_MIN_ENTRIES - 1, []),
        (BLAS_MIN_ENTRIES, ["ddot", "daxpy"]),
    ]:
        calls.clear()
        x, y = np.ones(size), np.ones(size)
        assert dot(x, y, np) == size
        add_scaled(y, 2.0, x, np)
        assert_array_equal(y, 3.0)
        assert calls == expected


@pytest.mark.parametrize("order", ["C", "F", "view"])
@pytest.mark.parametrize("columns", [7, 100_000])  # one block, then 31
def test_scaled_abs_max_is_the_plain_formula_without_a_temporary(order, columns):
    """``scaled_abs_max`` is ``max |A| / scales`` in every layout, the
    largest entry in any block and of either sign, and makes no array the
    size of ``A``; a non-numpy namespace gives the same number."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((20, columns + 1))
    A = A[:, :columns] if order == "view" else np.asarray(A[:, :columns], order=order)
    scales = rng.uniform(0.5, 2.0, columns)
    for j, sign in [(columns - 1, -1.0), (columns // 2, 1.0)]:
        A[3, j] = sign * 50.0 * scales[j]  # the largest, in the last block first
        tracemalloc.start()
        try:
            result = scaled_abs_max(A, scales, np)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert isinstance(result, float)
        assert result == pytest.approx(np.max(np.abs(A) / scales), rel=1e-15)
        assert result == pytest.approx(50.0, rel=1e-15)
        if columns > 7:
            assert peak < A.nbytes / 10
    xp = generic_namespace()
    other = scaled_abs_max(xp.asarray(np.array(A)), xp.asarray(scales), xp)
    assert other == pytest.approx(result, rel=1e-15)


# ------------------------------------------------------------ labels


def generic_namespace():
    """An array namespace whose arrays are not numpy arrays: the mask branch
    of ``label_values`` and ``subtract_at_labels``."""
    return pytest.importorskip(
        "array_api_strict",
        reason="array-api-strict (the test and array-api extras) is not installed",
    )


@pytest.mark.parametrize("K", [2, 3, 5])
def test_label_gather_and_scatter_are_the_one_hot_formulas_numpy(K):
    """``label_values(Z^T, y) = sum_k Y[i, k] Z[i, k]`` and
    ``subtract_at_labels(G^T, y, w)`` is ``G^T -= (Y * w[:, None])^T``."""
    rng = np.random.default_rng(K)
    n = 17
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)
    Y = one_hot(y, K)
    Z_t = rng.standard_normal((K, n))
    w = rng.uniform(0.1, 2.0, size=n)
    assert_array_equal(label_values(Z_t, y, np), np.sum(Y * Z_t.T, axis=1))
    G_t = Z_t.copy()
    subtract_at_labels(G_t, y, w, np)
    assert_allclose(G_t, Z_t - (Y * w[:, None]).T, rtol=0, atol=1e-15)
    # a scalar weight, as cross_entropy_gradient passes
    G_t = Z_t.copy()
    subtract_at_labels(G_t, y, 1.0, np)
    assert_array_equal(G_t, Z_t - Y.T)


@pytest.mark.parametrize("K", [2, 3, 5])
def test_label_gather_and_scatter_are_the_one_hot_formulas_generic(K):
    """The same on arrays of another namespace (array_api_strict), which take
    the mask branch: ``where(classes == y, ...)``."""
    xp = generic_namespace()
    rng = np.random.default_rng(10 + K)
    n = 13
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)
    Y = one_hot(y, K)
    Z_t = rng.standard_normal((K, n))
    w = rng.uniform(0.1, 2.0, size=n)
    Z_x, y_x, w_x = xp.asarray(Z_t), xp.asarray(y), xp.asarray(w)
    assert not isinstance(Z_x, np.ndarray)
    values = label_values(Z_x, y_x, xp)
    assert_allclose(np.asarray(values), np.sum(Y * Z_t.T, axis=1), rtol=1e-15)
    G_x = xp.asarray(Z_t, copy=True)
    subtract_at_labels(G_x, y_x, w_x, xp)
    assert_allclose(np.asarray(G_x), Z_t - (Y * w[:, None]).T, rtol=0, atol=1e-15)


def test_subtract_at_labels_with_a_scalar_weight_generic():
    """``cross_entropy_gradient`` subtracts the one-hot labels with the
    scalar weight 1.0 (then multiplies by ``w``): the generic path must take
    a scalar too."""
    xp = generic_namespace()
    rng = np.random.default_rng(20)
    K, n = 3, 11
    y = rng.integers(0, K, size=n)
    Z_t = rng.standard_normal((K, n))
    G_x = xp.asarray(Z_t, copy=True)
    subtract_at_labels(G_x, xp.asarray(y), 1.0, xp)
    assert_allclose(np.asarray(G_x), Z_t - one_hot(y, K).T, rtol=0, atol=0)


# ------------------------------------------------------- blocks and map_sum


def backend(X, y, w, K=3):
    return ArrayBackend(X, y, w, K, np)


def test_dense_blocks_cover_the_rows_in_order_as_views():
    X, _, _, y, w = make_data(0, n=1000, d=4)
    data = backend(X, y, w)
    assert len(data.blocks()) == 1  # 32 kB of X: one block by default
    data.block_bytes = 1  # blocks of the minimum, 256 rows
    blocks = data.blocks()
    assert [b[0].shape[0] for b in blocks] == [256, 256, 256, 232]
    for X_b, y_b, w_b in blocks:
        assert np.shares_memory(X_b, X)
        assert np.shares_memory(y_b, y)
        assert np.shares_memory(w_b, w)
    assert_array_equal(np.concatenate([b[0] for b in blocks]), X)
    assert_array_equal(np.concatenate([b[1] for b in blocks]), y)
    assert_array_equal(np.concatenate([b[2] for b in blocks]), w)
    data.block_bytes = 300 * 4 * 8  # 300 rows of 4 float64
    assert [b[0].shape[0] for b in data.blocks()] == [300, 300, 300, 100]


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_data_is_one_block_never_sliced(fmt):
    X, _, _, y, w = make_data(1, n=600, d=4)
    X_sparse = sp.csr_array(X).asformat(fmt)
    data = backend(X_sparse, y, w)
    data.block_bytes = 1
    ((X_b, y_b, w_b),) = data.blocks()
    assert X_b is X_sparse and y_b is y and w_b is w


def test_map_and_map_sum_add_the_blocks_results():
    """``map_sum`` adds arrays, 0-d arrays and tuples entry by entry (None
    stays None), without changing the first block's inputs; ``kept`` passes
    each block its own result of ``map``."""
    X, _, _, y, w = make_data(2, n=900, d=3)
    data = backend(X, y, w)
    data.block_bytes = 1

    def moments(xp, X_b, y_b, w_b, scale):
        return xp.sum(w_b), scale * (w_b @ X_b), None

    total, first, none = data.map_sum(moments, 2.0)
    assert none is None
    assert total == pytest.approx(w.sum(), rel=1e-14)
    assert_allclose(first, 2.0 * (w @ X), rtol=1e-13)
    kept = data.map(lambda xp, X_b, y_b, w_b: X_b.shape[0])
    assert kept == [256, 256, 256, 132]
    counts = data.map_sum(lambda xp, X_b, y_b, w_b, rows: np.array(rows), kept=kept)
    assert counts == 900
    # The same on one block (the default size).
    data.block_bytes = ArrayBackend.block_bytes
    total1, first1, _ = data.map_sum(moments, 2.0)
    assert total1 == pytest.approx(total, rel=1e-14)
    assert_allclose(first1, first, rtol=1e-13)


def test_dense_blocks_on_a_generic_namespace():
    xp = generic_namespace()
    X, _, _, y, w = make_data(0, n=600, d=4)
    data = ArrayBackend(xp.asarray(X), xp.asarray(y), xp.asarray(w), 3, xp)
    data.block_bytes = 1
    blocks = data.blocks()
    assert [b[0].shape[0] for b in blocks] == [256, 256, 88]
    total = data.map_sum(lambda xp_, X_b, y_b, w_b: xp_.sum(w_b))
    assert float(total) == pytest.approx(1.0)


# ------------------------------------------------------------ row subsets


@pytest.mark.parametrize("fmt", [None, "csr", "csc"])
def test_take_by_slice_and_by_indices(fmt):
    X, _, _, y, w = make_data(3, n=50, d=4)
    data = backend(X if fmt is None else sp.csr_array(X).asformat(fmt), y, w)
    rows = np.arange(1, 50, 7)
    by_indices = data.take(rows, 3.0)
    by_slice = data.take(slice(1, 50, 7), 3.0)
    for batch in (by_indices, by_slice):
        X_b = batch.X.toarray() if fmt else batch.X
        assert_array_equal(X_b, X[rows])
        assert_array_equal(batch.y, y[rows])
        assert_allclose(batch.w, 3.0 * w[rows], rtol=1e-15)
        assert batch.n_rows == rows.shape[0] and batch.n_classes == 3
        assert batch.sparse == (fmt is not None)
    if fmt is None:
        assert np.shares_memory(by_slice.X, X)  # a view, not a copy
    if fmt is not None:
        assert by_indices.X.format == "csr"
    assert_array_equal(data.w, w)  # the data's weights unchanged


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_csr_rows_is_scipy_row_indexing(fmt):
    """The CSR gather of ``_csr_rows`` equals scipy's ``X[rows]``, for rows
    repeated, unordered and empty."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 8))
    X[rng.uniform(size=X.shape) < 0.7] = 0.0
    X[5] = 0.0  # an empty row
    X_sparse = sp.csr_array(X).asformat(fmt)
    rows = np.array([5, 3, 3, 29, 0, 5, 17])
    result = _csr_rows(X_sparse, rows)
    assert result.format == "csr"
    assert result.shape == (rows.shape[0], 8)
    assert_array_equal(result.toarray(), X[rows])
    assert _csr_rows(X_sparse, np.array([], dtype=np.intp)).shape == (0, 8)


def test_take_support_keeps_the_batch_columns():
    """``take_support`` restricts a sparse batch to the columns its rows use,
    sorted; the other columns are zero on these rows."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 12))
    X[rng.uniform(size=X.shape) < 0.8] = 0.0
    y = rng.integers(0, 3, size=40)
    w = np.full(40, 1 / 40)
    data = backend(sp.csr_array(X), y, w)
    rows = np.array([3, 7, 11, 2])
    batch, columns = data.take_support(rows, 10.0)
    used = np.flatnonzero(np.any(X[rows] != 0, axis=0))
    assert_array_equal(columns, used)
    assert batch.n_features == columns.shape[0] == batch.X.shape[1]
    assert_array_equal(batch.X.toarray(), X[rows][:, columns])
    assert_allclose(batch.w, 10.0 * w[rows])
    assert_array_equal(batch.y, y[rows])


@pytest.mark.parametrize("container", [sp.csr_array, sp.csr_matrix])
def test_padded_csr_rows_share_X_and_add_an_empty_column(container):
    """``padded``: CSR rows with one more, empty, column, sharing all of
    ``X``'s arrays; None for dense and CSC rows."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((30, 10))
    X[rng.uniform(size=X.shape) < 0.5] = 0.0
    y, w = rng.integers(0, 3, size=30), np.full(30, 1 / 30)
    X_csr = container(X)
    padded = backend(X_csr, y, w).padded()
    assert padded.X.shape == (30, 11) and padded.n_features == 11
    assert type(padded.X) is container
    assert_array_equal(padded.X.toarray(), np.column_stack([X, np.zeros(30)]))
    for name in ("data", "indices", "indptr"):
        assert np.shares_memory(getattr(padded.X, name), getattr(X_csr, name))
    assert padded.y is y and padded.w is w
    assert backend(X, y, w).padded() is None
    assert backend(sp.csc_array(X), y, w).padded() is None


def test_support_restricts_csr_rows_to_their_columns():
    """``support``: CSR rows on the columns they use, sharing ``X``'s values
    and row pointers; None on dense rows and when every column is used."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 10))
    X[:, [1, 4, 5]] = 0.0
    X[rng.uniform(size=X.shape) < 0.5] = 0.0
    y, w = rng.integers(0, 3, size=30), np.full(30, 1 / 30)
    X_csr = sp.csr_array(X)
    data, columns = backend(X_csr, y, w).support()
    used = np.flatnonzero(np.any(X != 0, axis=0))
    assert_array_equal(columns, used)
    assert data.n_features == used.shape[0] < 10
    assert_array_equal(data.X.toarray(), X[:, used])
    assert data.X.indices.dtype == X_csr.indices.dtype
    assert np.shares_memory(data.X.data, X_csr.data)
    assert data.y is y and data.w is w
    assert backend(X, y, w).support() is None
    assert backend(sp.csr_array(X[:, used]), y, w).support() is None


# ---------------------------------------------------------- Hessian sample


def sample_problem(n=3000, K=4, seed=0, zero_every=None):
    """Labels with unequal class frequencies and random weights, some zero."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = rng.choice(K, size=n, p=np.arange(1, K + 1) / (K * (K + 1) / 2))
    w = rng.uniform(0.1, 2.0, size=n)
    w[rng.uniform(size=n) < 0.1] = 0.0
    if zero_every is not None:
        w[::zero_every] = 0.0
    w /= w.sum()
    return backend(X, y, w, K)


def sampled_rows(data, sample):
    """The indices of the sample's rows in ``data``, found from ``X`` (in the
    dtype the sample stores them in)."""
    index = {row.astype(sample.X.dtype).tobytes(): i for i, row in enumerate(data.X)}
    return np.array([index[row.tobytes()] for row in sample.X])


@pytest.mark.parametrize("fraction, min_rows", [(0.1, 100), (0.3, 10), (0.05, 400)])
def test_sample_is_stratified_subset_of_positive_weight_rows(fraction, min_rows):
    data = sample_problem()
    sample = data.sample(fraction, min_rows, seed=0)
    rows = sampled_rows(data, sample)
    positive = np.flatnonzero(data.w > 0)
    # Rows with positive weight, each once, in their original order.
    assert np.all(np.isin(rows, positive))
    assert np.all(np.diff(rows) > 0)
    assert_array_equal(sample.y, data.y[rows])
    # About the fraction of them (at least min_rows), one more per class at most.
    target = max(int(np.ceil(fraction * positive.shape[0])), min_rows)
    assert target <= rows.shape[0] <= target + data.n_classes
    # Each class's weight in the sample is its weight in the data, each
    # row's weight rescaled by one factor per class (to the float32 the
    # sample stores its weights in).
    assert sample.w.dtype == np.float32
    for k in range(data.n_classes):
        in_class = sample.y == k
        assert in_class.any()
        assert float(sample.w[in_class].sum(dtype=np.float64)) == pytest.approx(
            data.w[data.y == k].sum(), rel=1e-6
        )
        ratio = sample.w[in_class] / data.w[rows[in_class]]
        assert_allclose(ratio, ratio[0], rtol=1e-6)
    assert float(sample.w.sum(dtype=np.float64)) == pytest.approx(1.0, rel=1e-6)


def test_sample_is_deterministic_for_a_seed_and_grows_as_superset():
    data = sample_problem(seed=1)
    a = sampled_rows(data, data.sample(0.1, 50, seed=3))
    b = sampled_rows(data, data.sample(0.1, 50, seed=3))
    c = sampled_rows(data, data.sample(0.1, 50, seed=4))
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    previous = a
    for fraction in (0.2, 0.4, 0.8):
        larger = sampled_rows(data, data.sample(fraction, 50, seed=3))
        assert larger.shape[0] > previous.shape[0]
        assert np.all(np.isin(previous, larger))  # a superset
        previous = larger


def test_sample_is_none_when_it_would_be_all_rows():
    data = sample_problem(n=500)
    n_positive = int(np.sum(data.w > 0))
    assert data.sample(0.1, n_positive, seed=0) is None
    assert data.sample(1.0, 10, seed=0) is None
    assert data.sample(0.1, n_positive - 1, seed=0) is not None


def test_sample_does_not_alias_with_periodic_rows():
    """Rows repeating with a period: labels cycling through 10 classes, where
    every 10th row (the old sample) is class 0 only; and every 10th weight
    zero, where it is zero weights only. The random stratified sample sees
    every class with positive weight, about a tenth of each, with its
    weight."""
    n, K = 5000, 10
    X = np.random.default_rng(0).standard_normal((n, 2))
    y = np.arange(n) % K
    data = backend(X, y, np.full(n, 1 / n), K)
    sample = data.sample(0.1, 100, seed=0)
    assert_array_equal(np.bincount(sample.y, minlength=K), np.full(K, 50))
    w = np.ones(n)
    w[::10] = 0.0  # the rows of class 0 weigh nothing
    w /= w.sum()
    data = backend(X, y, w, K)
    sample = data.sample(0.1, 100, seed=0)
    rows = sampled_rows(data, sample)
    assert np.all(data.w[rows] > 0)
    assert_array_equal(np.bincount(sample.y, minlength=K), [0] + [50] * 9)
    for k in range(1, K):
        in_class = sample.w[sample.y == k]
        assert float(in_class.sum(dtype=np.float64)) == pytest.approx(1 / 9, rel=1e-6)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sample_of_sparse_rows(fmt):
    dense = sample_problem(n=800)
    data = backend(sp.csr_array(dense.X).asformat(fmt), dense.y, dense.w, 4)
    sample = data.sample(0.2, 10, seed=2)
    sample_dense = dense.sample(0.2, 10, seed=2)
    assert sample.sparse and sample.X.format == "csr"
    assert_array_equal(sample.X.toarray(), sample_dense.X)
    assert_array_equal(sample.w, sample_dense.w)


def test_sample_of_float64_rows_is_stored_in_float32():
    """The Hessian sample of float64 rows stores its rows and weights in
    float32, gathered without a float64 copy of them: ``map`` and
    ``map_sum`` take float64 arguments and work in float32 (the rows are
    never cast up), their results float32 too. float32 rows are sampled as
    they are."""
    n, d, K = 4000, 50, 4
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d))
    y, w = rng.integers(0, K, size=n), np.full(n, 1 / n)
    data = backend(X, y, w, K)
    data.block_bytes = 16 * d * 8  # gathered 16 rows at a time
    tracemalloc.start()
    sample = data.sample(0.5, 10, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows = sampled_rows(data, sample)
    assert sample.X.dtype == sample.w.dtype == sample.dtype == np.float32
    assert_array_equal(sample.X, X[rows].astype(np.float32))
    # The float32 rows (half of a float64 copy) and small bookkeeping only.
    assert peak < 0.75 * X[rows].nbytes

    seen = []

    def block_fn(xp, X_b, y_b, w_b, V):
        seen.append((X_b.dtype, w_b.dtype, V.dtype))
        return X_b.T @ (w_b[:, None] * (X_b @ V)), xp.sum(w_b)

    V = rng.standard_normal((d, 2))
    M, total = sample.map_sum(block_fn, V)
    assert set(seen) == {(np.dtype(np.float32),) * 3}
    assert M.dtype == np.float32 and np.asarray(total).dtype == np.float32
    Xs, ws = X[rows], sample.w.astype(np.float64)
    assert_allclose(M, Xs.T @ (ws[:, None] * (Xs @ V)), rtol=1e-4)
    assert sample.map(block_fn, V)[0][0].dtype == np.float32  # kept as computed

    sparse = backend(sp.csr_array(X), y, w, K).sample(0.5, 10, seed=0)
    assert sparse.X.dtype == sparse.dtype == np.float32
    assert_array_equal(sparse.X.toarray(), sample.X)
    single = backend(X.astype(np.float32), y, w.astype(np.float32), K)
    assert single.sample(0.5, 10, seed=0).X.dtype == np.float32
    assert single.sample(0.5, 10, seed=0).dtype == np.float32


# ------------------------------------------------------------ parameters


def test_parameter_layout_is_column_major_for_sparse_X_only():
    X, _, _, y, w = make_data(6, n=20, d=4)
    P = np.random.default_rng(0).standard_normal((3, 5))
    assert backend(X, y, w).parameter_layout(P) is P
    P_sparse = backend(sp.csr_array(X), y, w).parameter_layout(P)
    assert P_sparse.flags.f_contiguous and not P_sparse.flags.c_contiguous
    assert_array_equal(P_sparse, P)
