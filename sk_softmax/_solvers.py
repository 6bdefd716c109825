"""Full-batch loops minimising a ``SoftmaxObjective``.

Every solver has the same signature and contract:

``solver(objective, P, *, max_iter, tol, scale, report, **options)``

- ``P`` is the starting point (it is not modified);
- each iteration makes at least one pass over the data, then calls
  ``report(iteration, J, P, optimality, step_size)`` with the objective ``J``
  and the optimality measure at the new iterate (None where a solver does
  not compute it) and the step size used; a true return value stops the loop
  (a callback's stop request, early stopping);
- the loop stops when ``optimality <= tol * scale``, where ``optimality`` is
  the max-norm of the minimal-norm subgradient (``objective.optimality``) and
  ``scale`` the same measure at ``P = 0`` (None: taken at the start point,
  which is ``P = 0`` for a fresh fit). The criterion is scale-free: it does
  not change when the data or the loss are multiplied by a constant. The
  threshold never goes below ``objective.rounding_level()``, the size of the
  gradient's rounding errors: no iterate can do better than that;
- it returns ``(P, n_iter, status)``, ``status`` being ``"converged"``,
  ``"max_iter"``, ``"stopped"`` (by ``report``) or ``"precision"`` (no step
  decreases the objective in floating point before ``tol`` is met).
"""

import math

import numpy as np
import scipy.sparse as sp

from ._optimizers import _add_scaled, _dot


def _start(objective, P, tol, scale):
    """Value and gradient at the start point, the stopping threshold, and
    whether the start point already meets it.

    The threshold is ``tol * scale``, floored at the rounding level of the
    gradient, so that a start point that is already optimal (where ``scale``
    is rounding noise) counts as converged.
    """
    f, g = objective.smooth_value_and_gradient(P)
    opt = objective.optimality(P, g)
    threshold = max(tol * (opt if scale is None else scale), objective.rounding_level())
    return f, g, threshold, opt <= threshold


def _finfo_eps(P, xp):
    return float(xp.finfo(P.dtype).eps)


def _norm1(a, xp):
    return float(xp.sum(xp.abs(a)))


def gradient_descent(objective, P, *, learning_rate, max_iter, tol, scale, report):
    """The derivation's update with a constant step ``eta = learning_rate``.

    ``P <- P - eta * grad`` (followed by the proximal step of the L1 part, if any).
    """
    f, g, threshold, converged = _start(objective, P, tol, scale)
    if converged:
        return P, 0, "converged"
    for it in range(1, max_iter + 1):
        P = objective.prox(P - learning_rate * g, learning_rate)
        f, g = objective.smooth_value_and_gradient(P)
        opt = objective.optimality(P, g)
        stop = report(it, f + objective.nonsmooth_value(P), P, opt, learning_rate)
        if opt <= threshold:
            return P, it, "converged"
        if stop:
            break
    return P, it, ("stopped" if stop else "max_iter")


def accelerated_gradient(objective, P, *, max_iter, tol, scale, report):
    """FISTA: proximal gradient with Nesterov momentum, adaptive restart and a
    backtracking step size ``1 / L`` (no learning rate to choose).

    Each iteration costs one pass for the gradient at the extrapolated point
    and one forward pass per trial of the step; it reports no optimality
    (None), which would cost another pass.
    """
    from ._optimizers import BacktrackingLipschitz, NesterovMomentum

    xp = objective.xp
    momentum = NesterovMomentum(xp)
    lipschitz = BacktrackingLipschitz()
    Y = P
    f_Y, g_Y, threshold, converged = _start(objective, Y, tol, scale)
    if converged:
        return P, 0, "converged"
    eps = _finfo_eps(P, xp)
    for it in range(1, max_iter + 1):
        lipschitz.relax()
        for _ in range(60):
            step = 1.0 / lipschitz.L
            P_new = objective.prox(Y - step * g_Y, step)
            D = P_new - Y
            f_new = objective.smooth_value(P_new)
            bound = f_Y + _dot(g_Y, D, xp) + 0.5 * lipschitz.L * _dot(D, D, xp)
            if f_new <= bound + 16 * eps * abs(f_Y):
                break
            lipschitz.reject()
        J = f_new + objective.nonsmooth_value(P_new)
        stop = report(it, J, P_new, None, step)
        # The gradient mapping L * (Y - P_new), the proximal gradient at Y, is
        # free but measured at Y, not at P_new: when it says "converged", the
        # optimality at P_new confirms it (one more pass, near the end only).
        if lipschitz.L * float(xp.max(xp.abs(D))) <= threshold:
            g_new = objective.smooth_value_and_gradient(P_new)[1]
            if objective.optimality(P_new, g_new) <= threshold:
                return P_new, it, "converged"
        Y_next = momentum.extrapolate(P_new, P, Y)
        P, Y = P_new, Y_next
        if stop:
            break
        f_Y, g_Y = objective.smooth_value_and_gradient(Y)
    return P, it, ("stopped" if stop else "max_iter")


