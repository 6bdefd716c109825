"""The full-batch solvers of ``_solvers.py`` and their driver: the solvers
agree with each other and with scipy on the minimiser, the constant-step
update is the derivation's, ``minimize``'s contract (report, stopping rule,
statuses, no in-place change) holds, ``drive`` gives each status and catches
divergence, and Newton-CG's random Hessian sample and preconditioner do what
they are for."""

import math
import tracemalloc
import weakref

import numpy as np
import pytest
import scipy.sparse as sp
from _problems import (
    make_data,
    objective,
    optimality_at,
    run,
    solver_problem,
    total_value,
)
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize as scipy_minimize

from sk_softmax._objective import LogisticObjective, SoftmaxObjective
from sk_softmax._solvers import (
    EXPLODING,
    SOLVERS,
    DivergenceError,
    HessianSample,
    Iteration,
    SolverResult,
    _newton_cg,
    check_finite,
    drive,
    hessian_sample,
)
from sk_softmax._solvers._line_search import wolfe_line_search
from sk_softmax._solvers._newton_cg import conjugate_gradient


#: Options that a method needs (the constant step of "gd"); the others'
#: defaults are their options classes' own.
def make_problem(**kwargs):
    return solver_problem(**kwargs)[0]


def zeros(obj, dtype=np.float64):
    return np.zeros(
        (obj.n_classes, obj.n_features + int(obj.fit_intercept)), dtype=dtype
    )


def scipy_minimiser(obj, gradient_tol=1e-9):
    """Reference minimiser of the smooth objective: scipy's L-BFGS-B, then
    up to five Newton steps until the largest gradient entry (unscaled) is
    below ``gradient_tol``, which makes it a genuine reference.

    Where L-BFGS-B stops depends on scipy's version (1.17.1 stops at a
    gradient of 1.2-1.6e-9 on ``wide_sparse_problem``); the Newton steps
    (the exact Hessian's products, solved by conjugate gradients) take
    whatever point it returns the rest of the way, in one or two steps."""
    P0 = zeros(obj)

    def fun(p):
        value, grad = obj.smooth_value_and_gradient(p.reshape(P0.shape))
        return value, grad.ravel()

    res = scipy_minimize(
        fun,
        P0.ravel(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10_000, "gtol": 1e-13, "ftol": 1e-16},
    )
    P = res.x.reshape(P0.shape)
    for _ in range(5):
        g = obj.smooth_value_and_gradient(P)[1]
        if np.abs(g).max() < gradient_tol:
            break
        P = P + reference_conjugate_gradient(obj.hessp(P), -g)
    assert np.abs(obj.smooth_value_and_gradient(P)[1]).max() < gradient_tol
    return P


def reference_conjugate_gradient(hessp, b, rtol=1e-12, max_iter=1_000):
    """Textbook conjugate gradients for ``H x = b`` (``H`` positive
    semidefinite, ``b`` in its range), on arrays shaped like ``b``."""
    x = np.zeros_like(b)
    r, d = b.copy(), b.copy()
    rr = np.vdot(r, r)
    stop = rtol**2 * rr
    for _ in range(max_iter):
        if rr <= stop:
            break
        Hd = hessp(d)
        step = rr / np.vdot(d, Hd)
        x += step * d
        r -= step * Hd
        rr, rr_old = np.vdot(r, r), rr
        d = r + (rr / rr_old) * d
    return x


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
        result = run(name, obj, zeros(obj), tol=1e-10)
        assert isinstance(result, SolverResult)
        assert result.status == "converged", name
        assert 0 < result.n_iter < 10_000
        assert result.last is None
        P = result.P
        assert P.shape == P_ref.shape
        assert_allclose(centred(obj, P), centred(obj, P_ref), rtol=1e-7, atol=1e-8)
        assert obj.smooth_value(P) == pytest.approx(J_ref, rel=1e-12)
        # The L2 penalty pins the free direction of W: sum_k W[k] = 0 at the
        # optimum (for K = 2: W[0] = -W[1]).
        W = P[:, : obj.n_features]
        assert_allclose(W.sum(axis=0), 0.0, atol=1e-8)
        assert np.abs(W).max() > 0.1


def test_solvers_agree_on_sparse_X():
    sparse, (X, y, w) = solver_problem(seed=1, K=3, sparse=True)
    assert sp.issparse(X)
    assert X.nnz < 0.6 * np.prod(X.shape)
    dense = objective(X.toarray(), y, w, K=3, alpha=1e-2)  # the same numbers
    P_ref = scipy_minimiser(dense)
    for name in SOLVERS:
        P0 = sparse.product_layout(zeros(sparse))
        result = run(name, sparse, P0, tol=1e-10)
        assert result.status == "converged"
        assert isinstance(result.P, np.ndarray)
        assert_allclose(centred(sparse, result.P), centred(dense, P_ref), atol=1e-8)


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
    result = run("fista", obj, zeros(obj), tol=1e-10)
    P = result.P
    assert result.status == "converged"
    assert optimality_at(obj, P) <= 1e-9
    check_l1_optimality_conditions(obj, P, atol=1e-9)
    W = P[:, : obj.n_features]
    # The problem is a genuine L1 problem: some coefficients are exactly zero
    # and some are not.
    assert np.any(W == 0) and np.any(W != 0)

    # Independent reference: plain proximal gradient with a small constant step,
    # run to a much tighter tolerance.
    ref = run("gd", obj, zeros(obj), learning_rate=0.5, max_iter=20_000, tol=1e-13)
    assert ref.status == "converged"
    check_l1_optimality_conditions(obj, ref.P, atol=1e-12)
    assert_allclose(centred(obj, P), centred(obj, ref.P), atol=1e-8)
    assert_array_equal(W == 0, ref.P[:, : obj.n_features] == 0)
    assert total_value(obj, P) == pytest.approx(total_value(obj, ref.P), rel=1e-12)


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
    result = run(name, obj32, zeros(obj32, np.float32), tol=1e-4)
    assert result.status == "converged"
    assert result.P.dtype == np.float32
    assert_allclose(centred(obj32, result.P), centred(obj64, P_ref), atol=2e-3)


