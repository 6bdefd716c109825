"""Array API support: scikit-learn's array-API checks, agreement with the
numpy model on every namespace, outputs in X's namespace and on its device,
and no device-to-host transfer per iteration.

These tests need ``array-api-strict`` and ``torch`` (the ``array-api``
extra). Without them they skip; CI installs both and runs them with
``--no-skips`` (conftest.py), where a skip fails. Combinations on CUDA are
added where a GPU is available.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._array_api import (
    NamespaceAndDevice,
    _convert_to_numpy,
    get_namespace_and_device,
)
from sklearn.utils._testing import _array_api_for_tests
from sklearn.utils.estimator_checks import (
    check_array_api_input_and_values,
    check_array_api_mixed_inputs,
    check_array_api_same_namespace,
)

from sk_softmax import SoftmaxGDClassifier

array_api_strict = pytest.importorskip(
    "array_api_strict", reason="the array-api extra's array-api-strict is not installed"
)
torch = pytest.importorskip(
    "torch", reason="the array-api extra's torch is not installed"
)

COMBINATIONS = [
    ("array_api_strict", "CPU_DEVICE", "float64"),
    ("array_api_strict", "device1", "float32"),
    ("torch", "cpu", "float32"),
    ("torch", "cpu", "float64"),
]
if torch.cuda.is_available():
    COMBINATIONS += [("torch", "cuda", "float32"), ("torch", "cuda", "float64")]

MIXED = [
    (
        NamespaceAndDevice("torch", "cpu"),
        NamespaceAndDevice("array_api_strict", "device1"),
    ),
    (
        NamespaceAndDevice("array_api_strict", "device1"),
        NamespaceAndDevice("torch", "cpu"),
    ),
    (NamespaceAndDevice("numpy", None), NamespaceAndDevice("torch", "cpu")),
    (NamespaceAndDevice("torch", "cpu"), NamespaceAndDevice("numpy", None)),
]

NAME = "SoftmaxGDClassifier"


def ids(combination):
    return "-".join(str(part) for part in combination)


@pytest.mark.parametrize("combination", COMBINATIONS, ids=ids)
def test_check_array_api_input_and_values(combination):
    namespace, device, dtype = combination
    check_array_api_input_and_values(
        NAME, SoftmaxGDClassifier(), namespace, device_name=device, dtype_name=dtype
    )


@pytest.mark.parametrize("combination", COMBINATIONS, ids=ids)
def test_check_array_api_same_namespace(combination):
    namespace, device, _ = combination
    check_array_api_same_namespace(
        NAME, SoftmaxGDClassifier(), namespace, device_name=device
    )


@pytest.mark.parametrize("X_on, other_on", MIXED, ids=lambda p: f"{p.xp}-{p.device}")
def test_check_array_api_mixed_inputs(X_on, other_on):
    check_array_api_mixed_inputs(
        NAME, SoftmaxGDClassifier(), X_ns_and_device=X_on, other_ns_and_device=other_on
    )


def _data(dtype, n=400, d=8, n_classes=3, seed=0):
    X, y = make_classification(
        n, d, n_informative=5, n_classes=n_classes, random_state=seed
    )
    return StandardScaler().fit_transform(X).astype(dtype), y


def _to(xp, device, *arrays):
    return tuple(xp.asarray(a, device=device) for a in arrays)


def _where(a):
    """``(namespace, device)`` of the array ``a``."""
    with sklearn.config_context(array_api_dispatch=True):
        xp, _, device = get_namespace_and_device(a)
    return xp, device


def _numpy(a):
    return _convert_to_numpy(a, _where(a)[0])


MODES = {
    "newton-cg": {},
    "lbfgs": {"solver": "lbfgs"},
    "fista": {"solver": "fista", "l1_ratio": 0.5},
    # Tight: at the default tol an active-set path stops where float32
    # rounding in another library may have chosen another face.
    "prox-newton": {"solver": "prox-newton", "l1_ratio": 0.5, "tol": 1e-7},
    "float learning_rate": {"learning_rate": 0.5, "max_iter": 20},
    "mini-batch": {"batch_size": 64, "random_state": 0, "max_iter": 8},
    "early stopping": {
        "early_stopping": True,
        "batch_size": 64,
        "random_state": 0,
        "max_iter": 8,
    },
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("combination", COMBINATIONS, ids=ids)
def test_fit_matches_numpy(combination, mode):
    namespace, device_name, dtype = combination
    xp, device = _array_api_for_tests(namespace, device_name, dtype)
    X, y = _data(dtype)
    clf = SoftmaxGDClassifier(alpha=1e-2, **MODES[mode])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = clone(clf).fit(X, y)
        fitted_on, y_on = _to(xp, device, X, y)
        with sklearn.config_context(array_api_dispatch=True):
            fitted = clone(clf).fit(fitted_on, y_on)
    tol = 1e-6 if dtype == "float64" else 1e-4
    for name in ("coef_", "intercept_"):
        value = getattr(fitted, name)
        assert _where(value) == _where(fitted_on)
        assert value.dtype == getattr(xp, dtype)
        np.testing.assert_allclose(
            _numpy(value), getattr(expected, name), rtol=tol, atol=tol
        )
    np.testing.assert_array_equal(_numpy(fitted.classes_), expected.classes_)
    assert fitted.n_iter_ == expected.n_iter_
    if clf.early_stopping:  # the same validation rows, drawn on the device
        np.testing.assert_allclose(
            fitted.validation_scores_, expected.validation_scores_, atol=tol
        )


@pytest.mark.parametrize("combination", COMBINATIONS, ids=ids)
def test_outputs_in_namespace_and_device(combination):
    namespace, device_name, dtype = combination
    xp, device = _array_api_for_tests(namespace, device_name, dtype)
    X, y = _data(dtype, n_classes=2)
    X_xp, y_xp = _to(xp, device, X, y)
    with sklearn.config_context(array_api_dispatch=True):
        clf = SoftmaxGDClassifier().fit(X_xp, y_xp)
        clf.partial_fit(X_xp, y_xp)
        for method in ("predict", "predict_proba", "predict_log_proba"):
            result = getattr(clf, method)(X_xp)
            assert _where(result) == _where(X_xp), method
        scores = clf.decision_function(X_xp)
        assert _where(scores) == _where(X_xp)
        assert scores.dtype == getattr(xp, dtype)
        assert isinstance(clf.score(X_xp, y_xp), float)
    for name in ("coef_", "intercept_", "classes_"):
        assert _where(getattr(clf, name)) == _where(X_xp), name


def test_sparse_input_stays_on_numpy():
    """scipy sparse input keeps working, on the CPU, with dispatch on."""
    X, y = _data("float64")
    X_sparse = sp.csr_array(np.where(np.abs(X) > 0.5, X, 0.0))
    expected = SoftmaxGDClassifier().fit(X_sparse, y)
    with sklearn.config_context(array_api_dispatch=True):
        fitted = SoftmaxGDClassifier().fit(X_sparse, y)
    assert isinstance(fitted.coef_, np.ndarray)
    np.testing.assert_array_equal(fitted.coef_, expected.coef_)


# ------------------------------------------------------------- transfers

TRANSFER_MODES = {
    "newton-cg": {"tol": 0.0, "alpha": 1e-8},
    "prox-newton": {"tol": 0.0, "alpha": 1e-8, "l1_ratio": 0.5},
    "float learning_rate": {"learning_rate": 0.1},
    "mini-batch": {
        "batch_size": 400,
        "random_state": 0,
        "tol": 0.0,
        "n_iter_no_change": 1000,
    },
    "early stopping": {
        "early_stopping": True,
        "batch_size": 400,
        "random_state": 0,
        "tol": 0.0,
        "n_iter_no_change": 1000,
    },
}


class TransferCounter:
    """Counts, on array_api_strict, what moves data off a device: calls of
    ``to_device`` and ``__dlpack__``, and ``asarray`` of an array on another
    device."""

    def __init__(self, monkeypatch):
        self.counts = {"to_device": 0, "__dlpack__": 0, "asarray": 0}
        Array = array_api_strict._array_object.Array
        for name in ("to_device", "__dlpack__"):
            monkeypatch.setattr(Array, name, self._counting(name, getattr(Array, name)))
        asarray = array_api_strict.asarray

        def counted_asarray(obj, *args, device=None, **kwargs):
            if isinstance(obj, Array) and device is not None and obj.device != device:
                self.counts["asarray"] += 1
            return asarray(obj, *args, device=device, **kwargs)

        monkeypatch.setattr(array_api_strict, "asarray", counted_asarray)

    def _counting(self, name, method):
        def counted(*args, **kwargs):
            self.counts[name] += 1
            return method(*args, **kwargs)

        return counted


def count_transfers(params, max_iter, monkeypatch):
    xp = array_api_strict
    device = xp.Device("device1")
    X, y = _data("float64", n=2400, d=10, n_classes=3)
    X_xp, y_xp = _to(xp, device, X, y)
    clf = SoftmaxGDClassifier(max_iter=max_iter, **params)
    with monkeypatch.context() as patch:
        counter = TransferCounter(patch)
        with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_xp, y_xp)
    return counter.counts, clf.n_iter_


@pytest.mark.parametrize("mode", TRANSFER_MODES)
def test_no_transfer_per_iteration(mode, monkeypatch):
    """A fit moves data off the device a fixed number of times, not once
    per iteration (epoch)."""
    few, n_few = count_transfers(TRANSFER_MODES[mode], 3, monkeypatch)
    many, n_many = count_transfers(TRANSFER_MODES[mode], 30, monkeypatch)
    print(f"{mode}: {n_few} iterations {few}; {n_many} iterations {many}")
    assert n_few == 3 and n_many > 3 * n_few
    assert many == few


def test_transfer_counter_counts(monkeypatch):
    """The counter of ``test_no_transfer_per_iteration`` sees transfers."""
    xp = array_api_strict
    a = xp.asarray([1.0, 2.0], device=xp.Device("device1"))
    counter = TransferCounter(monkeypatch)
    a.to_device(xp.Device("CPU_DEVICE"))
    xp.asarray(a, device=xp.Device("CPU_DEVICE"))
    assert counter.counts == {"to_device": 1, "__dlpack__": 0, "asarray": 1}


def test_readme_gpu_example_runs(capsys):
    """The example of README.md's "On a GPU" section runs as written (on
    torch's CPU here, on CUDA where there is one)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## On a GPU", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md (On a GPU)", "exec"), {})
    score, device, dtype = capsys.readouterr().out.split()
    assert float(score) > 0.5 and dtype == "torch.float32"
