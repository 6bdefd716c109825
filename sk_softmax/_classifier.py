"""SoftmaxGDClassifier: the estimator. ``fit`` and ``partial_fit`` share
``_fit``: plan (``_plan.make_plan``), prepare (``_fitting.prepare``: the
inputs on their backend, labels, weights, validation split), solve
(``Problem.solve``: the full-batch solvers or the mini-batch epochs,
reported by a ``_monitor.FitMonitor``), store (``_store``, the only place
that sets fitted attributes)."""

import copy
from numbers import Integral, Real

from sklearn.base import BaseEstimator, _fit_context
from sklearn.callback import CallbackSupportMixin
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils._array_api import check_same_namespace, get_namespace
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    check_is_fitted,
)

from . import _fitting
from ._inputs import chunkwise
from ._loss import log_softmax, softmax
from ._monitor import FitMonitor
from ._plan import make_plan

_CALLBACK_KEYS = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")


class SoftmaxGDClassifier(
    CallbackSupportMixin, LinearClassifierMixin, SparseCoefMixin, BaseEstimator
):
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
        The L1 part is handled exactly (soft-thresholding, or inside the
        proximal Newton subproblem), which gives exact zeros.

    fit_intercept : bool, default=True
        Whether to fit the intercepts ``b`` (never penalised).

    batch_size : int or None, default=None
        None: full-batch gradient descent, every iteration sees all the data.
        An int: mini-batch gradient descent, each epoch visits the data once in
        batches of this size (clipped to the number of samples).

    learning_rate : {"auto", "constant", "invscaling", "adaptive"} or float, \
            default="auto"
        The step size; no choice needs tuning.

        - "auto": full batch, the method chosen by ``solver``, which needs no
          step size; mini-batch, "adaptive".
        - "constant", "invscaling", "adaptive": the schedules of
          :class:`~sklearn.neural_network.MLPClassifier`, starting from
          ``eta0 = 1 / L_B``, with ``L_B`` an estimate of the Lipschitz constant
          of the batch gradients computed from the data at the starting point.
          "invscaling" is ``eta0 / (epoch + 1) ** power_t``; "adaptive" keeps
          ``eta0`` until ``n_iter_no_change`` epochs fail to improve by
          ``tol``, then divides the step by 5 (and stops once it has shrunk by
          1e6). The model after each epoch is the average of the epoch's
          iterates (Polyak-Ruppert averaging), which removes most of the
          gradient noise. On sparse ``X`` with ``l1_ratio=0``, a step costs
          what the batch's nonzeros cost: only the coefficients of the
          features the batch uses change, the L2 shrinkage of the others being
          kept as one scale factor.
        - A float ``eta > 0``: the derivation's update with that constant step,
          ``W <- W - eta * grad_W``, ``b <- b - eta * grad_b``.

    solver : {"auto", "lbfgs", "newton-cg", "prox-newton", "fista"}, \
            default="auto"
        The full-batch method; only used when ``batch_size=None`` and
        ``learning_rate="auto"``. All of them use the hand-derived gradients.

        - "newton-cg": truncated Newton. Conjugate gradients solve for the
          Newton step with hand-derived Hessian-vector products, taken on a
          random sample of the rows with positive weight, stratified by class
          and large enough to represent every class and, on dense data,
          every feature (all the rows of small data), so that on large data
          each costs a fraction of a pass; the gradient and a
          backtracking line search use all the data. The conjugate gradients
          divide each feature's step by its curvature (a diagonal
          preconditioner), which sparse data with rare features need, and
          stop once the step they have found would pass the stopping test
          (``tol``). By the problem's size: with at most 64 parameters
          (``n_classes`` times ``n_features + 1``, one row for two classes)
          and all the rows in the Hessian, the step is solved exactly from
          the whole Hessian; on small data (between 512 kB and 64 MB of
          float64 rows), where the sample would be all the rows, the
          products are taken on a float32 copy of them. Smooth penalty only
          (``l1_ratio == 0``).
        - "lbfgs": L-BFGS with a strong Wolfe line search, its initial
          inverse Hessian scaled feature by feature by the curvature at the
          start. Smooth penalty only.
        - "prox-newton": proximal Newton for any ``l1_ratio``. Each iteration
          minimises the quadratic model of the smooth part (its Hessian on a
          sample of the rows, as "newton-cg") plus the L1 part, over a
          working set of features (the nonzero ones and those that violate
          optimality most), by conjugate gradients on the model's orthant
          faces, then backtracks on the whole objective.
        - "fista": accelerated proximal gradient with adaptive restart and a
          backtracking step size per feature, from its curvature; any
          ``l1_ratio``.
        - "auto": "newton-cg" for a smooth penalty, which adapts to the
          problem's size as above, "prox-newton" otherwise (see
          ``benchmarks/README.md`` for how they compare).

    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.

    max_iter : int, default=200
        Maximum number of iterations (full batch) or epochs (mini-batch); each
        makes at least one pass over the data. ``partial_fit`` always runs one.

    tol : float, default=1e-4
        Full batch: stop when the largest entry of the (minimal-norm sub)gradient
        of ``J``, each feature's entries divided by the feature's root mean
        square, falls below ``tol`` times its value at ``W = 0, b = 0``: a
        criterion that does not change when the data or any column is
        rescaled. Mini-batch, or with early stopping: the least
        improvement of the training loss (in nats) or of the validation score
        that counts, as in :class:`~sklearn.neural_network.MLPClassifier`.

    shuffle : bool, default=True
        Whether to reshuffle the rows before each mini-batch epoch.

    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the data and stop when
        its accuracy has not improved by ``tol`` for ``n_iter_no_change``
        epochs; the model kept is the best epoch's. The held-out rows are left
        out of the objective by a zero weight: ``X`` is not copied.

    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.

    n_iter_no_change : int, default=5
        Number of epochs without improvement that stops a mini-batch fit (or
        shrinks the "adaptive" step) or triggers early stopping. The full-batch
        solvers stop on ``tol`` instead.

    class_weight : dict, "balanced" or None, default=None
        Weights ``{class_label: weight}`` multiplying the sample weights;
        "balanced" uses ``n_samples / (n_classes * np.bincount(y))`` computed
        with the sample weights, as in :class:`~sklearn.linear_model.LogisticRegression`.
        Not available as "balanced" in ``partial_fit``.

    warm_start : bool, default=False
        Start ``fit`` from the current ``coef_`` and ``intercept_``.

    verbose : int, default=0
        Print one line per iteration (epoch) when positive: loss, validation
        score, optimality, step size and elapsed time.

    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling, the validation split, the step-size estimate and
        the random rows of the Newton solvers' Hessian sample (a fixed seed
        when None, so that full-batch fits are deterministic); an int gives
        bitwise identical models.

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
        Number of iterations (epochs) of the last ``fit``; ``partial_fit``
        adds one per call.

    loss_curve_ : list of float
        The objective ``J`` after each iteration (full batch), or the mean of
        the batch objectives of each epoch (mini-batch), as in MLPClassifier.

    validation_scores_ : list of float or None
        Validation accuracy after each epoch when ``early_stopping``.

    best_validation_score_ : float or None
        The best of ``validation_scores_``, that of the model kept.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, if ``X`` has string feature names.

    Notes
    -----
    A fit returns a model near the optimum, warns, or raises (leaving the
    previous model intact): a diverging step raises a ``ValueError`` naming
    the iteration; the full-batch stopping test weighs every feature by its
    scale; Newton-CG's Hessian sample is random rows with positive weight,
    stratified by class; ``class_weight`` values must be finite and
    non-negative. See the user guide's section on unusual input.

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
    0.98
    >>> clf.predict(X[:2])
    array([0, 0])
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [
            StrOptions({"auto", "constant", "invscaling", "adaptive"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "solver": [StrOptions({"auto", "lbfgs", "newton-cg", "prox-newton", "fista"})],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
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
        batch_size=None,
        learning_rate="auto",
        solver="auto",
        power_t=0.5,
        max_iter=200,
        tol=1e-4,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        warm_start=False,
        verbose=0,
        random_state=None,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.solver = solver
        self.power_t = power_t
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model: ``max_iter`` iterations (epochs) at most.

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
        return self._atomic(
            self._fit, X, y, sample_weight, classes=None, incremental=False
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of mini-batch gradient descent over the given data.

        The model continues from its current state (including the step-size
        schedule); early stopping does not apply.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.

        y : array-like of shape (n_samples,)
            Its labels, all of them in ``classes``.

        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, optional (and checked
            against ``classes_``) afterwards.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of this chunk's samples.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._atomic(
            self._fit, X, y, sample_weight, classes=classes, incremental=True
        )

    def _atomic(self, method, *args, **kwargs):
        """Run ``method``; if it raises, restore the estimator as it was."""
        state = dict(self.__dict__)
        try:
            return method(*args, **kwargs)
        except BaseException:
            # Keep the callback bookkeeping that _fit_context still has to tear down.
            kept = {k: v for k, v in self.__dict__.items() if k in _CALLBACK_KEYS}
            self.__dict__.clear()
            self.__dict__.update(state)
            self.__dict__.update(kept)
            raise

    def _fit(self, X, y, sample_weight, *, classes, incremental):
        """The one path of ``fit`` (``incremental=False``) and ``partial_fit``."""
        saved = getattr(self, "_optimizer_state", None)
        plan = make_plan(
            self.get_params(),
            incremental=incremental,
            fitted=hasattr(self, "coef_"),
            saved=saved,
        )
        problem = _fitting.prepare(self, X, y, sample_weight, classes, plan)
        plan = plan.for_data(problem.n_classes)
        callback_ctx = self._init_callback_context(max_subtasks=plan.max_iter)
        # sample_weight for the callbacks' scorers, e.g. ScoringMonitor
        fit_args = dict(
            estimator=self,
            X=problem.X,
            y=problem.y,
            metadata={"sample_weight": problem.sample_weight},
        )
        callback_ctx.call_on_fit_task_begin(**fit_args)

        def monitor(reconstruct, plateau, validation):
            return FitMonitor(
                callback_ctx,
                fit_args,
                reconstruct,
                verbose=self.verbose,
                plateau=plateau,
                validation=validation,
            )

        start = (self.coef_, self.intercept_) if plan.resume else None
        result = problem.solve(plan, monitor, start=start, saved=saved)
        self._store(result, plan)
        callback_ctx.call_on_fit_task_end(
            **fit_args, reconstruction_attributes=self._fitted_copies
        )
        return self

    def _fitted_copies(self):
        """Independent copies of the fitted attributes: the model handed to
        a callback at the end of a fit, which may write to it."""
        return {
            name: copy.deepcopy(value)
            for name, value in vars(self).items()
            if name.endswith("_") and not name.startswith("_")
        }

    def _store(self, result, plan):
        """Set the fitted attributes from a solve's ``FitResult``."""
        for name, value in result.attributes.items():
            setattr(self, name, value)
        if plan.incremental and plan.resume:
            self.n_iter_ += result.n_iter
            self.loss_curve_ = self.loss_curve_ + result.loss_curve
        else:
            self.n_iter_ = result.n_iter
            self.loss_curve_ = result.loss_curve
        self.validation_scores_ = result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self.__dict__.pop("_optimizer_state", None)
        if result.optimizer_state is not None:
            self._optimizer_state = result.optimizer_state

    # ------------------------------------------------------------- predict

    @chunkwise
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
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="coef_", method="predict_proba")
        xp, _ = get_namespace(X)
        return softmax(self._softmax_logits(X, xp), xp)

    @chunkwise
    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed stably (log-softmax).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="coef_", method="predict_log_proba")
        xp, _ = get_namespace(X)
        return log_softmax(self._softmax_logits(X, xp), xp)

    @chunkwise
    def decision_function(self, X):
        """Decision values (a lazy Dask array for Dask ``X``), see
        :meth:`~sklearn.linear_model.LinearClassifierMixin.decision_function`."""
        return super().decision_function(X)

    @chunkwise
    def predict(self, X):
        """Class labels (a lazy Dask array for Dask ``X``), see
        :meth:`~sklearn.linear_model.LinearClassifierMixin.predict`."""
        return super().predict(X)

    def _softmax_logits(self, X, xp):
        check_is_fitted(self)
        Z = self.decision_function(X)
        if Z.ndim == 1:
            return xp.stack([-0.5 * Z, 0.5 * Z], axis=1)
        return Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags
