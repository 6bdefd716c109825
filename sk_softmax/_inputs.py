"""Where the data lives, decided once: a fit's inputs read onto the
backend that suits them (``read``), and predictions on Dask input
(``chunkwise``). This is the one module that asks whether data is on Dask
(``is_dask``); the backends themselves are ``_backend.ArrayBackend`` (arrays
in memory, read here by ``read_arrays``) and ``_dask_backend.DaskBackend``
(chunks on Dask workers, read by ``_dask_backend.read``, imported only for
Dask input)."""

import functools
import sys

import numpy as np
from sklearn.utils._array_api import get_namespace_and_device, move_to
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._backend import ArrayBackend, TrainingRows
from ._labels import check_classes, encode_labels, labels_on_device


def is_dask(*arrays):
    """Whether any of ``arrays`` is a Dask collection (never imports Dask:
    without it in ``sys.modules``, none can be)."""
    if sys.modules.get("dask") is None:  # not imported, or blocked
        return False
    import dask

    return any(dask.is_dask_collection(a) for a in arrays)


def read(estimator, X, y, sample_weight, classes, plan):
    """The training rows of a fit (``TrainingRows``), on the backend that
    suits the inputs: ``_dask_backend.read`` for Dask collections, which
    stay on the workers, ``read_arrays`` for arrays in memory."""
    if is_dask(X, y, sample_weight):
        from ._dask_backend import read as read_dask

        return read_dask(estimator, X, y, sample_weight, classes, plan)
    return read_arrays(estimator, X, y, sample_weight, classes, plan)


def read_in_memory(estimator, X, y, sample_weight, plan, dask_message):
    """``read_arrays`` for an estimator that fits arrays in memory only:
    Dask inputs raise a ``TypeError`` with ``dask_message`` (which says
    what to use instead), before anything is computed."""
    if is_dask(X, y, sample_weight):
        raise TypeError(dask_message)
    return read_arrays(estimator, X, y, sample_weight, None, plan)


def chunkwise(method):
    """A prediction method ``method(estimator, X)`` that, for Dask ``X``,
    returns a lazy Dask array computed chunk by chunk
    (``_dask_backend.predict``)."""

    @functools.wraps(method)
    def predict(estimator, X):
        if is_dask(X):
            from ._dask_backend import predict as predict_dask

            return predict_dask(estimator, X, method.__name__)
        return method(estimator, X)

    return predict


def read_arrays(estimator, X, y, sample_weight, classes, plan):
    """``read`` for arrays in memory: ``X`` and ``y`` validated
    (``validate_data``, which sets ``n_features_in_`` and
    ``feature_names_in_`` unless a ``partial_fit`` continues), the classes
    checked against the labels and the model (``plan.resume``), the labels
    encoded, the sample weights checked.

    Everything is in the namespace of ``X`` and on its device (array API
    dispatch), but for string and boolean labels, which stay in numpy."""
    _check_layout(X)
    X, y, sample_weight = (_detached(a) for a in (X, y, sample_weight))
    xp, is_array_api, device = get_namespace_and_device(X)
    dtypes = [xp.float64, xp.float32] if is_array_api else [np.float64, np.float32]
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=["csr", "csc"],
        dtype=dtypes,
        reset=not (plan.incremental and plan.resume),
    )
    check_classification_targets(y)
    y, xp_y = labels_on_device(y, xp, device, is_array_api)
    classes = check_classes(
        getattr(estimator, "classes_", None),
        y,
        classes,
        xp_y,
        incremental=plan.incremental,
        continuing=plan.resume,
    )
    y_index = encode_labels(y, classes, xp_y)
    if is_array_api:
        y_index = move_to(y_index, xp=xp, device=device)
    weights = _check_sample_weight(
        sample_weight, X, dtype=X.dtype, ensure_non_negative=True
    )
    data = ArrayBackend(X, y_index, weights, classes.shape[0], xp)
    return TrainingRows(data, classes, X, y, weights)


def _check_layout(X):
    """Raise scikit-learn's ``TypeError`` for torch's sparse tensors, which
    the array-API passes cannot slice: say what to pass instead."""
    layout = getattr(X, "layout", None)
    if layout is not None and type(X).__module__.startswith("torch"):
        if str(layout) != "torch.strided":
            raise TypeError(
                f"A torch sparse tensor (layout={layout}) was passed, but "
                "sparse input is supported as a scipy.sparse matrix only. "
                "Pass X.to_dense(), or, on the CPU, a scipy.sparse CSR matrix "
                "(e.g. scipy.sparse.csr_matrix(X.to_dense().numpy()))."
            )


def _detached(a):
    """``a`` without its autograd graph (torch's ``requires_grad``): the
    fit's arithmetic is not differentiated, and the fitted attributes are
    plain tensors. No copy is made."""
    if getattr(a, "requires_grad", False) and hasattr(a, "detach"):
        return a.detach()
    return a
