"""SoftmaxGDClassifierCV: ``alpha`` (and ``l1_ratio``) chosen by
cross-validation, each fold's models solved along a warm-started path.

``fit`` reads the inputs once (``_inputs.read_in_memory``), makes the grid
(``alpha_grid``) and the folds, then runs one task per fold and
``l1_ratio`` (``_fold_path``, in parallel with joblib): a task takes its
fold's training rows once (``_fitting.problem_of``), solves the alphas
from the largest down, each from the last solution (``Problem.solve``, with
the plan's own method for that penalty), and scores each model on the
fold's held-out rows. The choice (``_choose``), then the final model:
refitted on all the rows from the folds' mean solution, or the folds'
models averaged. Predictions are ``SoftmaxGDClassifier``'s own code."""

import inspect
import time
from contextlib import nullcontext
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import cpu_count, effective_n_jobs
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, _fit_context
from sklearn.callback import CallbackSupportMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.metrics import get_scorer, get_scorer_names, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._array_api import (
    _average,
    _max_precision_float_dtype,
    get_namespace_and_device,
    move_to,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _manual_routing,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)
from threadpoolctl import threadpool_limits

from . import _fitting
from ._array_ops import label_values
from ._backend import TrainingRows, class_totals
from ._classifier import SoftmaxGDClassifier
from ._inputs import chunkwise, read_in_memory
from ._labels import check_known, encode_labels, labels_on_device
from ._monitor import FitMonitor
from ._objective import SoftmaxObjective
from ._plan import make_plan

#: ``SoftmaxGDClassifier``'s parameters that the cross-validation passes on
#: to each fit, with their constraints.
SHARED = (
    "fit_intercept",
    "solver",
    "max_iter",
    "tol",
    "class_weight",
    "verbose",
    "random_state",
)

#: Where no alpha zeroes a coefficient (``l1_ratio=0``), the grid starts
#: at the lasso's ``alpha_max`` divided by this: there, every L2-penalised
#: coefficient is about a hundredth of ``alpha_max / alpha`` or less, nearly
#: the null model.
L2_TOP_RATIO = 0.01

DASK_MESSAGE = (
    "SoftmaxGDClassifierCV needs each fold's rows in memory and does not fit "
    "Dask collections. Cross-validate SoftmaxGDClassifier, which fits Dask "
    "arrays, with GridSearchCV instead, e.g. GridSearchCV(SoftmaxGDClassifier(), "
    "{'alpha': alphas}), or compute the arrays first."
)


