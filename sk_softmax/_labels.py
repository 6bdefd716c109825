"""Class labels and training weights, for every backend: the classes of a
fit checked against the labels and the current model, label indices, the
class weights, and the factors that turn sample weights into normalized
training weights (``class_factors``). Everything here works on
per-class totals, a few numbers on the host, so that the in-memory and the
Dask preparations share it (``_backend.normalized``)."""

import math
from numbers import Real

import numpy as np
from sklearn.utils._array_api import (
    _is_numpy_namespace,
    _isin,
    get_namespace,
    move_to,
)
from sklearn.utils._array_api import device as array_device
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import unique_labels


def check_classes(classes_, y, classes, xp, *, incremental, continuing):
    """The classes of this fit, checked against ``y`` and the current
    model's ``classes_`` (None for a first fit); in ``y``'s namespace
    ``xp``. ``y`` holds the labels, or their distinct values."""
    if not incremental:
        classes = unique(y, xp)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {label(classes[0])!r}"
            )
        if continuing and not same_labels(classes, classes_, xp):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as "
                f"in the previous call to fit. Previous classes: "
                f"{classes_}, `y`'s classes: {classes}"
            )
        return classes
    if not continuing:
        if classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        classes = _labels_like(unique_labels(classes), y, xp)
        if classes.shape[0] < 2:
            raise ValueError(f"partial_fit needs at least 2 classes, got {classes!r}")
    else:
        if classes is not None and not same_labels(
            _labels_like(unique_labels(classes), y, xp), classes_, xp
        ):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on the first call to "
                f"partial_fit, was: {classes_!r}"
            )
        classes = _labels_like(classes_, y, xp)  # a stream may change namespace
    check_known(y, classes, xp)
    return classes


def check_known(y, classes, xp):
    """Raise scikit-learn's ``ValueError`` if ``y`` has a label that is not
    one of ``classes`` (a fitted model's ``classes_``)."""
    present = unique(y, xp)
    unknown = present[~_isin(present, classes, xp)]
    if unknown.shape[0]:
        raise ValueError(
            f"`y` has classes not in `self.classes_`: {unknown!r}; "
            f"`self.classes_` is {classes!r}, the classes the model was "
            "fitted on."
        )


def label(value):
    """A class label as a Python value, for messages: ``1``, not
    ``np.int64(1)``."""
    return value.item() if hasattr(value, "item") else value


def unique(y, xp):
    return np.unique(y) if _is_numpy_namespace(xp) else xp.unique_values(y)


def _labels_like(labels, y, xp):
    """Class labels (from ``unique_labels``, or a fitted ``classes_``) in
    ``y``'s namespace and on its device."""
    if _is_numpy_namespace(xp):
        if not isinstance(labels, np.ndarray):
            labels = move_to(labels, xp=np, device="cpu")
        return labels
    if get_namespace(labels)[0] is xp and array_device(labels) == array_device(y):
        return labels
    return move_to(labels, xp=xp, device=array_device(y))


def same_labels(a, b, xp):
    if _is_numpy_namespace(xp):
        return np.array_equal(a, b)
    b = move_to(b, xp=xp, device=array_device(a))
    return a.shape == b.shape and bool(xp.all(a == b))


def encode_labels(y, classes, xp=np):
    """The label indices of ``y`` in the sorted ``classes`` (``xp``: their
    namespace). Boolean labels, whose two classes are ``[False, True]``, are
    their own indices (array-API namespaces have no ``searchsorted`` of
    booleans)."""
    if _is_numpy_namespace(xp):
        return np.searchsorted(classes, y)
    if xp.isdtype(classes.dtype, "bool"):
        return xp.astype(y, xp.int64)
    return xp.searchsorted(classes, y)


def labels_on_device(y, xp, device, is_array_api):
    """``y`` on ``X``'s namespace and device (``xp``, ``device``) when array
    API dispatch is on and its labels are numbers; strings and objects stay
    in numpy, as do all labels without dispatch. Returns ``(y, y's
    namespace)``."""
    on_host = isinstance(y, np.ndarray) and y.dtype.kind in "OUSb"
    if is_array_api and not on_host:
        y = move_to(y, xp=xp, device=device)
    return y, get_namespace(y)[0]


def class_weights(class_weight, classes, totals, *, incremental):
    """The weight of each class (a numpy array aligned with ``classes``), or
    None; ``totals`` holds each class's total sample weight (for
    "balanced", which is ``sum(totals) / (K * totals)``, as scikit-learn's
    ``compute_class_weight`` with sample weights).

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
        empty = [k for k, total in enumerate(totals) if not total > 0]
        if empty:
            raise ValueError(
                f"class_weight='balanced' needs every class to have a positive "
                f"total sample weight; class {label(classes[empty[0]])!r} has none "
                "(its samples all have zero sample_weight)."
            )
        totals = np.asarray(totals, dtype=np.float64)
        return totals.sum() / (totals.shape[0] * totals)
    for key, value in class_weight.items():
        if not (isinstance(value, Real) and math.isfinite(value) and value >= 0):
            raise ValueError(
                f"class_weight must map each class to a finite non-negative "
                f"number; got {value!r} for class {key!r}."
            )
    if not isinstance(classes, np.ndarray):
        classes = move_to(classes, xp=np, device="cpu")
    return compute_class_weight(class_weight, classes=classes, y=classes)


def class_factors(totals, weight_of_class):
    """The factor of each class by which the sample weights are multiplied
    before they are normalized: the class weights (``weight_of_class``;
    None: ones), divided by their largest value where their products with
    the class ``totals`` (each class's total sample weight) sum past the
    largest float. Raises if those products sum to zero."""
    totals = np.asarray(totals, dtype=np.float64)
    factor = np.ones_like(totals) if weight_of_class is None else weight_of_class
    factor = np.asarray(factor, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(totals * factor))
        if not math.isfinite(total) and factor.max() > 0:
            factor = factor / factor.max()
            total = float(np.sum(totals * factor))
    if not total > 0:
        raise ValueError(
            "The weights of the training samples (sample_weight times "
            "class_weight) sum to zero."
        )
    return factor
