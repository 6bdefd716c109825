"""The full-batch solvers minimising a ``SoftmaxObjective``, and the one
driver that runs every solver's iterations, mini-batch included.

A solver is a generator: ``solver(objective, P, f, g, threshold, **options)``
starts from ``P`` (not modified), where the smooth part's value ``f`` and
gradient ``g`` are already known, and yields one ``Iteration`` per iteration
(the new iterate, the objective ``J`` there, the optimality measure or None
where the solver does not compute it, the step size). Each iteration makes at
least one pass over the data. A solver that can make no more progress in
floating point returns ``"precision"``.

``drive`` owns what every loop shares: counting the iterations up to
``max_iter``, reporting each one (``report(iteration, state)``, which returns
True to stop: a callback's request, early stopping), the stopping test
``optimality <= threshold``, and catching divergence. It returns a
``SolverResult``.

The stopping test is scale-free: ``optimality`` is the max-norm of the
minimal-norm subgradient with each feature's entries divided by the
feature's scale (``objective.optimality``), and the threshold is ``tol``
times the same measure at ``P = 0`` (``minimize``'s ``scale``; None: taken
at the start point, which is ``P = 0`` for a fresh fit). It does not change
when the data, a column, or the loss are multiplied by a constant, and it
never goes below ``objective.rounding_level()``, the size of the gradient's
rounding errors: no iterate can do better than that.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._backend import add_scaled as _add_scaled
from ._backend import as_dtype
from ._backend import dot as _dot
from ._backend import norm1 as _norm1
from ._optimizers import BacktrackingLipschitz, LBFGSDirection, NesterovMomentum


class Iteration(NamedTuple):
    """What one iteration reports: the iterate ``P``, the objective ``value``
    there, its ``optimality`` (None if not computed), the ``step_size``, and
    for mini-batch epochs ``last``, a function returning the last iterate
    (the epoch's model ``P`` being an average of iterates)."""

    P: Any
    value: float
    optimality: float | None
    step_size: float
    last: Any = None


@dataclass
class SolverResult:
    """``P`` the model, ``n_iter`` the iterations (epochs) made, ``status``
    one of "converged", "max_iter", "stopped" (by ``report``) or "precision"
    (no step decreases the objective in floating point before the threshold
    is met), and for mini-batch fits ``last``, the last iterate, from which
    ``partial_fit`` continues; a mini-batch fit stopped far from the optimum
    is "stalled", its relative gradient in ``stalled``."""

    P: Any
    n_iter: int
    status: str
    last: Any = None
    stalled: float = 0.0


#: An objective above this multiple of its reference value (that of the start
#: point, or of the null model, log K, if larger) has diverged; a fit whose
#: last objective is above ``ENDED_WORSE`` times it has failed: its model is
#: worse than the one it started from.
EXPLODING = 1e4
ENDED_WORSE = 2.0


class DivergenceError(ValueError):
    """The objective or the parameters stopped being finite, or exploded."""


def drive(iterations, P, *, max_iter, threshold, report, reference):
    """Run ``iterations`` (a solver's generator) for at most ``max_iter``
    iterations, reporting each; see the module docstring.

    ``P`` is the start point, returned if no iteration is made. An
    objective that is not finite or exceeds ``EXPLODING * reference``
    raises ``DivergenceError`` (a ``ValueError``), as does a last objective
    above ``ENDED_WORSE * reference``: with a step too long for the data's
    curvature, gradient descent diverges or oscillates instead of
    converging.
    """
    state, status, it = None, "max_iter", 0
    with np.errstate(over="ignore", invalid="ignore"):
        while it < max_iter:
            try:
                state = next(iterations)
            except StopIteration as end:
                status = end.value
                break
            except OverflowError as error:
                raise DivergenceError(_divergence_message(it + 1)) from error
            it += 1
            if not state.value <= EXPLODING * reference:  # also NaN
                raise DivergenceError(_divergence_message(it, state.value))
            stop = report(it, state)
            if state.optimality is not None and state.optimality <= threshold:
                status = "converged"
                break
            if stop:
                status = "stopped"
                break
    if state is None:
        return SolverResult(P, 0, status)
    if not state.value <= ENDED_WORSE * reference:
        raise DivergenceError(_divergence_message(it, state.value, reference))
    last = None if state.last is None else state.last()
    return SolverResult(state.P, it, status, last)


def _divergence_message(iteration, value=None, reference=None):
    if value is None:
        found = "The fit diverged: the objective overflowed"
    elif reference is None:
        found = f"The fit diverged: the objective reached {value:.3g}"
    else:
        found = (
            f"The fit failed: its objective ended at {value:.3g}, above the "
            f"{reference:.3g} it started from,"
        )
    return (
        f"{found} at iteration (epoch) {iteration}. Floating-point "
        "under-/overflow occurred or the iterates oscillated: the step size is "
        "too large for the data. Use a smaller learning_rate (or "
        "learning_rate='auto'), standardize the features (e.g. with "
        "StandardScaler), or choose a smaller alpha."
    )


def check_finite(P, xp):
    """Raise ``DivergenceError`` if the model ``P`` is not finite: a fitted
    model is never NaN or infinite."""
    if not bool(xp.all(xp.isfinite(P))):
        raise DivergenceError(
            "Solver produced non-finite parameter weights. "
            + _divergence_message("?").split(". ", 1)[1]
        )


def minimize(objective, P, *, method, max_iter, tol, scale, report, seed=0, **options):
    """Minimise ``objective`` from ``P`` with the full-batch ``method`` (a
    key of ``SOLVERS``): the start point's value, gradient and threshold,
    then ``drive``. ``seed`` draws Newton-CG's and L-BFGS's Hessian sample."""
    f, g = objective.smooth_value_and_gradient(P)
    opt = objective.optimality(P, g)
    threshold = max(tol * (opt if scale is None else scale), objective.rounding_level())
    if opt <= threshold:  # a start point already optimal (scale is rounding noise)
        return SolverResult(P, 0, "converged")
    if method != "gd":
        options["seed"] = seed
    iterations = SOLVERS[method](objective, P, f, g, threshold, **options)
    del g  # the solver's from now on: freed once it has a new gradient
    start = f + objective.nonsmooth_value(P)
    reference = max(start, math.log(objective.n_classes))
    return drive(
        iterations,
        P,
        max_iter=max_iter,
        threshold=threshold,
        report=report,
        reference=reference,
    )


def _finfo_eps(P, xp):
    return float(xp.finfo(P.dtype).eps)


def gradient_descent(objective, P, f, g, threshold, *, learning_rate):
    """The derivation's update with a constant step ``eta = learning_rate``.

    ``P <- P - eta * grad`` (followed by the proximal step of the L1 part, if any).
    """
    while True:
        P = objective.prox(P - learning_rate * g, learning_rate)
        f, g = objective.smooth_value_and_gradient(P)
        J = f + objective.nonsmooth_value(P)
        yield Iteration(P, J, objective.optimality(P, g), learning_rate)


def accelerated_gradient(objective, P, f, g, threshold, *, seed):
    """FISTA: proximal gradient with Nesterov momentum, adaptive restart and a
    backtracking step size (no learning rate to choose), in the metric of
    the per-feature curvature.

    The step on column ``j`` of ``P`` is ``1 / (L M_j)``, with ``M`` the
    per-feature curvature at the start point (``objective.feature_curvature``
    on Newton-CG's Hessian sample; the L2 strength included) and ``L``
    found by backtracking: proximal gradient in the metric ``||D||_M^2 =
    sum_j M_j ||D[:, j]||^2``, which is FISTA itself after the change of
    variables ``P -> P sqrt(M)``. Without it, one large column (a feature in
    other units) or a large penalty sets a step far too short for every
    other column and for the unpenalized intercepts, and the fit creeps.
    The L1 part's proximal step thresholds each column by its own step.

    Each iteration costs one pass for the gradient at the extrapolated point
    and one forward pass per trial of the step. The optimality is reported
    (None otherwise) only when the gradient mapping, free but measured at the
    extrapolated point, says "converged"; it costs one more pass there.
    """
    xp = objective.xp
    sample = hessian_sample(objective, HESSIAN_FRACTION, seed)
    M = sample.feature_curvature(P)
    del sample
    momentum = NesterovMomentum(xp, metric=M)
    lipschitz = BacktrackingLipschitz()
    Y, f_Y, g_Y = P, f, g
    eps = _finfo_eps(P, xp)
    while True:
        lipschitz.relax()
        for _ in range(60):
            step = 1.0 / (lipschitz.L * M)
            P_new = objective.prox(Y - step * g_Y, step)
            D = P_new - Y
            f_new = objective.smooth_value(P_new)
            bound = f_Y + _dot(g_Y, D, xp) + 0.5 * lipschitz.L * _dot(D, M * D, xp)
            if f_new <= bound + 16 * eps * abs(f_Y):
                break
            lipschitz.reject()
        opt = None
        if objective.scaled_max(D / step) <= threshold:
            g_new = objective.smooth_value_and_gradient(P_new)[1]
            opt = objective.optimality(P_new, g_new)
        J = f_new + objective.nonsmooth_value(P_new)
        yield Iteration(P_new, J, opt, 1.0 / lipschitz.L)
        Y_next = momentum.extrapolate(P_new, P, Y)
        P, Y = P_new, Y_next
        f_Y, g_Y = objective.smooth_value_and_gradient(Y)


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


def lbfgs(objective, P, f, g, threshold, *, seed, memory=10):
    """L-BFGS on the smooth objective (L2 penalty only), with a strong Wolfe
    line search; the hand-derived gradient is its only input. Its initial
    inverse Hessian is scaled feature by feature by the curvature at the
    start point (``objective.feature_curvature`` on Newton-CG's Hessian
    sample), which on sparse data with rare features takes several times
    fewer iterations."""
    if not objective.is_smooth:
        raise ValueError("lbfgs handles smooth objectives only (l1_ratio == 0).")
    xp = objective.xp
    sample = hessian_sample(objective, HESSIAN_FRACTION, seed)
    directions = LBFGSDirection(memory, xp, sample.feature_curvature(P))
    del sample  # a copy of the sampled rows: not kept
    while True:
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
            return "precision"
        t, P_new, f_new, g_new = step
        directions.update(P_new - P, g_new - g)
        P, f, g = P_new, f_new, g_new
        yield Iteration(P, f, objective.optimality(P, g), t)


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
        del z, Hp  # not kept through the next product: two arrays fewer at its peak
    return d


def _backtracking_line_search(
    objective, P, f, g_norm1, d, gd, *, c1=1e-4, max_trials=40
):
    """The Newton step ``t = 1`` along ``d``, shortened until ``f(P + t d) <=
    f + c1 t <g, d>`` (Armijo), each new trial the minimiser of the quadratic
    through ``f``, the slope ``gd`` and the rejected value, kept within
    ``[0.1 t, 0.5 t]``. As in ``_wolfe_line_search``, a step that leaves ``f``
    unchanged to rounding but reduces the gradient (its 1-norm, ``g_norm1``
    at ``P``) is accepted. The gradient at ``P`` itself is not needed: the
    caller can free it before the trials' gradient passes, the peak of a
    Newton iteration's memory.

    Returns ``(t, P_new, f_new, g_new)``, or None if no trial succeeds."""
    xp = objective.xp
    eps = _finfo_eps(P, xp)
    t = 1.0
    for _ in range(max_trials):
        P_new = P + t * d
        f_new, g_new = objective.smooth_value_and_gradient(P_new)
        if abs(f_new - f) <= 16 * eps * abs(f) and _norm1(g_new, xp) < g_norm1:
            return t, P_new, f_new, g_new
        if f_new <= f + c1 * t * gd:
            return t, P_new, f_new, g_new
        curvature = f_new - f - gd * t
        t_min = -gd * t * t / (2 * curvature) if curvature > 0 else 0.5 * t
        t = min(max(t_min, 0.1 * t), 0.5 * t)
    return None


#: Newton-CG's Hessian sample: this share of the rows with positive weight,
#: but never fewer than ``HESSIAN_MIN_ROWS`` (all of them on small data), nor
#: than ``HESSIAN_ROWS_PER_CLASS`` times the number of classes, nor, on dense
#: rows, than ``HESSIAN_ROWS_PER_FEATURE`` times the columns of ``P`` (up to
#: three quarters of the rows).
HESSIAN_FRACTION = 0.1
HESSIAN_MIN_ROWS = 2000
HESSIAN_ROWS_PER_CLASS = 40
HESSIAN_ROWS_PER_FEATURE = 75


def hessian_sample(objective, fraction, seed, min_rows=0):
    """The objective on Newton-CG's Hessian sample (``objective.on_sample``):
    ``fraction`` of the rows, at least ``min_rows``, ``HESSIAN_MIN_ROWS``,
    ``HESSIAN_ROWS_PER_CLASS`` per class on average (the sample is
    stratified: each class gets its share of them) and, on dense rows,
    ``HESSIAN_ROWS_PER_FEATURE`` per column of ``P``, up to three quarters
    of the rows.

    Each class's rows carry most of that class's share of the curvature
    (its rows and columns of ``diag(s) - s s^T``): a tenth of 50 000 rows
    is 5 rows per class for 1000 classes, too few to represent them, and
    Newton's steps then overshoot. Iterations to a 1e-6 gap on 50k x 100
    (``benchmarks/bench_grid.py``'s data), by rows per class: 1000 classes,
    10 at 5 (a tenth), 7 at 20, 5 at 40; 300 classes, 10 at 20, 6 at 40,
    5 at 60. At 40 the time to the gap was 0.65-0.97 of 20's for 300
    classes and level for 1000 (whose sample is then 80% of the rows).

    Every dense row carries curvature in every feature, and the sampled
    Hessian, a sum of the rows' ``x x^T`` blocks, is close to the whole
    data's only with many more rows than features. Iterations to the same
    gap (median of 5 seeds), by rows per column of ``P``: 25k x 200 with 10
    classes, 8-9 at 12 (a tenth), 7-8 at 25, 5 at 50, 4 at 75; 100k x 200,
    6 at 50 (a tenth), 5 at 75; 50k x 100 with 100 classes, 8 at 50, 6 at
    75; with 10 classes and with 2, one fewer at 75 than at 50. The
    products cost little beside the passes they save: in float32 (the
    sample's rows, ``ArrayBackend.sample``), a product on all the rows of
    25k x 200 costs a fifth of a pass. The floor stops at three quarters of
    the rows: a sample of all of them is the data itself, whose products
    run in float64 on every row (and on two classes with few features, the
    whole Hessian is built, ``n p^2`` numbers), several times the cost for
    little more accuracy (15k x 200, two classes: 0.22 s to the gap with
    all the rows, 0.08 s with half or three quarters, 0.10 s with a
    tenth; 25k x 200, 10 classes: 5 iterations with half, 4 with 60%).
    On sparse rows each feature's curvature comes from the few rows that
    use it, and the penalty bounds it from below: the floor does not apply
    (it would be all of the rows).
    """
    per_class = HESSIAN_ROWS_PER_CLASS * objective.n_classes
    per_feature = 0
    if not objective.data.sparse:
        per_feature = min(
            HESSIAN_ROWS_PER_FEATURE * (objective.n_features + 1),
            3 * objective.n_rows // 4,
        )
    return objective.on_sample(
        fraction, max(min_rows, HESSIAN_MIN_ROWS, per_class, per_feature), seed
    )


#: Newton-CG solves for its step directly (``_direct_step``) on two classes
#: with at most this many columns of ``P``, when its Hessian is on all rows.
DIRECT_MAX_FEATURES = 256


def _direct_step(objective, P, g, forward):
    """The exact Newton step ``-H^-1 g`` of two classes on one row, from the
    whole Hessian (``objective.hessian``), or None if ``H`` is singular (no
    penalty, a feature that is zero on every row).

    On small data (breast_cancer: 569 rows, 31 parameters) a Hessian of
    ``p^2`` numbers costs one matrix product, where conjugate gradients cost
    a pass over the data and the Python of a step each, 7 per iteration;
    this is what ``LogisticRegression(solver="newton-cholesky")`` does.
    """
    xp = objective.xp
    try:
        d = xp.linalg.solve(objective.hessian(P, forward), -g[0, :])
    except (np.linalg.LinAlgError, RuntimeError):
        return None
    return xp.reshape(d, g.shape) if bool(xp.all(xp.isfinite(d))) else None


def newton_cg(objective, P, f, g, threshold, *, seed, max_cg=200):
    """Truncated Newton with a subsampled Hessian, on the smooth objective
    (L2 penalty only).

    Each iteration solves ``H d = -g`` by conjugate gradients to a relative
    residual ``eta = min(eta_max, sqrt(||g|| / ||g_0||))`` (loose far from
    the optimum, tighter near it; Nocedal & Wright, section 7.1), then
    backtracks from the Newton step ``t = 1``. ``eta_max``, the loosest
    residual, is the Hessian sample's share of the rows, between 0.1 and the
    textbook 0.5 (``_forcing_cap``), and the first step is solved to ``eta =
    0.1``: where a product costs a small part of a pass, an accurate step
    saves whole iterations for a few products (see ``benchmarks/HISTORY.md``
    and ``benchmarks/README.md``).

    ``g`` is the full gradient; ``H`` is the Hessian of the objective on a
    random sample of the rows, stratified by class (``hessian_sample``: a
    tenth of them, at least 2000, 40 per class and on dense rows 75 per
    feature, drawn with ``seed``, weights rescaled so that each class weighs
    what it weighs in the data; float64 rows stored in float32, and the
    conjugate gradients run in float32 with them), so that a
    conjugate-gradient step, one Hessian-vector product by hand
    (``objective.hessp``), costs a fraction of a pass over the data on a
    large data set (Byrd, Chin, Neveitt and Nocedal, 2011). The
    conjugate gradients are preconditioned by the per-feature curvature of
    the same rows (``objective.feature_curvature``): on sparse data with
    rare features they need far fewer products, and on standardized dense
    data the scaling is nearly uniform and changes little. On sparse data
    they work on the columns the sample uses only (``_hessian_model``).

    On two classes with few features and the Hessian on all the rows, the
    step is solved exactly instead, from the whole Hessian (``_direct_step``).

    A sampled Hessian gives up Newton's fast local convergence. Once near the
    optimum (``eta < 0.1``), an iteration that needs a shorter step than
    Newton's or that fails to halve the optimality measure shows that the
    sample misleads: it doubles then (the larger sample contains the
    smaller), up to all the rows, where convergence is quadratic again.
    """
    if not objective.is_smooth:
        raise ValueError("newton_cg handles smooth objectives only (l1_ratio == 0).")
    xp = objective.xp
    fraction = HESSIAN_FRACTION
    curvature = hessian_sample(objective, fraction, seed)
    model = _hessian_model(curvature)
    # Two classes and few features: the exact step once the sample is all rows.
    small = objective.n_outputs == 1 and P.shape[1] <= DIRECT_MAX_FEATURES
    g_norm0 = math.sqrt(_dot(g, g, xp))
    opt = objective.optimality(P, g)
    first = True
    while True:
        g_norm = math.sqrt(_dot(g, g, xp))
        eta_max = _forcing_cap(objective, curvature)
        eta = 0.1 if first else min(eta_max, math.sqrt(g_norm / g_norm0))
        first = False
        direct = small and curvature is objective
        d = _newton_direction(model, P, g, eta * g_norm, max_cg, direct)
        gd = _dot(g, d, xp)
        if not gd < 0:  # no curvature information: steepest descent
            d, gd = -g, -(g_norm**2)
        g_norm1 = _norm1(g, xp)
        del g  # a parameter array fewer during the line search's passes
        step = _backtracking_line_search(objective, P, f, g_norm1, d, gd)
        if step is None:  # no decrease possible in floating point: as close as it gets
            return "precision"
        t, P, f, g = step
        del step  # it would keep this gradient through the next line search
        opt, opt_before = objective.optimality(P, g), opt
        misleads = eta < 0.1 and (t < 1 or opt > 0.5 * opt_before)
        if curvature is not objective and misleads:  # at least twice the rows
            fraction, min_rows = 2 * fraction, 2 * curvature.n_rows
            curvature = hessian_sample(objective, fraction, seed, min_rows)
            model = _hessian_model(curvature)
        yield Iteration(P, f, opt, t)


def _forcing_cap(objective, curvature):
    """Newton-CG's loosest relative residual for the conjugate gradients:
    the share of the rows that the Hessian (``curvature``) holds, within
    ``[0.1, 0.5]``.

    A product on the Hessian's rows costs about that share of a pass over
    the data (less on sparse rows, whose conjugate gradients keep to the
    sample's columns). The textbook bound, 0.5, fits a product that costs
    a pass: it is kept when the Hessian has half of the rows or more. On a
    tenth of them products are cheap, and steps solved to 0.1 save whole
    iterations, each a gradient pass and its line search, for a few more
    products. To a 1e-6 gap (``benchmarks/bench_grid.py``'s data, one
    thread, medians of interleaved fits against 0.5): sparse 100k x 100k
    with 20 classes, 7 iterations and 101 products instead of 9 and 116,
    0.86-0.90 of the time; 100k x 1M, 6 iterations instead of 7, 0.93.
    Where the sample holds 15-60% of the rows (the dense rows, whose sample
    has 75 rows per feature), 0.1 gained 5-12% on 10 and 2 classes and lost
    4-8% on 100 and 300 classes and on 25k x 200, with the same iterations;
    the share itself (0.15-0.24 there) was level with 0.5 (0.98-1.04). A
    tighter bound, 0.05, enters the near-optimum regime (``eta < 0.1``,
    where a misleading sample grows) from the second step: on sparse
    100k x 100k, 6 iterations but a larger sample and 1.3 times the time.
    """
    return min(0.5, max(0.1, curvature.n_rows / objective.n_rows))


def _hessian_model(curvature):
    """The Hessian Newton-CG's conjugate gradients work with: ``(model,
    index)``, ``model`` the objective on the Hessian's rows (``curvature``)
    and ``index`` None, or, on sparse rows with an L2 penalty, that
    objective on only the columns the rows use and ``index`` those columns
    of ``P`` (``on_support``).

    On a column ``j`` that none of the rows uses, the data term's Hessian
    is zero in every row and column of ``j``: the rows' Hessian is block
    diagonal, and on that block it is the penalty's ``l2 I``. Its Newton
    step there is ``-g_j / l2`` exactly (``-W_j`` on a feature that no row
    of the data uses: its optimum, 0), and the conjugate gradients need
    only the other block. On wide sparse data that is most columns (a
    tenth of 100k rows of text use 8% of 1M features), and the vector
    work of each conjugate-gradient step (``K d`` numbers, several passes
    over them) falls by as much.
    """
    restricted = curvature.on_support() if curvature.penalty.l2 > 0 else None
    return (curvature, None) if restricted is None else restricted


def _newton_direction(model, P, g, tolerance, max_cg, direct):
    """Newton-CG's direction at ``P``: ``H d = -g`` solved by conjugate
    gradients to the residual ``tolerance`` (or exactly, ``_direct_step``,
    when ``direct``), ``H`` the Hessian of ``model = (objective, index)``
    (``_hessian_model``); on the columns outside ``index``, ``-g / l2``."""
    objective, index = model
    xp = objective.xp
    g_model = g
    if index is not None:
        P, g_model = (objective.product_layout(A[:, index]) for A in (P, g))
    # In the dtype of the Hessian's rows (float32 for a sample of float64
    # rows), that of its products: the conjugate gradients' vectors too.
    P, g_model = as_dtype((P, g_model), objective.data.dtype, xp)
    forward = objective.probabilities_t(P)  # one forward pass for both
    d = _direct_step(objective, P, g_model, forward) if direct else None
    if d is None:
        d = _conjugate_gradient(
            objective.hessp(P, forward),
            g_model,
            tolerance,
            max_cg,
            xp,
            objective.feature_curvature(P, forward),
        )
    if index is None:
        return as_dtype(d, g.dtype, xp)
    full = g / -objective.penalty.l2
    full[:, index] = d
    return full


SOLVERS = {
    "gd": gradient_descent,
    "agd": accelerated_gradient,
    "lbfgs": lbfgs,
    "newton-cg": newton_cg,
}
