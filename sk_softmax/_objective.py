"""The training objective ``J = f + g`` on fixed data, as a function of the
parameter array ``P``.

``W`` of shape (K, d) and ``b`` of shape (K,) are stored together as one
array ``P`` of shape (K, d + 1) when an intercept is fitted (``W = P[:, :d]``,
``b = P[:, d]``) and (K, d) otherwise. ``f`` is smooth (the cross-entropy of
``_loss.py`` and the L2 part of the penalty), ``g`` the L1 part, handled by
its proximal operator. The solvers see only this interface; the data are
reached through a backend (``_backend.py``), never directly.
"""

import math

import numpy as np

from . import _loss
from ._array_ops import scaled_abs_max
from ._backend import ArrayBackend, storage_dtype, stratified_sample
from ._penalties import ElasticNet


class SoftmaxObjective:
    """``J(P)`` on the rows of ``data``.

    Parameters
    ----------
    data : backend
        The rows, their label indices and normalized weights
        (``_backend.ArrayBackend`` or one with the same methods).
    alpha, l1_ratio : float
        Penalty strength and elastic-net mixing, see ``ElasticNet``.
    fit_intercept : bool
    """

    #: The per-block functions of the loss (``_loss.py``).
    _value = staticmethod(_loss.cross_entropy)
    _value_and_gradient = staticmethod(_loss.cross_entropy_gradient)
    _probabilities_t = staticmethod(_loss.probabilities_t)

    def __init__(self, data, *, alpha, l1_ratio, fit_intercept, scales=None):
        self.data = data
        self.xp = data.xp
        self.fit_intercept = fit_intercept
        self.penalty = ElasticNet(alpha, l1_ratio, data.xp)
        # ``feature_scales()`` if known, from an objective on the same rows
        # (the same problem under another penalty).
        self._scales = scales
        self._penalty_H = None

    @property
    def n_outputs(self):
        """The rows of ``P``: one per class."""
        return self.n_classes

    @classmethod
    def from_arrays(cls, X, y, w=None, *, n_classes=None, xp=np, **penalty):
        """The objective on arrays in memory: ``X`` (n, d), label indices
        ``y`` (n,) and normalized weights ``w`` (n,); ``w`` None: ``1 / n``
        (the mean cross-entropy), ``n_classes`` None: ``max(y) + 1``."""
        if w is None:
            w = xp.full(X.shape[0], 1.0 / X.shape[0], dtype=X.dtype)
        if n_classes is None:
            n_classes = int(xp.max(y)) + 1
        return cls(ArrayBackend(X, y, w, n_classes, xp), **penalty)

    def _on(self, data):
        """The same function (penalty, intercept) on other rows."""
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__, data=data, _scales=None)
        return other

    @property
    def n_rows(self):
        return self.data.n_rows

    @property
    def n_features(self):
        return self.data.n_features

    @property
    def n_classes(self):
        return self.data.n_classes

    @property
    def is_smooth(self):
        return self.penalty.is_smooth

    # ---------------------------------------------------------- parameters

    def split(self, P):
        """Views ``(W, b)`` of the parameter array ``P`` (``b`` None if no intercept)."""
        d = self.n_features
        return P[:, :d], (P[:, d] if self.fit_intercept else None)

    def join(self, W, b):
        """The parameter array ``[W, b]`` (``W`` itself when ``b`` is None):
        the inverse of ``split``."""
        if b is None:
            return W
        return self.xp.concat([W, b[:, None]], axis=1)

    def zeros(self):
        """The parameters of the null model, where every fit starts."""
        shape = (self.n_outputs, self.n_features + int(self.fit_intercept))
        device = getattr(self.data, "device", None)
        return self.xp.zeros(shape, dtype=self.data.dtype, device=device)

    def product_layout(self, P):
        """``P`` in the layout the products with ``X`` read without a copy."""
        return self.data.parameter_layout(P)

    # ------------------------------------------------------ value, gradient

    def smooth_value(self, P):
        """``f(P)``: cross-entropy plus the L2 part of the penalty."""
        W, b = self.split(P)
        value = float(self.data.map_sum(self._value, W, b))
        return value + self.penalty.smooth_value(W)

    def data_value_and_gradient(self, W, b):
        """The cross-entropy term alone (no penalty) and its gradients
        ``(value, grad_W, grad_b)``, as ``_loss.cross_entropy_gradient``."""
        value, grad_W, grad_b = self.data.map_sum(self._value_and_gradient, W, b)
        return float(value), grad_W, grad_b

    def smooth_value_and_gradient(self, P):
        """``f(P)`` and its gradient, an array shaped like ``P``."""
        data, grad = self._joined_sum(self._value_and_gradient, P)
        W = self.split(P)[0]
        self.penalty.add_smooth_gradient(self.split(grad)[0], W)
        return float(data) + self.penalty.smooth_value(W), grad

    def _joined_sum(self, fn, P, kept=None):
        """``data.map_sum(fn, W, b, kept=kept)`` at ``(W, b) = split(P)``,
        its last two results, the parts for ``W`` and for ``b``, joined
        into one array shaped like ``P``: ``(*others, joined)``.

        Sparse rows in memory with an intercept are multiplied with ``P``
        itself as rows with an empty last column (``data.padded``): the
        part for ``W`` comes out with ``P``'s shape and the one for ``b``
        is written into its last column, where ``join`` would copy the
        whole array once more."""
        W, b = self.split(P)
        padded = None if b is None else self.data.padded()
        if padded is None:
            *others, part_W, part_b = self.data.map_sum(fn, W, b, kept=kept)
            return (*others, self.join(part_W, part_b))
        *others, joined, part_b = padded.map_sum(fn, P, b, kept=kept)
        joined[:, -1] = part_b
        return (*others, joined)

    def nonsmooth_value(self, P):
        """``g(P)``: the L1 part of the penalty (0 when ``l1_ratio == 0``)."""
        return self.penalty.nonsmooth_value(self.split(P)[0])

    def prox(self, P, step):
        """Proximal step of ``step * g`` on ``P`` (the intercepts are
        untouched); ``step`` a number, or one per column of ``P``."""
        if self.is_smooth:
            return P
        W, b = self.split(P)
        if getattr(step, "ndim", 0):
            step = step[: self.n_features]
        return self.join(self.penalty.prox(W, step), b)

    # ------------------------------------------------------------ curvature

    def probabilities_t(self, P):
        """The probabilities ``S^T`` at ``P``, kept per block of rows: a
        forward pass, shared by ``hessp`` and ``feature_curvature``."""
        return self.data.map(self._probabilities_t, *self.split(P))

    def hessp(self, P, forward=None):
        """The Hessian of ``f`` at ``P``, as the function ``D -> H D`` on
        directions shaped like ``P``.

        Building it is a forward pass (the probabilities at ``P``, (K, n)
        numbers, are kept), unless ``forward``, the result of
        ``probabilities_t(P)``, is given; each product is one more pass over
        ``X`` (``_loss.cross_entropy_hessp``). The L2 part of the penalty is
        quadratic: its Hessian applied to ``D`` is its gradient at ``D``.
        """
        kept = self.probabilities_t(P) if forward is None else forward

        def apply(D):
            (HD,) = self._joined_sum(_loss.cross_entropy_hessp, D, kept)
            self.penalty.add_smooth_gradient(self.split(HD)[0], self.split(D)[0])
            return HD

        return apply

    def feature_curvature(self, P, forward=None, fill=True, per_class=False):
        """A diagonal approximation of the Hessian of ``f`` at ``P``, the same
        for every class: one number per column of ``P`` (per feature, then
        the intercepts), an array of shape ``(P.shape[1],)`` that broadcasts
        against ``P``.

        The Hessian's diagonal entry for class k and feature j is ``sum_i w_i
        s_ik (1 - s_ik) x_ij^2`` (plus the L2 strength); its mean over the
        classes replaces ``s_ik (1 - s_ik)`` by ``c_i = (1 - sum_k s_ik^2) /
        K``, which gives::

            M[j] = sum_i w_i c_i x_ij^2 + l2        (the intercepts: sum_i w_i c_i)

        On data whose features differ in frequency or scale (rare words of a
        text) these numbers span orders of magnitude: dividing a step by them
        is the per-feature scaling that makes a diagonal preconditioner
        (``_solvers._conjugate_gradient``). It costs a forward pass (saved
        by ``forward``, as in ``hessp``) and a pass over the squared entries
        of ``X``. Entries without curvature (a feature absent from these
        rows, no penalty) take the mean of the others, so that all are
        positive; with ``fill=False`` they stay zero. With ``per_class``,
        the Hessian's diagonal itself, an array shaped like ``P``
        (``_loss.curvature``).
        """
        xp = self.xp
        kept = self.probabilities_t(P) if forward is None else forward
        M_W, M_b = self.data.map_sum(_loss.curvature, per_class, kept=kept)
        M = M_W + self.penalty.l2
        if self.fit_intercept:
            M = xp.concat([M, xp.reshape(M_b, M.shape[:-1] + (1,))], axis=-1)
        return _fill_non_positive(M, xp) if fill else M

    def hessian(self, P, forward=None):
        """The Hessian of ``f`` at ``P`` as a ``(p, p)`` array, ``p`` the
        entries of ``P`` in row-major order: the data term's
        (``_loss.hessian``) plus the L2 strength on the coefficients'
        diagonal entries (``forward`` as in ``hessp``). Its ``p^2`` numbers
        cost ``n p^2`` multiply-adds: for few parameters, less than the
        conjugate gradients' products, which each cost a pass."""
        kept = self.probabilities_t(P) if forward is None else forward
        H = self.data.map_sum(_loss.hessian, self.fit_intercept, kept=kept)
        return H + self._penalty_hessian(H.dtype)

    def _penalty_hessian(self, dtype):
        """The L2 part's Hessian, ``l2`` on the coefficients' diagonal
        entries of ``hessian``: built on first use, kept."""
        if self._penalty_H is None or self._penalty_H.dtype != dtype:
            xp, device = self.xp, getattr(self.data, "device", None)
            shape = (self.n_outputs, self.n_features)
            on_W = xp.full(shape, self.penalty.l2, dtype=dtype, device=device)
            if self.fit_intercept:
                on_W = self.join(on_W, xp.zeros_like(on_W[:, 0]))
            diagonal = xp.reshape(on_W, (-1,))
            eye = xp.eye(diagonal.shape[0], dtype=dtype, device=device)
            self._penalty_H = eye * diagonal
        return self._penalty_H

    def on_sample(self, fraction, min_rows, seed, dtype=None):
        """The objective on a random, class-stratified sample of the rows
        (``_backend.stratified_sample``; float64 rows stored in ``dtype``,
        None: as they are), or itself when the sample would be all of
        them."""
        sample = stratified_sample(self.data, fraction, min_rows, seed, dtype)
        return self if sample is None else self._on(sample)

    def stored(self, dtype):
        """The objective on its rows with positive weight, float64 rows
        stored in ``dtype`` (a copy: ``data.draw`` of all of them), or
        itself when they would stay as they are."""
        if storage_dtype(self.data.dtype, dtype, self.xp) == self.data.dtype:
            return self
        return self._on(self.data.draw(1.0, 0, dtype))

    def on_support(self):
        """This objective on only the columns of ``X`` its rows use (sparse
        rows in memory, ``data.support``): ``(objective, index)``, ``index``
        the columns of ``P`` it keeps, the intercepts' included; None when
        it would keep them all.

        On the other columns the data term is zero: its gradient, Hessian
        and curvature there are the penalty's alone. ``_solvers.newton_cg``
        uses this to solve for a step on the columns a Hessian sample sees.
        """
        found = self.data.support()
        if found is None:
            return None
        data, columns = found
        if self.fit_intercept:
            columns = np.concatenate([columns, [self.n_features]])
        return self._on(data), columns

    def on_columns(self, index):
        """This objective on the features ``index`` only (a sorted numpy
        index array; ``data.columns``): ``(objective, columns)``,
        ``columns`` the columns of ``P`` it keeps, the intercepts'
        included; None where the rows cannot be restricted.

        At a ``P`` that is zero on every other feature, its value, gradient
        and Hessian are those of this objective on the kept columns of
        ``P``. ``_solvers.prox_newton`` takes its Hessian products on its
        working set of features this way.
        """
        data = self.data.columns(index)
        if data is None:
            return None
        columns = index
        if self.fit_intercept:
            columns = np.concatenate([index, [self.n_features]])
        return self._on(data), columns

    # ---------------------------------------------------------- mini-batches

    def subset(self, rows, n_rows):
        """The objective of a mini-batch: the same function on the rows
        ``rows`` (an index array).

        The batch's weights are ``w[rows] * n_rows / len(rows)``: for batches
        drawn uniformly from ``n_rows`` rows, the expected batch objective and
        gradient are the full ones, and with uniform weights the batch term is
        the plain mean over the batch, as in the derivation.
        """
        return self._on(self.data.take(rows, n_rows / rows.shape[0]))

    def subset_support(self, rows, n_rows):
        """The mini-batch objective of ``subset`` on sparse ``X``, restricted
        to the columns its rows use: ``(batch, columns)``, see
        ``ArrayBackend.take_support``."""
        data, columns = self.data.take_support(rows, n_rows / rows.shape[0])
        return self._on(data), columns

    def smoothness(self, P, batch_size, rng, n_probe=1000, n_power_iter=20):
        """An estimate of the Lipschitz constant ``L_B`` of mini-batch
        gradients around ``P``.

        The Hessian of ``CE_i`` in the logits, ``diag(s_i) - s_i s_i^T``, is at
        most ``I / 2`` (two classes at 1/2), and at a given point at most
        ``c_i I`` with ``c_i = min(max_k s_ik, 2 max_k s_ik (1 - s_ik))``: the
        first because it is at most ``diag(s_i)``, the second by Gershgorin's
        theorem. At ``P = 0``, ``c_i = 1 / K``.

        For batches of size ``B`` out of ``n`` drawn without replacement
        (Gower et al., 2019)::

            L_B = (n - B) / (B (n - 1)) * L_mean + n (B - 1) / (B (n - 1)) * L_full

        ``L_mean``, the mean smoothness of single samples, takes the global
        bound: a sample contributes ``(||x_i||^2 + 1) / 2`` (the 1 for the
        intercept), as one sample can end up anywhere between two classes.
        ``L_full``, the smoothness of the whole data term, takes the
        curvatures at ``P``: ``lambda_max(X^T diag(w c) X)``. An average over
        many samples moves little, and as the fit improves its curvature
        drops; the global bound ``lambda_max(X^T diag(w) X) / 2`` would make
        the steps of large batches up to ``K / 2`` times too short.

        Both terms are estimated on ``n_probe`` random rows (power iteration
        for ``lambda_max``), so the estimate costs far less than a pass over
        ``X``. The L2 part of the penalty adds its strength.
        """
        xp, n = self.xp, self.n_rows
        probe_rows = rng.choice(n, size=min(n, n_probe), replace=False)
        probe = self.data.take(probe_rows)
        kept = probe.map(_loss.sample_bounds, *self.split(P))
        total = sum(float(bounds[0]) for bounds, _ in kept)
        row_sq = sum(float(bounds[1]) for bounds, _ in kept)
        if total > 0:
            wc = [block_wc / total for _, block_wc in kept]
            L_mean = 0.5 * (row_sq / total + float(self.fit_intercept))
        else:  # no weight on the probe: uniform weights
            probe.w = xp.ones_like(probe.w) / probe_rows.shape[0]
            return self._on(probe).smoothness(P, batch_size, rng, n_probe)
        L_full = _power_iteration(probe, wc, self.fit_intercept, rng, n_power_iter)
        B = min(batch_size, n)
        if n > 1:
            L = (n - B) / (B * (n - 1)) * L_mean + n * (B - 1) / (B * (n - 1)) * L_full
        else:
            L = L_mean
        return L + self.penalty.l2

    # ------------------------------------------------------------ optimality

    def feature_scales(self):
        """The weighted root mean square of each column of ``X`` (1 for the
        intercepts and for columns that are zero), and the rounding level of
        the scaled gradient: the units of ``optimality``. One pass over
        ``X``, on the first call only. Raises a ``ValueError`` if the squares
        overflow: neither the scales nor the curvature can be computed."""
        if self._scales is None:
            xp = self.xp
            with np.errstate(over="ignore", invalid="ignore"):
                mean_abs, mean_sq = self.data.map_sum(_loss.column_moments)
            if not bool(xp.all(xp.isfinite(mean_sq))):
                raise ValueError(
                    "The squares of the features overflow "
                    f"{self.data.dtype} arithmetic: the data are too large to "
                    "fit. Scale them (e.g. with StandardScaler)."
                )
            rms = xp.sqrt(mean_sq)
            ratio = xp.where(rms > 0, mean_abs / xp.where(rms > 0, rms, 1.0), 0.0)
            rms = xp.where(rms > 0, rms, 1.0)
            if self.fit_intercept:
                rms = xp.concat([rms, xp.ones_like(rms[:1])])
            eps = float(xp.finfo(self.data.dtype).eps)
            rounding = 16 * eps * max(float(xp.max(ratio)), float(self.fit_intercept))
            self._scales = (rms, rounding)
        return self._scales

    def scaled_max(self, A):
        """``max_kj |A_kj| / r_j``: the max-norm of an array shaped like ``P``
        with each column divided by its feature's scale ``r_j``."""
        return scaled_abs_max(A, self.feature_scales()[0], self.xp)

    def rounding_level(self):
        """The size of the rounding errors of the scaled gradient, an
        optimality that no iterate can beat: ``16 eps`` times the largest
        ratio of a feature's mean ``|x_ij|`` to its scale (1 for the
        intercept)."""
        return self.feature_scales()[1]

    def optimality_at(self, P):
        """``optimality`` at ``P``, its gradient computed here (a pass over
        the data); at ``zeros()``, the scale of the stopping test."""
        return self.optimality(P, self.smooth_value_and_gradient(P)[1])

    def optimality(self, P, grad):
        """Max-norm of the minimal-norm subgradient of ``J`` at ``P``, each
        feature's entries divided by the feature's scale (``feature_scales``).

        ``grad`` is the gradient of ``f`` at ``P``. Zero exactly at the
        optimum. A gradient entry scales with its feature; divided by it, the
        measure weighs every feature alike, whatever the units of the columns
        (one column in millimetres among others in kilometres).
        """
        if self.is_smooth:
            return self.scaled_max(grad)
        W, b = self.split(P)
        grad_W, grad_b = self.split(grad)
        sub_W = self.penalty.min_norm_subgradient(W, grad_W)
        return self.scaled_max(self.join(sub_W, grad_b))