class SoftmaxGDClassifierCV(CallbackSupportMixin, LinearClassifierMixin, BaseEstimator):
    """Softmax regression with ``alpha`` (and ``l1_ratio``) chosen by
    cross-validation along warm-started paths.

    For each fold and each ``l1_ratio``, the models of
    :class:`SoftmaxGDClassifier` are solved for the alphas from the largest
    down, each fit starting from the solution at the previous alpha, and
    scored on the fold's held-out rows. The fold's training rows are taken
    once for the whole path. The values with the best mean score are then
    refitted on all the data, starting from the folds' mean solution there
    (``refit=True``), or the folds' models at their own best values are
    averaged (``refit=False``), as
    :class:`~sklearn.linear_model.LogisticRegressionCV` does.

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,), default=10
        The penalty strengths to try. An int: that many values, evenly spaced
        on a log scale from ``alpha_max`` down (see ``eps``), ``alpha_max``
        being the smallest alpha at which the penalty zeroes every
        coefficient, ``max |grad_W| / l1_ratio`` at the null model (``W =
        0``, the intercepts at the log class frequencies), computed on all
        the data with its weights. For ``l1_ratio=0``, where no alpha zeroes
        a coefficient, the grid starts at 100 times the lasso's
        ``max |grad_W|``, where every coefficient is about 0.01 or less. An
        array: these values, for every ``l1_ratio``, sorted from the largest
        down.

    eps : float, default=1e-4
        The grid's smallest alpha is ``eps`` times ``alpha_max``; for
        ``l1_ratio=0``, ``eps`` times the lasso's ``max |grad_W|`` (the
        bottom of the lasso's grid), so that the L2 grid spans six decades.
        Only used when ``alphas`` is an int.

    l1_ratios : array-like of shape (n_l1_ratios,), default=(0.0,)
        The elastic-net mixings to try, each in [0, 1]; one path per fold and
        ``l1_ratio``.

    cv : int, cross-validation generator or iterable, default=5
        The folds, as in :func:`~sklearn.model_selection.check_cv`: an int is
        a :class:`~sklearn.model_selection.StratifiedKFold` of that many
        folds.

    scoring : str, callable or None, default="neg_log_loss"
        The held-out score to maximise (a scorer name or a scorer
        ``scorer(estimator, X, y)``); None is accuracy. ``score`` uses it too.

    refit : bool, default=True
        Whether to refit on all the data at the values with the best mean
        held-out score, starting from the folds' mean solution there.
        Otherwise ``coef_`` and ``intercept_`` are the average of the folds'
        models at each fold's best values, ``alpha_`` the geometric mean of
        those alphas and ``l1_ratio_`` the mean of those ratios.

    n_alphas_no_change : int or None, default=2
        Stop a fold's path once this many consecutive alphas have scored
        below the best score of that path so far: the held-out score has
        clearly stopped improving, and the smaller alphas, often the most
        costly (an overfitted model converges slowly), are not solved. Their
        entries of ``scores_``, ``coefs_paths_`` and ``intercepts_paths_``
        are NaN, their ``n_iter_`` 0, and a value some fold did not reach is
        not chosen. On grids finer than a few values per decade, where the
        score can dip by noise, a larger value is safer. None solves every
        alpha.

    n_jobs : int, default=None
        Number of paths (folds times ``l1_ratios``) solved in parallel by
        joblib; each worker's BLAS uses the machine's cores divided among
        the workers. ``None`` means 1 unless in a
        :obj:`joblib.parallel_backend` context. The results do not depend
        on it.

    fit_intercept : bool, default=True
        Whether to fit the intercepts (never penalised).

    solver : {"auto", "lbfgs", "newton-cg", "prox-newton", "fista"}, \
            default="auto"
        The full-batch method of each fit, as in
        :class:`SoftmaxGDClassifier`; "auto" chooses it for each penalty.

    max_iter : int, default=200
        Maximum number of iterations of each fit.

    tol : float, default=1e-4
        The stopping tolerance of each fit, as in :class:`SoftmaxGDClassifier`.

    class_weight : dict, "balanced" or None, default=None
        As in :class:`SoftmaxGDClassifier`; "balanced" is computed on each
        fit's own training rows (a fold's, then all of them for the refit),
        as ``GridSearchCV`` over :class:`SoftmaxGDClassifier` would.

    verbose : int, default=0
        1: one line per fit of a path; 2 and more: also one line per
        iteration.

    random_state : int, RandomState instance or None, default=None
        Seeds the rows of Newton-CG's Hessian sample, as in
        :class:`SoftmaxGDClassifier` (one seed for every fit); it does not
        shuffle the folds (pass a ``cv`` splitter for that).

    Attributes
    ----------
    alpha_ : float
        The chosen alpha.

    l1_ratio_ : float
        The chosen ``l1_ratio``.

    alphas_ : ndarray of shape (n_l1_ratios, n_alphas)
        The grid of each ``l1_ratio``, from the largest alpha down.

    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The ``l1_ratios`` tried.

    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas)
        The held-out score of each fold's model at each value (NaN where a
        path stopped early, see ``n_alphas_no_change``).

    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas, \
            n_rows, n_features)
        Each fold's ``coef_`` at each value; ``n_rows`` is that of
        ``coef_``: 1 for two classes, ``n_classes`` otherwise.

    intercepts_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas, \
            n_rows)
        Each fold's ``intercept_`` at each value.

    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas)
        The iterations of each fit of the paths (not counting the refit).

    cv_results_ : dict of ndarray
        One entry per value, as ``GridSearchCV``'s (``pandas.DataFrame``
        reads it): ``params``, ``param_l1_ratio``, ``param_alpha``,
        ``split{k}_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ``std_fit_time``,
        ``mean_score_time``, ``std_score_time`` and ``mean_n_iter``; the
        values are ordered by ``l1_ratio``, then alpha as in ``alphas_``.

    classes_ : ndarray of shape (n_classes,)
        The class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The final model's coefficients, as :class:`SoftmaxGDClassifier`'s.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        The final model's intercepts.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, if ``X`` has string feature
        names.

    See Also
    --------
    SoftmaxGDClassifier : The model, for one alpha.
    sklearn.linear_model.LogisticRegressionCV : The same choice of ``C``
        with ``LogisticRegression``'s solvers.

    Notes
    -----
    With an L2 penalty, the alpha of a fit on ``n`` rows (or weights summing
    to ``n``) is ``C = 1 / (alpha n)`` of
    :class:`~sklearn.linear_model.LogisticRegression` for three classes or
    more, ``C = 2 / (alpha n)`` for two. A fold's fit at a given alpha is
    therefore that of a ``C`` larger by ``n / n_train`` (1.25 for 5 folds)
    than the refit's at the same alpha: ``alpha`` measures the penalty per
    unit of weight, which does not change with the size of the data.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_softmax import SoftmaxGDClassifierCV
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = SoftmaxGDClassifierCV(alphas=[1e-1, 1e-2, 1e-3]).fit(X, y)
    >>> clf.alpha_
    0.001
    >>> clf.scores_.shape
    (5, 1, 3)
    """

    _parameter_constraints: dict = {
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "eps": [Interval(Real, 0, 1, closed="neither")],
        "l1_ratios": ["array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean"],
        "n_alphas_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        **{name: SoftmaxGDClassifier._parameter_constraints[name] for name in SHARED},
    }

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-4,
        l1_ratios=(0.0,),
        cv=5,
        scoring="neg_log_loss",
        refit=True,
        n_alphas_no_change=2,
        n_jobs=None,
        fit_intercept=True,
        solver="auto",
        max_iter=200,
        tol=1e-4,
        class_weight=None,
        verbose=0,
        random_state=None,
    ):
        self.alphas = alphas
        self.eps = eps
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_alphas_no_change = n_alphas_no_change
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Solve each fold's path, choose the values, fit the final model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 is kept as float32, sparse CSR/CSC is
            never densified.

        y : array-like of shape (n_samples,)
            Class labels of any type.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, for the fits and for the held-out scores
            (as ``LogisticRegressionCV``; with metadata routing enabled, the
            scorer gets them where it requests them).

        **params : dict
            With metadata routing enabled, metadata for the splitter (e.g.
            ``groups``) and the scorer.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        _raise_for_params(params, self, "fit")
        return self._atomic(self._fit, X, y, sample_weight, params)

    _atomic = SoftmaxGDClassifier._atomic

    def _fit(self, X, y, sample_weight, params):
        plan = make_plan(self._fit_params(), incremental=False, fitted=False)
        rows = read_in_memory(self, X, y, sample_weight, plan, DASK_MESSAGE)
        routed = self._routed(sample_weight, params)
        folds = _folds(self.cv, rows, routed["splitter"]["split"])
        l1_ratios = _check_l1_ratios(self.l1_ratios)
        seed = _fitting.seed(self.random_state, check_random_state(self.random_state))
        full = None
        if self.refit or isinstance(self.alphas, Integral):
            full = _fitting.problem_of(self, rows, seed=seed)
        self.alphas_ = self._grid(full, l1_ratios)
        self.l1_ratios_ = l1_ratios
        n_paths = len(folds) * l1_ratios.shape[0]
        context = self._init_callback_context(max_subtasks=n_paths + int(self.refit))
        fit_args = _fit_args(self, rows)
        context.call_on_fit_task_begin(**fit_args)
        tasks = self._tasks(folds, seed, routed["scorer"]["score"], context)
        paths = _run(self, rows, plan, tasks)
        self._store_paths(paths, len(folds), rows.classes)
        if self.refit:
            refit = context.subcontext(task_name="refit", max_subtasks=plan.max_iter)
            self._refit(full, plan, refit, _fit_args(self, rows))
        else:
            self._average()
        self._move_host_attributes(rows.X)
        context.call_on_fit_task_end(**fit_args, reconstruction_attributes={})
        return self

    def _move_host_attributes(self, X):
        """``alphas_``, ``l1_ratios_``, ``scores_`` and ``n_iter_``, computed
        on the host, moved to ``X``'s namespace and device, as every array
        attribute (floats in the device's widest float dtype)."""
        xp, is_array_api, device = get_namespace_and_device(X)
        if not is_array_api:
            return
        wide = _max_precision_float_dtype(xp, device)
        for name in ("alphas_", "l1_ratios_", "scores_"):
            setattr(
                self, name, xp.asarray(getattr(self, name), dtype=wide, device=device)
            )
        self.n_iter_ = xp.asarray(self.n_iter_, device=device)

    def _fit_params(self):
        """The parameters of a ``SoftmaxGDClassifier`` fit of each path."""
        shared = {name: getattr(self, name) for name in SHARED}
        return SoftmaxGDClassifier(**shared).get_params()

    def _routed(self, sample_weight, params):
        """The metadata for the splitter and the scorer: routed, or, without
        routing, the sample weights for the scorer (as
        ``LogisticRegressionCV``)."""
        if _routing_enabled():
            return process_routing(self, "fit", sample_weight=sample_weight, **params)
        score = {} if sample_weight is None else {"sample_weight": sample_weight}
        return _manual_routing({"splitter": {}, "scorer": {"score": score}})

    def _grid(self, full, l1_ratios):
        """``alphas_``: the data-driven grid, or the given alphas, sorted."""
        if isinstance(self.alphas, Integral):
            return alpha_grid(
                full, l1_ratios, self.alphas, self.eps, self.fit_intercept
            )
        alphas = check_array(
            self.alphas, ensure_2d=False, ensure_min_samples=0, dtype=np.float64
        )
        alphas = np.ravel(alphas)
        if alphas.shape[0] == 0 or np.any(alphas < 0):
            raise ValueError(
                f"alphas must be non-negative numbers, at least one; got {self.alphas!r}."
            )
        return np.tile(np.sort(alphas)[::-1], (l1_ratios.shape[0], 1))

    def _tasks(self, folds, seed, score_params, context):
        """One ``PathTask`` per fold and ``l1_ratio``, each with its callback
        context, made here (not in the workers, where the task tree of the
        parent cannot change)."""
        n_alphas = self.alphas_.shape[1]
        return [
            PathTask(
                fold=f,
                train=train,
                test=test,
                l1_ratio=float(l1_ratio),
                alphas=self.alphas_[r],
                seed=seed,
                score_params=score_params,
                patience=self.n_alphas_no_change,
                context=context.subcontext(task_name="path", max_subtasks=n_alphas),
            )
            for f, (train, test) in enumerate(folds)
            for r, l1_ratio in enumerate(self.l1_ratios_)
        ]

    def _store_paths(self, paths, n_folds, classes):
        """``scores_``, ``n_iter_``, the coefficient paths and
        ``cv_results_`` from the tasks' ``PathResult``s."""
        n_l1, n_alphas = self.alphas_.shape
        shape = (n_folds, n_l1, n_alphas)
        xp = get_namespace_and_device(paths[0].coefs)[0]
        self.classes_ = classes
        self.scores_ = np.reshape([p.scores for p in paths], shape)
        self.n_iter_ = np.reshape([p.n_iter for p in paths], shape)
        coefs = xp.stack([p.coefs for p in paths])
        intercepts = xp.stack([p.intercepts for p in paths])
        self.coefs_paths_ = xp.reshape(coefs, (*shape, *coefs.shape[2:]))
        self.intercepts_paths_ = xp.reshape(intercepts, (*shape, *intercepts.shape[2:]))
        fit_time = np.reshape([p.fit_time for p in paths], shape)
        score_time = np.reshape([p.score_time for p in paths], shape)
        self.cv_results_ = cv_results(
            self.scores_,
            self.alphas_,
            self.l1_ratios_,
            fit_time,
            score_time,
            self.n_iter_,
        )

    def _refit(self, full, plan, context, fit_args):
        """The final model: all the rows at the best mean score's values,
        from the folds' mean solution there."""
        r, a = _choose(self.scores_)
        self.alpha_, self.l1_ratio_ = (
            float(self.alphas_[r, a]),
            float(self.l1_ratios_[r]),
        )
        xp = get_namespace_and_device(self.coefs_paths_)[0]
        start = (
            xp.mean(self.coefs_paths_[:, r, a, ...], axis=0),
            xp.mean(self.intercepts_paths_[:, r, a, ...], axis=0),
        )
        step = plan.with_penalty(self.alpha_, self.l1_ratio_).for_data(full.n_classes)
        context.call_on_fit_task_begin(**fit_args)
        result = full.solve(
            step, _monitor(context, fit_args, self.verbose - 1), start=start
        )
        self.coef_ = result.attributes["coef_"]
        self.intercept_ = result.attributes["intercept_"]
        context.call_on_fit_task_end(**fit_args, reconstruction_attributes={})

    def _average(self):
        """The final model without a refit: the average of the folds' models
        at each fold's best values (``LogisticRegressionCV(refit=False)``)."""
        best = [_choose(scores[None]) for scores in self.scores_]
        xp = get_namespace_and_device(self.coefs_paths_)[0]
        coefs = [self.coefs_paths_[f, r, a, ...] for f, (r, a) in enumerate(best)]
        intercepts = [
            self.intercepts_paths_[f, r, a, ...] for f, (r, a) in enumerate(best)
        ]
        self.coef_ = xp.mean(xp.stack(coefs), axis=0)
        self.intercept_ = xp.mean(xp.stack(intercepts), axis=0)
        alphas = np.array([self.alphas_[r, a] for r, a in best])
        self.alpha_ = (
            float(np.exp(np.mean(np.log(alphas)))) if np.all(alphas > 0) else 0.0
        )
        self.l1_ratio_ = float(np.mean([self.l1_ratios_[r] for r, _ in best]))

    # --------------------------------------------------------------- score

    def score(self, X, y, sample_weight=None, **score_params):
        """The ``scoring`` of the model on the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.

        y : array-like of shape (n_samples,)
            Their labels.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        **score_params : dict
            With metadata routing enabled, parameters of the scorer.

        Returns
        -------
        score : float
            The score (for the default ``neg_log_loss``, the negated mean
            log-loss: higher is better).
        """
        _raise_for_params(score_params, self, "score")
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        if _routing_enabled():
            score_params = process_routing(self, "score", **score_params)["scorer"][
                "score"
            ]
        name = "accuracy" if self.scoring is None else self.scoring
        if isinstance(name, str) and name in NATIVE:
            weights = score_params.get("sample_weight")
            return score(name, self, _held_out(self, X, y, weights))
        return self._scorer()(self, X, y, **score_params)

    def _scorer(self):
        return get_scorer("accuracy" if self.scoring is None else self.scoring)

    def _path_scorer(self, classes):
        """The scorer of the folds' models: the name of a score computed
        here (``NATIVE``), or scikit-learn's scorer told every class
        (``_with_labels``)."""
        name = "accuracy" if self.scoring is None else self.scoring
        if isinstance(name, str) and name in NATIVE:
            return name
        return _with_labels(get_scorer(name), classes)

    def get_metadata_routing(self):
        """Get the metadata routing of this object: ``sample_weight`` for its
        own fits, and metadata for the splitter (``fit``) and for the scorer
        (``fit`` and ``score``), as ``LogisticRegressionCV``'s.

        Returns
        -------
        routing : MetadataRouter
            The routing information.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv, classifier=True),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._scorer(),
                method_mapping=MethodMapping()
                .add(caller="score", callee="score")
                .add(caller="fit", callee="score"),
            )
        )

    # ------------------------------------------------------------- predict

    predict_proba = SoftmaxGDClassifier.predict_proba
    predict_log_proba = SoftmaxGDClassifier.predict_log_proba
    _softmax_logits = SoftmaxGDClassifier._softmax_logits
    decision_function = chunkwise(LinearClassifierMixin.decision_function)
    predict = chunkwise(LinearClassifierMixin.predict)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags


# ---------------------------------------------------------------- the grid


def alpha_grid(problem, l1_ratios, n_alphas, eps, fit_intercept):
    """The data-driven grid, one row per ``l1_ratio``: ``n_alphas`` values
    evenly spaced on a log scale from ``alpha_max = max |grad_W| / l1_ratio``
    at the null model of ``problem`` (the smallest alpha that zeroes every
    coefficient) down to ``eps * alpha_max``; for ``l1_ratio=0``, from
    ``max |grad_W| / L2_TOP_RATIO`` down to ``eps * max |grad_W|``."""
    top = null_gradient(problem, fit_intercept)
    if not (top > 0 and np.isfinite(top)):  # the null model is the optimum
        top = np.finfo(np.float64).resolution
    rows = []
    for l1_ratio in l1_ratios:
        if l1_ratio > 0:
            high, low = top / l1_ratio, eps * top / l1_ratio
        else:
            high, low = top / L2_TOP_RATIO, eps * top
        rows.append(np.geomspace(high, low, n_alphas))
    return np.array(rows)


def null_gradient(problem, fit_intercept):
    """``max |grad_W|`` of the data term at the null model of ``problem``:
    ``W = 0`` and the intercepts at the log of the weighted class
    frequencies (the optimum with ``W = 0``), or 0 without intercepts."""
    data, xp = problem.data, problem.xp
    objective = SoftmaxObjective(
        data, alpha=0.0, l1_ratio=0.0, fit_intercept=fit_intercept
    )
    P = objective.zeros()
    if fit_intercept:
        totals = xp.astype(class_totals(data)[1], data.dtype)
        tiny = float(xp.finfo(data.dtype).smallest_normal)
        b = xp.log(xp.where(totals > 0, totals, tiny))
        P = objective.join(objective.split(P)[0], b)
    grad = objective.smooth_value_and_gradient(objective.product_layout(P))[1]
    return float(xp.max(xp.abs(objective.split(grad)[0])))


def _check_l1_ratios(l1_ratios):
    ratios = check_array(
        l1_ratios, ensure_2d=False, ensure_min_samples=0, dtype=np.float64
    )
    ratios = np.ravel(ratios)
    if ratios.shape[0] == 0 or np.any((ratios < 0) | (ratios > 1)):
        raise ValueError(
            f"l1_ratios must be numbers in [0, 1], at least one; got {l1_ratios!r}."
        )
    return ratios


# --------------------------------------------------------------- the folds


def _folds(cv, rows, split_params):
    """The ``(train, test)`` row indices (on the host) of ``cv``'s folds,
    split on the labels (moved to the host if on a device). Dense numpy and
    CSR ``X`` go to the splitter as they are; other ``X`` as a placeholder
    of their number of rows (a splitter needs no more, and CSC ``X`` would
    be converted to CSR, a copy)."""
    y = (
        rows.y
        if isinstance(rows.y, np.ndarray)
        else move_to(rows.y, xp=np, device="cpu")
    )
    X = rows.X
    if not (isinstance(X, np.ndarray) or (sp.issparse(X) and X.format == "csr")):
        X = np.zeros((y.shape[0], 1))
    splitter = check_cv(cv, y, classifier=True)
    return [
        (np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y, **split_params)
    ]


def _take(a, rows):
    """The rows ``rows`` (host indices) of ``a``, in its namespace and on
    its device."""
    if isinstance(a, np.ndarray) or sp.issparse(a):
        return a[rows]
    xp, _, device = get_namespace_and_device(a)
    return xp.take(a, xp.asarray(rows, device=device), axis=0)


def _fit_args(estimator, rows):
    """The callbacks' arguments of a fit on ``rows``."""
    return dict(
        estimator=estimator,
        X=rows.X,
        y=rows.y,
        metadata={"sample_weight": rows.sample_weight},
    )


