"""Newton-CG: truncated Newton with a subsampled Hessian, on the smooth
objective (L2 penalty only)."""

import math
from dataclasses import dataclass, field

import numpy as np

from .._array_ops import add_scaled as _add_scaled
from .._array_ops import as_dtype, scaled_abs_max
from .._array_ops import dot as _dot
from .._array_ops import norm1 as _norm1
from .._array_ops import solve as _solve
from ._driver import Iteration
from ._line_search import backtracking_line_search
from ._sampling import HessianSample, hessian_sample


@dataclass(frozen=True)
class NewtonCGOptions:
    """Newton-CG's tunables.

    ``sample``: the rows of the Hessian (``HessianSample``). ``max_cg``: the
    conjugate gradients' products per step, at most. ``first_forcing``: the
    relative residual of the first step. ``forcing_bounds``: the bounds of
    the loosest residual of the later steps, which is the sample's share of
    the rows within them (``forcing_cap``). ``threshold_share``: the
    conjugate gradients also stop once their residual, each feature's
    entries divided by its scale, is at most this share of the stopping
    threshold: the gradient the quadratic model predicts after the step
    passes the stopping test, and a tighter solve would be wasted.
    ``direct_max_parameters``: with at most this many entries in ``P``, the
    step is solved exactly once the Hessian is on all the rows
    (``direct_step``).
    """

    sample: HessianSample = field(default_factory=HessianSample)
    max_cg: int = 200
    first_forcing: float = 0.1
    forcing_bounds: tuple[float, float] = (0.1, 0.5)
    threshold_share: float = 0.5
    direct_max_parameters: int = 64


def conjugate_gradient(hessp, g, tolerance, max_iter, xp, diagonal, enough=None):
    """An approximate solution ``d`` of ``H d = -g`` by conjugate gradients
    from ``d = 0``, preconditioned by the positive ``diagonal`` (each
    residual is divided by it, broadcasting: the per-feature scaling of the
    step). It stops once the residual's norm is at most ``tolerance`` or
    ``enough(residual, its norm)`` is true, after ``max_iter`` products, or on a
    direction of non-positive curvature (keeping the iterate so far; ``d =
    0`` if that is the first direction).
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
        r_norm = math.sqrt(_dot(r, r, xp))
        if r_norm <= tolerance or (enough and enough(r, r_norm)):
            break
        z = r / diagonal
        rz_new = _dot(r, z, xp)
        p *= rz_new / rz
        _add_scaled(p, 1.0, z, xp)
        rz = rz_new
        del z, Hp  # not kept through the next product: two arrays fewer at its peak
    return d


def direct_step(objective, P, g, forward):
    """The exact Newton step ``-H^-1 g`` from the whole Hessian
    (``objective.hessian``), shaped like ``g``, or None if ``H`` is
    singular: no L2 penalty (the softmax's coefficients then have a common
    shift of no curvature; on two classes, a feature that is zero on every
    row).

    The softmax's intercepts always have one: adding the same number to
    every class's leaves the probabilities as they are. Along it, ``u`` (ones
    on the intercepts), the gradient is zero, and the step is solved with
    ``H + u u^T / K`` instead, whose solution is the step orthogonal to
    ``u`` (``u^T H = 0``).

    On small data a Hessian of ``p^2`` numbers costs about ``p / 2`` passes'
    multiply-adds in one matrix product, where conjugate gradients cost a
    pass each, several per iteration; this is what
    ``LogisticRegression(solver="newton-cholesky")`` does.
    """
    xp = objective.xp
    K = objective.n_outputs
    if K > 1 and objective.penalty.l2 == 0:
        return None
    H = objective.hessian(P, forward)
    if K > 1 and objective.fit_intercept:  # the entries of u u^T / K
        p = P.shape[1]
        H[p - 1 :: p, p - 1 :: p] += 1.0 / K
    try:
        d = _solve(H, -xp.reshape(g, (-1,)), xp)
    except (np.linalg.LinAlgError, RuntimeError):
        return None
    if not bool(xp.all(xp.isfinite(d))):
        return None
    return objective.product_layout(xp.reshape(d, g.shape))  # as P's


def newton_cg(objective, P, f, g, threshold, options, seed, warm=False):
    """Truncated Newton with a subsampled Hessian (``NewtonCGOptions``).

    Each iteration solves ``H d = -g`` by conjugate gradients to a relative
    residual ``eta = min(eta_max, sqrt(||g|| / ||g_0||))`` (loose far from
    the optimum, tighter near it; Nocedal & Wright, section 7.1), then
    backtracks from the Newton step ``t = 1``. ``eta_max`` follows the cost
    of a product (``forcing_cap``), and the first step is solved to
    ``first_forcing``.

    ``g`` is the full gradient; ``H`` is the Hessian of the objective on a
    random sample of the rows, stratified by class (``hessian_sample``),
    drawn with ``seed``, so that a conjugate-gradient step, one
    Hessian-vector product by hand (``objective.hessp``), costs a fraction
    of a pass over the data on a large data set (Byrd, Chin, Neveitt and
    Nocedal, 2011). The conjugate gradients run in the sample's dtype and
    are preconditioned by the per-feature curvature of the same rows
    (``objective.feature_curvature``); on sparse data they work on the
    columns the sample uses only (``hessian_model``). They stop early once
    the gradient the quadratic model predicts passes the stopping test
    (``threshold_share``): the last step is solved no tighter than the fit
    needs. On small data, where the sample would be all the rows, the
    Hessian is still a float32 copy of them (``HessianSample``,
    ``copy_bytes``); with few parameters (``direct_max_parameters``)
    the step is solved exactly instead, on the data itself
    (``direct_step``).

    A sampled Hessian gives up Newton's fast local convergence. Once near the
    optimum (``eta < 0.1``, or from the first step for a ``warm`` start, the
    solution at a nearby penalty), an iteration that needs a shorter step
    than Newton's or that fails to halve the optimality measure shows that
    the sample misleads: it doubles then (the larger sample contains the
    smaller), up to the data itself, where convergence is quadratic again.
    A warm start's ``eta`` is measured from its own small gradient and
    seldom falls below 0.1: without ``warm``, its sample would never grow.
    """
    if not objective.is_smooth:
        raise ValueError("newton-cg handles smooth objectives only (l1_ratio == 0).")
    xp = objective.xp
    fraction = options.sample.fraction
    # Few parameters: the exact step, on the data itself (never a copy).
    small = math.prod(P.shape) <= options.direct_max_parameters
    curvature = hessian_sample(objective, options.sample, seed, copy=not small)
    model = hessian_model(curvature)
    stop = (objective.feature_scales()[0], options.threshold_share * threshold)
    g_norm0 = math.sqrt(_dot(g, g, xp))
    opt = objective.optimality(P, g)
    first = True
    while True:
        g_norm = math.sqrt(_dot(g, g, xp))
        eta_max = forcing_cap(objective, curvature, options.forcing_bounds)
        eta = (
            options.first_forcing
            if first
            else min(eta_max, math.sqrt(g_norm / g_norm0))
        )
        first = False
        direct = small and curvature is objective
        d = newton_direction(model, P, g, eta * g_norm, options.max_cg, direct, stop)
        gd = _dot(g, d, xp)
        if not gd < 0:  # no curvature information: steepest descent
            d, gd = -g, -(g_norm**2)
        g_norm1 = _norm1(g, xp)
        del g  # a parameter array fewer during the line search's passes
        step = backtracking_line_search(objective, P, f, g_norm1, d, gd)
        if step is None:  # no decrease possible in floating point: as close as it gets
            return "precision"
        t, P, f, g = step
        del step  # it would keep this gradient through the next line search
        opt, opt_before = objective.optimality(P, g), opt
        near = warm or eta < 0.1
        misleads = near and (t < 1 or opt > 0.5 * opt_before)
        if curvature is not objective and misleads and opt > threshold:
            fraction, min_rows = 2 * fraction, 2 * curvature.n_rows
            curvature = hessian_sample(
                objective, options.sample, seed, fraction, min_rows
            )
            model = hessian_model(curvature)
        yield Iteration(P, f, opt, t)


def forcing_cap(objective, curvature, bounds):
    """Newton-CG's loosest relative residual for the conjugate gradients:
    the share of the rows that the Hessian (``curvature``) holds, within
    ``bounds``.

    A product on the Hessian's rows costs about that share of a pass over
    the data. The textbook bound, 0.5, fits a product that costs a pass; on
    a small sample products are cheap, and steps solved more accurately save
    whole iterations, each a gradient pass and its line search.
    """
    low, high = bounds
    return min(high, max(low, curvature.n_rows / objective.n_rows))


def hessian_model(curvature):
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
    only the other block, which on wide sparse data is a small part of the
    columns.
    """
    restricted = curvature.on_support() if curvature.penalty.l2 > 0 else None
    return (curvature, None) if restricted is None else restricted


