"""FISTA: accelerated proximal gradient, for any ``l1_ratio``."""

from dataclasses import dataclass, field

from .._array_ops import dot as _dot
from .._optimizers import BacktrackingLipschitz, NesterovMomentum
from ._driver import Iteration
from ._line_search import finfo_eps
from ._sampling import HessianSample, hessian_sample


@dataclass(frozen=True)
class FISTAOptions:
    """FISTA's tunables: ``sample``, the rows of the per-feature curvature
    that sets its metric (``HessianSample``), and ``max_trials``, the
    backtracking trials of the step per iteration."""

    sample: HessianSample = field(default_factory=HessianSample)
    max_trials: int = 60


def fista(objective, P, f, g, threshold, options, seed):
    """Proximal gradient with Nesterov momentum, adaptive restart and a
    backtracking step size (no learning rate to choose), in the metric of
    the per-feature curvature.

    The step on column ``j`` of ``P`` is ``1 / (L M_j)``, with ``M`` the
    per-feature curvature at the start point (``objective.feature_curvature``
    on the Hessian sample drawn with ``seed``; the L2 strength included) and
    ``L`` found by backtracking: proximal gradient in the metric ``||D||_M^2
    = sum_j M_j ||D[:, j]||^2``, which is FISTA itself after the change of
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
    sample = hessian_sample(objective, options.sample, seed)
    M = sample.feature_curvature(P)
    del sample
    momentum = NesterovMomentum(xp, metric=M)
    lipschitz = BacktrackingLipschitz()
    Y, f_Y, g_Y = P, f, g
    eps = finfo_eps(P, xp)
    while True:
        lipschitz.relax()
        for _ in range(options.max_trials):
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