def _monitor(context, fit_args, verbose):
    """The ``monitor`` of ``Problem.solve``: iterations reported as
    "epoch" tasks of ``context``, printed when ``verbose > 0``."""

    def monitor(reconstruct, plateau, validation):
        return FitMonitor(
            context,
            fit_args,
            reconstruct,
            verbose=max(verbose, 0),
            plateau=plateau,
            validation=validation,
        )

    return monitor


# ---------------------------------------------------------------- the paths


@dataclass(frozen=True)
class PathTask:
    """A fold's path for one ``l1_ratio``: the fold's ``train`` and
    ``test`` rows, the ``alphas`` (largest first), the Hessian sample's
    ``seed``, the scorer's ``score_params`` (for all the rows),
    ``patience`` (``n_alphas_no_change``) and the callback ``context``."""

    fold: int
    train: Any
    test: Any
    l1_ratio: float
    alphas: Any
    seed: int
    score_params: dict
    patience: int | None
    context: Any


@dataclass
class PathResult:
    """A path's scores, iterations, times and models, one entry per alpha
    (NaN, or 0 iterations, past an early stop)."""

    scores: Any
    n_iter: Any
    fit_time: Any
    score_time: Any
    coefs: Any
    intercepts: Any


def _run(estimator, rows, plan, tasks):
    """The tasks' ``PathResult``s, in order, computed by joblib with
    ``estimator.n_jobs``; with several workers, each one's BLAS gets the
    cores divided among them."""
    n_workers = min(effective_n_jobs(estimator.n_jobs), len(tasks))
    threads = max(1, cpu_count() // n_workers) if n_workers > 1 else None
    scorer = estimator._path_scorer(rows.classes)
    return Parallel(n_jobs=estimator.n_jobs)(
        delayed(_fold_path)(estimator, rows, plan, scorer, task, threads)
        for task in tasks
    )


def _with_labels(scorer, classes):
    """``scorer`` told every class where its metric takes ``labels`` (and,
    for two classes, the positive one where it takes ``pos_label``): a
    fold's held-out rows may lack a class. As ``LogisticRegressionCV``."""
    metric = getattr(scorer, "_score_func", None)
    if metric is None or "labels" not in inspect.signature(metric).parameters:
        return scorer
    kwargs = dict(getattr(scorer, "_kwargs", {}), labels=classes)
    if classes.shape[0] == 2 and "pos_label" in inspect.signature(metric).parameters:
        kwargs["pos_label"] = classes[-1]
    return make_scorer(
        metric,
        greater_is_better=scorer._sign == 1,
        response_method=scorer._response_method,
        **kwargs,
    )


def _fold_path(estimator, rows, plan, scorer, task, threads):
    """One task: the fold's training rows taken once, their problem
    prepared, its path solved and scored (``_walk``)."""
    limits = nullcontext() if threads is None else threadpool_limits(threads, "blas")
    with limits:
        taken = rows.data.take(task.train)
        train_rows = TrainingRows(
            taken, rows.classes, taken.X, _take(rows.y, task.train), taken.w
        )
        problem = _fitting.problem_of(estimator, train_rows, seed=task.seed)
        held_out = HeldOut(
            X=_take(rows.X, task.test),
            y=_take(rows.y, task.test),
            index=_take(rows.data.y, task.test),
            weights=_take(rows.data.w, task.test),
            params=_check_method_params(rows.X, task.score_params, task.test),
        )
        return _walk(estimator, problem, plan, scorer, task, held_out)


def _walk(estimator, problem, plan, scorer, task, held_out):
    """The path of ``task`` on ``problem``: each alpha solved from the last
    solution and scored on the fold's ``held_out`` rows (``score``),
    until the end of the grid, an early stop (``task.patience``) or a
    callback's request."""
    n_alphas = task.alphas.shape[0]
    scores, n_iter = np.full(n_alphas, np.nan), np.zeros(n_alphas, dtype=int)
    fit_time, score_time = np.full(n_alphas, np.nan), np.full(n_alphas, np.nan)
    fit_args = _fit_args(estimator, problem)
    task.context.call_on_fit_task_begin(**fit_args)
    start, models, best, since_best = None, [], -np.inf, 0
    for j, alpha in enumerate(task.alphas):
        context = task.context.subcontext(task_name="alpha", max_subtasks=plan.max_iter)
        context.call_on_fit_task_begin(**fit_args)
        step = plan.with_penalty(float(alpha), task.l1_ratio).for_data(
            problem.n_classes
        )
        begin = time.perf_counter()
        monitor = _monitor(context, fit_args, estimator.verbose - 1)
        result = problem.solve(step, monitor, start=start)
        fit_time[j], begin = time.perf_counter() - begin, time.perf_counter()
        start, n_iter[j] = result.P, result.n_iter
        models.append(result.attributes)
        scores[j] = score(scorer, _model(result.attributes, estimator), held_out)
        score_time[j] = time.perf_counter() - begin
        stop = context.call_on_fit_task_end(
            **fit_args, reconstruction_attributes=result.attributes
        )
        if estimator.verbose > 0:
            _report(task, j, result.n_iter, scores[j])
        since_best = 0 if scores[j] > best else since_best + 1
        best = max(best, scores[j])
        if stop or (task.patience is not None and since_best >= task.patience):
            break
    task.context.call_on_fit_task_end(**fit_args)
    coefs, intercepts = _stacked(models, n_alphas, problem.xp)
    return PathResult(scores, n_iter, fit_time, score_time, coefs, intercepts)


@dataclass(frozen=True)
class HeldOut:
    """A fold's held-out rows: ``X``, the labels ``y``, their indices in
    the classes (``index``), the sample ``weights`` (ones if none were
    given), and the ``params`` of scikit-learn's scorer."""

    X: Any
    y: Any
    index: Any
    weights: Any
    params: dict


#: The scores computed from the model's own predictions in ``X``'s
#: namespace and on its device (``score``), as scikit-learn's scorers of
#: these names compute them; scikit-learn's scorers take the predicted
#: probabilities of two classes on the host, and check every label.
NATIVE = ("neg_log_loss", "accuracy")


def score(scorer, model, held_out):
    """The score of ``model`` on ``held_out``: ``scorer`` (the name of a
    ``NATIVE`` score, or scikit-learn's scorer) with the held-out weights
    (or the scorer's ``params``). ``neg_log_loss`` clips the probabilities
    to ``[eps, 1 - eps]`` as ``sklearn.metrics.log_loss`` does."""
    if not isinstance(scorer, str):
        return float(scorer(model, held_out.X, held_out.y, **held_out.params))
    weights = held_out.weights
    if scorer == "accuracy":
        hits = model.predict(held_out.X) == held_out.y
        xp = get_namespace_and_device(weights)[0]
        return float(_average(xp.astype(hits, weights.dtype), weights=weights))
    proba = model.predict_proba(held_out.X)
    xp = get_namespace_and_device(proba)[0]
    eps = float(xp.finfo(proba.dtype).eps)
    p = xp.clip(label_values(proba.T, held_out.index, xp), eps, 1 - eps)
    weights = xp.astype(weights, proba.dtype)
    return -float(_average(-xp.log(p), weights=weights))


def _held_out(estimator, X, y, sample_weight):
    """``score``'s inputs as ``HeldOut`` rows for the fitted ``estimator``:
    the labels on ``X``'s device (as in ``fit``), each one of
    ``classes_``."""
    check_is_fitted(estimator)
    xp, is_array_api, device = get_namespace_and_device(X)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y, sample_weight)
    y, xp_y = labels_on_device(y, xp, device, is_array_api)
    classes = estimator.classes_
    check_known(y, classes, xp_y)
    index = encode_labels(y, classes, xp_y)
    if is_array_api:
        index = move_to(index, xp=xp, device=device)
    dtype = _max_precision_float_dtype(xp, device) if is_array_api else np.float64
    weights = _check_sample_weight(sample_weight, X, dtype=dtype)
    return HeldOut(X=X, y=y, index=index, weights=weights, params={})


