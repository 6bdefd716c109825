"""The loop every solver shares, full batch and mini-batch alike.

A solver is a generator: ``solver(objective, P, f, g, threshold, options,
seed)`` starts from ``P`` (not modified), where the smooth part's value
``f`` and gradient ``g`` are already known, and yields one ``Iteration``
per iteration (the new iterate, the objective ``J`` there, the optimality
measure or None where the solver does not compute it, the step size). Each
iteration makes at least one pass over the data. A solver that can make no
more progress in floating point returns ``"precision"``.

``drive`` owns what every loop shares: counting the iterations up to
``max_iter``, reporting each one (``report(iteration, state)``, which
returns True to stop: a callback's request, early stopping), the stopping
test ``optimality <= threshold``, and catching divergence. It returns a
``SolverResult``.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


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


#: An objective above this multiple of its reference value has diverged;
#: a full-batch fit whose last objective is above ``ENDED_WORSE`` times its
#: reference has failed: its model is worse than the one it started from.
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
    converging. ``reference`` is the objective of the start point on the
    same rows (or of the null model, if larger).
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
                raise DivergenceError(divergence_message(it + 1)) from error
            it += 1
            if not state.value <= EXPLODING * reference:  # also NaN
                raise DivergenceError(divergence_message(it, state.value))
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
        raise DivergenceError(divergence_message(it, state.value, reference))
    last = None if state.last is None else state.last()
    return SolverResult(state.P, it, status, last)


def divergence_message(iteration, value=None, reference=None):
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
            + divergence_message("?").split(". ", 1)[1]
        )
