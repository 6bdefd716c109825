"""The first step of a fit: everything it needs, checked with
scikit-learn's error types and messages that say what to change: the
validated data, the classes and label indices, the training weights, the
early-stopping split, the objective and its start point, and the step
schedule and plateau policy."""

import math
import sys
from numbers import Real
from types import SimpleNamespace

import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._array_api import get_namespace
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._backend import ArrayBackend
from ._monitor import ValidationSet
from ._objective import SoftmaxObjective
from ._optimizers import PlateauStopping, StepSchedule


def check_classes(estimator, y, classes, *, incremental, continuing):
    """The classes of this fit, checked against ``y`` and the current model."""
    if not incremental:
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {classes[0]!r}"
            )
        if continuing and not np.array_equal(classes, estimator.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as "
                f"in the previous call to fit. Previous classes: "
                f"{estimator.classes_}, `y`'s classes: {classes}"
            )
        return classes
    if not continuing:
        if classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        classes = unique_labels(classes)
        if classes.shape[0] < 2:
            raise ValueError(f"partial_fit needs at least 2 classes, got {classes!r}")
    else:
        if classes is not None and not np.array_equal(
            unique_labels(classes), estimator.classes_
        ):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on the first call to "
                f"partial_fit, was: {estimator.classes_!r}"
            )
        classes = estimator.classes_
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(
            f"`y` has classes not in `self.classes_`: {unknown!r}; "
            f"`self.classes_` is {classes!r}."
        )
    return classes


def encode_labels(y, classes):
    """The label indices of ``y`` in the sorted ``classes``."""
    return np.searchsorted(classes, y)


def class_weights(class_weight, classes, y, y_index, sample_weight, *, incremental):
    """The weight of each class (an array aligned with ``classes``), or None.

    Every value must be a finite non-negative number; "balanced" needs every
    class to have some sample weight, and is not available to
    ``partial_fit``, whose chunks do not have the data's class frequencies.
    """
    if class_weight is None:
        return None
    if class_weight == "balanced":
        if incremental:
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: the "
                "class frequencies of one chunk are not those of the data. Use "
                "compute_class_weight('balanced', classes=classes, y=y) on a "
                "large enough sample of the targets and pass the result as "
                "class_weight."
            )
        totals = np.bincount(y_index, weights=sample_weight, minlength=len(classes))
        empty = classes[totals == 0]
        if empty.size:
            raise ValueError(
                f"class_weight='balanced' needs every class to have a positive "
                f"total sample weight; class {empty[0]!r} has none (its samples "
                "all have zero sample_weight)."
            )
        return compute_class_weight(
            "balanced", classes=classes, y=y, sample_weight=sample_weight
        )
    for label, value in class_weight.items():
        valid = isinstance(value, Real) and not isinstance(value, bool)
        if not (valid and math.isfinite(value) and value >= 0):
            raise ValueError(
                f"class_weight must map each class to a finite non-negative "
                f"number; got {value!r} for class {label!r}."
            )
    return compute_class_weight(class_weight, classes=classes, y=y)


def normalized_weights(sample_weight, weight_of_class, y_index):
    """``s / sum(s)`` with ``s_i = sample_weight[i] * weight_of_class[y_i]``
    (``weight_of_class`` None: 1). Where that sum overflows (weights near
    the largest float), each factor is first divided by its largest value,
    so that such weights give the model of uniform weights. Raises if ``s``
    sums to zero."""
    s = sample_weight
    if weight_of_class is not None:
        s = s * weight_of_class.astype(s.dtype)[y_index]
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(s.sum())
    if not math.isfinite(total):
        s = _divided_by_max(sample_weight)
        if weight_of_class is not None:
            s = s * _divided_by_max(weight_of_class.astype(s.dtype))[y_index]
        total = float(s.sum())
    if not total > 0:
        raise ValueError(
            "The weights of the training samples (sample_weight times "
            "class_weight) sum to zero."
        )
    return s / total


def _divided_by_max(a):
    largest = a.max() if a.size else 0
    return a / largest if largest > 0 else a


def validation_split(y_index, fraction, rng):
    """Stratified ``(train_rows, validation_rows)`` for early stopping, the
    training rows sorted."""
    train_rows, val_rows = next(
        StratifiedShuffleSplit(test_size=fraction, random_state=rng).split(
            np.zeros((y_index.shape[0], 1)), y_index
        )
    )
    train_rows.sort()
    return train_rows, val_rows


def is_dask(*arrays):
    """Whether any of ``arrays`` is a Dask collection (never imports Dask:
    without it in ``sys.modules``, none can be)."""
    if sys.modules.get("dask") is None:  # not imported, or blocked
        return False
    import dask

    return any(dask.is_dask_collection(a) for a in arrays)


