"""The loops of ``_solvers.py``: they agree with each other and with scipy on
the minimiser, the constant-step update is the derivation's, and the
contract (report, stopping rule, statuses, no in-place change) holds."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize

from sk_softmax._loss import SoftmaxObjective
from sk_softmax._solvers import (
    SOLVERS,
    _conjugate_gradient,
    gradient_descent,
    hessian_sample,
)

SOLVER_OPTIONS = {"gd": {"learning_rate": 1.0}, "agd": {}, "lbfgs": {}, "newton-cg": {}}
L1_SOLVERS = ["gd", "agd"]  # lbfgs and newton-cg are for smooth objectives only


def make_problem(
    seed=0,
    n=200,
    d=5,
    K=3,
    alpha=1e-2,
    l1_ratio=0.0,
    fit_intercept=True,
    dtype=np.float64,
    sparse=False,
):
    """A small, well-conditioned random problem with non-uniform weights."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W_true = rng.standard_normal((K, d))
    Z = X @ W_true.T + 0.3 * rng.standard_normal((n, K))
    y = np.argmax(Z, axis=1)
    Y = np.eye(K)[y]
    w = rng.uniform(0.5, 2.0, size=n)
    w = w / w.sum()
    X, Y, w = X.astype(dtype), Y.astype(dtype), w.astype(dtype)
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    return SoftmaxObjective(X, Y, w, alpha, l1_ratio, fit_intercept, np)


def zeros(obj, dtype=np.float64):
    K = obj.Y.shape[1]
    return np.zeros((K, obj.n_features + int(obj.fit_intercept)), dtype=dtype)


# ``report(iteration, J, P, optimality, ...)``: later arguments (such as the
# step size) are accepted and ignored here.
def never_stop(iteration, J, P, optimality, *rest):
    return False


def run(name, obj, P0, *, max_iter=10_000, tol=1e-10, scale=None, report=never_stop):
    return SOLVERS[name](
        obj,
        P0,
        max_iter=max_iter,
        tol=tol,
        scale=scale,
        report=report,
        **SOLVER_OPTIONS[name],
    )


def total_value(obj, P):
    return obj.smooth_value(P) + obj.nonsmooth_value(P)


def optimality_at(obj, P):
    return obj.optimality(P, obj.smooth_value_and_gradient(P)[1])


def scipy_minimiser(obj):
    """Reference minimiser of the smooth objective by scipy's L-BFGS-B."""
    P0 = zeros(obj)

    def fun(p):
        value, grad = obj.smooth_value_and_gradient(p.reshape(P0.shape))
        return value, grad.ravel()

    res = minimize(
        fun,
        P0.ravel(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10_000, "gtol": 1e-13, "ftol": 1e-16},
    )
    P = res.x.reshape(P0.shape)
    assert optimality_at(obj, P) < 1e-9  # a genuine reference
    return P


def centred(obj, P):
    """P with the intercepts centred: softmax is invariant to a common shift of
    the intercepts, so only their differences are determined by the data."""
    P = P.copy()
    if obj.fit_intercept:
        P[:, -1] -= P[:, -1].mean()
    return P


# ---------------------------------------------------------------------------
# The solvers find the minimiser
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_solvers_agree_with_scipy_on_l2_problem(K, fit_intercept):
    obj = make_problem(K=K, fit_intercept=fit_intercept)
    P_ref = scipy_minimiser(obj)
    J_ref = obj.smooth_value(P_ref)
    for name in SOLVERS:
        P, n_iter, status = run(name, obj, zeros(obj), tol=1e-10)
        assert status == "converged", name
        assert 0 < n_iter < 10_000
        assert P.shape == P_ref.shape
        assert_allclose(centred(obj, P), centred(obj, P_ref), rtol=1e-7, atol=1e-8)
        assert obj.smooth_value(P) == pytest.approx(J_ref, rel=1e-12)
        # The L2 penalty pins the free direction of W: sum_k W[k] = 0 at the
        # optimum (for K = 2: W[0] = -W[1]).
        W = P[:, : obj.n_features]
        assert_allclose(W.sum(axis=0), 0.0, atol=1e-8)
        assert np.abs(W).max() > 0.1


def test_solvers_agree_on_sparse_X():
    sparse = make_problem(seed=1, K=3, sparse=True)
    assert sp.issparse(sparse.X)
    assert sparse.X.nnz < 0.6 * np.prod(sparse.X.shape)
    # the same numbers, dense
    dense = SoftmaxObjective(
        sparse.X.toarray(), sparse.Y, sparse.w, 1e-2, 0.0, True, np
    )
    P_ref = scipy_minimiser(dense)
    for name in SOLVERS:
        P, _, status = run(name, sparse, zeros(sparse), tol=1e-10)
        assert status == "converged"
        assert isinstance(P, np.ndarray)
        assert_allclose(centred(sparse, P), centred(dense, P_ref), atol=1e-8)


def l1_problem():
    return make_problem(seed=2, K=3, alpha=0.05, l1_ratio=0.5)


def check_l1_optimality_conditions(obj, P, atol):
    """0 in grad f + lam d||W||_1 and grad_b = 0, written out entry by entry."""
    lam = 0.05 * 0.5
    d = obj.n_features
    _, grad = obj.smooth_value_and_gradient(P)
    W, gW = P[:, :d], grad[:, :d]
    nonzero = W != 0
    assert_allclose(gW[nonzero] + lam * np.sign(W[nonzero]), 0.0, atol=atol)
    assert np.all(np.abs(gW[~nonzero]) <= lam + atol)
    assert_allclose(grad[:, d], 0.0, atol=atol)


def test_agd_solves_l1_problem():
    obj = l1_problem()
    P, n_iter, status = run("agd", obj, zeros(obj), tol=1e-10)
    assert status == "converged"
    assert optimality_at(obj, P) <= 1e-9
    check_l1_optimality_conditions(obj, P, atol=1e-9)
    W = P[:, : obj.n_features]
    # The problem is a genuine L1 problem: some coefficients are exactly zero
    # and some are not.
    assert np.any(W == 0) and np.any(W != 0)

    # Independent reference: plain proximal gradient with a small constant step,
    # run to a much tighter tolerance.
    P_ref, _, status_ref = gradient_descent(
        obj,
        zeros(obj),
        learning_rate=0.5,
        max_iter=20_000,
        tol=1e-13,
        scale=None,
        report=never_stop,
    )
    assert status_ref == "converged"
    check_l1_optimality_conditions(obj, P_ref, atol=1e-12)
    assert_allclose(centred(obj, P), centred(obj, P_ref), atol=1e-8)
    assert_array_equal(W == 0, P_ref[:, : obj.n_features] == 0)
    assert total_value(obj, P) == pytest.approx(total_value(obj, P_ref), rel=1e-12)


@pytest.mark.parametrize("name", ["lbfgs", "newton-cg"])
def test_smooth_solvers_refuse_l1_objective(name):
    obj = l1_problem()
    with pytest.raises(ValueError, match="smooth"):
        run(name, obj, zeros(obj))


@pytest.mark.parametrize("name", list(SOLVERS))
def test_solvers_float32(name):
    obj32 = make_problem(seed=3, dtype=np.float32)
    obj64 = make_problem(seed=3)
    P_ref = scipy_minimiser(obj64)
    P, _, status = run(name, obj32, zeros(obj32, np.float32), tol=1e-4)
    assert status == "converged"
    assert P.dtype == np.float32
    assert_allclose(centred(obj32, P), centred(obj64, P_ref), atol=2e-3)


# ---------------------------------------------------------------------------
# The constant-step update is the derivation's
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("eta", [0.1, 1.0])
def test_one_gradient_step_from_zero(K, l1_ratio, eta):
    obj = make_problem(n=20, d=3, K=K, alpha=0.1, l1_ratio=l1_ratio)
    X, Y, w = obj.X, obj.Y, obj.w
    # At W = 0, b = 0 every class has probability 1/K, and the L2 gradient is 0.
    G = (np.full(Y.shape, 1.0 / K) - Y) * w[:, None]
    grad_W = G.T @ X
    grad_b = G.sum(axis=0)
    W1 = -eta * grad_W
    b1 = -eta * grad_b
    if l1_ratio:
        t = eta * 0.1 * l1_ratio  # soft-thresholding of the coefficients only
        W1 = np.where(W1 > t, W1 - t, np.where(W1 < -t, W1 + t, 0.0))
    calls = []

    def report(it, J, P, opt, *rest):
        calls.append((it, J, P.copy()))
        return False

    P, n_iter, status = gradient_descent(
        obj,
        zeros(obj),
        learning_rate=eta,
        max_iter=1,
        tol=0.0,
        scale=None,
        report=report,
    )
    assert (n_iter, status) == (1, "max_iter")
    assert_allclose(P, np.column_stack([W1, b1]), rtol=1e-14, atol=1e-17)
    assert len(calls) == 1 and calls[0][0] == 1
    assert_array_equal(calls[0][2], P)