def _model(attributes, estimator):
    """A ``SoftmaxGDClassifier`` ready to predict with ``attributes``, for
    the scorer."""
    model = SoftmaxGDClassifier()
    model.__dict__.update(attributes, n_features_in_=estimator.n_features_in_)
    return model


def _stacked(models, n_alphas, xp):
    """The models' ``coef_`` and ``intercept_`` stacked along a first axis
    of ``n_alphas`` entries, NaN past the last model."""
    coefs = xp.stack([m["coef_"] for m in models])
    intercepts = xp.stack([m["intercept_"] for m in models])
    missing = n_alphas - len(models)
    if missing:
        device = get_namespace_and_device(coefs)[2]
        nan = dict(dtype=coefs.dtype, device=device)
        coefs = xp.concat([coefs, xp.full((missing, *coefs.shape[1:]), xp.nan, **nan)])
        intercepts = xp.concat(
            [intercepts, xp.full((missing, *intercepts.shape[1:]), xp.nan, **nan)]
        )
    return coefs, intercepts


def _report(task, j, n_iter, score):
    print(
        f"[SoftmaxGDClassifierCV] fold {task.fold}, l1_ratio={task.l1_ratio:g}, "
        f"alpha={task.alphas[j]:.3g}: {n_iter} iterations, score {score:.6g}"
    )