class LogisticObjective(SoftmaxObjective):
    """``J`` of two classes as a function of the one row ``P = [v, c]``,
    ``v = W[1] - W[0]`` and ``c = b[1] - b[0]``: the binary ``coef_`` and
    ``intercept_`` themselves.

    The loss depends on ``(W, b)`` through ``v`` and ``c`` only (``_loss.py``,
    two classes on one vector), and among the ``W`` with a given difference
    the penalty is smallest at the symmetric ``W = [-v / 2, v / 2]`` (both
    the L2 and the L1 part; the intercepts are not penalized). So ``J``'s
    minimum over ``(W, b)`` is the minimum over ``P`` of this function, the
    penalty taken at the symmetric ``W`` (``ElasticNet.of_difference``); at
    the symmetric point its value is ``J``'s, its gradient ``J``'s gradient
    in ``W[1]`` (the optimality measure and the stopping test are
    unchanged), and each pass over the data costs one product with ``X``
    where the softmax's two rows cost two.

    For the full-batch solvers; the mini-batch steps keep the two rows.
    """

    _value = staticmethod(_loss.logistic_cross_entropy)
    _value_and_gradient = staticmethod(_loss.logistic_cross_entropy_gradient)
    _probabilities_t = staticmethod(_loss.logistic_probabilities_t)

    def __init__(self, data, **penalty):
        super().__init__(data, **penalty)
        self.penalty = self.penalty.of_difference()

    @property
    def n_outputs(self):
        return 1