# ---------------------------------------------------------------------------
# The constant-step update is the derivation's
# ---------------------------------------------------------------------------


class Recorder:
    """A ``report`` keeping ``(iteration, value, P, optimality, step)``."""

    def __init__(self, stop_at=None):
        self.calls = []
        self.stop_at = stop_at

    def __call__(self, iteration, state):
        assert isinstance(state, Iteration)
        self.calls.append(
            (iteration, state.value, state.P.copy(), state.optimality, state.step_size)
        )
        return iteration == self.stop_at


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("eta", [0.1, 1.0])
def test_one_gradient_step_from_zero(K, l1_ratio, eta):
    obj, (X, y, w) = solver_problem(n=20, d=3, K=K, alpha=0.1, l1_ratio=l1_ratio)
    Y = np.eye(K)[y]
    # At W = 0, b = 0 every class has probability 1/K, and the L2 gradient is 0.
    G = (np.full(Y.shape, 1.0 / K) - Y) * w[:, None]
    grad_W = G.T @ X
    grad_b = G.sum(axis=0)
    W1 = -eta * grad_W
    b1 = -eta * grad_b
    if l1_ratio:
        t = eta * 0.1 * l1_ratio  # soft-thresholding of the coefficients only
        W1 = np.where(W1 > t, W1 - t, np.where(W1 < -t, W1 + t, 0.0))
    rec = Recorder()
    result = run(
        "gd", obj, zeros(obj), learning_rate=eta, max_iter=1, tol=0.0, report=rec
    )
    assert (result.n_iter, result.status) == (1, "max_iter")
    assert_allclose(result.P, np.column_stack([W1, b1]), rtol=1e-14, atol=1e-17)
    assert len(rec.calls) == 1 and rec.calls[0][0] == 1
    assert_array_equal(rec.calls[0][2], result.P)
    assert rec.calls[0][4] == eta


def test_one_gradient_step_from_nonzero_point():
    obj, (X, y, w) = solver_problem(n=10, d=3, K=3, alpha=0.2)
    rng = np.random.default_rng(4)
    W0, b0 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    eta = 0.3
    Z = X @ W0.T + b0
    E = np.exp(Z)
    S = E / E.sum(axis=1, keepdims=True)
    G = (S - np.eye(3)[y]) * w[:, None]
    W1 = W0 - eta * (G.T @ X + 0.2 * W0)
    b1 = b0 - eta * G.sum(axis=0)
    result = run(
        "gd",
        obj,
        np.column_stack([W0, b0]),
        learning_rate=eta,
        max_iter=1,
        tol=0.0,
    )
    assert_allclose(result.P, np.column_stack([W1, b1]), rtol=1e-13)


# ---------------------------------------------------------------------------
# The contract: report, stop, max_iter, no in-place change, stopping rule
# ---------------------------------------------------------------------------

