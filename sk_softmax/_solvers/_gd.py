"""Gradient descent with a constant step: the derivation's own update."""

from dataclasses import dataclass

from ._driver import Iteration


@dataclass(frozen=True)
class GDOptions:
    """The constant step ``learning_rate`` (the estimator's float
    ``learning_rate``)."""

    learning_rate: float


def gradient_descent(objective, P, f, g, threshold, options, seed=None):
    """``P <- P - eta * grad`` with ``eta = options.learning_rate``, followed
    by the proximal step of the L1 part, if any."""
    eta = options.learning_rate
    while True:
        P = objective.prox(P - eta * g, eta)
        f, g = objective.smooth_value_and_gradient(P)
        J = f + objective.nonsmooth_value(P)
        yield Iteration(P, J, objective.optimality(P, g), eta)
