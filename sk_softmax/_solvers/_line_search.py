"""Line searches along a direction ``d`` from ``P``: the strong Wolfe
search of L-BFGS and the backtracking (Armijo) search from the Newton step.

Both accept a step that leaves ``f`` unchanged to rounding but reduces the
gradient: near the optimum, values stop being distinguishable in floating
point before gradients do (as in scikit-learn's ``_newton_solver``).
"""

import math

from .._array_ops import dot as _dot
from .._array_ops import norm1 as _norm1


def finfo_eps(P, xp):
    return float(xp.finfo(P.dtype).eps)


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


def wolfe_line_search(objective, P, f, g, d, gd, t, *, c1=1e-4, c2=0.9, max_trials=40):
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
    eps = finfo_eps(P, xp)
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


def backtracking_line_search(
    objective, P, f, g_norm1, d, gd, *, c1=1e-4, max_trials=40
):
    """The Newton step ``t = 1`` along ``d``, shortened until ``f(P + t d) <=
    f + c1 t <g, d>`` (Armijo), each new trial the minimiser of the quadratic
    through ``f``, the slope ``gd`` and the rejected value, kept within
    ``[0.1 t, 0.5 t]``. As in ``wolfe_line_search``, a step that leaves ``f``
    unchanged to rounding but reduces the gradient (its 1-norm, ``g_norm1``
    at ``P``) is accepted. The gradient at ``P`` itself is not needed: the
    caller can free it before the trials' gradient passes, the peak of a
    Newton iteration's memory.

    Returns ``(t, P_new, f_new, g_new)``, or None if no trial succeeds."""
    xp = objective.xp
    eps = finfo_eps(P, xp)
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


def proximal_line_search(objective, P, J, d, decrease, opt, *, c1=1e-4, max_trials=40):
    """The proximal Newton step ``t = 1`` along ``d``, shortened until the
    whole objective ``J = f + h`` (smooth part and L1 part) decreases
    enough: ``J(P + t d) <= J + c1 t decrease``, with ``decrease = <g, d> +
    h(P + d) - h(P)`` (< 0 for a direction that lowers the quadratic model;
    Lee, Sun and Saunders, 2014). ``h`` is convex, so ``t decrease`` bounds
    ``h``'s share of the change at ``t`` from above; the trials shrink ``t``
    as ``backtracking_line_search`` does, with ``decrease`` as the slope. A
    step that leaves ``J`` unchanged to rounding but lowers the optimality
    measure (``opt`` at ``P``) is accepted too.

    Returns ``(t, P_new, f_new, g_new, J_new)``, or None if no trial
    succeeds."""
    eps = finfo_eps(P, objective.xp)
    t = 1.0
    for _ in range(max_trials):
        P_new = P + t * d
        f_new, g_new = objective.smooth_value_and_gradient(P_new)
        J_new = f_new + objective.nonsmooth_value(P_new)
        if J_new <= J + c1 * t * decrease or (
            abs(J_new - J) <= 16 * eps * abs(J)
            and objective.optimality(P_new, g_new) < opt
        ):
            return t, P_new, f_new, g_new, J_new
        curvature = J_new - J - decrease * t
        t_min = -decrease * t * t / (2 * curvature) if curvature > 0 else 0.5 * t
        t = min(max(t_min, 0.1 * t), 0.5 * t)
    return None