# ------------------------------------------------------------- the choice


def _choose(scores):
    """The indices ``(l1_ratio, alpha)`` of the best mean score over the
    folds of ``scores`` (n_folds, n_l1_ratios, n_alphas), values that some
    fold did not reach (NaN) left out; the first of equal scores: the
    largest alpha of the first ``l1_ratio``."""
    mean = np.mean(scores, axis=0)
    if np.all(np.isnan(mean)):
        raise ValueError(
            "Every held-out score is NaN: the scorer could not score any model."
        )
    return np.unravel_index(int(np.nanargmax(mean)), mean.shape)


def cv_results(scores, alphas, l1_ratios, fit_time, score_time, n_iter):
    """``cv_results_``: one entry per value ``(l1_ratio, alpha)``, as
    ``GridSearchCV``'s; a value some fold did not reach has a NaN mean and
    the last rank."""
    n_folds, n_l1, n_alphas = scores.shape
    flat = scores.reshape(n_folds, n_l1 * n_alphas)
    l1_column = np.repeat(l1_ratios, n_alphas)
    alpha_column = alphas.ravel()
    mean = flat.mean(axis=0)
    ranked = np.where(np.isnan(mean), -np.inf, mean)
    results = {
        "params": [
            {"alpha": float(a), "l1_ratio": float(r)}
            for r, a in zip(l1_column, alpha_column, strict=True)
        ],
        "param_l1_ratio": l1_column,
        "param_alpha": alpha_column,
    }
    results.update({f"split{k}_test_score": flat[k] for k in range(n_folds)})
    results.update(
        mean_test_score=mean,
        std_test_score=flat.std(axis=0),
        rank_test_score=rankdata(-ranked, method="min").astype(np.int32),
    )
    for name, values in (("fit_time", fit_time), ("score_time", score_time)):
        values = values.reshape(n_folds, -1)
        results[f"mean_{name}"] = values.mean(axis=0)
        results[f"std_{name}"] = values.std(axis=0)
    results["mean_n_iter"] = n_iter.reshape(n_folds, -1).mean(axis=0)
    return results
