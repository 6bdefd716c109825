"""Penalties on the coefficients ``W`` (never on the intercepts).

The elastic net of the objective (``docs/derivation.md``)::

    alpha * R(W) = alpha * ((1 - l1_ratio) / 2 * ||W||_F^2 + l1_ratio * ||W||_1)

Its smooth (L2) part enters the gradient; its L1 part is handled by the proximal
operator, soft-thresholding, never by a subgradient step.
"""

from ._array_ops import add_scaled, dot, positive_part


class ElasticNet:
    """Elastic-net penalty ``alpha * R(W)``, split into smooth and L1 parts.

    Parameters
    ----------
    alpha : float
        Overall strength, >= 0.
    l1_ratio : float
        Share of the L1 part, in [0, 1]; 0 is a pure L2 (ridge) penalty.
    xp : array namespace
    """

    def __init__(self, alpha, l1_ratio, xp):
        self.l2 = alpha * (1.0 - l1_ratio)
        self.l1 = alpha * l1_ratio
        self.xp = xp

    def of_difference(self):
        """The penalty of two rows ``W = [-v / 2, v / 2]`` as a function of
        their difference ``v``: ``alpha ((1 - l1_ratio) / 4 ||v||^2 + l1_ratio
        ||v||_1)``, an elastic net with half the L2 strength. Of all ``W``
        with ``W[1] - W[0] = v`` the symmetric one has the smallest penalty
        (the L2 part is smallest there, and the L1 part is ``||v||_1`` at
        best, reached there)."""
        other = ElasticNet(0.0, 0.0, self.xp)
        other.l2, other.l1 = 0.5 * self.l2, self.l1
        return other

    @property
    def is_smooth(self):
        return self.l1 == 0.0

    def smooth_value(self, W):
        """``alpha * (1 - l1_ratio) / 2 * ||W||_F^2``."""
        if self.l2 == 0.0:
            return 0.0
        return 0.5 * self.l2 * dot(W, W, self.xp)

    def add_smooth_gradient(self, G, W):
        """``G += alpha * (1 - l1_ratio) * W``, in place: the smooth part's
        gradient at ``W`` added to ``G``. The smooth part is quadratic, so
        this is also its Hessian applied to a direction ``W``."""
        if self.l2 != 0.0:
            add_scaled(G, self.l2, W, self.xp)

    def nonsmooth_value(self, W):
        """``alpha * l1_ratio * ||W||_1``."""
        if self.l1 == 0.0:
            return 0.0
        return self.l1 * float(self.xp.sum(self.xp.abs(W)))

    def prox(self, W, step):
        """Soft-thresholding: argmin_V ||V - W||^2 / (2 step) + l1 * ||V||_1."""
        xp = self.xp
        return xp.sign(W) * positive_part(xp.abs(W) - step * self.l1, xp)

    def min_norm_subgradient(self, W, grad_W):
        """Smallest element of ``grad_W + l1 * d||W||_1`` (zero at the optimum)."""
        xp = self.xp
        shrunk = xp.sign(grad_W) * positive_part(xp.abs(grad_W) - self.l1, xp)
        return xp.where(W != 0, grad_W + self.l1 * xp.sign(W), shrunk)
