"""The fit, between the estimator (``_classifier.py``) and the solvers.

``prepare`` turns a fit's inputs into a ``Problem``: the training rows on
their backend (``_inputs.read``), checked against the model a fit
continues, with the normalized training weights (``_backend.normalized``)
and the early-stopping split. A problem is prepared once and solved for
any penalty ``(alpha, l1_ratio)`` from any start (``Problem.solve``): the
full-batch solvers (``_solvers``) or the mini-batch epochs (``_sgd``),
both run by ``_solvers.drive`` and reported by a ``_monitor.FitMonitor``.
A solve returns a ``FitResult``; only the estimator sets attributes.
"""

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.model_selection._split import _validate_shuffle_split
from sklearn.utils import check_random_state
from sklearn.utils._array_api import (
    _is_numpy_namespace,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from sklearn.utils.extmath import _approximate_mode

from . import _backend, _inputs
from ._backend import ArrayBackend
from ._monitor import ValidationSet
from ._objective import LogisticObjective, SoftmaxObjective, softmax_parameters
from ._optimizers import PlateauStopping, StepSchedule
from ._sgd import stochastic_gradient
from ._solvers import EXPLODING, DivergenceError, check_finite, drive, minimize
from ._solvers._driver import divergence_message


@dataclass
class Problem:
    """A prepared fit: everything that does not depend on the penalty.

    ``data``: the training rows on their backend, with the normalized
    training weights (the validation rows weigh zero); ``classes``;
    ``X``, ``y``, ``sample_weight``: the validated inputs, for the
    callbacks; ``train_rows``: the rows the mini-batch epochs visit (None:
    all); ``validation``: the early-stopping rows (None without early
    stopping); ``rng``: the fit's random state.
    """

    data: Any
    classes: Any
    X: Any
    y: Any
    sample_weight: Any
    rng: Any
    random_state: Any = None
    train_rows: Any = None
    validation: Any = None
    _seed: Any = field(default=None, repr=False)
    _null_gradients: dict = field(default_factory=dict, repr=False)
    _scales: dict = field(default_factory=dict, repr=False)

    @property
    def xp(self):
        return self.data.xp

    @property
    def n_classes(self):
        return self.data.n_classes

    def seed(self):
        """The seed of the Hessian sample: ``random_state``'s, or 0, so
        that a full-batch fit is deterministic whatever ``random_state``;
        drawn on first use, the same for every later solve."""
        if self._seed is None:
            self._seed = seed(self.random_state, self.rng)
        return self._seed

    def scale(self, objective):
        """The optimality of ``objective`` at the null model, the scale of
        a warm start's stopping test. The smooth gradient there is the same
        for every penalty (the L2 part's is zero): computed once per form
        of the objective (softmax or binary) and kept, for a problem solved
        along a path."""
        form = (type(objective), objective.fit_intercept)
        if form not in self._null_gradients:
            zeros = objective.zeros()
            self._null_gradients[form] = objective.smooth_value_and_gradient(zeros)[1]
        return objective.optimality(objective.zeros(), self._null_gradients[form])

    def objective(self, plan):
        """The objective of ``plan``'s penalty on these rows: the one-row
        logistic form when ``plan.binary``."""
        kind = LogisticObjective if plan.binary else SoftmaxObjective
        return kind(
            self.data,
            alpha=plan.alpha,
            l1_ratio=plan.l1_ratio,
            fit_intercept=plan.fit_intercept,
            scales=self._scales.get(plan.fit_intercept),
        )

    def attributes(self, objective, P):
        """``classes_``, ``coef_`` and ``intercept_`` of the parameters ``P``
        of ``objective``: what makes a copy of an estimator ready to
        predict, in arrays of their own (a change to them leaves ``P``
        as it is)."""
        xp = self.xp
        W, b = objective.split(P)
        W = xp.asarray(W, copy=True)
        if b is None:
            b = xp.zeros(W.shape[0], dtype=W.dtype, device=_device(W))
        else:
            b = xp.asarray(b, copy=True)
        if W.shape[0] == 2:
            W, b = (W[1, :] - W[0, :])[None, :], xp.reshape(b[1] - b[0], (1,))
        classes = self.classes
        if isinstance(classes, np.ndarray):
            classes = classes.copy()
        else:
            classes = get_namespace(classes)[0].asarray(classes, copy=True)
        return {"classes_": classes, "coef_": W, "intercept_": b}

    def start(self, objective, start=None):
        """The parameter array from which ``objective`` is minimised:
        ``start`` itself (a parameter array of this objective, e.g. the
        solution at the last penalty of a path), the model ``(coef_,
        intercept_)`` of a fitted estimator, moved to this problem's
        namespace and dtype, or the null model for None. Full-batch
        solvers get it in the layout of the products."""
        if start is None:
            return objective.zeros()
        if not isinstance(start, tuple):
            return start
        coef, intercept = start
        xp, dtype = objective.xp, objective.data.dtype
        W = _in_namespace(coef, self.data, dtype)
        b = _in_namespace(intercept, self.data, dtype)
        if objective.n_outputs != W.shape[0]:
            W, b = softmax_parameters(W, b, xp)
        return objective.join(W, b if objective.fit_intercept else None)

    def solve(self, plan, monitor, start=None, saved=None):
        """Minimise the objective of ``plan`` from ``start`` (see
        ``Problem.start``): a ``FitResult``. ``monitor(reconstruct,
        plateau, validation)`` makes the fit's ``FitMonitor``; ``saved`` is
        the mini-batch state a ``partial_fit`` continues (None: none)."""
        objective = self.objective(plan)
        P = self.start(objective, start)

        def reconstruct(P):
            return self.attributes(objective, P)

        if plan.stochastic:
            schedule, plateau = _optimizer(self, plan, objective, P, saved)
            report = monitor(reconstruct, plateau, self.validation)
            result = _stochastic(self, plan, objective, P, schedule, report, saved)
        else:
            schedule, plateau = None, _plateau(plan, None, None)
            report = monitor(reconstruct, plateau, self.validation)
            # The start point replaced by its copy in the products' layout,
            # not kept beside it: on sparse data a parameter array is a
            # fifth of X's bytes.
            P = objective.product_layout(P)
            warm = start is not None
            result = _full_batch(self, plan, objective, P, report, warm)
            # The stopping test's units, from the rows alone: kept for the
            # next solve of this problem (a path).
            self._scales[plan.fit_intercept] = objective.feature_scales()
        del P
        return self._result(plan, objective, result, report, schedule, plateau)

    def _result(self, plan, objective, result, report, schedule, plateau):
        """The ``FitResult`` of a solver's ``result``: checked, warned
        about if short of convergence."""
        P = result.P
        if plan.early_stopping and plateau.best_P is not None:
            P = plateau.best_P  # the best epoch's model, not the last one's
        check_finite(P, self.xp)
        _warn_short_of_convergence(plan, result, objective.data.dtype)
        state = None
        if plan.stochastic:
            state = {
                "schedule": schedule.state(),
                "plateau": plateau.state(),
                "iterate": result.last,
                "parameters": plan.parameters,
            }
        return FitResult(
            P=P,
            attributes=self.attributes(objective, P),
            n_iter=result.n_iter,
            status=result.status,
            loss_curve=report.loss_curve,
            validation_scores=report.validation_scores if plan.early_stopping else None,
            best_validation_score=plateau.best if plan.early_stopping else None,
            optimizer_state=state,
        )


@dataclass(frozen=True)
class FitResult:
    """What a solve gives: the solution ``P`` in its objective's layout (a
    warm start for the next penalty of a path), the fitted ``attributes``
    (``classes_``, ``coef_``, ``intercept_``), ``n_iter``, the solver's
    ``status``, the ``loss_curve``, the early-stopping scores, and the
    mini-batch state that ``partial_fit`` continues (None for full-batch
    fits)."""

    P: Any
    attributes: dict
    n_iter: int
    status: str
    loss_curve: list
    validation_scores: list | None
    best_validation_score: float | None
    optimizer_state: dict | None


def prepare(estimator, X, y, sample_weight, classes, plan):
    """The ``Problem`` of a fit of ``estimator`` following ``plan``: the
    inputs read onto their backend and checked against the model the fit
    continues, the training weights normalized, the early-stopping rows
    split off (by a zero weight: ``X`` stays as it is)."""
    rows = _inputs.read(estimator, X, y, sample_weight, classes, plan)
    if plan.resume:
        check_resumable(estimator.coef_, rows.data.n_features)
    problem = problem_of(estimator, rows, incremental=plan.incremental)
    if plan.early_stopping:
        _split_validation(problem, plan, rows.data)
    return problem


def problem_of(estimator, rows, *, incremental=False, seed=None):
    """The ``Problem`` of a fit of ``estimator`` on rows already read
    (``rows``, a ``_backend.TrainingRows``, e.g. a cross-validation fold's
    training rows): their sample weights normalized over these rows alone
    (``class_weight="balanced"`` from their own class totals). ``seed``:
    the Hessian sample's (None: drawn from ``random_state`` on first use)."""
    data = _backend.normalized(
        rows.data, estimator.class_weight, rows.classes, incremental=incremental
    )
    return Problem(
        data,
        rows.classes,
        rows.X,
        rows.y,
        rows.sample_weight,
        check_random_state(estimator.random_state),
        random_state=estimator.random_state,
        _seed=seed,
    )


def check_resumable(coef, n_features):
    """Raise if a model of coefficients ``coef`` cannot continue on data of
    ``n_features`` features (``warm_start``)."""
    if coef.shape[1] != n_features:
        raise ValueError(
            f"X has {n_features} features, but the model to continue from "
            f"(warm_start) was fitted with {coef.shape[1]} features."
        )


def _split_validation(problem, plan, raw):
    """Hold out a stratified ``validation_fraction`` of ``problem``'s rows
    (in memory) for early stopping: the held-out rows scored with their
    sample weights (``raw``'s), the others renormalized."""
    data, xp = problem.data, problem.xp
    train_rows, val_rows = validation_split(
        data.y, plan.validation_fraction, problem.rng, xp
    )
    held_out = raw.reweighted(np.ones(data.n_classes), float(xp.max(raw.w)))
    held_out = held_out.take(val_rows)
    if not float(xp.sum(held_out.w)) > 0:
        raise ValueError(
            "The sample weights for validation set are all zero, consider "
            "using a different random state or validation_fraction."
        )
    mask = _rows_mask(train_rows, data.n_rows, data.w.dtype, xp, data.device)
    train = ArrayBackend(data.X, data.y, data.w * mask, data.n_classes, xp)
    total = float(xp.sum(train.w))
    if not total > 0:
        raise ValueError(
            "The weights of the training samples (sample_weight times "
            "class_weight) sum to zero."
        )
    problem.data = train.reweighted(np.full(data.n_classes, 1.0 / total))
    problem.train_rows = train_rows
    problem.validation = ValidationSet(held_out, plan.fit_intercept)


def validation_split(y_index, fraction, rng, xp=np):
    """Stratified ``(train_rows, validation_rows)`` for early stopping, the
    training rows sorted: scikit-learn's ``StratifiedShuffleSplit`` on
    numpy; on another namespace the same rows (for the same ``rng``), drawn
    on the labels' device (``_split_on_device``)."""
    if not _is_numpy_namespace(xp):
        split = _split_on_device(y_index, fraction, rng, xp)
        if split is not None:
            return split
        y_index = move_to(y_index, xp=np, device="cpu")  # for its errors
    train_rows, val_rows = next(
        StratifiedShuffleSplit(test_size=fraction, random_state=rng).split(
            np.zeros((y_index.shape[0], 1)), y_index
        )
    )
    train_rows.sort()
    return train_rows, val_rows


def _split_on_device(y_index, fraction, rng, xp):
    """``StratifiedShuffleSplit``'s draw (its ``_iter_indices``) with the
    rows on the device of ``y_index``: only the class counts come to the
    host, and the random permutations, drawn there, go to the device.
    None where scikit-learn raises (a class of one sample, fewer rows than
    classes on a side)."""
    device = getattr(y_index, "device", None)
    n_train, n_test = _validate_shuffle_split(y_index.shape[0], fraction, None)
    n_classes = int(xp.max(y_index)) + 1
    counts = np.array([int(xp.count_nonzero(y_index == k)) for k in range(n_classes)])
    if counts.min() < 2 or min(n_train, n_test) < n_classes:
        return None
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    by_class = xp.argsort(y_index, stable=True)
    starts = np.cumsum(counts) - counts
    train, test = [], []
    for k in range(n_classes):
        permutation = xp.asarray(rng.permutation(counts[k]), device=device)
        rows_k = by_class[int(starts[k]) : int(starts[k] + counts[k])]
        rows_k = xp.take(rows_k, permutation, axis=0)
        train.append(rows_k[: int(n_i[k])])
        test.append(rows_k[int(n_i[k]) : int(n_i[k] + t_i[k])])
    train, test = xp.concat(train), xp.concat(test)
    train = xp.take(train, xp.asarray(rng.permutation(n_train), device=device))
    test = xp.take(test, xp.asarray(rng.permutation(n_test), device=device))
    return xp.sort(train), test


def _rows_mask(rows, n, dtype, xp, device):
    """1 on the sorted ``rows``, 0 elsewhere: an array of ``n`` entries of
    ``dtype`` on ``device``. Rows on the host (numpy) are scattered there
    and copied; rows on a device are looked up there (the standard has no
    scatter)."""
    if isinstance(rows, np.ndarray):
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        return xp.asarray(mask, dtype=dtype, device=device)
    every_row = xp.arange(n, dtype=rows.dtype, device=device)
    found = xp.clip(xp.searchsorted(rows, every_row), max=rows.shape[0] - 1)
    return xp.astype(xp.take(rows, found, axis=0) == every_row, dtype)


def seed(random_state, rng):
    """The seed of the Hessian sample: ``random_state``'s, or 0, so that
    a full-batch fit is deterministic whatever ``random_state``."""
    if random_state is None:
        return 0
    return int(rng.randint(np.iinfo(np.int32).max))


def _in_namespace(a, data, dtype):
    """The fitted array ``a`` (numpy, or another namespace's) in the
    namespace of the backend ``data``, on its device, in ``dtype``: a model
    fitted on numpy continues on a device, and the other way round; a
    sparsified ``coef_`` (``sparsify()``) continues as the dense array."""
    xp = data.xp
    if sp.issparse(a):
        a = a.toarray()
    if _is_numpy_namespace(xp):
        if not isinstance(a, np.ndarray):
            a = move_to(a, xp=np, device="cpu")
        return np.asarray(a, dtype=dtype)
    if get_namespace(a)[0] is not xp or _device(a) != data.device:
        a = move_to(a, xp=xp, device=data.device)
    return xp.astype(a, dtype)


def _device(a):
    return get_namespace_and_device(a)[2]


# ------------------------------------------------------------ full batch


def _full_batch(problem, plan, objective, P, report, warm):
    """The full-batch solver's run from ``P`` (``warm``: not the null
    model)."""
    # The criterion's scale is taken at W = 0, b = 0 (None: at the start
    # point, which is that for a fresh fit).
    scale = problem.scale(objective) if warm else None
    return minimize(
        objective,
        objective.product_layout(P),
        method=plan.method,
        options=plan.options,
        max_iter=plan.max_iter,
        tol=plan.tol,
        scale=scale,
        report=report,
        seed=problem.seed(),
    )


# ------------------------------------------------------------ mini-batch


def _plateau(plan, schedule, saved):
    """The plateau policy of ``plan`` (None without one), continuing
    ``saved``'s counts."""
    rules = plan.plateau
    if rules is None:
        return None
    return PlateauStopping(
        rules.n_iter_no_change,
        rules.tol,
        schedule,
        shrink=rules.shrink,
        act=rules.act,
        state=None if saved is None else saved["plateau"],
    )


def _optimizer(problem, plan, objective, P, saved):
    """The step schedule and plateau policy of a mini-batch fit:
    ``partial_fit`` continues the saved ones (``plan.resume_optimizer``),
    otherwise they are derived from the data at ``P`` (or from the float
    ``learning_rate``)."""
    if plan.resume_optimizer:
        schedule = StepSchedule.from_state(saved["schedule"])
        return schedule, _plateau(plan, schedule, saved)
    if plan.learning_rate is not None:
        schedule = StepSchedule("constant", plan.learning_rate, plan.power_t)
        return schedule, _plateau(plan, schedule, None)
    L = objective.smoothness(P, _batch_size(problem, plan), problem.rng)
    if L == 0.0:  # X is zero, no intercept, no penalty: J is constant
        L = 1.0
    if not np.isfinite(L):
        raise ValueError(
            "The curvature of the objective overflows floating point: the "
            "features are too large. Scale the data (e.g. with StandardScaler)."
        )
    schedule = StepSchedule(plan.schedule, 1.0 / L, plan.power_t)
    return schedule, _plateau(plan, schedule, None)


def _batch_size(problem, plan):
    n_train = problem.data.n_rows
    if problem.train_rows is not None:
        n_train = problem.train_rows.shape[0]
    return min(plan.batch_size or problem.data.n_rows, n_train)


def _stochastic(problem, plan, objective, P, schedule, report, saved):
    """The mini-batch run, continuing the last iterate in ``partial_fit``."""
    if plan.incremental and plan.resume and saved is not None:
        # Continue the previous call's last iterate (coef_ holds the
        # average of the iterates), unless fit_intercept changed.
        if saved["iterate"].shape == P.shape:
            P = _in_namespace(saved["iterate"], problem.data, P.dtype)
    rows = problem.train_rows
    if rows is None:
        rows = np.arange(problem.data.n_rows)
    iterations = stochastic_gradient(
        objective,
        P,
        schedule=schedule,
        batch_size=_batch_size(problem, plan),
        rows=rows,
        shuffle=plan.shuffle,
        rng=problem.rng,
    )
    reference = _value_on_rows(objective, P, plan)
    result = drive(
        iterations,
        P,
        max_iter=plan.max_iter,
        threshold=None,
        report=report,
        reference=reference,
    )
    _check_end(objective, result, reference)
    if report.plateau_stopped and problem.validation is None:
        ratio = _stalled(objective, result.P)
        if ratio > STALLED:
            result.status, result.stalled = "stalled", ratio
    return result


def _value_on_rows(objective, P, plan):
    """What a mini-batch run is compared with to tell a divergence: ``J`` at
    its start point on the rows it visits (a forward pass; ``log K`` at the
    null model), or ``log K`` if larger.

    An epoch's objective is the mean of its batches' along the way, each
    taken before its step. On a stream (one row at a time, noisy labels,
    labels that drift between calls) it may be far above ``log K`` from
    the first batch on without anything going wrong; against the start
    point's value on the same rows, only a run that makes the model worse
    on them (``drive``'s ``ENDED_WORSE``) or blows up (``_check_end``)
    fails."""
    null_model = math.log(objective.n_classes)
    if not plan.resume:
        return null_model
    with np.errstate(over="ignore", invalid="ignore"):
        start = objective.smooth_value(P) + objective.nonsmooth_value(P)
    return max(start, null_model) if math.isfinite(start) else null_model


def _check_end(objective, result, reference):
    """Raise ``DivergenceError`` if the model a mini-batch run ends with is
    not finite on its rows or far worse there than the start
    (``EXPLODING`` times ``reference``): with one batch per call an epoch's
    objective is taken before its only step, and would not show it."""
    if result.n_iter == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        end = objective.smooth_value(result.P) + objective.nonsmooth_value(result.P)
    if not end <= EXPLODING * reference:
        raise DivergenceError(divergence_message(result.n_iter, end, reference))


#: A mini-batch fit stopped by its plateau policy whose scaled gradient is
#: above this share of its value at the null model is far from the optimum:
#: fits that reach the optimum's accuracy stay well below it, those on
#: badly scaled features well above (``benchmarks/HISTORY.md``).
STALLED = 0.25


def _stalled(objective, P):
    """The scaled gradient at ``P`` relative to that at the null model (two
    passes over the data)."""
    at_zero = objective.optimality_at(objective.zeros())
    return objective.optimality_at(P) / at_zero if at_zero > 0 else 0.0


def _warn_short_of_convergence(plan, result, dtype):
    """A ConvergenceWarning for a fit that stopped short of the optimum."""
    status = result.status
    if status == "max_iter" and not plan.incremental:
        warnings.warn(
            f"Maximum number of iterations ({plan.max_iter}) reached before "
            f"convergence (tol={plan.tol}). Consider increasing max_iter, or "
            "scaling the data (e.g. with StandardScaler): badly scaled "
            "features slow every solver down.",
            ConvergenceWarning,
            stacklevel=8,
        )
    elif status == "precision":
        warnings.warn(
            f"The objective cannot be decreased further in {dtype} "
            f"arithmetic before reaching tol={plan.tol}; the model is as "
            "close to the optimum as the precision allows.",
            ConvergenceWarning,
            stacklevel=8,
        )
    elif status == "stalled":
        warnings.warn(
            "The mini-batch fit stopped on a plateau of the training loss with "
            f"its gradient still at {result.stalled:.2g} of its value at the "
            "null model: far from the optimum. Features of very different "
            "scales cause this: standardize them (e.g. with StandardScaler), or "
            "use the full-batch solvers (batch_size=None).",
            ConvergenceWarning,
            stacklevel=8,
        )
