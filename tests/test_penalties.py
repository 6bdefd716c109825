"""The elastic-net penalty of ``_penalties.py``: values, gradient, proximal
operator (soft-thresholding) and minimal-norm subgradient. How
``SoftmaxObjective`` applies them to the coefficients only is checked in
``test_objective.py``."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_softmax._penalties import ElasticNet

PENALTIES = [(0.0, 0.0), (0.7, 0.0), (0.7, 0.3), (0.7, 1.0), (2.0, 0.5)]


def random_W(seed, shape=(3, 4), dtype=np.float64, zeros=True):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal(shape)
    if zeros:
        W[0, 0] = 0.0
        W[-1, -1] = 0.0
    return W.astype(dtype)


def soft_threshold(v, t):
    """argmin_u (u - v)^2 / 2 + t |u|, piece by piece (u > 0, u < 0, u = 0)."""
    return np.select([v > t, v < -t], [v - t, v + t], default=0.0)


@pytest.mark.parametrize("alpha, l1_ratio", PENALTIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_formula(alpha, l1_ratio, dtype):
    W = random_W(0, dtype=dtype)
    pen = ElasticNet(alpha, l1_ratio, np)
    W64 = W.astype(np.float64)
    squares = sum(float(x) ** 2 for x in W64.ravel())
    absolutes = sum(abs(float(x)) for x in W64.ravel())
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    assert pen.smooth_value(W) == pytest.approx(
        alpha * (1 - l1_ratio) / 2 * squares, rel=rtol, abs=1e-300
    )
    assert pen.nonsmooth_value(W) == pytest.approx(
        alpha * l1_ratio * absolutes, rel=rtol, abs=1e-300
    )
    assert pen.is_smooth == (alpha * l1_ratio == 0)
    assert pen.smooth_value(np.zeros_like(W)) == 0.0
    assert pen.nonsmooth_value(np.zeros_like(W)) == 0.0


@pytest.mark.parametrize("alpha, l1_ratio", PENALTIES)
def test_smooth_gradient_formula_and_finite_differences(alpha, l1_ratio):
    W = random_W(1)
    pen = ElasticNet(alpha, l1_ratio, np)
    G = random_W(2)
    grad = G.copy()
    pen.add_smooth_gradient(grad, W)  # in place: G + the gradient
    grad -= G
    assert_allclose(grad, alpha * (1 - l1_ratio) * W, rtol=1e-12, atol=1e-15)
    h = 1e-5
    fd = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += h
        Wm[idx] -= h
        fd[idx] = (pen.smooth_value(Wp) - pen.smooth_value(Wm)) / (2 * h)
    assert_allclose(grad, fd, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_keep_dtype(dtype):
    W = random_W(2, dtype=dtype)
    pen = ElasticNet(0.5, 0.5, np)
    G = random_W(3, dtype=dtype)
    pen.add_smooth_gradient(G, W)
    assert G.dtype == dtype
    assert pen.prox(W, 0.3).dtype == dtype
    assert pen.min_norm_subgradient(W, random_W(3, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("alpha, l1_ratio", [(0.7, 0.3), (0.7, 1.0), (2.0, 0.5)])
@pytest.mark.parametrize("step", [0.05, 0.5, 2.0])
def test_prox_is_soft_thresholding(alpha, l1_ratio, step):
    W = random_W(4, shape=(4, 5))
    pen = ElasticNet(alpha, l1_ratio, np)
    lam = alpha * l1_ratio
    V = pen.prox(W, step)
    assert_allclose(V, soft_threshold(W, step * lam), rtol=1e-15, atol=0)
    # Some entries are thresholded to exactly zero, others only shrunk.
    thresholded = np.abs(W) <= step * lam
    assert_array_equal(V[thresholded], 0.0)
    assert_allclose(np.abs(V[~thresholded]), np.abs(W[~thresholded]) - step * lam)
    assert_array_equal(np.sign(V[~thresholded]), np.sign(W[~thresholded]))
    assert not np.any(np.isneginf(V)) and np.all(np.isfinite(V))


@pytest.mark.parametrize("step", [0.1, 0.8])
def test_prox_matches_brute_force_minimisation(step):
    # argmin_v (v - w)^2 / (2 step) + lam |v| entry by entry, on a fine grid.
    pen = ElasticNet(1.2, 0.5, np)
    lam = 0.6
    W = np.array([[-2.0, -0.5, -0.04, 0.0], [0.03, 0.3, 0.7, 2.5]])
    grid = np.linspace(-3.0, 3.0, 60001)  # spacing 1e-4
    expected = np.empty_like(W)
    for idx in np.ndindex(W.shape):
        h = (grid - W[idx]) ** 2 / (2 * step) + lam * np.abs(grid)
        expected[idx] = grid[np.argmin(h)]
    V = pen.prox(W, step)
    assert_allclose(V, expected, atol=1.5e-4)
    # and the prox value is no worse than the best grid point
    for idx in np.ndindex(W.shape):
        best = (expected[idx] - W[idx]) ** 2 / (2 * step) + lam * abs(expected[idx])
        here = (V[idx] - W[idx]) ** 2 / (2 * step) + lam * abs(V[idx])
        assert here <= best + 1e-15


@pytest.mark.parametrize("step", [0.1, 1.0])
def test_prox_optimality_condition(step):
    # V = prox(W) iff (W - V) / step is in lam * d|V|: equal to lam * sign(V)
    # where V != 0 and within [-lam, lam] where V == 0.
    pen = ElasticNet(0.9, 0.5, np)
    lam = 0.45
    W = random_W(5, shape=(5, 6))
    V = pen.prox(W, step)
    u = (W - V) / step
    nonzero = V != 0
    assert nonzero.any() and (~nonzero).any()
    assert_allclose(u[nonzero], lam * np.sign(V[nonzero]), rtol=1e-12)
    assert np.all(np.abs(u[~nonzero]) <= lam * (1 + 1e-12))

    # The prox objective is minimal: random perturbations never decrease it.
    def prox_objective(U):
        return np.sum((U - W) ** 2) / (2 * step) + lam * np.sum(np.abs(U))

    rng = np.random.default_rng(6)
    best = prox_objective(V)
    for scale in (1e-6, 1e-3, 1e-1):
        for _ in range(10):
            assert prox_objective(V + scale * rng.standard_normal(V.shape)) >= best


def test_prox_without_l1_or_step_is_identity():
    W = random_W(7)
    assert_array_equal(ElasticNet(0.5, 0.0, np).prox(W, 1.0), W)
    assert_array_equal(ElasticNet(0.5, 0.5, np).prox(W, 0.0), W)


def test_min_norm_subgradient_zero_at_prox_fixed_point():
    # Build (W, g) with W = prox(W - step * g, step): g = -lam sign(W) where
    # W != 0 and |g| <= lam where W == 0.  Then 0 is in g + lam d||W||_1.
    pen = ElasticNet(1.0, 0.4, np)
    lam = 0.4
    rng = np.random.default_rng(8)
    W = rng.standard_normal((4, 5))
    W[rng.uniform(size=W.shape) < 0.4] = 0.0
    g = np.where(W != 0, -lam * np.sign(W), rng.uniform(-lam, lam, size=W.shape))
    i, j = np.argwhere(W == 0)[0]
    g[i, j] = lam  # on the boundary of [-lam, lam]
    for step in (0.1, 1.0, 3.0):
        assert_allclose(pen.prox(W - step * g, step), W, atol=1e-15)
    assert_array_equal(pen.min_norm_subgradient(W, g), 0.0)

    # Away from the fixed point, the measure is non-zero wherever the
    # condition fails.
    g_off = g.copy()
    g_off[W == 0] += 2 * lam
    g_off[W != 0] += 0.1
    sub = pen.min_norm_subgradient(W, g_off)
    assert np.all(sub != 0)


def test_min_norm_subgradient_is_the_smallest_element():
    # Brute force over the subdifferential: at W_kj == 0 the set is
    # g + lam * [-1, 1]; at W_kj != 0 the single point g + lam * sign(W_kj).
    lam = 0.5
    pen = ElasticNet(1.0, 0.5, np)
    W = np.array([[0.0, 0.0, 0.0, 1.5], [-0.2, 0.0, 0.0, 3.0]])
    g = np.array([[0.3, -0.9, 0.5, 0.25], [0.7, 2.0, -0.5, -0.5]])
    u = np.linspace(-1.0, 1.0, 20001)
    expected = np.empty_like(W)
    for idx in np.ndindex(W.shape):
        if W[idx] != 0:
            expected[idx] = g[idx] + lam * np.sign(W[idx])
        else:
            candidates = g[idx] + lam * u
            expected[idx] = candidates[np.argmin(np.abs(candidates))]
    assert_allclose(pen.min_norm_subgradient(W, g), expected, atol=1e-4)
    # by hand: 0.3 -> 0, -0.9 -> -0.4, 0.5 -> 0, 0.25 + 0.5, 0.7 - 0.5,
    # 2.0 -> 1.5, -0.5 -> 0, -0.5 + 0.5
    by_hand = np.array([[0.0, -0.4, 0.0, 0.75], [0.2, 1.5, 0.0, 0.0]])
    assert_allclose(pen.min_norm_subgradient(W, g), by_hand, atol=1e-15)
