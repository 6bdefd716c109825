"""The vector helpers of ``_array_ops.py``: the inner products, ``y += a
x``, 1-norms and scaled max-norms on parameter arrays (BLAS on large numpy
arrays, from one library), and the label-indexed gather and scatter
(against their one-hot formulas, on numpy and on a generic array-API
namespace)."""

import tracemalloc

import numpy as np
import pytest
from _problems import generic_namespace, one_hot
from numpy.testing import assert_allclose, assert_array_equal

from sk_softmax import _array_ops
from sk_softmax._array_ops import (
    BLAS_MIN_ENTRIES,
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
        real = getattr(_array_ops.blas, name)

        def spy(*args, real=real, name=name, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(_array_ops.blas, name, spy)

    def no_numpy_dot(*args, **kwargs):
        raise AssertionError("np.dot called")

    monkeypatch.setattr(_array_ops.np, "dot", no_numpy_dot)
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
