"""Newton-CG: truncated Newton with a subsampled Hessian, on the smooth
objective (L2 penalty only)."""

import math
from dataclasses import dataclass, field

import numpy as np

from .._array_ops import add_scaled as _add_scaled
from .._array_ops import as_dtype
from .._array_ops import dot as _dot
from .._array_ops import norm1 as _norm1
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
    the rows within them (``forcing_cap``). ``direct_max_features``: two
    classes with at most this many columns of ``P`` are solved exactly once
    the Hessian is on all the rows (``direct_step``).
    """

    sample: HessianSample = field(default_factory=HessianSample)
    max_cg: int = 200
    first_forcing: float = 0.1
    forcing_bounds: tuple[float, float] = (0.1, 0.5)
    direct_max_features: int = 256


def conjugate_gradient(hessp, g, tolerance, max_iter, xp, diagonal):
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


def direct_step(objective, P, g, forward):
    """The exact Newton step ``-H^-1 g`` of two classes on one row, from the
    whole Hessian (``objective.hessian``), or None if ``H`` is singular (no
    penalty, a feature that is zero on every row).

    On small data a Hessian of ``p^2`` numbers costs one matrix product,
    where conjugate gradients cost a pass over the data each, several per
    iteration; this is what ``LogisticRegression(solver="newton-cholesky")``
    does.
    """
    xp = objective.xp
    try:
        d = xp.linalg.solve(objective.hessian(P, forward), -g[0, :])
    except (np.linalg.LinAlgError, RuntimeError):
        return None
    return xp.reshape(d, g.shape) if bool(xp.all(xp.isfinite(d))) else None


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
    columns the sample uses only (``hessian_model``). On two classes with
    few features and the Hessian on all the rows, the step is solved
    exactly instead (``direct_step``).

    A sampled Hessian gives up Newton's fast local convergence. Once near the
    optimum (``eta < 0.1``, or from the first step for a ``warm`` start, the
    solution at a nearby penalty), an iteration that needs a shorter step
    than Newton's or that fails to halve the optimality measure shows that
    the sample misleads: it doubles then (the larger sample contains the
    smaller), up to all the rows, where convergence is quadratic again. A
    warm start's ``eta`` is measured from its own small gradient and seldom
    falls below 0.1: without ``warm``, its sample would never grow (a
    path's small alphas on sparse data took 200 iterations where a fit from
    zero takes 31).
    """
    if not objective.is_smooth:
        raise ValueError("newton-cg handles smooth objectives only (l1_ratio == 0).")
    xp = objective.xp
    fraction = options.sample.fraction
    curvature = hessian_sample(objective, options.sample, seed)
    model = hessian_model(curvature)
    # Two classes and few features: the exact step once the sample is all rows.
    small = objective.n_outputs == 1 and P.shape[1] <= options.direct_max_features
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
        d = newton_direction(model, P, g, eta * g_norm, options.max_cg, direct)
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
        if curvature is not objective and misleads:  # at least twice the rows
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


def newton_direction(model, P, g, tolerance, max_cg, direct):
    """Newton-CG's direction at ``P``: ``H d = -g`` solved by conjugate
    gradients to the residual ``tolerance`` (or exactly, ``direct_step``,
    when ``direct``), ``H`` the Hessian of ``model = (objective, index)``
    (``hessian_model``); on the columns outside ``index``, ``-g / l2``."""
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
        )
    if index is None:
        return as_dtype(d, g.dtype, xp)
    full = g / -objective.penalty.l2
    full[:, index] = d
    return full
