"""Helpers shared by the hostile-input tests (``tests/test_hostile_*.py``):
small standardized data sets, and the "no half-updated model" check, a
snapshot of everything in the estimator's ``__dict__`` compared after a
call that raised. Public API only: the snapshot reads ``vars(estimator)``
generically, whatever the package keeps there."""

import contextlib
import functools
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

LOADERS = {
    "iris": load_iris,
    "wine": load_wine,
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
}

#: What a divergence error says, and what it tells the user to change (as in
#: tests/test_robustness.py).
DIVERGED = r"(?i)diverg|overflow|non-finite"
WHAT_TO_CHANGE = r"(?i)learning_rate|step|scal"


@functools.cache
def _loaded(name, standardized, n_rows):
    X, y = LOADERS[name](return_X_y=True)
    X, y = X[:n_rows].astype(np.float64), y[:n_rows]
    if standardized:
        X = StandardScaler().fit_transform(X)
    return X, y


def data(name, standardized=True, n_rows=None):
    """A data set (its first ``n_rows`` rows), raw or standardized; fresh
    copies, so that tests may modify them."""
    X, y = _loaded(name, standardized, n_rows)
    return X.copy(), y.copy()


@contextlib.contextmanager
def quiet():
    """Ignore ConvergenceWarning (an error in this suite's settings) where a
    test does not check warnings: short fits stop at max_iter by design."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# --------------------------------------------------- no half-updated model


def _is_torch(value):
    return type(value).__module__.split(".")[0] == "torch"


def _is_strict(value):
    return type(value).__module__.split(".")[0] == "array_api_strict"


def _copy(value):
    """A copy of ``value`` deep enough to see any later change: arrays of
    every namespace copied, containers recursed into, other objects kept
    (compared by identity or equality)."""
    if isinstance(value, np.ndarray) or sp.issparse(value):
        return value.copy()
    if _is_torch(value) and hasattr(value, "detach"):
        return value.detach().clone()
    if _is_strict(value):
        import array_api_strict

        return array_api_strict.asarray(value, copy=True)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy(v) for v in value)
    return value


def as_numpy(value):
    if _is_torch(value):
        return value.detach().cpu().numpy()
    if _is_strict(value):
        import array_api_strict

        return np.asarray(array_api_strict.asarray(value, device=value.device))
    return value


def _assert_same(before, after, where):
    assert type(after) is type(before), f"{where}: {type(before)} -> {type(after)}"
    if sp.issparse(before):
        assert before.shape == after.shape and (before != after).nnz == 0, where
    elif isinstance(before, np.ndarray) or _is_torch(before) or _is_strict(before):
        assert before.shape == after.shape, where
        assert before.dtype == after.dtype, where
        if _is_torch(before):
            assert before.device == after.device, where
        np.testing.assert_array_equal(as_numpy(after), as_numpy(before), err_msg=where)
    elif isinstance(before, dict):
        assert set(before) == set(after), f"{where}: keys {set(before) ^ set(after)}"
        for key in before:
            _assert_same(before[key], after[key], f"{where}.{key}")
    elif isinstance(before, list | tuple):
        assert len(before) == len(after), where
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            _assert_same(b, a, f"{where}[{i}]")
    elif isinstance(before, float) and before != before:  # NaN
        assert after != after, where
    else:
        assert after is before or after == before, f"{where}: {before!r} -> {after!r}"


def snapshot(estimator):
    """Everything in ``estimator.__dict__``, copied."""
    return _copy(dict(vars(estimator)))


def assert_unchanged(estimator, before):
    """``estimator.__dict__`` is what ``snapshot`` saw: same keys, same
    values (arrays of the same type, dtype, device and values)."""
    _assert_same(before, dict(vars(estimator)), type(estimator).__name__)


def call_atomic(estimator, method, *args, **kwargs):
    """``estimator.<method>(*args, **kwargs)``; if it raises, check first
    that the estimator is exactly as it was before the call, then re-raise."""
    before = snapshot(estimator)
    try:
        return getattr(estimator, method)(*args, **kwargs)
    except BaseException:
        assert_unchanged(estimator, before)
        raise


def assert_finite_model(clf):
    """A fitted model that can be used: finite parameters and loss curve,
    probabilities that sum to one."""
    coef, intercept = as_numpy(clf.coef_), as_numpy(clf.intercept_)
    assert np.all(np.isfinite(coef)), coef
    assert np.all(np.isfinite(intercept)), intercept
    assert all(np.isfinite(value) for value in clf.loss_curve_), clf.loss_curve_
