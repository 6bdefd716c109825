"""The full-batch solvers minimising a ``SoftmaxObjective``, and the one
driver that runs every solver's iterations, mini-batch included.

- ``_driver.py``: ``drive``, the loop every solver shares (count, report,
  stop, catch divergence), the ``Iteration`` a solver yields and the
  ``SolverResult`` a run returns;
- ``_line_search.py``: the strong Wolfe and the backtracking line searches;
- ``_sampling.py``: the Hessian sample's policy (``HessianSample``);
- the methods, each a generator with its options dataclass:
  ``_newton_cg.py``, ``_prox_newton.py``, ``_lbfgs.py``, ``_fista.py``,
  ``_gd.py``.

``minimize`` runs one of them from a start point. The stopping test is
scale-free: ``optimality`` is the max-norm of the minimal-norm subgradient
with each feature's entries divided by the feature's scale
(``objective.optimality``), and the threshold is ``tol`` times the same
measure at ``P = 0`` (``minimize``'s ``scale``; None: taken at the start
point, which is ``P = 0`` for a fresh fit). It does not change when the
data, a column, or the loss are multiplied by a constant, and it never goes
below ``objective.rounding_level()``, the size of the gradient's rounding
errors: no iterate can do better than that.
"""

import math

from ._driver import (
    ENDED_WORSE,
    EXPLODING,
    DivergenceError,
    Iteration,
    SolverResult,
    check_finite,
    drive,
)
from ._fista import FISTAOptions, fista
from ._gd import GDOptions, gradient_descent
from ._lbfgs import LBFGSOptions, lbfgs
from ._newton_cg import NewtonCGOptions, newton_cg
from ._prox_newton import ProxNewtonOptions, prox_newton
from ._sampling import HessianSample, hessian_sample

#: The full-batch methods by name (the estimator's ``solver``; "gd" is a
#: float ``learning_rate``): ``(solver, options class)``.
SOLVERS = {
    "newton-cg": (newton_cg, NewtonCGOptions),
    "prox-newton": (prox_newton, ProxNewtonOptions),
    "lbfgs": (lbfgs, LBFGSOptions),
    "fista": (fista, FISTAOptions),
    "gd": (gradient_descent, GDOptions),
}

__all__ = [
    "ENDED_WORSE",
    "EXPLODING",
    "SOLVERS",
    "DivergenceError",
    "FISTAOptions",
    "GDOptions",
    "HessianSample",
    "Iteration",
    "LBFGSOptions",
    "NewtonCGOptions",
    "ProxNewtonOptions",
    "SolverResult",
    "check_finite",
    "drive",
    "hessian_sample",
    "minimize",
]


def minimize(
    objective, P, *, method, max_iter, tol, scale, report, seed=0, options=None
):
    """Minimise ``objective`` from ``P`` with the full-batch ``method`` (a
    key of ``SOLVERS``) and its ``options`` (None: the method's defaults):
    the start point's value, gradient and threshold, then ``drive``.
    ``seed`` draws the Hessian sample. A ``scale`` marks a warm start,
    which Newton-CG treats as near the optimum (``newton_cg``'s ``warm``)."""
    solver, options_type = SOLVERS[method]
    options = options_type() if options is None else options
    f, g = objective.smooth_value_and_gradient(P)
    opt = objective.optimality(P, g)
    threshold = max(tol * (opt if scale is None else scale), objective.rounding_level())
    if opt <= threshold:  # a start point already optimal (scale is rounding noise)
        return SolverResult(P, 0, "converged")
    extra = {"warm": True} if scale is not None and method == "newton-cg" else {}
    iterations = solver(objective, P, f, g, threshold, options, seed, **extra)
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
