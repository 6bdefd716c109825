"""Step rules with explicit state, in the style of scikit-learn's
``sklearn/neural_network/_stochastic_optimizers.py``.

Each class holds the state of one rule and nothing else; the loops that use
them live in ``_solvers.py`` and ``_sgd.py``. Parameters are arrays of any
shape in the array namespace ``xp``; inner products are ``sum(a * b)`` over
all entries. The state that a fit keeps to continue (``partial_fit``) is
plain numbers (``state``/``from_state``), so a saved model holds no object
of these classes.
"""

import math

from ._array_ops import add_scaled as _add_scaled
from ._array_ops import dot as _dot


class LBFGSDirection:
    """Limited-memory BFGS: the two-loop recursion over the last ``memory`` pairs.

    ``direction(g)`` returns ``-H g`` where ``H`` is the L-BFGS approximation of
    the inverse Hessian built from the pairs ``s = P_new - P``,
    ``y = grad_new - grad`` given to ``update``. Built on the hand-derived
    gradient only: no second derivative is ever computed.

    The recursion starts from ``gamma D^{-1}``, ``D`` a positive
    ``diagonal`` that broadcasts against the parameters (ones if None) and
    ``gamma = <s, y> / <y, D^{-1} y>`` on the last pair (Nocedal & Wright,
    eq. 7.20, in the metric of ``D``); without pairs the direction is
    ``-D^{-1} g``. A diagonal from the per-feature curvature scales each
    feature's step, which is what rare features of sparse data need.
    """

    def __init__(self, memory, xp, diagonal=None):
        self.memory = memory
        self.xp = xp
        self.inverse_diagonal = 1.0 if diagonal is None else 1.0 / diagonal
        self.pairs = []  # (s, y, 1 / <s, y>), oldest first

    def reset(self):
        self.pairs = []

    def update(self, s, y):
        """Store a pair; skipped when the curvature ``<s, y>`` is not safely positive."""
        sy = _dot(s, y, self.xp)
        if sy <= 1e-10 * math.sqrt(_dot(s, s, self.xp) * _dot(y, y, self.xp)):
            return
        self.pairs.append((s, y, 1.0 / sy))
        if len(self.pairs) > self.memory:
            self.pairs.pop(0)

    def direction(self, g):
        xp = self.xp
        if not self.pairs:
            return -g * self.inverse_diagonal
        # The recursion is linear in g: run on -g (a copy, updated in place),
        # it returns -H g itself.
        q = -g
        coefs = []
        for s, y, rho in reversed(self.pairs):
            a = rho * _dot(s, q, xp)
            _add_scaled(q, -a, y, xp)
            coefs.append(a)
        s, y, rho = self.pairs[-1]
        D_inv_y = y * self.inverse_diagonal
        r = q * self.inverse_diagonal * (1.0 / (rho * _dot(y, D_inv_y, xp)))
        for (s, y, rho), a in zip(self.pairs, reversed(coefs), strict=True):
            _add_scaled(r, a - rho * _dot(y, r, xp), s, xp)
        return r


class NesterovMomentum:
    """FISTA's momentum sequence with adaptive (gradient) restart.

    O'Donoghue & Candes (2015): the momentum is reset whenever the last step
    and the momentum direction disagree, which removes the oscillations of
    accelerated gradient on strongly convex problems such as an L2-penalized
    softmax regression.
    """

    def __init__(self, xp, metric=None):
        self.xp = xp
        self.metric = 1.0 if metric is None else metric
        self.t = 1.0

    def extrapolate(self, P_new, P_old, Y_old):
        """Next extrapolation point from the new iterate and the previous one.

        ``Y_old`` is the point where the last gradient step started: when
        ``<Y_old - P_new, P_new - P_old> > 0`` (in the ``metric`` of the
        steps, a positive diagonal broadcasting against the parameters) the
        step went against the momentum and the sequence restarts.
        """
        xp = self.xp
        step = P_new - P_old
        if _dot(Y_old - P_new, step * self.metric, xp) > 0:
            self.t = 1.0
            return P_new
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * self.t * self.t))
        beta = (self.t - 1.0) / t_new
        self.t = t_new
        return P_new + beta * step