def _cubic_minimizer(a, f_a, df_a, b, f_b, df_b):
    """Minimizer of the cubic interpolating two points of a line (values and
    slopes), kept 10% inside [a, b] (Nocedal & Wright, eq. 3.59)."""
    lo, hi = min(a, b), max(a, b)
    if hi - lo <= 1e-12 * hi:  # the bracket has collapsed onto one step
        return lo
    margin = 0.1 * (hi - lo)
    d1 = df_a + df_b - 3.0 * (f_a - f_b) / (a - b)
    disc = d1 * d1 - df_a * df_b
    if disc < 0 or not math.isfinite(disc):
        return 0.5 * (a + b)
    d2 = math.copysign(math.sqrt(disc), b - a)
    denom = df_b - df_a + 2.0 * d2
    t = b - (b - a) * (df_b + d2 - d1) / denom if denom != 0 else 0.5 * (a + b)
    if not math.isfinite(t):
        return 0.5 * (a + b)
    return min(max(t, lo + margin), hi - margin)


def _wolfe_line_search(objective, P, f, g, d, gd, t, *, c1=1e-4, c2=0.9, max_trials=40):
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions.

    ``f(P + t d) <= f + c1 t <g, d>`` (sufficient decrease) and
    ``|<g(P + t d), d>| <= c2 |<g, d>|`` (the slope has flattened), found by
    extrapolation then bracketing with cubic interpolation (Nocedal & Wright,
    algorithms 3.5 and 3.6); the curvature condition keeps the L-BFGS pairs
    informative. A step that leaves ``f`` unchanged to rounding but reduces
    the gradient is accepted too: near the optimum, values stop being
    distinguishable in floating point before gradients do (as in
    scikit-learn's ``_newton_solver``).

    ``gd`` is the slope ``<g, d>`` at ``t = 0``. Returns
    ``(t, P_new, f_new, g_new)``, or None if no trial succeeds.
    """
    xp = objective.xp
    eps = _finfo_eps(P, xp)
    lo, f_lo, gd_lo = 0.0, f, gd  # the best step so far meeting sufficient decrease
    hi = None  # once set, [lo, hi] brackets an acceptable step
    for _ in range(max_trials):
        P_new = P + t * d
        f_new, g_new = objective.smooth_value_and_gradient(P_new)
        gd_new = _dot(g_new, d, xp)
        if abs(f_new - f) <= 16 * eps * abs(f) and _norm1(g_new, xp) < _norm1(g, xp):
            return t, P_new, f_new, g_new
        if f_new > f + c1 * t * gd or f_new >= f_lo:
            hi, f_hi, gd_hi = t, f_new, gd_new
        elif abs(gd_new) <= c2 * abs(gd):
            return t, P_new, f_new, g_new
        else:
            if gd_new * ((t if hi is None else hi) - lo) >= 0:
                hi, f_hi, gd_hi = lo, f_lo, gd_lo
            lo, f_lo, gd_lo = t, f_new, gd_new
        if hi is None:  # still descending steeply: a longer step
            t *= 2.0
        else:
            t = _cubic_minimizer(lo, f_lo, gd_lo, hi, f_hi, gd_hi)
    return None


def lbfgs(objective, P, *, max_iter, tol, scale, report, memory=10):
    """L-BFGS on the smooth objective (L2 penalty only), with a strong Wolfe
    line search; the hand-derived gradient is its only input. Its initial
    inverse Hessian is scaled feature by feature by the curvature at the
    start point (``objective.feature_curvature`` on the rows of
    ``hessian_sample``), which on sparse data with rare features takes
    several times fewer iterations."""
    from ._optimizers import LBFGSDirection

    if not objective.is_smooth:
        raise ValueError("lbfgs handles smooth objectives only (l1_ratio == 0).")
    xp = objective.xp
    f, g, threshold, converged = _start(objective, P, tol, scale)
    if converged:
        return P, 0, "converged"
    # The per-feature curvature at the start point, on the rows of Newton-CG's
    # Hessian sample (a copy for sparse X, not kept): the initial scaling.
    rows = hessian_sample(objective.X.shape[0])
    directions = LBFGSDirection(
        memory, xp, _on_rows(objective, rows).feature_curvature(P)
    )
    it = 0
    for it in range(1, max_iter + 1):
        d = directions.direction(g)
        gd = _dot(g, d, xp)
        if not gd < 0:  # lost descent to rounding: fall back to steepest descent
            directions.reset()
            d = -g
            gd = -_dot(g, g, xp)
        # Without curvature pairs, a first step of unit length.
        t0 = 1.0 if directions.pairs else 1.0 / math.sqrt(_dot(d, d, xp))
        step = _wolfe_line_search(objective, P, f, g, d, gd, t0)
        if step is None:  # no decrease possible in floating point: as close as it gets
            return P, it - 1, "precision"
        t, P_new, f_new, g_new = step
        directions.update(P_new - P, g_new - g)
        P, f, g = P_new, f_new, g_new
        opt = objective.optimality(P, g)
        stop = report(it, f, P, opt, t)
        if opt <= threshold:
            return P, it, "converged"
        if stop:
            break
    return P, it, ("stopped" if stop else "max_iter")


def _conjugate_gradient(hessp, g, tolerance, max_iter, xp, diagonal):
    """An approximate solution ``d`` of ``H d = -g`` by conjugate gradients
    from ``d = 0``, preconditioned by the positive ``diagonal`` (each
    residual is divided by it, broadcasting: the per-feature scaling of the
    step). It stops once the residual's norm is at most ``tolerance``, after
    ``max_iter`` products, or on a direction of non-positive curvature
    (keeping the iterate so far; ``d = 0`` if that is the first direction).
    With ``diagonal`` the Hessian's own diagonal, a diagonal ``H`` is solved
    in one product."""
    d = xp.zeros_like(g)
    r = -g  # the residual -g - H d
    z = r / diagonal  # the preconditioned residual
    p = z
    rz = _dot(r, z, xp)
    for _ in range(max_iter):
        Hp = hessp(p)
        curvature = _dot(p, Hp, xp)
        if not curvature > 0:
            break
        a = rz / curvature
        _add_scaled(d, a, p, xp)  # in place: d, r and p are this function's own
        _add_scaled(r, -a, Hp, xp)
        if math.sqrt(_dot(r, r, xp)) <= tolerance:
            break
        z = r / diagonal
        rz_new = _dot(r, z, xp)
        p *= rz_new / rz
        _add_scaled(p, 1.0, z, xp)
        rz = rz_new
    return d


def _backtracking_line_search(objective, P, f, g, d, gd, *, c1=1e-4, max_trials=40):
    """The Newton step ``t = 1`` along ``d``, shortened until ``f(P + t d) <=
    f + c1 t <g, d>`` (Armijo), each new trial the minimiser of the quadratic
    through ``f``, the slope ``gd`` and the rejected value, kept within
    ``[0.1 t, 0.5 t]``. As in ``_wolfe_line_search``, a step that leaves ``f``
    unchanged to rounding but reduces the gradient is accepted.

    Returns ``(t, P_new, f_new, g_new)``, or None if no trial succeeds."""
    xp = objective.xp
    eps = _finfo_eps(P, xp)
    t = 1.0
    for _ in range(max_trials):
        P_new = P + t * d
        f_new, g_new = objective.smooth_value_and_gradient(P_new)
        if abs(f_new - f) <= 16 * eps * abs(f) and _norm1(g_new, xp) < _norm1(g, xp):
            return t, P_new, f_new, g_new
        if f_new <= f + c1 * t * gd:
            return t, P_new, f_new, g_new
        curvature = f_new - f - gd * t
        t_min = -gd * t * t / (2 * curvature) if curvature > 0 else 0.5 * t
        t = min(max(t_min, 0.1 * t), 0.5 * t)
    return None


def hessian_sample(n_rows, fraction=0.1, min_rows=2000):
    """The rows whose Hessian ``newton_cg`` starts with: every ``step``-th
    row, about ``fraction`` of them but never fewer than ``min_rows`` (all of
    them for a small data set). A slice: dense rows are views, not copies."""
    step = max(1, min(round(1 / fraction), n_rows // min_rows))
    return slice(0, n_rows, step)


def _on_rows(objective, rows):
    """The objective on the rows of the slice ``rows`` (itself for all rows)."""
    return objective if rows.step == 1 else objective.subset(rows, objective.X.shape[0])


def newton_cg(objective, P, *, max_iter, tol, scale, report, max_cg=200):
    """Truncated Newton with a subsampled Hessian, on the smooth objective
    (L2 penalty only).

    Each iteration solves ``H d = -g`` by conjugate gradients to a relative
    residual ``eta = min(0.5, sqrt(||g|| / ||g_0||))`` (loose far from the
    optimum, tighter near it; Nocedal & Wright, section 7.1), then backtracks
    from the Newton step ``t = 1``. The first step is solved to ``eta =
    0.1``: its products cost a tenth of a pass each, and a first step that
    accurate saves whole iterations (on the problems of
    ``benchmarks/bench_all.py``, 1% of the optimal held-out loss took one
    iteration instead of two on the dense problem and two instead of four
    on the sparse one). ``g`` is the full gradient; ``H`` is the
    Hessian of the objective on the rows of ``hessian_sample`` (weights
    rescaled so that its expectation is the full Hessian), so that a
    conjugate-gradient step, one Hessian-vector product by hand
    (``objective.hessp``), costs about a tenth of a pass over the data on a
    large data set (Byrd, Chin, Neveitt and Nocedal, 2011). The conjugate
    gradients are preconditioned by the per-feature curvature of the same
    rows (``objective.feature_curvature``): on sparse data with rare
    features they need far fewer products, and on standardized dense data
    the scaling is nearly uniform and changes little.

    A sampled Hessian gives up Newton's fast local convergence. Once near the
    optimum (``eta < 0.1``), an iteration that needs a shorter step than
    Newton's or that fails to halve the optimality measure shows that the
    sample misleads: it doubles then (every other row of it is added), up to
    all the rows, where convergence is quadratic again.
    """
    if not objective.is_smooth:
        raise ValueError("newton_cg handles smooth objectives only (l1_ratio == 0).")
    xp = objective.xp
    n_rows = objective.X.shape[0]
    rows = hessian_sample(n_rows)
    curvature = _on_rows(objective, rows)
    f, g, threshold, converged = _start(objective, P, tol, scale)
    if converged:
        return P, 0, "converged"
    g_norm0 = math.sqrt(_dot(g, g, xp))
    opt = objective.optimality(P, g)
    it = 0
    for it in range(1, max_iter + 1):
        g_norm = math.sqrt(_dot(g, g, xp))
        if it == 1:  # the first step, see the docstring
            eta = 0.1
        else:
            eta = min(0.5, math.sqrt(g_norm / g_norm0))
        forward = curvature.probabilities_t(P)  # one forward pass for both
        d = _conjugate_gradient(
            curvature.hessp(P, forward),
            g,
            eta * g_norm,
            max_cg,
            xp,
            curvature.feature_curvature(P, forward),
        )
        gd = _dot(g, d, xp)
        if not gd < 0:  # no curvature information: steepest descent
            d, gd = -g, -(g_norm**2)
        step = _backtracking_line_search(objective, P, f, g, d, gd)
        if step is None:  # no decrease possible in floating point: as close as it gets
            return P, it - 1, "precision"
        t, P, f, g = step
        opt, opt_before = objective.optimality(P, g), opt
        if rows.step > 1 and eta < 0.1 and (t < 1 or opt > 0.5 * opt_before):
            rows = slice(0, n_rows, rows.step // 2)  # the sample misleads
            curvature = _on_rows(objective, rows)
        stop = report(it, f, P, opt, t)
        if opt <= threshold:
            return P, it, "converged"
        if stop:
            break
    return P, it, ("stopped" if stop else "max_iter")


class _Iterates:
    """The iterates of mini-batch SGD and their running sum over an epoch.

    ``step`` makes the derivation's update on one batch,
    ``P <- prox(P - eta * grad_B)``, and returns the batch's objective at the
    point where its gradient was taken; ``average`` is the mean of the
    iterates since ``begin_epoch``; ``last`` the current iterate.
    """

    def __init__(self, objective, P):
        self.objective, self.P = objective, P

    def begin_epoch(self):
        self.P_sum, self.count = 0.0, 0

    def step(self, rows, n_rows, eta):
        batch = self.objective.subset(rows, n_rows)
        P = self.P
        f, g = batch.smooth_value_and_gradient(P)
        f += self.objective.nonsmooth_value(P)
        self.P = batch.prox(P - eta * g, eta)
        self.P_sum = self.P_sum + self.P
        self.count += 1
        return f

    def average(self):
        return self.P_sum / self.count

    def last(self):
        return self.P


class _LazySparseIterates(_Iterates):
    """The same iterates on sparse ``X`` with a smooth penalty, at a cost
    proportional to the batch's nonzeros rather than to ``K d``.

    A batch's data gradient is zero on the columns its rows do not use; only
    the L2 part of the penalty, ``l2 * W``, touches every coefficient, and it
    only rescales them. So the coefficients are stored as ``W = scale * V``:
    the step ``W <- (1 - eta l2) W - eta G_S`` multiplies ``scale`` by
    ``1 - eta l2`` and changes ``V`` on the batch's columns ``S`` only.

    The epoch's sum of iterates is kept the same way (the averaged SGD of
    Xu, 2011, as in scikit-learn's ``_sgd_fast``): with ``C`` the sum of the
    scales so far and ``U`` accumulating ``C * dV`` at each change ``dV`` of
    ``V``, ``sum_t W_t = C V - U``, and ``U`` changes only on ``S`` too.
    ``||V||^2`` is updated on ``S`` for the penalty's value. ``V`` and ``U``
    are stored feature-major and side by side, (d, 2, K), so that a batch's
    columns are contiguous rows. Scipy sparse input only (numpy arrays).
    """

    #: Below this scale, it is folded into ``V`` (a dense rescaling) so that
    #: ``V = W / scale`` stays of the order of ``W``.
    min_scale = 1e-6

    def __init__(self, objective, P):
        self.objective = objective
        W, b = objective.split(P)
        # V and U side by side: a step gathers and scatters both at once.
        self.VU_t = np.zeros((W.shape[1], 2, W.shape[0]), dtype=W.dtype)
        self.V_t, self.U_t = self.VU_t[:, 0], self.VU_t[:, 1]
        self.V_t[...] = W.T
        self.b = None if b is None else np.array(b)
        self.scale = 1.0
        self.sq_norm = float(np.sum(self.V_t * self.V_t))

    def begin_epoch(self):
        self.U_t[...] = 0.0
        self.C, self.b_sum, self.count = 0.0, 0.0, 0

    def _fold(self):
        """Fold ``scale`` into ``V``, keeping ``sum_t W_t = C V - U``."""
        self.U_t -= self.C * self.V_t
        self.C = 0.0
        self.V_t *= self.scale
        self.sq_norm *= self.scale**2
        self.scale = 1.0

    def step(self, rows, n_rows, eta):
        batch, columns = self.objective.subset_support(rows, n_rows)
        l2 = self.objective.penalty.l2
        VU_S = self.VU_t[columns]  # (|S|, 2, K), a copy
        f, grad_W, grad_b = batch.data_value_and_gradient(
            (self.scale * VU_S[:, 0]).T, self.b
        )
        f += 0.5 * l2 * self.scale**2 * self.sq_norm
        shrink = 1.0 - eta * l2
        if not abs(self.scale * shrink) >= self.min_scale:  # also eta * l2 == 1
            self._fold()
            self.V_t *= shrink
            self.sq_norm *= shrink**2
            VU_S, shrink = self.VU_t[columns], 1.0
        self.scale *= shrink
        dV_S = grad_W.T * (-eta / self.scale)
        self.sq_norm += float(np.sum(dV_S * (2.0 * VU_S[:, 0] + dV_S)))
        VU_S[:, 0] += dV_S
        VU_S[:, 1] += self.C * dV_S
        self.VU_t[columns] = VU_S
        self.C += self.scale
        if self.b is not None:
            self.b = self.b - eta * grad_b
            self.b_sum = self.b_sum + self.b
        self.count += 1
        return f

    def average(self):
        W_t = (self.C * self.V_t - self.U_t) / self.count
        b = None if self.b is None else self.b_sum / self.count
        return self.objective.join(W_t.T, b)

    def last(self):
        return self.objective.join((self.scale * self.V_t).T, self.b)


def stochastic_gradient(
    objective, P, *, schedule, batch_size, rows, shuffle, rng, max_iter, report
):
    """Mini-batch (proximal) stochastic gradient descent.

    Each epoch visits ``rows`` once, in batches of ``batch_size`` (reshuffled
    every epoch when ``shuffle``), and makes the derivation's update on each
    batch's gradient, ``P <- P - eta * grad_B``, with ``eta`` from ``schedule``
    (an ``_optimizers.StepSchedule``). The objective reported for an epoch is
    the mean of its batch objectives, as in scikit-learn's SGD and MLP; it is
    the exact ``J`` when a single batch holds all the rows.

    The model of an epoch, the one reported and returned, is the average of
    the epoch's iterates (Polyak-Ruppert averaging over the epoch), while the
    iterates themselves run on: at a constant step, SGD's iterates hover
    around the optimum at a distance set by the gradient noise, and their
    average removes most of it. With one batch per epoch the average is the
    single iterate, and the loop is plain gradient descent.

    On scipy sparse ``X`` with a smooth penalty, a step costs what the
    batch's nonzeros cost (``_LazySparseIterates``); it is the same step.

    There is no optimality measure (a full gradient would cost a pass): the
    loop runs ``max_iter`` epochs unless ``report`` asks it to stop. It
    returns ``(P_average, n_iter, status, P_last)``: the last epoch's averaged
    model, the status "stopped" or "max_iter", and the last iterate, from
    which a later call continues (``partial_fit``).
    """
    lazy = sp.issparse(objective.X) and objective.is_smooth
    iterates = (_LazySparseIterates if lazy else _Iterates)(objective, P)
    n = rows.shape[0]
    epoch = 0
    for epoch in range(1, max_iter + 1):
        order = rows[rng.permutation(n)] if shuffle else rows
        eta = schedule.eta
        value = 0.0
        iterates.begin_epoch()
        for start in range(0, n, batch_size):
            batch_rows = order[start : start + batch_size]
            value += iterates.step(batch_rows, n, eta) * (batch_rows.shape[0] / n)
        P_avg = iterates.average()
        schedule.end_epoch()
        if report(epoch, value, P_avg, None, eta):
            return P_avg, epoch, "stopped", iterates.last()
    return P_avg, epoch, "max_iter", iterates.last()


SOLVERS = {
    "gd": gradient_descent,
    "agd": accelerated_gradient,
    "lbfgs": lbfgs,
    "newton-cg": newton_cg,
}