def softmax_parameters(coef, intercept, xp=np):
    """The softmax ``(W, b)`` of a linear classifier's ``coef_`` and
    ``intercept_``: themselves for K > 2; for two classes, which store
    ``W[1] - W[0]``, the symmetric ``W = [-coef_ / 2, coef_ / 2]`` (and ``b``
    likewise), which has the same logit differences, hence the same
    predictions, and is the form of the optimum under L2."""
    if coef.shape[0] == 1:
        return (
            xp.concat([-0.5 * coef, 0.5 * coef], axis=0),
            xp.concat([-0.5 * intercept, 0.5 * intercept]),
        )
    return coef, intercept


def objective_value(coef, intercept, X, y, *, alpha, l1_ratio=0.0):
    """``J`` at a fitted linear classifier's ``coef_`` and ``intercept_``,
    with uniform weights and label indices ``y``: how the demo and the
    benchmarks compare estimators (``SoftmaxGDClassifier``,
    ``LogisticRegression``, ...) on one objective."""
    coef, intercept = np.asarray(coef, float), np.asarray(intercept, float)
    W, b = softmax_parameters(coef, intercept)
    X = X.astype(np.float64, copy=False)
    objective = SoftmaxObjective.from_arrays(
        X, y, n_classes=W.shape[0], alpha=alpha, l1_ratio=l1_ratio, fit_intercept=True
    )
    P = objective.join(W, b)
    return objective.smooth_value(P) + objective.nonsmooth_value(P)


def _fill_non_positive(M, xp):
    """``M`` with its non-positive entries replaced by the mean of the others
    (1 if there are none)."""
    positive = M > 0
    n_positive = int(xp.count_nonzero(positive))
    fill = float(xp.sum(xp.where(positive, M, 0.0))) / n_positive if n_positive else 1.0
    return xp.where(positive, M, fill)


def _power_iteration(probe, wc, fit_intercept, rng, n_iter):
    """The top eigenvalue of ``[X, 1]^T diag(w c) [X, 1]`` on the probe's
    rows, by power iteration from a random start."""
    xp = probe.xp
    device = getattr(probe.w, "device", None)
    v = xp.asarray(
        rng.standard_normal(probe.n_features), dtype=probe.dtype, device=device
    )
    v0 = 1.0 if fit_intercept else 0.0
    lam = 0.0
    for _ in range(n_iter):
        v, u_sum = probe.map_sum(_loss.gram_product, v, v0, kept=wc)
        v0 = float(u_sum) if fit_intercept else 0.0
        lam = math.sqrt(float(xp.sum(v * v)) + v0 * v0)
        if lam == 0.0 or not math.isfinite(lam):
            break
        v, v0 = v / lam, v0 / lam
    return lam