class BacktrackingLipschitz:
    """An estimate ``L`` of the Lipschitz constant of the smooth gradient.

    The step is ``1 / L``. ``L`` is doubled until the quadratic upper bound
    holds at the candidate point (the sufficient-decrease test of proximal
    gradient) and relaxed by ``decrease`` before each iteration, so that the
    step follows the local curvature rather than a global worst-case bound
    that would cost extra passes over the data to compute.
    """

    def __init__(self, L0=1.0, increase=2.0, decrease=0.9):
        self.L = L0
        self.increase = increase
        self.decrease = decrease

    def relax(self):
        self.L *= self.decrease

    def reject(self):
        self.L *= self.increase


class StepSchedule:
    """Step sizes of the mini-batch solver, one per epoch.

    Names follow scikit-learn's ``MLPClassifier`` and ``SGDClassifier``:

    - "constant": ``eta = eta0``;
    - "invscaling": ``eta = eta0 / (epoch + 1) ** power_t`` (counted in
      epochs, not in samples as in scikit-learn, so that the decay does not
      depend on the size of the data);
    - "adaptive": ``eta0`` until the tracked score stops improving, then
      divided by 5 each time it stops improving again; exhausted when it has
      shrunk below ``1e-6 * eta0``.
    """

    def __init__(self, kind, eta0, power_t=0.5, eta=None, epoch=0):
        self.kind = kind
        self.eta0 = eta0
        self.power_t = power_t
        self.eta = eta0 if eta is None else eta
        self.epoch = epoch

    def end_epoch(self):
        self.epoch += 1
        if self.kind == "invscaling":
            self.eta = self.eta0 / (self.epoch + 1) ** self.power_t

    def trigger_stopping(self):
        """React to a plateau, as ``MLPClassifier``'s ``SGDOptimizer``: the
        "adaptive" schedule shrinks its step and goes on while the step is
        not exhausted; the others stop. Returns True to stop."""
        if self.kind != "adaptive":
            return True
        self.eta /= 5.0
        return not self.eta > 1e-6 * self.eta0

    def state(self):
        return {
            "kind": self.kind,
            "eta0": float(self.eta0),
            "power_t": float(self.power_t),
            "eta": float(self.eta),
            "epoch": int(self.epoch),
        }

    @classmethod
    def from_state(cls, state):
        return cls(**state)


class PlateauStopping:
    """The plateau decision of the mini-batch and early-stopping fits.

    Tracks the best score (higher is better: a validation accuracy, or the
    negated training loss) and the number of consecutive epochs that failed
    to beat it by ``tol``. After ``n_iter_no_change`` of them, the
    ``schedule``'s ``trigger_stopping`` decides whether to shrink the step
    and go on or to stop; without a schedule (or with ``shrink=False``) the
    fit stops. ``best_P`` is the model of the best score, the one early
    stopping keeps. With ``act=False`` (``partial_fit``, whose chunks are too
    noisy to detect a plateau) the counts are kept but never acted upon.
    """

    def __init__(
        self, n_iter_no_change, tol, schedule=None, *, shrink=True, act=True, state=None
    ):
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.schedule, self.shrink, self.act = schedule, shrink, act
        self.best, self.count = -math.inf, 0
        if state is not None:
            self.best, self.count = state["best"], state["count"]
        self.best_P = None

    def update(self, score, P):
        """Record an epoch's score; returns ``(stop, note)``, the note saying
        what the plateau changed (empty if nothing)."""
        improved = self.best == -math.inf or score >= self.best + self.tol
        if score > self.best:
            self.best, self.best_P = score, P
        self.count = 0 if improved else self.count + 1
        if not self.act or self.count < self.n_iter_no_change:
            return False, ""
        self.count = 0
        if self.schedule is not None and self.shrink:
            if not self.schedule.trigger_stopping():
                return False, f"; no improvement, step size now {self.schedule.eta:.3e}"
        return True, "; no improvement, stopping"

    def state(self):
        return {"best": float(self.best), "count": int(self.count)}