def newton_direction(model, P, g, tolerance, max_cg, direct, stop=None):
    """Newton-CG's direction at ``P``: ``H d = -g`` solved by conjugate
    gradients to the residual ``tolerance`` (or exactly, ``direct_step``,
    when ``direct``), ``H`` the Hessian of ``model = (objective, index)``
    (``hessian_model``); on the columns outside ``index``, ``-g / l2``.
    ``stop = (scales, target)``: the conjugate gradients also stop once
    their residual's max-norm, each column divided by its entry of
    ``scales`` (one per column of ``P``), is at most ``target``."""
    objective, index = model
    xp = objective.xp
    g_model = g
    if index is not None:
        P, g_model = (objective.product_layout(A[:, index]) for A in (P, g))
    # In the dtype of the Hessian's rows (float32 for a sample of float64
    # rows), that of its products: the conjugate gradients' vectors too.
    P, g_model = as_dtype((P, g_model), objective.data.dtype, xp)
    forward = objective.probabilities_t(P)  # one forward pass for both
    d = direct_step(objective, P, g_model, forward) if direct else None
    if d is None:
        d = conjugate_gradient(
            objective.hessp(P, forward),
            g_model,
            tolerance,
            max_cg,
            xp,
            objective.feature_curvature(P, forward),
            _enough(stop, index, xp),
        )
    if index is None:
        return as_dtype(d, g.dtype, xp)
    full = g / -objective.penalty.l2
    full[:, index] = d
    return full


def _enough(stop, index, xp):
    """The conjugate gradients' test ``enough(residual, norm)`` of ``stop =
    (scales, target)`` on the columns ``index`` (None: all), or None. The
    scaled max-norm is at least the 2-norm over ``sqrt(entries) *
    max(scales)``: above that bound it is not computed."""
    if stop is None:
        return None
    scales, target = stop
    if index is not None:
        scales = scales[index]
    largest = float(xp.max(scales))

    def enough(r, norm):
        if norm > math.sqrt(math.prod(r.shape)) * largest * target:
            return False
        return scaled_abs_max(r, scales, xp) <= target

    return enough