def test_one_gradient_step_from_nonzero_point():
    obj = make_problem(n=10, d=3, K=3, alpha=0.2)
    X, Y, w = obj.X, obj.Y, obj.w
    rng = np.random.default_rng(4)
    W0, b0 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    eta = 0.3
    Z = X @ W0.T + b0
    E = np.exp(Z)
    S = E / E.sum(axis=1, keepdims=True)
    G = (S - Y) * w[:, None]
    W1 = W0 - eta * (G.T @ X + 0.2 * W0)
    b1 = b0 - eta * G.sum(axis=0)
    P, _, _ = gradient_descent(
        obj,
        np.column_stack([W0, b0]),
        learning_rate=eta,
        max_iter=1,
        tol=0.0,
        scale=None,
        report=never_stop,
    )
    assert_allclose(P, np.column_stack([W1, b1]), rtol=1e-13)


# ---------------------------------------------------------------------------
# The contract: report, stop, max_iter, no in-place change, stopping rule
# ---------------------------------------------------------------------------

SOLVER_PROBLEMS = [
    ("gd", 0.0),
    ("gd", 0.5),
    ("agd", 0.0),
    ("agd", 0.5),
    ("lbfgs", 0.0),
    ("newton-cg", 0.0),
]


class Recorder:
    def __init__(self, stop_at=None):
        self.calls = []
        self.stop_at = stop_at

    def __call__(self, iteration, J, P, optimality, *rest):
        self.calls.append((iteration, J, P.copy(), optimality))
        return iteration == self.stop_at


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_report_called_once_per_iteration_with_objective_value(name, l1_ratio):
    obj = make_problem(seed=5, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    P, n_iter, status = run(name, obj, zeros(obj), tol=1e-6, report=rec)
    assert status == "converged"
    assert n_iter > 2
    assert [c[0] for c in rec.calls] == list(range(1, n_iter + 1))
    for _, J, P_reported, _ in rec.calls:
        assert J == pytest.approx(total_value(obj, P_reported), rel=1e-13)
    assert_array_equal(rec.calls[-1][2], P)


@pytest.mark.parametrize(
    "name, l1_ratio", [p for p in SOLVER_PROBLEMS if p[0] != "agd"]
)
def test_report_optimality_is_the_optimality_at_the_reported_point(name, l1_ratio):
    # "report(iteration, J, P, optimality, step_size) with the objective J and
    # the optimality measure at the new iterate" (the module's contract).
    obj = make_problem(seed=5, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    run(name, obj, zeros(obj), tol=1e-6, report=rec)
    for _, _, P_reported, opt in rec.calls:
        assert opt == pytest.approx(optimality_at(obj, P_reported), rel=1e-9)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_agd_reports_no_optimality(l1_ratio):
    # agd does not compute the optimality at its iterates (it would cost a
    # pass); the contract lets it report None rather than another measure.
    obj = make_problem(seed=5, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    run("agd", obj, zeros(obj), tol=1e-6, report=rec)
    assert rec.calls and all(opt is None for *_, opt in rec.calls)


@pytest.mark.parametrize("K", [2, 3])
def test_lbfgs_objective_values_non_increasing(K):
    obj = make_problem(seed=6, K=K, alpha=1e-3)
    rec = Recorder()
    _, n_iter, status = run("lbfgs", obj, zeros(obj), tol=1e-7, report=rec)
    assert status == "converged" and n_iter > 3
    values = [total_value(obj, zeros(obj))] + [c[1] for c in rec.calls]
    eps = np.finfo(np.float64).eps
    for before, after in zip(values[:-1], values[1:], strict=True):
        # Armijo decrease, or a step that leaves J unchanged to rounding
        # (accepted by the documented rule near the optimum).
        assert after <= before + 16 * eps * abs(before)
    assert values[-1] < values[0]


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_report_true_stops_the_loop(name, l1_ratio):
    obj = make_problem(seed=7, n=100, l1_ratio=l1_ratio)
    rec = Recorder(stop_at=3)
    P, n_iter, status = run(name, obj, zeros(obj), tol=0.0, report=rec)
    assert (n_iter, status) == (3, "stopped")
    assert len(rec.calls) == 3
    assert_array_equal(P, rec.calls[-1][2])


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_max_iter_reached(name, l1_ratio):
    obj = make_problem(seed=8, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    P, n_iter, status = run(name, obj, zeros(obj), max_iter=4, tol=0.0, report=rec)
    assert (n_iter, status) == (4, "max_iter")
    assert len(rec.calls) == 4
    assert_array_equal(P, rec.calls[-1][2])
    assert total_value(obj, P) < total_value(obj, zeros(obj))


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_start_point_not_modified(name, l1_ratio):
    obj = make_problem(seed=9, n=100, l1_ratio=l1_ratio)
    P0 = 0.1 * np.random.default_rng(0).standard_normal(zeros(obj).shape)
    P0_copy = P0.copy()
    P, n_iter, _ = run(name, obj, P0, max_iter=5, tol=0.0)
    assert n_iter == 5
    assert_array_equal(P0, P0_copy)
    assert not np.array_equal(P, P0)


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_converged_means_optimality_below_tol_times_scale(name, l1_ratio, seed, tol):
    obj = make_problem(seed=seed, n=150, K=4, alpha=1e-2, l1_ratio=l1_ratio)
    scale = optimality_at(obj, zeros(obj))
    rec = Recorder()
    P, n_iter, status = run(name, obj, zeros(obj), tol=tol, report=rec)
    assert status == "converged"
    # The returned point meets the criterion ...
    assert optimality_at(obj, P) <= tol * scale
    if name == "agd":
        # agd screens with its gradient mapping (measured at the extrapolated
        # point) and confirms at the iterate: it may stop a little after the
        # first iterate that met the criterion, never before.
        return
    # ... and the loop stopped at the first iteration that met it.
    reported = [c[3] for c in rec.calls]
    assert reported[-1] <= tol * scale
    assert all(opt > tol * scale for opt in reported[:-1])


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_explicit_scale(name, l1_ratio):
    # With scale given, the criterion is optimality <= tol * scale whatever the
    # start point; here an absolute threshold of 1e-7 from a non-zero start.
    obj = make_problem(seed=10, n=100, l1_ratio=l1_ratio)
    P0 = np.random.default_rng(1).standard_normal(zeros(obj).shape)
    P, n_iter, status = run(name, obj, P0, tol=1e-7, scale=1.0)
    assert status == "converged" and n_iter > 0
    assert optimality_at(obj, P) <= 1e-7


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_converged_at_start(name, l1_ratio):
    obj = make_problem(seed=11, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    P0 = np.random.default_rng(2).standard_normal(zeros(obj).shape)
    # scale=None: the scale is the optimality at the start, so tol=1 is met there.
    P, n_iter, status = run(name, obj, P0, tol=1.0, report=rec)
    assert (n_iter, status) == (0, "converged")
    assert rec.calls == []
    assert_array_equal(P, P0)
    # An explicit scale large enough to accept the start point.
    opt0 = optimality_at(obj, P0)
    _, n_iter, status = run(name, obj, P0, tol=1.0, scale=1.01 * opt0, report=rec)
    assert (n_iter, status) == (0, "converged")
    # ... and one just too small to accept it.
    _, n_iter, status = run(name, obj, P0, tol=1.0, scale=0.99 * opt0, report=rec)
    assert n_iter > 0


@pytest.mark.parametrize("name", ["gd", "lbfgs"])
def test_stopping_rule_is_scale_free(name):
    # Multiplying the loss and the penalty by 4 (a power of two, so exactly)
    # and the constant step by 1/4 gives the same iterates; the criterion
    # tol * scale (scale taken at the start) must stop them at the same point.
    obj = make_problem(seed=12, n=100)
    obj4 = SoftmaxObjective(obj.X, obj.Y, 4.0 * obj.w, 4e-2, 0.0, True, np)
    kwargs = dict(max_iter=10_000, tol=1e-8, scale=None, report=never_stop)
    if name == "gd":
        P, n, s = gradient_descent(obj, zeros(obj), learning_rate=1.0, **kwargs)
        P4, n4, s4 = gradient_descent(obj4, zeros(obj4), learning_rate=0.25, **kwargs)
    else:
        P, n, s = SOLVERS[name](obj, zeros(obj), **kwargs)
        P4, n4, s4 = SOLVERS[name](obj4, zeros(obj4), **kwargs)
    assert s == s4 == "converged"
    assert n == n4
    assert_allclose(P4, P, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("t0", [1e-3, 1.0, 50.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wolfe_line_search_meets_the_strong_wolfe_conditions(seed, t0):
    # From a too short, a reasonable and a far too long first trial, the step
    # returned decreases f enough and flattens the slope along d (N&W 3.7).
    from sk_softmax._solvers import _wolfe_line_search

    obj = make_problem(seed=seed, alpha=1e-3)
    rng = np.random.default_rng(seed)
    P = 0.5 * rng.standard_normal(zeros(obj).shape)
    f, g = obj.smooth_value_and_gradient(P)
    d = -g * rng.uniform(0.5, 2.0, size=g.shape)  # a descent direction
    gd = float(np.sum(g * d))
    t, P_new, f_new, g_new = _wolfe_line_search(obj, P, f, g, d, gd, t0)
    assert_allclose(P_new, P + t * d)
    assert f_new == pytest.approx(obj.smooth_value(P_new), rel=1e-12)
    assert f_new <= f + 1e-4 * t * gd
    assert abs(float(np.sum(g_new * d))) <= 0.9 * abs(gd)


@pytest.mark.parametrize(
    "n_rows, step", [(1_437, 1), (4_000, 2), (16_000, 8), (160_000, 10)]
)
def test_hessian_sample_is_a_tenth_of_the_rows_but_at_least_2000(n_rows, step):
    rows = hessian_sample(n_rows)
    assert rows == slice(0, n_rows, step)
    assert len(range(n_rows)[rows]) >= min(n_rows, 2000)


def hessian_sizes(monkeypatch):
    """A list that will hold the number of rows of every Hessian built."""
    sizes = []
    hessp = SoftmaxObjective.hessp

    def spy(self, P, forward=None):
        sizes.append(self.X.shape[0])
        return hessp(self, P, forward)

    monkeypatch.setattr(SoftmaxObjective, "hessp", spy)
    return sizes


@pytest.mark.parametrize("sparse", [False, True])
def test_newton_cg_with_a_subsampled_hessian_reaches_the_optimum(sparse, monkeypatch):
    obj = make_problem(seed=7, n=6_000, sparse=sparse)
    sizes = hessian_sizes(monkeypatch)
    P, n_iter, status = run("newton-cg", obj, zeros(obj), tol=1e-10)
    # every third row: the Hessian of 2000 rows, the gradient of all 6000
    assert set(sizes) == {2_000}
    assert len(sizes) == n_iter
    assert status == "converged"
    P_ref = scipy_minimiser(obj)
    assert_allclose(centred(obj, P), centred(obj, P_ref), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("sparse", [False, True])
def test_subset_by_slice_equals_subset_by_indices(sparse):
    obj = make_problem(seed=8, n=300, sparse=sparse)
    P = np.random.default_rng(0).standard_normal(zeros(obj).shape)
    by_slice = obj.subset(slice(1, 300, 7), 300)
    by_indices = obj.subset(np.arange(1, 300, 7), 300)
    if not sparse:
        assert np.shares_memory(by_slice.X, obj.X)  # a view, not a copy
    assert_allclose(by_slice.w, by_indices.w, rtol=1e-15)
    assert by_slice.w.sum() == pytest.approx(300 / 43 * obj.w[1::7].sum())
    for a, b in zip(
        by_slice.smooth_value_and_gradient(P),
        by_indices.smooth_value_and_gradient(P),
        strict=True,
    ):
        assert_allclose(a, b, rtol=1e-14)


def test_newton_cg_grows_the_hessian_sample_near_the_optimum(monkeypatch):
    # 2000 rows for 255 parameters: near the optimum the sampled curvature is
    # too rough for Newton's fast convergence, and the sample must grow.
    obj = make_problem(seed=9, n=6_000, d=50, K=5, alpha=1e-4)
    sizes = hessian_sizes(monkeypatch)
    P, n_iter, status = run("newton-cg", obj, zeros(obj), tol=1e-10, max_iter=100)
    assert status == "converged"
    assert sizes[0] == 2_000 and sizes[-1] == 6_000
    assert sizes == sorted(sizes)  # it only grows
    P_ref = scipy_minimiser(obj)
    assert_allclose(centred(obj, P), centred(obj, P_ref), rtol=1e-6, atol=1e-8)


def test_conjugate_gradient_solves_with_a_diagonal_preconditioner():
    """Preconditioned by the diagonal of a badly scaled system, conjugate
    gradients reach the same solution in fewer products than unscaled; a
    diagonal system is solved in one product."""
    rng = np.random.default_rng(0)
    n = 60
    A = rng.standard_normal((n, n))
    scales = np.logspace(-3, 3, n)
    H = scales[:, None] * (A @ A.T / n + np.eye(n)) * scales[None, :]
    g = rng.standard_normal(n)
    products = []

    def hessp(p):
        products.append(1)
        return H @ p

    solutions = {}
    for name, diagonal in [("plain", np.ones(n)), ("scaled", np.diag(H).copy())]:
        products.clear()
        solutions[name] = _conjugate_gradient(hessp, g, 1e-10, 10 * n, np, diagonal)
        solutions[name + " products"] = len(products)
    x = np.linalg.solve(H, -g)
    assert_allclose(solutions["scaled"], x, rtol=1e-6)
    assert solutions["scaled products"] <= n
    assert solutions["plain products"] > 2 * solutions["scaled products"]
    products.clear()
    D = np.diag(scales)
    d = _conjugate_gradient(lambda p: D @ p, g, 1e-12, n, np, scales)
    assert_allclose(d, -g / scales, rtol=1e-12)


def rare_feature_problem(n=2_000, d=300, K=4, alpha=1e-4):
    """Sparse rows over features of Zipf-like frequencies, as in text."""
    rng = np.random.default_rng(3)
    p = 1.0 / np.arange(1, d + 1) ** 1.1
    cols = rng.choice(d, size=(n, 8), p=p / p.sum())
    values = rng.exponential(size=n * 8)
    X = sp.csr_array((values, cols.ravel(), np.arange(0, 8 * n + 1, 8)), (n, d))
    X.sum_duplicates()
    W_true = rng.standard_normal((K, d))
    y = np.argmax(X @ W_true.T + rng.gumbel(size=(n, K)), axis=1)
    return SoftmaxObjective(X, np.eye(K)[y], np.full(n, 1 / n), alpha, 0.0, True, np)


def without_preconditioner(monkeypatch):
    """Replace the per-feature curvature by ones: no scaling at all."""
    monkeypatch.setattr(
        SoftmaxObjective,
        "feature_curvature",
        lambda self, P, forward=None: np.ones(P.shape[1]),
    )


def test_newton_cg_preconditioning_saves_hessian_products(monkeypatch):
    """On rare features, the per-feature curvature cuts the conjugate-gradient
    products newton_cg needs to converge (replacing it by ones takes the
    preconditioner out)."""
    obj = rare_feature_problem()
    products = {}
    for name in ("scaled", "plain"):
        if name == "plain":
            without_preconditioner(monkeypatch)
        count = products.setdefault(name, [])
        hessp = SoftmaxObjective.hessp

        def counting(self, P, forward=None, count=count, hessp=hessp):
            apply = hessp(self, P, forward)
            return lambda D: count.append(1) or apply(D)

        monkeypatch.setattr(SoftmaxObjective, "hessp", counting)
        P, n_iter, status = run("newton-cg", obj, zeros(obj), tol=1e-6, max_iter=200)
        assert status == "converged"
        monkeypatch.undo()
    assert len(products["plain"]) > 2 * len(products["scaled"])


def test_lbfgs_preconditioning_saves_iterations(monkeypatch):
    """On rare features, L-BFGS started from the per-feature curvature needs
    several times fewer iterations than from the identity."""
    obj = rare_feature_problem()
    n_iters = {}
    for name in ("scaled", "plain"):
        if name == "plain":
            without_preconditioner(monkeypatch)
        P, n_iters[name], status = run("lbfgs", obj, zeros(obj), tol=1e-6)
        assert status == "converged"
    assert n_iters["plain"] > 2 * n_iters["scaled"]


def test_lbfgs_direction_from_the_exact_diagonal_is_newtons():
    """On a quadratic with a diagonal Hessian ``h``, the recursion started
    from ``D = h`` gives Newton's direction ``-g / h`` (BFGS keeps an exact
    inverse Hessian exact), before and after a pair; from the identity it
    does not."""
    from sk_softmax._optimizers import LBFGSDirection

    rng = np.random.default_rng(0)
    h = np.logspace(-3, 2, 12).reshape(3, 4)
    g = rng.standard_normal(h.shape)
    s = rng.standard_normal(h.shape)
    scaled, plain = LBFGSDirection(5, np, h), LBFGSDirection(5, np)
    assert_allclose(scaled.direction(g), -g / h, rtol=1e-12)
    assert_allclose(plain.direction(g), -g, rtol=1e-12)
    for directions in (scaled, plain):
        directions.update(s, h * s)
    assert_allclose(scaled.direction(g), -g / h, rtol=1e-10)
    assert not np.allclose(plain.direction(g), -g / h, rtol=1e-2)


def test_newton_cg_makes_one_forward_pass_an_iteration_for_its_curvature(
    monkeypatch,
):
    """The Hessian products and the preconditioner of an iteration come from
    the same forward pass on the Hessian's rows, not one each."""
    obj = make_problem(seed=13, n=500)
    passes = []
    forward = SoftmaxObjective.probabilities_t

    def counting(self, P):
        passes.append(1)
        return forward(self, P)

    monkeypatch.setattr(SoftmaxObjective, "probabilities_t", counting)
    P, n_iter, status = run("newton-cg", obj, zeros(obj), tol=1e-10)
    assert status == "converged" and n_iter >= 3
    assert len(passes) == n_iter


def test_newton_cg_solves_the_first_step_tighter(monkeypatch):
    """The first Newton step is solved to a relative residual of 0.1, the
    later ones to ``min(0.5, sqrt(||g|| / ||g_0||))``."""
    import sk_softmax._solvers as solvers

    obj = make_problem(seed=13, n=500)
    norms, relative = [], []
    solve = solvers._conjugate_gradient

    def spy(hessp, g, tolerance, *args):
        norms.append(np.linalg.norm(g))
        relative.append(tolerance / norms[-1])
        return solve(hessp, g, tolerance, *args)

    monkeypatch.setattr(solvers, "_conjugate_gradient", spy)
    P, n_iter, status = run("newton-cg", obj, zeros(obj), tol=1e-10)
    assert status == "converged" and n_iter >= 3
    assert relative[0] == pytest.approx(0.1)
    later = [min(0.5, np.sqrt(norm / norms[0])) for norm in norms[1:]]
    assert_allclose(relative[1:], later, rtol=1e-12)
    assert max(later) == 0.5 and min(later) < 0.1  # both regimes were seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layouts", ["CC", "FF", "CF", "FC", "view"])
def test_dot_and_add_scaled_are_the_plain_formulas(dtype, layouts):
    """``_dot`` and ``_add_scaled`` (BLAS on the memory of arrays of one
    layout, numpy otherwise) compute ``sum(a * b)`` and ``y += a * x`` for
    every pair of layouts, in place for ``y``, leaving ``x`` alone."""
    from sk_softmax._optimizers import _add_scaled, _dot

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7)).astype(dtype)
    y = rng.standard_normal((3, 7)).astype(dtype)
    if layouts == "view":  # a non-contiguous view, as split(P) gives
        x = rng.standard_normal((3, 8)).astype(dtype)[:, :7]
    else:
        x = np.asarray(x, order=layouts[0])
        y = np.asarray(y, order=layouts[1])
    x_before, y_before = x.copy(), y.copy()
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    assert_allclose(_dot(x, y, np), np.sum(x_before * y_before), rtol=rtol)
    y_id = id(y)
    _add_scaled(y, -0.75, x, np)
    assert id(y) == y_id and y.dtype == dtype
    assert_allclose(y, y_before - 0.75 * x_before, rtol=rtol)
    assert_array_equal(x, x_before)


@pytest.mark.parametrize("order", ["C", "F"])
def test_dot_and_add_scaled_make_no_temporary_on_one_layout(order):
    """On two float64 arrays of one layout, neither makes an array the size of
    its operands (``sum(a * b)`` and ``y += a * x`` would)."""
    import tracemalloc

    from sk_softmax._optimizers import _add_scaled, _dot

    x = np.ones((20, 5000), order=order)
    y = np.ones((20, 5000), order=order)
    tracemalloc.start()
    try:
        _dot(x, y, np)
        _add_scaled(y, 2.0, x, np)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 10
    assert_array_equal(y, 3.0)
