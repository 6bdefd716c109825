"""L-BFGS on the smooth objective (L2 penalty only)."""

import math
from dataclasses import dataclass, field

from .._array_ops import dot as _dot
from .._optimizers import LBFGSDirection
from ._driver import Iteration
from ._line_search import wolfe_line_search
from ._sampling import HessianSample, hessian_sample


@dataclass(frozen=True)
class LBFGSOptions:
    """L-BFGS's tunables: ``memory``, the curvature pairs kept, and
    ``sample``, the rows of the per-feature curvature that scales its
    initial inverse Hessian (``HessianSample``)."""

    sample: HessianSample = field(default_factory=HessianSample)
    memory: int = 10


def lbfgs(objective, P, f, g, threshold, options, seed):
    """L-BFGS with a strong Wolfe line search; the hand-derived gradient is
    its only input. Its initial inverse Hessian is scaled feature by
    feature by the curvature at the start point (``feature_curvature`` on
    the Hessian sample drawn with ``seed``), which on sparse data with rare
    features takes several times fewer iterations."""
    if not objective.is_smooth:
        raise ValueError("lbfgs handles smooth objectives only (l1_ratio == 0).")
    xp = objective.xp
    sample = hessian_sample(objective, options.sample, seed)
    directions = LBFGSDirection(options.memory, xp, sample.feature_curvature(P))
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
        step = wolfe_line_search(objective, P, f, g, d, gd, t0)
        if step is None:  # no decrease possible in floating point: as close as it gets
            return "precision"
        t, P_new, f_new, g_new = step
        directions.update(P_new - P, g_new - g)
        P, f, g = P_new, f_new, g_new
        yield Iteration(P, f, objective.optimality(P, g), t)