def prepare(estimator, X, y, sample_weight, classes, incremental):
    """The fit's inputs, as a namespace: validate the data, encode the labels, weigh the samples, split off
    the validation rows, and build the objective and the start point."""
    continuing = hasattr(estimator, "coef_") and (incremental or estimator.warm_start)
    xp, _ = get_namespace(X)
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=["csr", "csc"],
        dtype=[np.float64, np.float32],
        reset=not (incremental and continuing),
    )
    check_classification_targets(y)
    if continuing and estimator.coef_.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model to continue from "
            f"(warm_start) was fitted with {estimator.coef_.shape[1]} features."
        )
    classes = check_classes(
        estimator, y, classes, incremental=incremental, continuing=continuing
    )
    y_index = encode_labels(y, classes)
    rng = check_random_state(estimator.random_state)
    weights = _check_sample_weight(
        sample_weight, X, dtype=X.dtype, ensure_non_negative=True
    )
    class_weight = class_weights(
        estimator.class_weight, classes, y, y_index, weights, incremental=incremental
    )
    s = normalized_weights(weights, class_weight, y_index)
    train_rows, validation = np.arange(X.shape[0]), None
    if estimator.early_stopping and not incremental:
        train_rows, val_rows = validation_split(
            y_index, estimator.validation_fraction, rng
        )
        validation = _validation_set(estimator, X, y_index, weights, val_rows, xp)
        s = s.copy()
        s[val_rows] = 0.0  # the validation rows leave the objective, X stays
        s = normalized_weights(s, None, y_index)
    objective = SoftmaxObjective(
        ArrayBackend(X, y_index, s, classes.shape[0], xp),
        alpha=estimator.alpha,
        l1_ratio=estimator.l1_ratio,
        fit_intercept=estimator.fit_intercept,
    )
    P = estimator._parameters(objective) if continuing else objective.zeros()
    stochastic = (
        incremental
        or estimator.batch_size is not None
        or estimator.learning_rate in ("constant", "invscaling", "adaptive")
    )
    max_iter = 1 if incremental else estimator.max_iter
    return SimpleNamespace(
        X=X,
        y=y,
        xp=xp,
        classes=classes,
        weights=weights,
        objective=objective,
        P=P,
        train_rows=train_rows,
        validation=validation,
        rng=rng,
        continuing=continuing,
        incremental=incremental,
        stochastic=stochastic,
        max_iter=max_iter,
    )


def _validation_set(estimator, X, y_index, weights, rows, xp):
    """The held-out rows, scored with their sample weights."""
    n_classes = int(y_index.max()) + 1
    data = ArrayBackend(X, y_index, weights / weights.max(), n_classes, xp)
    data = data.take(rows)
    if not float(data.w.sum()) > 0:
        raise ValueError(
            "The sample weights for validation set are all zero, consider "
            "using a different random state or validation_fraction."
        )
    return ValidationSet(data, estimator.fit_intercept)


def optimizer(estimator, fit):
    """The step schedule (mini-batch) and the plateau policy (mini-batch
    or early stopping) of this fit; ``partial_fit`` continues the
    previous call's, kept as plain numbers in ``_optimizer_state``."""
    schedule = None
    saved = getattr(estimator, "_optimizer_state", None)
    resume = fit.incremental and fit.continuing and saved is not None
    if fit.stochastic:
        if resume:
            schedule = StepSchedule.from_state(saved["schedule"])
        else:
            schedule = _new_schedule(estimator, fit)
    if not (fit.stochastic or estimator.early_stopping):
        return schedule, None
    plateau = PlateauStopping(
        estimator.n_iter_no_change,
        estimator.tol,
        schedule,
        shrink=not (estimator.early_stopping and estimator.learning_rate == "auto"),
        act=not fit.incremental,
        state=saved["plateau"] if resume else None,
    )
    return schedule, plateau


def _new_schedule(estimator, fit):
    """A step schedule from ``1 / L_B``, the data's curvature at the
    start point, or from the float ``learning_rate``."""
    if not isinstance(estimator.learning_rate, str):
        return StepSchedule(
            "constant", float(estimator.learning_rate), estimator.power_t
        )
    kind = "adaptive" if estimator.learning_rate == "auto" else estimator.learning_rate
    L = fit.objective.smoothness(fit.P, batch_size(estimator, fit), fit.rng)
    if L == 0.0:  # X is zero, no intercept, no penalty: J is constant
        L = 1.0
    if not np.isfinite(L):
        raise ValueError(
            "The curvature of the objective overflows floating point: the "
            "features are too large. Scale the data (e.g. with StandardScaler)."
        )
    return StepSchedule(kind, 1.0 / L, estimator.power_t)


def batch_size(estimator, fit):
    return min(estimator.batch_size or fit.X.shape[0], fit.train_rows.shape[0])


def seed(estimator, rng):
    """The seed of the Hessian sample: ``random_state``'s, or 0, so that
    a full-batch fit is deterministic whatever ``random_state``."""
    if estimator.random_state is None:
        return 0
    return int(rng.randint(np.iinfo(np.int32).max))
