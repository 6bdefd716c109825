"""Mini-batch (proximal) stochastic gradient descent: the epochs' loop, the
averaged iterates, and their lazy form on sparse data.

``stochastic_gradient`` is a generator of ``_solvers.Iteration``, one per
epoch, run by ``_solvers.drive`` like the full-batch solvers.
"""

import numpy as np

from ._solvers import Iteration


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


def stochastic_gradient(objective, P, *, schedule, batch_size, rows, shuffle, rng):
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
    driver runs ``max_iter`` epochs unless its ``report`` asks it to stop.
    Each epoch yields the epoch's averaged model, and ``last``, the last
    iterate, from which a later call continues (``partial_fit``).
    """
    lazy = objective.data.sparse and objective.is_smooth
    iterates = (_LazySparseIterates if lazy else _Iterates)(objective, P)
    n = rows.shape[0]
    while True:
        order = _epoch_order(objective, rows, shuffle, rng, lazy)
        eta = schedule.eta
        value = 0.0
        iterates.begin_epoch()
        for start in range(0, n, batch_size):
            batch_rows = order[start : min(start + batch_size, n)]
            value += iterates.step(batch_rows, n, eta) * (batch_rows.shape[0] / n)
        P_avg = iterates.average()
        schedule.end_epoch()
        yield Iteration(P_avg, value, None, eta, last=iterates.last)


def _epoch_order(objective, rows, shuffle, rng, lazy):
    """The epoch's order of ``rows``, drawn on the host (a permutation of
    numpy's ``rng``) and copied to ``X``'s device once per epoch: a
    host-to-device copy; on numpy, and for the lazy sparse iterates, the
    rows stay numpy. ``rows`` already on the device (early stopping's
    training rows) are permuted there. The rows are in memory
    (``ArrayBackend``): mini-batch fits are not distributed."""
    n = rows.shape[0]
    to_device = objective.data.asarray
    if not isinstance(rows, np.ndarray):
        if not shuffle:
            return rows
        return objective.xp.take(rows, to_device(rng.permutation(n)), axis=0)
    order = rows[rng.permutation(n)] if shuffle else rows
    return order if lazy else to_device(order)