SOLVER_PROBLEMS = [
    ("gd", 0.0),
    ("gd", 0.5),
    ("fista", 0.0),
    ("fista", 0.5),
    ("lbfgs", 0.0),
    ("newton-cg", 0.0),
    ("prox-newton", 0.5),
    ("prox-newton", 1.0),
]


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_report_called_once_per_iteration_with_objective_value(name, l1_ratio):
    obj = make_problem(seed=5, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    result = run(name, obj, zeros(obj), tol=1e-6, report=rec)
    assert result.status == "converged"
    assert result.n_iter > 2
    assert [c[0] for c in rec.calls] == list(range(1, result.n_iter + 1))
    for _, J, P_reported, _, step in rec.calls:
        assert J == pytest.approx(total_value(obj, P_reported), rel=1e-13)
        assert step > 0
    assert_array_equal(rec.calls[-1][2], result.P)


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_report_optimality_is_the_optimality_at_the_reported_point(name, l1_ratio):
    """The optimality an iteration reports is the measure at its iterate.
    agd computes it only when its gradient mapping (free, but measured at the
    extrapolated point) says "converged", and reports None otherwise; its
    last iteration, the converged one, has it."""
    obj = make_problem(seed=5, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    run(name, obj, zeros(obj), tol=1e-6, report=rec)
    for *_, P_reported, opt, _ in rec.calls:
        if opt is None:
            assert name == "fista"
        else:
            assert opt == pytest.approx(optimality_at(obj, P_reported), rel=1e-9)
    assert rec.calls[-1][3] is not None
    if name == "fista":
        assert any(c[3] is None for c in rec.calls)


@pytest.mark.parametrize("K", [2, 3])
def test_lbfgs_objective_values_non_increasing(K):
    obj = make_problem(seed=6, K=K, alpha=1e-3)
    rec = Recorder()
    result = run("lbfgs", obj, zeros(obj), tol=1e-7, report=rec)
    assert result.status == "converged" and result.n_iter > 3
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
    result = run(name, obj, zeros(obj), tol=0.0, report=rec)
    assert (result.n_iter, result.status) == (3, "stopped")
    assert len(rec.calls) == 3
    assert_array_equal(result.P, rec.calls[-1][2])


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_max_iter_reached(name, l1_ratio):
    obj = make_problem(seed=8, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    result = run(name, obj, zeros(obj), max_iter=4, tol=0.0, report=rec)
    assert (result.n_iter, result.status) == (4, "max_iter")
    assert len(rec.calls) == 4
    assert_array_equal(result.P, rec.calls[-1][2])
    assert total_value(obj, result.P) < total_value(obj, zeros(obj))


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_start_point_not_modified(name, l1_ratio):
    obj = make_problem(seed=9, n=100, l1_ratio=l1_ratio)
    P0 = 0.1 * np.random.default_rng(0).standard_normal(zeros(obj).shape)
    P0_copy = P0.copy()
    result = run(name, obj, P0, max_iter=5, tol=0.0)
    assert result.n_iter == 5
    assert_array_equal(P0, P0_copy)
    assert not np.array_equal(result.P, P0)


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_converged_means_optimality_below_tol_times_scale(name, l1_ratio, seed, tol):
    obj = make_problem(seed=seed, n=150, K=4, alpha=1e-2, l1_ratio=l1_ratio)
    scale = optimality_at(obj, zeros(obj))  # the scaled measure at P = 0
    rec = Recorder()
    result = run(name, obj, zeros(obj), tol=tol, report=rec)
    assert result.status == "converged"
    # The returned point meets the criterion ...
    assert optimality_at(obj, result.P) <= tol * scale
    if name == "fista":
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
    result = run(name, obj, P0, tol=1e-7, scale=1.0)
    assert result.status == "converged" and result.n_iter > 0
    assert optimality_at(obj, result.P) <= 1e-7


@pytest.mark.parametrize("name, l1_ratio", SOLVER_PROBLEMS)
def test_converged_at_start(name, l1_ratio):
    obj = make_problem(seed=11, n=100, l1_ratio=l1_ratio)
    rec = Recorder()
    P0 = np.random.default_rng(2).standard_normal(zeros(obj).shape)
    # scale=None: the scale is the optimality at the start, so tol=1 is met there.
    result = run(name, obj, P0, tol=1.0, report=rec)
    assert (result.n_iter, result.status) == (0, "converged")
    assert rec.calls == []
    assert result.P is P0
    # An explicit scale large enough to accept the start point.
    opt0 = optimality_at(obj, P0)
    result = run(name, obj, P0, tol=1.0, scale=1.01 * opt0, report=rec)
    assert (result.n_iter, result.status) == (0, "converged")
    # ... and one just too small to accept it.
    result = run(name, obj, P0, tol=1.0, scale=0.99 * opt0, report=rec)
    assert result.n_iter > 0


def test_threshold_never_below_the_rounding_level():
    """``tol = 0`` asks for the impossible: the threshold is then the
    rounding level of the scaled gradient, and a start point whose measure is
    below it is already converged."""
    obj = make_problem(seed=12, n=100)
    P_ref = scipy_minimiser(obj)
    result = run("newton-cg", obj, zeros(obj), tol=0.0, max_iter=100)
    assert result.status in ("converged", "precision")
    if result.status == "converged":
        assert optimality_at(obj, result.P) <= obj.rounding_level()
    assert_allclose(centred(obj, result.P), centred(obj, P_ref), atol=1e-8)


@pytest.mark.parametrize("name", ["gd", "lbfgs"])
def test_stopping_rule_is_scale_free(name):
    # Multiplying the loss and the penalty by 4 (a power of two, so exactly)
    # and the constant step by 1/4 gives the same iterates; the criterion
    # tol * scale (scale taken at the start) must stop them at the same point.
    obj, (X, y, w) = solver_problem(seed=12, n=100)
    obj4 = objective(X, y, 4.0 * w, K=3, alpha=4e-2)
    kwargs = dict(max_iter=10_000, tol=1e-8, scale=None)
    if name == "gd":
        r = run("gd", obj, zeros(obj), learning_rate=1.0, **kwargs)
        r4 = run("gd", obj4, zeros(obj4), learning_rate=0.25, **kwargs)
    else:
        r = run(name, obj, zeros(obj), **kwargs)
        r4 = run(name, obj4, zeros(obj4), **kwargs)
    assert r.status == r4.status == "converged"
    assert r.n_iter == r4.n_iter
    assert_allclose(r4.P, r.P, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("t0", [1e-3, 1.0, 50.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wolfe_line_search_meets_the_strong_wolfe_conditions(seed, t0):
    # From a too short, a reasonable and a far too long first trial, the step
    # returned decreases f enough and flattens the slope along d (N&W 3.7).
    obj = make_problem(seed=seed, alpha=1e-3)
    rng = np.random.default_rng(seed)
    P = 0.5 * rng.standard_normal(zeros(obj).shape)
    f, g = obj.smooth_value_and_gradient(P)
    d = -g * rng.uniform(0.5, 2.0, size=g.shape)  # a descent direction
    gd = float(np.sum(g * d))
    t, P_new, f_new, g_new = wolfe_line_search(obj, P, f, g, d, gd, t0)
    assert_allclose(P_new, P + t * d)
    assert f_new == pytest.approx(obj.smooth_value(P_new), rel=1e-12)
    assert f_new <= f + 1e-4 * t * gd
    assert abs(float(np.sum(g_new * d))) <= 0.9 * abs(gd)


# ---------------------------------------------------------------------------
# drive: statuses, reports, divergence
# ---------------------------------------------------------------------------


def scripted(values, optimalities=None, end="precision", last=None):
    """A solver generator yielding the given values (and optimalities), the
    iterate ``P`` being the iteration's number, then returning ``end``."""
    optimalities = optimalities or [None] * len(values)
    for i, (value, opt) in enumerate(zip(values, optimalities, strict=True), start=1):
        yield Iteration(np.array([float(i)]), value, opt, 0.1, last=last)
    return end


def drive_scripted(iterations, *, max_iter=100, threshold=1.0, report=None, ended=True):
    report = Recorder() if report is None else report
    result = drive(
        iterations,
        np.array([0.0]),
        max_iter=max_iter,
        threshold=threshold,
        report=report,
        reference=1.0,
    )
    return result, report


def test_drive_converged_at_the_first_optimality_below_threshold():
    result, rec = drive_scripted(scripted([3.0, 2.0, 1.0, 0.5], [5.0, None, 1.0, 0.1]))
    assert (result.n_iter, result.status) == (3, "converged")
    assert_array_equal(result.P, [3.0])
    assert [c[0] for c in rec.calls] == [1, 2, 3]  # reported, then tested


def test_drive_max_iter():
    def endless():
        i = 0
        while True:
            i += 1
            yield Iteration(np.array([float(i)]), 1.0, 2.0, 0.1)

    result, rec = drive_scripted(endless(), max_iter=4)
    assert (result.n_iter, result.status) == (4, "max_iter")
    assert_array_equal(result.P, [4.0])
    assert len(rec.calls) == 4


def test_drive_stopped_by_report_unless_converged():
    result, rec = drive_scripted(scripted([1.0] * 5, [2.0] * 5), report=Recorder(2))
    assert (result.n_iter, result.status) == (2, "stopped")
    assert_array_equal(result.P, [2.0])
    # Converged and asked to stop at the same iteration: converged.
    result, _ = drive_scripted(
        scripted([1.0] * 5, [2.0, 0.5, 2.0, 2.0, 2.0]), report=Recorder(2)
    )
    assert (result.n_iter, result.status) == (2, "converged")


def test_drive_passes_on_the_solvers_end():
    """A solver that returns (no decrease possible in floating point) ends
    the run with its status, the model its last iterate."""
    result, rec = drive_scripted(scripted([1.0, 0.9], [5.0, 4.0], end="precision"))
    assert (result.n_iter, result.status) == (2, "precision")
    assert_array_equal(result.P, [2.0])
    # No iteration at all: the start point.
    result, rec = drive_scripted(scripted([], end="precision"))
    assert (result.n_iter, result.status) == (0, "precision")
    assert_array_equal(result.P, [0.0]) and rec.calls == []


def test_drive_returns_the_last_iterate_of_minibatch_epochs():
    calls = []

    def last():
        calls.append(1)
        return np.array([-1.0])

    result, _ = drive_scripted(scripted([1.0, 1.0, 1.0], last=last), max_iter=3)
    assert result.status == "max_iter"
    assert_array_equal(result.last, [-1.0])
    assert len(calls) == 1  # asked once, at the end


@pytest.mark.parametrize("value", [math.nan, math.inf, EXPLODING * 1.0 * 1.0001, 1e300])
def test_drive_raises_on_a_non_finite_or_exploding_objective(value):
    with pytest.raises(DivergenceError, match="diverged.*iteration \\(epoch\\) 2"):
        drive_scripted(scripted([1.0, value, 0.5]))
    assert issubclass(DivergenceError, ValueError)


def test_drive_accepts_an_objective_up_to_the_explosion_bound():
    result, _ = drive_scripted(scripted([EXPLODING * 1.0, 1.0]))
    assert result.n_iter == 2


def test_drive_raises_on_overflow_in_the_solver():
    def overflowing():
        yield Iteration(np.array([1.0]), 1.0, None, 0.1)
        raise OverflowError("math range error")

    with pytest.raises(
        DivergenceError, match="overflowed at iteration \\(epoch\\) 2"
    ) as info:
        drive_scripted(overflowing())
    assert isinstance(info.value.__cause__, OverflowError)


def test_check_finite():
    check_finite(np.array([[1.0, -2.0]]), np)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(DivergenceError, match="non-finite"):
            check_finite(np.array([[1.0, bad]]), np)


def test_gradient_descent_with_too_long_a_step_diverges():
    obj = make_problem(seed=13, n=100, alpha=0.0)
    obj.data.X = obj.data.X * 1e3  # curvature ~1e6: a unit step explodes
    with pytest.raises(DivergenceError):
        run("gd", obj, zeros(obj), learning_rate=1e3, max_iter=50)


# ---------------------------------------------------------------------------
# Newton-CG: the random Hessian sample and the preconditioner
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_rows, K, d, sparse, expected",
    [
        (1_437, 3, 2, False, 1_437),
        (4_000, 3, 2, False, 2_000),
        (30_000, 3, 2, False, 3_000),
        (30_000, 300, 2, False, 12_000),
        (30_000, 3, 59, False, 4_500),
        (30_000, 3, 59, True, 3_000),
        (4_000, 3, 59, False, 3_000),
    ],
)
def test_hessian_sample_is_a_tenth_of_the_rows_but_at_least_2000(
    n_rows, K, d, sparse, expected
):
    """Newton-CG's sample: ``HESSIAN_FRACTION`` of the rows with positive
    weight, at least ``HESSIAN_MIN_ROWS`` (all of them on small data, where
    the objective itself is used), ``HESSIAN_ROWS_PER_CLASS`` per class
    (300 classes: 12000 rows, not a tenth) and, on dense rows only,
    ``HESSIAN_ROWS_PER_FEATURE`` per column of ``P`` (60 columns: 4500
    rows) up to three quarters of the rows, one more per class at most."""
    defaults = HessianSample()
    assert (defaults.fraction, defaults.min_rows) == (0.1, 2_000)
    assert defaults.rows_per_class == 40
    assert (defaults.rows_per_feature, defaults.max_share) == (75, 0.75)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, d))
    if sparse:
        X = sp.csr_array(X * (rng.uniform(size=X.shape) < 0.1))
    y = rng.integers(0, K, size=n_rows)
    obj = objective(X, y, np.full(n_rows, 1 / n_rows), K=K)
    sample = hessian_sample(obj, HessianSample(), seed=0)
    if expected == n_rows:
        assert sample is obj
    assert expected <= sample.n_rows <= expected + K


def hessian_sizes(monkeypatch):
    """A list that will hold the number of rows of every Hessian built."""
    sizes = []
    hessp = SoftmaxObjective.hessp

    def spy(self, P, forward=None):
        sizes.append(self.n_rows)
        return hessp(self, P, forward)

    monkeypatch.setattr(SoftmaxObjective, "hessp", spy)
    return sizes


@pytest.mark.parametrize("sparse", [False, True])
def test_newton_cg_with_a_subsampled_hessian_reaches_the_optimum(sparse, monkeypatch):
    obj = make_problem(seed=7, n=6_000, sparse=sparse)
    sizes = hessian_sizes(monkeypatch)
    result = run("newton-cg", obj, obj.product_layout(zeros(obj)), tol=1e-10)
    # The Hessian of a stratified sample of 2000 rows (one more per class at
    # most), the gradient of all 6000.
    assert HessianSample().min_rows == 2_000
    assert all(2_000 <= size <= 2_003 for size in sizes[:2])
    assert len(sizes) == result.n_iter
    assert result.status == "converged"
    P_ref = scipy_minimiser(obj)
    assert_allclose(centred(obj, result.P), centred(obj, P_ref), rtol=1e-7, atol=1e-8)


def test_newton_cg_hessian_sample_is_seeded(monkeypatch):
    """The sample is drawn with ``seed``: the same seed gives the same fit,
    bit for bit; another seed another sample, and the same optimum."""
    obj = make_problem(seed=7, n=6_000)
    samples = []
    on_sample = SoftmaxObjective.on_sample

    def spy(self, fraction, min_rows, seed, dtype):
        sample = on_sample(self, fraction, min_rows, seed, dtype)
        samples.append(sample.data.X[:5].copy())
        return sample

    monkeypatch.setattr(SoftmaxObjective, "on_sample", spy)
    a = run("newton-cg", obj, zeros(obj), tol=1e-8, seed=1)
    n_a = len(samples)
    b = run("newton-cg", obj, zeros(obj), tol=1e-8, seed=1)
    c = run("newton-cg", obj, zeros(obj), tol=1e-8, seed=2)
    assert_array_equal(a.P, b.P)
    assert_array_equal(samples[0], samples[n_a])
    assert not np.array_equal(samples[0], samples[2 * n_a])
    assert_allclose(centred(obj, c.P), centred(obj, a.P), atol=1e-6)


def test_newton_cg_grows_the_hessian_sample_near_the_optimum(monkeypatch):
    # A sample of 400 rows (the minimums lowered from 2000 and 75 per
    # feature, for speed) for 105 parameters: near the optimum the sampled
    # curvature is too rough for Newton's fast convergence, and the sample
    # must grow, up to all rows.
    sample = HessianSample(min_rows=400, rows_per_feature=10)
    obj = make_problem(seed=9, n=1_200, d=20, K=5, alpha=1e-4)
    sizes = hessian_sizes(monkeypatch)
    result = run("newton-cg", obj, zeros(obj), tol=1e-10, max_iter=100, sample=sample)
    assert result.status == "converged"
    assert 400 <= sizes[0] <= 405 and sizes[-1] == 1_200
    assert len(set(sizes)) >= 3  # it grew in steps
    assert sizes == sorted(sizes)  # it only grows
    P_ref = scipy_minimiser(obj)
    assert_allclose(centred(obj, result.P), centred(obj, P_ref), rtol=1e-6, atol=1e-8)


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
        solutions[name] = conjugate_gradient(hessp, g, 1e-10, 10 * n, np, diagonal)
        solutions[name + " products"] = len(products)
    x = np.linalg.solve(H, -g)
    assert_allclose(solutions["scaled"], x, rtol=1e-6)
    assert solutions["scaled products"] <= n
    assert solutions["plain products"] > 2 * solutions["scaled products"]
    D = np.diag(scales)
    products.clear()
    d = conjugate_gradient(
        lambda p: products.append(1) or D @ p, g, 1e-12, n, np, scales
    )
    assert_allclose(d, -g / scales, rtol=1e-12)
    assert len(products) == 1


def test_conjugate_gradient_holds_five_parameter_arrays():
    """The iterate, the residual and the direction, plus the product and the
    preconditioned residual while each is in use: the previous ones are not
    kept through the next product. On sparse data a parameter array can be a
    fifth of X's bytes (bench_all's text-like problem)."""
    rng = np.random.default_rng(0)
    shape = (20, 5000)
    h = rng.uniform(1.0, 100.0, shape)  # a diagonal H: many distinct eigenvalues
    g = rng.standard_normal(shape)
    diagonal = np.ones(shape[1])
    products = []

    def hessp(p):
        products.append(1)
        return h * p

    tracemalloc.start()
    try:
        conjugate_gradient(hessp, g, 0.0, 5, np, diagonal)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(products) == 5
    assert peak < 5.5 * g.nbytes, peak / g.nbytes


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
    return objective(X, y, np.full(n, 1 / n), K=K, alpha=alpha)


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
        P0 = obj.product_layout(zeros(obj))
        result = run("newton-cg", obj, P0, tol=1e-6, max_iter=200)
        assert result.status == "converged"
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
        result = run("lbfgs", obj, obj.product_layout(zeros(obj)), tol=1e-6)
        assert result.status == "converged"
        n_iters[name] = result.n_iter
    assert n_iters["plain"] > 2 * n_iters["scaled"]


def test_newton_cg_line_search_holds_no_earlier_gradient(monkeypatch):
    """When Newton-CG's line search starts, every gradient computed so far
    has been freed (only its 1-norm is passed on): the trials' gradient
    passes, the peak of an iteration's memory, run with one parameter array
    fewer."""
    obj = rare_feature_problem()
    gradients, alive = [], []
    evaluate = obj.smooth_value_and_gradient

    def tracked(P):
        f, g = evaluate(P)
        gradients.append(weakref.ref(g))
        return f, g

    search = _newton_cg.backtracking_line_search

    def counting(*args, **kwargs):
        alive.append(sum(ref() is not None for ref in gradients))
        return search(*args, **kwargs)

    monkeypatch.setattr(obj, "smooth_value_and_gradient", tracked)
    monkeypatch.setattr(_newton_cg, "backtracking_line_search", counting)
    result = run("newton-cg", obj, obj.product_layout(zeros(obj)), tol=1e-8)
    assert result.status == "converged" and len(alive) >= 3
    assert alive == [0] * len(alive)


def wide_sparse_problem():
    """Rare features, 6000 rows: the Hessian sample (2000 rows) misses some
    of the columns that the data use."""
    return rare_feature_problem(n=6_000, d=600)


def test_newton_cg_direction_on_the_columns_of_its_sample(monkeypatch):
    """On sparse rows the conjugate gradients solve on the columns the
    Hessian's rows use, the step on the others is ``-g / l2``: the same
    Newton step of the sampled Hessian as conjugate gradients on all the
    columns reach. (The sample in float64: the comparison is at 1e-7.)"""
    obj = wide_sparse_problem()
    curvature = hessian_sample(obj, HessianSample(dtype="float64"), seed=0)
    model = _newton_cg.hessian_model(curvature)
    index = model[1]
    used_by_data = np.unique(obj.data.X.indices)
    assert curvature.n_rows < obj.n_rows and index.shape[0] - 1 < used_by_data.shape[0]
    P = obj.product_layout(0.1 * np.random.default_rng(0).standard_normal((4, 601)))
    _, g = obj.smooth_value_and_gradient(P)
    tolerance = 1e-13 * np.linalg.norm(g)
    d = _newton_cg.newton_direction(model, P, g, tolerance, 5_000, False)
    everywhere = _newton_cg.newton_direction(
        (curvature, None), P, g, tolerance, 5_000, False
    )
    assert_allclose(d, everywhere, rtol=1e-7, atol=1e-9 * np.abs(d).max())
    unused = np.setdiff1d(np.arange(601), index)
    assert_array_equal(d[:, unused], g[:, unused] / -obj.penalty.l2)


@pytest.mark.parametrize("sparse", [False, True])
def test_newton_cg_conjugate_gradients_on_a_sample_run_in_float32(monkeypatch, sparse):
    """On a Hessian sample of float64 rows, the conjugate gradients' vectors
    and the products they take are float32 (the sample's dtype), and the
    direction comes back in float64. It is the direction of a float64
    sample up to float32's rounding of the Hessian, which the condition
    number (about 1e4 at alpha = 1e-4) magnifies, and to a common shift of
    the intercepts (a direction of zero curvature that rounding may enter):
    within 0.1% (measured: 0.015%), where the direction of another sample of
    the same size differs by about 100%."""
    obj = wide_sparse_problem()
    if not sparse:
        obj = objective(obj.data.X.toarray(), obj.data.y, obj.data.w, K=4, alpha=1e-4)
    P = obj.product_layout(0.1 * np.random.default_rng(0).standard_normal((4, 601)))
    _, g = obj.smooth_value_and_gradient(P)
    solve, seen = _newton_cg.conjugate_gradient, []

    def spy(hessp, g_model, tolerance, max_iter, xp, diagonal, enough=None):
        def product(V):
            HV = hessp(V)
            seen.append((V.dtype, HV.dtype))
            return HV

        seen.append((g_model.dtype, diagonal.dtype))
        return solve(product, g_model, tolerance, max_iter, xp, diagonal, enough)

    monkeypatch.setattr(_newton_cg, "conjugate_gradient", spy)
    directions = {}
    for dtype in ("float32", "float64"):
        curvature = hessian_sample(obj, HessianSample(dtype=dtype), seed=0)
        assert curvature is not obj and curvature.data.dtype == dtype
        model = _newton_cg.hessian_model(curvature)
        assert (model[1] is not None) == sparse
        seen.clear()
        d = _newton_cg.newton_direction(
            model, P, g, 1e-6 * np.linalg.norm(g), 500, False
        )
        assert len(seen) > 3 and set(seen) == {(np.dtype(dtype),) * 2}
        assert d.dtype == np.float64 and d.shape == g.shape
        directions[dtype] = d
    d32, d64 = directions["float32"], directions["float64"]
    d32, d64 = centred(obj, d32), centred(obj, d64)
    assert np.linalg.norm(d32 - d64) <= 1e-3 * np.linalg.norm(d64)


def test_newton_cg_on_sparse_rows_solves_on_fewer_columns(monkeypatch):
    """A fit on wide sparse rows runs its conjugate gradients on fewer
    columns than ``P`` has (until its sample grows to all the rows, which
    use them all), and reaches the optimum."""
    obj = wide_sparse_problem()
    widths = []
    solve = _newton_cg.conjugate_gradient

    def spy(hessp, g, *args):
        widths.append(g.shape[1])
        return solve(hessp, g, *args)

    monkeypatch.setattr(_newton_cg, "conjugate_gradient", spy)
    result = run("newton-cg", obj, obj.product_layout(zeros(obj)), tol=1e-9)
    assert result.status == "converged"
    assert widths[0] < 601
    P_ref = scipy_minimiser(obj)
    # Rare features at alpha = 1e-4 have curvature near 1e-4: the parameters
    # are determined to about 1e4 times the gradient's rounding.
    assert total_value(obj, result.P) <= total_value(obj, P_ref) * (1 + 1e-13)
    assert_allclose(centred(obj, result.P), centred(obj, P_ref), atol=1e-5)


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
    # No direct step: the conjugate gradients' products.
    result = run("newton-cg", obj, zeros(obj), tol=1e-10, direct_max_parameters=0)
    assert result.status == "converged" and result.n_iter >= 3
    assert len(passes) == result.n_iter


@pytest.mark.parametrize("min_rows", [None, 600, 1_800])
def test_newton_cg_forcing_term_is_capped_by_the_sample_share(monkeypatch, min_rows):
    """The first Newton step is solved to a relative residual of 0.1, the
    later ones to ``min(eta_max, sqrt(||g|| / ||g_0||))``, ``eta_max`` the
    Hessian sample's share of the rows within [0.1, 0.5]: 0.5 on all of the
    rows (the textbook bound), 0.1 on a tenth of them, 0.3 on 30%."""
    n = 6_000
    sample = HessianSample()
    if min_rows is not None:  # a sample of min_rows rows (the tenth is 600)
        sample = HessianSample(min_rows=min_rows, rows_per_feature=0)
    obj = make_problem(seed=13, n=n if min_rows else 500)
    sizes = hessian_sizes(monkeypatch)
    norms, relative = [], []
    direction = _newton_cg.newton_direction

    def spy(model, P, g, tolerance, *args):
        norms.append(np.linalg.norm(g))
        relative.append(tolerance / norms[-1])
        return direction(model, P, g, tolerance, *args)

    monkeypatch.setattr(_newton_cg, "newton_direction", spy)
    P0 = obj.product_layout(zeros(obj))
    # No direct step on 500 rows: the conjugate gradients' residuals.
    result = run(
        "newton-cg", obj, P0, tol=1e-10, sample=sample, direct_max_parameters=0
    )
    assert result.status == "converged" and result.n_iter >= 3
    assert relative[0] == pytest.approx(0.1)
    share = np.array(sizes[1:]) / obj.n_rows
    cap = np.clip(share, 0.1, 0.5)
    expected = {None: 0.5, 600: 0.1, 1_800: 0.3}[min_rows]
    assert cap[0] == pytest.approx(expected, abs=0.002)  # a class may add a row
    later = np.minimum(cap, np.sqrt(np.array(norms[1:]) / norms[0]))
    assert_allclose(relative[1:], later, rtol=1e-12)
    # Both regimes were seen: the cap, and the tighter residuals near the optimum.
    assert later.max() == pytest.approx(expected, abs=0.002)
    assert later.min() < 0.1


# ---------------------------------------------------------------------------
# Two classes on one row: the direct Newton step
# ---------------------------------------------------------------------------


def binary_problem(alpha=1e-2, zero_column=False):
    X, _, _, y, w = make_data(31, n=500, d=6, K=2)
    if zero_column:
        X[:, 0] = 0.0
    return LogisticObjective.from_arrays(
        X, y, w, n_classes=2, alpha=alpha, l1_ratio=0.0, fit_intercept=True
    )


def conjugate_gradient_calls(monkeypatch):
    calls = []
    cg = _newton_cg.conjugate_gradient

    def spy(*args):
        calls.append(1)
        return cg(*args)

    monkeypatch.setattr(_newton_cg, "conjugate_gradient", spy)
    return calls


def test_newton_cg_steps_directly_on_small_binary_problems(monkeypatch):
    """Two classes, all rows in the Hessian, few features: the exact Newton
    step (no conjugate gradients), to the optimum the conjugate-gradient
    steps reach, in no more iterations."""
    obj = binary_problem()
    calls = conjugate_gradient_calls(monkeypatch)
    direct = run("newton-cg", obj, obj.zeros(), tol=1e-12)
    assert direct.status == "converged" and not calls
    # 7 columns: too many
    iterative = run("newton-cg", obj, obj.zeros(), tol=1e-12, direct_max_parameters=3)
    assert iterative.status == "converged" and calls
    assert direct.n_iter <= iterative.n_iter
    assert_allclose(direct.P, iterative.P, rtol=1e-9, atol=1e-11)


def test_newton_cg_direct_step_falls_back_on_a_singular_hessian(monkeypatch):
    """No penalty and a feature that is zero on every row: the Hessian is
    singular, and the step falls back to conjugate gradients."""
    obj = binary_problem(alpha=0.0, zero_column=True)
    calls = conjugate_gradient_calls(monkeypatch)
    result = run("newton-cg", obj, obj.zeros(), tol=1e-8, max_iter=200)
    assert calls
    assert result.status == "converged"
    assert result.P[0, 0] == 0.0


# ---------------------------------------------------------------------------
# Newton-CG by the problem's size: the inner solves' budget, the direct step
# of any number of classes, the float32 copy of small data
# ---------------------------------------------------------------------------


def test_conjugate_gradient_stops_at_the_first_residual_that_is_enough():
    """With ``enough``, the conjugate gradients stop at the first residual
    it accepts (the 2-norm tolerance never met here), and the solution's
    residual is that one."""
    rng = np.random.default_rng(5)
    n = 60
    A = rng.standard_normal((n, n))
    H = A @ A.T / n + np.diag(np.logspace(-2, 1, n))
    g = rng.standard_normal(n)
    target = 1e-3 * np.abs(g).max()
    seen, products = [], []

    def enough(r, norm):
        assert norm == pytest.approx(np.linalg.norm(r))
        seen.append(np.abs(r).max())
        return seen[-1] <= target

    d = conjugate_gradient(
        lambda p: products.append(1) or H @ p, g, 0.0, 10 * n, np, np.ones(n), enough
    )
    assert len(products) == len(seen) < 10 * n
    assert seen[-1] <= target < min(seen[:-1])
    assert np.abs(-g - H @ d).max() == pytest.approx(seen[-1], rel=1e-6)


def test_enough_answers_as_the_scaled_max_norm_whatever_the_bound():
    """Newton-CG's test skips the scaled max-norm when the residual's 2-norm
    shows it cannot pass: it answers as the scaled max-norm itself would,
    on residuals on both sides of the target, on all the columns or on a
    subset (``index``)."""
    rng = np.random.default_rng(6)
    scales = rng.uniform(0.1, 3.0, size=41)
    index = np.array([0, 3, 7, 40])
    for columns in (None, index):
        enough = _newton_cg._enough((scales, 0.5), columns, np)
        used = scales if columns is None else scales[columns]
        answers = set()
        for size in np.logspace(-3, 1, 60):
            r = size * rng.standard_normal((4, used.shape[0]))
            expected = np.max(np.abs(r) / used) <= 0.5
            assert enough(r, np.linalg.norm(r)) == expected
            answers.add(expected)
        assert answers == {True, False}
    assert _newton_cg._enough(None, None, np) is None


def cg_products(monkeypatch):
    """The Hessian products of each conjugate-gradient solve, in a list."""
    counts = []
    cg = _newton_cg.conjugate_gradient

    def spy(hessp, *args):
        counts.append(0)

        def counted(p):
            counts[-1] += 1
            return hessp(p)

        return cg(counted, *args)

    monkeypatch.setattr(_newton_cg, "conjugate_gradient", spy)
    return counts


@pytest.mark.parametrize("n", [6_000, 600])  # a sample; a float32 copy
def test_newton_cg_solves_no_tighter_than_the_stopping_test_needs(monkeypatch, n):
    """At the default ``tol``, the conjugate gradients stop once the gradient
    the quadratic model predicts passes the stopping test with a margin
    (``threshold_share``): the fit converges as it did with the forcing
    term alone, in fewer products and no more iterations."""
    obj = make_problem(seed=21, n=n, d=30, K=5, alpha=1e-4)
    P0 = obj.product_layout(zeros(obj))
    products, iterations = {}, {}
    for share in (0.5, 0.0):
        counts = cg_products(monkeypatch)
        result = run("newton-cg", obj, P0, tol=1e-4, threshold_share=share)
        monkeypatch.undo()
        assert result.status == "converged"
        assert optimality_at(obj, result.P) <= 1e-4 * optimality_at(obj, P0)
        products[share], iterations[share] = sum(counts), result.n_iter
    assert products[0.5] < products[0.0]
    assert iterations[0.5] <= iterations[0.0]


def test_newton_cg_steps_directly_on_few_parameters_of_any_number_of_classes(
    monkeypatch,
):
    """Three classes, 15 entries in ``P``, all rows in the Hessian: the exact
    Newton step (no conjugate gradients), to the optimum the conjugate
    gradients reach, in no more iterations. Each step leaves the sum of the
    intercepts as it was (the step orthogonal to their common shift, along
    which ``H`` is singular)."""
    obj = make_problem(seed=17, n=300, d=4, K=3, alpha=1e-3)
    assert obj.n_outputs == 3 and zeros(obj).size <= 64
    calls = conjugate_gradient_calls(monkeypatch)
    direct = run("newton-cg", obj, zeros(obj), tol=1e-12)
    assert direct.status == "converged" and not calls
    assert abs(direct.P[:, -1].sum()) < 1e-12
    iterative = run("newton-cg", obj, zeros(obj), tol=1e-12, direct_max_parameters=0)
    assert iterative.status == "converged" and calls
    assert direct.n_iter <= iterative.n_iter
    assert_allclose(centred(obj, direct.P), centred(obj, iterative.P), atol=1e-9)


def test_newton_cg_direct_step_of_the_softmax_needs_a_penalty(monkeypatch):
    """Without an L2 penalty the softmax's coefficients have a common shift
    of zero curvature: no direct step, the conjugate gradients instead."""
    obj = make_problem(seed=17, n=300, d=4, K=3, alpha=0.0)
    calls = conjugate_gradient_calls(monkeypatch)
    result = run("newton-cg", obj, zeros(obj), tol=1e-8, max_iter=200)
    assert calls and result.status == "converged"


def test_newton_cg_takes_a_float32_copy_of_all_the_rows_on_small_data(monkeypatch):
    """Where the sample would be all the rows of float64 data between
    ``copy_bytes``, Newton-CG's Hessian is a float32 copy of them (not the
    data itself); below the range, with few parameters (the direct step)
    or for the other solvers (``copy=False``), the data itself."""
    obj = make_problem(seed=21, n=600, d=30, K=5, alpha=1e-4)  # 144 kB
    assert 8 * obj.n_rows * obj.n_features < HessianSample().copy_bytes[0]
    low = HessianSample(copy_bytes=(2**16, 2**20))
    copy = hessian_sample(obj, low, seed=0, copy=True)
    assert copy is not obj and copy.n_rows == obj.n_rows
    assert copy.data.dtype == np.float32
    assert_allclose(copy.data.X, obj.data.X, rtol=1e-7)
    assert hessian_sample(obj, low, seed=0) is obj
    assert hessian_sample(obj, HessianSample(), seed=0, copy=True) is obj
    hessians = []
    hessp = SoftmaxObjective.hessp

    def spy(self, P, forward=None):
        hessians.append((self.n_rows, self.data.dtype))
        return hessp(self, P, forward)

    monkeypatch.setattr(SoftmaxObjective, "hessp", spy)
    result = run("newton-cg", obj, zeros(obj), tol=1e-6, sample=low)
    assert result.status == "converged"
    assert hessians[0] == (600, np.float32)
    monkeypatch.undo()
    small = make_problem(seed=17, n=300, d=4, K=3, alpha=1e-3)
    sampled = []
    draw = _newton_cg.hessian_sample

    def recording(objective, options, seed, *args, **kwargs):
        sampled.append(draw(objective, options, seed, *args, **kwargs))
        return sampled[-1]

    monkeypatch.setattr(_newton_cg, "hessian_sample", recording)
    run(
        "newton-cg",
        small,
        zeros(small),
        tol=1e-6,
        sample=HessianSample(copy_bytes=(0, 2**30)),
    )
    assert sampled[0] is small
