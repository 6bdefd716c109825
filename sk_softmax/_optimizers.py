"""Step rules with explicit state, in the style of scikit-learn's
``sklearn/neural_network/_stochastic_optimizers.py``.

Each class holds the state of one rule and nothing else; the loops that use
them live in ``_solvers.py``. Parameters are arrays of any shape in the array
namespace ``xp``; inner products are ``sum(a * b)`` over all entries.
"""

import math

import numpy as np
from scipy.linalg import blas


def _same_layout(a, b, dtypes=(np.float32, np.float64)):
    """Whether ``a`` and ``b`` are numpy arrays of one dtype among
    ``dtypes``, one shape and one contiguous memory layout: their
    ``ravel(order="K")`` views then list matching entries in the same order."""
    return (
        isinstance(a, np.ndarray)
        and isinstance(b, np.ndarray)
        and a.dtype == b.dtype
        and a.dtype in dtypes
        and a.shape == b.shape
        and a.strides == b.strides
        and (a.flags.c_contiguous or a.flags.f_contiguous)
    )


def _dot(a, b, xp):
    """``<a, b>``, the sum of ``a * b`` over all entries, as a float.

    On float64 numpy arrays of one layout, BLAS's dot on their memory: no
    temporary, about 10x faster than ``sum(a * b)`` on arrays the size of
    the sparse benchmark's parameters (1M entries). float32 keeps numpy's
    pairwise sum, more accurate than a float32 dot's running sum.
    """
    if _same_layout(a, b, dtypes=(np.float64,)):
        return float(np.dot(a.ravel(order="K"), b.ravel(order="K")))
    return float(xp.sum(a * b))


def _add_scaled(y, a, x, xp):
    """``y += a * x`` in place: BLAS's axpy on numpy arrays of one layout,
    without the temporary ``a * x`` (several times faster on large arrays)."""
    if _same_layout(x, y):
        axpy = blas.daxpy if x.dtype == np.float64 else blas.saxpy
        axpy(x.ravel(order="K"), y.ravel(order="K"), a=a)
    else:
        y += a * x


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

    def __init__(self, xp):
        self.xp = xp
        self.t = 1.0

    def extrapolate(self, P_new, P_old, Y_old):
        """Next extrapolation point from the new iterate and the previous one.

        ``Y_old`` is the point where the last gradient step started: when
        ``<Y_old - P_new, P_new - P_old> > 0`` the step went against the momentum
        and the sequence restarts.
        """
        xp = self.xp
        step = P_new - P_old
        if _dot(Y_old - P_new, step, xp) > 0:
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

    def __init__(self, kind, eta0, power_t=0.5):
        self.kind = kind
        self.eta0 = eta0
        self.power_t = power_t
        self.eta = eta0
        self.epoch = 0

    def end_epoch(self):
        self.epoch += 1
        if self.kind == "invscaling":
            self.eta = self.eta0 / (self.epoch + 1) ** self.power_t

    def on_plateau(self):
        """React to a plateau; return True if training should go on."""
        if self.kind != "adaptive":
            return False
        self.eta /= 5.0
        return self.eta > 1e-6 * self.eta0
