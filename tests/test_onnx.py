"""ONNX export (sk_softmax.onnx): onnxruntime must give predict's labels and
predict_proba's probabilities, in float32, for binary and multiclass models."""

import subprocess
import sys

import numpy as np
import onnxruntime as rt
import pytest
from scipy.special import expit
from skl2onnx import to_onnx
from sklearn.datasets import load_iris, make_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sk_softmax.onnx  # noqa: F401  (registers the converter)
from sk_softmax import SoftmaxGDClassifier

ATOL = 1e-5


def _run(model, X, **options):
    """Convert ``model`` and run it on ``X`` (float32): labels, probabilities
    (columns in ``classes_`` order, whatever the zipmap option)."""
    onx = to_onnx(model, X[:1], options=options or None)
    session = rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    labels, proba = outputs[0], outputs[1]
    if options.get("zipmap", True) is True:
        classes = model.classes_
        assert isinstance(proba, list) and isinstance(proba[0], dict)
        proba = np.array([[row[c] for c in classes] for row in proba])
    return labels, np.asarray(proba)


def _noisy(n_classes, seed=0):
    """Overlapping classes, so that the probabilities are far from 0 and 1 and
    a wrong link (e.g. sigmoid(2 z) for sigmoid(z)) shows."""
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        flip_y=0.2,
        class_sep=0.5,
        random_state=seed,
    )
    return X.astype(np.float32), y


def _check(model, X, **options):
    labels, proba = _run(model, X, **options)
    expected = model.predict_proba(X)
    assert proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(labels, model.predict(X))
    return labels, proba


@pytest.mark.parametrize("zipmap", [True, False])
def test_binary_probabilities_are_one_minus_sigmoid_and_sigmoid(zipmap):
    X, y = _noisy(2)
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    assert clf.coef_.shape == (1, X.shape[1])
    _, proba = _check(clf, X, zipmap=zipmap)
    z = clf.decision_function(X).astype(np.float64)
    np.testing.assert_allclose(proba[:, 1], expit(z), atol=ATOL)
    np.testing.assert_allclose(proba[:, 0], 1 - expit(z), atol=ATOL)
    # The data are noisy enough that sigmoid(2 z), what skl2onnx's generic
    # linear-classifier converter gives for a one-row coef_, would be caught.
    assert np.abs(expit(2 * z) - expit(z)).max() > 100 * ATOL


@pytest.mark.parametrize("zipmap", [True, False])
def test_multiclass(zipmap):
    X, y = _noisy(4)
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    assert clf.coef_.shape == (4, X.shape[1])
    _check(clf, X, zipmap=zipmap)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("zipmap", [True, False])
def test_string_labels(n_classes, zipmap):
    X, y = _noisy(n_classes, seed=1)
    names = np.array(["cat", "dog", "emu"])[y]
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, names)
    labels, _ = _check(clf, X, zipmap=zipmap)
    assert set(labels) <= set(clf.classes_)
    assert len(set(labels)) == n_classes


@pytest.mark.parametrize("n_classes", [2, 3])
def test_non_contiguous_integer_labels(n_classes):
    X, y = _noisy(n_classes, seed=2)
    labels = np.array([-3, 7, 40])[y]
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, labels)
    out, _ = _check(clf, X, zipmap=False)
    assert out.dtype == np.int64


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("zipmap", [True, False])
def test_without_intercept(n_classes, zipmap):
    X, y = _noisy(n_classes, seed=3)
    X = X + 1.0  # an intercept would matter: the data are not centred
    clf = SoftmaxGDClassifier(alpha=1e-2, fit_intercept=False).fit(X, y)
    assert np.all(clf.intercept_ == 0)
    _check(clf, X, zipmap=zipmap)


def test_zipmap_columns_and_nocl():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, np.array(["a", "b", "c"])[y])
    onx = to_onnx(clf, X[:1], options={"zipmap": "columns"})
    session = rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    labels, *columns = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(
        np.stack(columns, axis=1), clf.predict_proba(X), atol=ATOL
    )

    labels, proba = _run(clf, X, zipmap=False, nocl=True)
    np.testing.assert_array_equal(labels, np.searchsorted(clf.classes_, clf.predict(X)))
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=ATOL)


def test_float32_fit_and_pipeline():
    X, y = _noisy(3, seed=4)
    X = 50.0 * X + 3.0  # badly scaled: the scaler has work to do
    pipe = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-2))
    pipe.fit(X, y)
    assert pipe[-1].coef_.dtype == np.float32
    _check(pipe, X, zipmap=False)


def test_integer_valued_float_labels_are_exported_as_int64():
    X, y = _noisy(3, seed=5)
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y + 1.0)
    assert clf.classes_.dtype.kind == "f"
    labels, _ = _check(clf, X, zipmap=False)
    assert labels.dtype == np.int64


def test_import_sk_softmax_does_not_import_skl2onnx():
    # The ONNX dependencies are an optional extra: only ``import
    # sk_softmax.onnx`` may load them (a fresh interpreter, since this test
    # module has imported them already).
    code = (
        "import sys, sk_softmax; "
        "assert 'skl2onnx' not in sys.modules and 'onnx' not in sys.modules; "
        "import sk_softmax.onnx; assert 'skl2onnx' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
