"""SoftmaxGDClassifier: validation, labels, weights, warm start and reporting
around the math of ``_loss.py`` and the loops of ``_solvers.py``."""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils import compute_class_weight
from sklearn.utils._array_api import get_namespace
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._loss import SoftmaxObjective, log_softmax, softmax
from ._solvers import SOLVERS


class SoftmaxGDClassifier(LinearClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression trained by gradient descent.

    Minimises the weighted mean cross-entropy of the softmax model plus an
    elastic-net penalty on the coefficients,

    ``J(W, b) = sum_i s_i CE(softmax(W x_i + b), y_i) / sum_i s_i
    + alpha * ((1 - l1_ratio) / 2 * ||W||_F^2 + l1_ratio * ||W||_1)``,

    with ``s_i = sample_weight[i] * class_weight[y_i]``, using the hand-derived
    gradients ``grad_W = G^T X + alpha (1 - l1_ratio) W`` and
    ``grad_b = sum_i G_i``, ``G = (S - Y) s / sum(s)``.

    With an L2 penalty this is the optimum of
    ``LogisticRegression(C=1 / (alpha * sum(s)))`` for three classes or more
    and of ``LogisticRegression(C=2 / (alpha * sum(s)))`` for two.

    Parameters
    ----------
    alpha : float, default=1e-4
        Strength of the penalty. Must be non-negative.

    l1_ratio : float, default=0.0
        Elastic-net mixing: 0 is a pure L2 penalty, 1 a pure L1 penalty.
        The L1 part is handled by a proximal step (soft-thresholding).

    fit_intercept : bool, default=True
        Whether to fit the intercepts ``b`` (never penalised).

    learning_rate : "auto" or float, default="auto"
        "auto" needs no tuning: L-BFGS with a backtracking line search on the
        hand-derived gradient when the penalty is smooth (``l1_ratio == 0``),
        accelerated proximal gradient (FISTA) with adaptive restart and a
        backtracking step size otherwise. A float ``eta > 0`` runs the
        derivation's update ``W <- W - eta * grad_W``, ``b <- b - eta * grad_b``
        with that constant step.

    max_iter : int, default=200
        Maximum number of iterations; each makes at least one pass over the data.

    tol : float, default=1e-4
        Stop when the largest entry of the (minimal-norm sub)gradient of ``J``
        falls below ``tol`` times its value at ``W = 0, b = 0``. The criterion
        is scale-free: it does not depend on the units of ``X`` or of the weights.

    class_weight : dict, "balanced" or None, default=None
        Weights ``{class_label: weight}`` multiplying the sample weights;
        "balanced" uses ``n_samples / (n_classes * np.bincount(y))`` computed
        with the sample weights, as in :class:`~sklearn.linear_model.LogisticRegression`.

    warm_start : bool, default=False
        Start ``fit`` from the current ``coef_`` and ``intercept_``.

    verbose : int, default=0
        Print one line per iteration when positive.

    random_state : int, RandomState instance or None, default=None
        Unused by the full-batch solvers, which are deterministic; kept so
        that the estimator follows scikit-learn's conventions.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        ``W``; for two classes ``W[1] - W[0]``, the coefficients of
        ``classes_[1]`` against ``classes_[0]``.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        ``b``; for two classes ``b[1] - b[0]``. Zeros if ``fit_intercept=False``.

    n_iter_ : int
        Number of iterations run.

    loss_curve_ : list of float
        The objective ``J`` after each iteration.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, if ``X`` has string feature names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The same model, fitted by
        second-order or coordinate solvers.
    sklearn.linear_model.SGDClassifier : One-vs-rest linear models trained by
        stochastic gradient descent.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_softmax import SoftmaxGDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-3))
    >>> clf.fit(X, y).score(X, y)
    0.97...
    >>> clf.predict_proba(X[:1]).round(3)
    array([[1., 0., 0.]])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "learning_rate": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        alpha=1e-4,
        *,
        l1_ratio=0.0,
        fit_intercept=True,
        learning_rate="auto",
        max_iter=200,
        tol=1e-4,
        class_weight=None,
        warm_start=False,
        verbose=0,
        random_state=None,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by full-batch gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 is kept as float32, sparse CSR/CSC is never
            densified.

        y : array-like of shape (n_samples,)
            Class labels of any type (strings, non-contiguous integers, ...).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights are equivalent to repeating rows.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        state = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            # A fit that raises leaves the previous model exactly as it was.
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit(self, X, y, sample_weight):
        xp, _ = get_namespace(X)
        first_fit = not (self.warm_start and hasattr(self, "coef_"))
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=first_fit,
        )
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {classes[0]!r}"
            )
        if not first_fit and not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previous classes: {self.classes_}, "
                f"`y`'s classes: {classes}"
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        if self.class_weight is not None:
            class_weight = compute_class_weight(
                self.class_weight, classes=classes, y=y, sample_weight=sample_weight
            )
            sample_weight = sample_weight * class_weight.astype(X.dtype)[y_index]
        n_classes = classes.shape[0]
        Y = np.zeros((X.shape[0], n_classes), dtype=X.dtype)
        Y[np.arange(X.shape[0]), y_index] = 1.0
        objective = SoftmaxObjective(
            X,
            Y,
            sample_weight / sample_weight.sum(),
            self.alpha,
            self.l1_ratio,
            self.fit_intercept,
            xp,
        )

        shape = (n_classes, X.shape[1] + int(self.fit_intercept))
        zeros = xp.zeros(shape, dtype=X.dtype)
        if first_fit:
            P, scale = zeros, None
        else:
            P = self._parameters(n_classes, X.dtype, xp)
            scale = objective.optimality(
                zeros, objective.smooth_value_and_gradient(zeros)[1]
            )

        loss_curve = []
        start = time.perf_counter()

        def report(iteration, value, P, optimality):
            loss_curve.append(value)
            if self.verbose:
                print(
                    f"Iteration {iteration}, loss = {value:.8f}, "
                    f"optimality = {optimality:.3e}, "
                    f"time = {time.perf_counter() - start:.2f}s"
                )
            return False

        if self.learning_rate == "auto":
            solver = "lbfgs" if objective.is_smooth else "agd"
            options = {}
        else:
            solver, options = "gd", {"learning_rate": float(self.learning_rate)}
        P, n_iter, status = SOLVERS[solver](
            objective,
            P,
            max_iter=self.max_iter,
            tol=self.tol,
            scale=scale,
            report=report,
            **options,
        )
        if status == "max_iter":
            warnings.warn(
                f"Maximum number of iterations ({self.max_iter}) reached before "
                f"convergence (tol={self.tol}). Consider increasing max_iter or "
                "standardizing the data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        elif status == "precision":
            warnings.warn(
                f"The objective cannot be decreased further in {X.dtype} "
                f"arithmetic before reaching tol={self.tol}; the model is as "
                "close to the optimum as the precision allows.",
                ConvergenceWarning,
                stacklevel=2,
            )

        self.classes_ = classes
        self._set_parameters(objective.split(P))
        self.n_iter_ = n_iter
        self.loss_curve_ = loss_curve
        return self

    # ------------------------------------------- parameters <-> attributes

    def _set_parameters(self, Wb):
        """Set ``coef_`` and ``intercept_`` from the softmax parameters ``(W, b)``."""
        W, b = Wb
        xp, _ = get_namespace(W)
        if b is None:
            b = xp.zeros(W.shape[0], dtype=W.dtype)
        if W.shape[0] == 2:
            self.coef_ = (W[1] - W[0])[None, :]
            self.intercept_ = (b[1] - b[0])[None]
        else:
            self.coef_, self.intercept_ = W, b

    def _parameters(self, n_classes, dtype, xp):
        """The parameter array ``P`` of the current model (for warm starts).

        For two classes, ``(W, b)`` is rebuilt symmetrically from ``coef_``:
        ``W = [-coef_ / 2, coef_ / 2]``, which has the same logit differences,
        hence the same predictions, and is the optimum's form under L2.
        """
        W = xp.asarray(self.coef_, dtype=dtype)
        b = xp.asarray(self.intercept_, dtype=dtype)
        if n_classes == 2:
            W = xp.concat([-0.5 * W, 0.5 * W], axis=0)
            b = xp.concat([-0.5 * b, 0.5 * b])
        if not self.fit_intercept:
            return W
        return xp.concat([W, b[:, None]], axis=1)

    # ------------------------------------------------------------- predict

    def predict_proba(self, X):
        """Class probabilities: the softmax of the decision values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            For two classes, the softmax of ``[-z / 2, z / 2]`` with ``z`` the
            decision function, i.e. ``[1 - sigmoid(z), sigmoid(z)]``.
        """
        xp, _ = get_namespace(X)
        return softmax(self._softmax_logits(X, xp), xp)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed stably (log-softmax).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        xp, _ = get_namespace(X)
        return log_softmax(self._softmax_logits(X, xp), xp)

    def _softmax_logits(self, X, xp):
        check_is_fitted(self)
        Z = self.decision_function(X)
        if Z.ndim == 1:
            return xp.stack([-0.5 * Z, 0.5 * Z], axis=1)
        return Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
