"""Hostile Array API input (issue 29, kind 4), public API only, with
``array_api_dispatch=True`` (``SCIPY_ARRAY_API=1`` is set by conftest.py).

- Boolean labels as torch or array-api-strict arrays fit like numpy
  booleans (today: ``NotImplementedError`` / ``TypeError`` from
  ``searchsorted``).
- ``X`` with ``requires_grad=True``: the fitted attributes are plain
  tensors, detached from autograd, equal to the fit on ``X.detach()``, and
  the model deep-copies and pickles. Chosen over raising: the fit's
  gradients are hand-derived, so an autograd graph through the iterations
  only holds memory, and a fitted attribute with a ``grad_fn`` is not a
  graph leaf, which ``copy.deepcopy`` (hence ``clone`` of a fitted
  meta-estimator's parts, joblib's memory, ...) refuses; scikit-learn's own
  array-API estimators (Ridge, PCA, LinearDiscriminantAnalysis, ...) leak
  the ``grad_fn`` into their fitted attributes and LogisticRegression raises
  a bare RuntimeError: neither is a reference to follow. Predictions on such
  an ``X`` are not constrained (autograd through the fitted linear model
  with respect to ``X`` is legitimate), only their values.
- Torch sparse tensors (COO, CSR, CSC): fit, or scikit-learn's TypeError /
  ValueError saying what to pass (today: a bare ``NotImplementedError`` or
  ``RuntimeError`` from torch's internals).
- ``partial_fit`` streams that move between namespaces (numpy, torch,
  array-api-strict) or dtypes: continue as the all-numpy stream does, or a
  clear ValueError (today: a bare ``TypeError`` / ``AttributeError``).
- Edge arrays (0-d, 1-d, empty, no feature, transposed and strided views,
  integer ``X``, column and two-column ``y``, NaN): what numpy does.

Every call that raises must leave the estimator as it was (``call_atomic``).
"""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest
import sklearn
from _hostile import as_numpy, call_atomic, data, quiet  # tests/_hostile.py
from numpy.testing import assert_allclose, assert_array_equal

from sk_softmax import SoftmaxGDClassifier

torch = pytest.importorskip("torch", reason="the Array API tests need torch")
array_api_strict = pytest.importorskip(
    "array_api_strict", reason="the Array API tests need array-api-strict"
)

NAMESPACES = {
    # name: (module, dtype of X)
    "torch-float64": ("torch", "float64"),
    "torch-float32": ("torch", "float32"),
    "strict-float64": ("array_api_strict", "float64"),
}


def to(namespace, a, dtype=None):
    """The numpy array ``a`` in ``namespace`` ("numpy", "torch",
    "array_api_strict"), with the namespace's ``dtype`` (a name) if given
    (floating arrays only), else ``a``'s."""
    a = np.asarray(a)
    if dtype is not None and a.dtype.kind == "f":
        a = a.astype(dtype)
    if namespace == "numpy":
        return a
    if namespace == "torch":
        return torch.asarray(a)
    return array_api_strict.asarray(a, device=array_api_strict.Device("CPU_DEVICE"))


def namespace_of(a):
    module = type(a).__module__.split(".")[0]
    return {"array_api_strict": "array_api_strict", "torch": "torch"}.get(
        module, "numpy"
    )


def tight(**params):
    """A fit to the optimum of a well-conditioned problem, so that two
    namespaces (the same iterates, rounded otherwise) agree to rounding,
    not to the last step's tolerance."""
    return SoftmaxGDClassifier(
        alpha=1e-2, tol=1e-10, max_iter=500, random_state=0, **params
    )


def dispatch():
    return sklearn.config_context(array_api_dispatch=True)


def tolerance(dtype):
    return 1e-4 if dtype == "float32" else 1e-8


def fit_quietly(clf, *args, **kwargs):
    with quiet():
        return clf.fit(*args, **kwargs)


# ============================================================================
# Boolean labels
# ============================================================================

BOOL_CALLS = ["fit", "fit_weighted", "partial_fit_classes_in_namespace"]
BOOL_CALLS += ["partial_fit_classes_list", "partial_fit_one_class_chunk"]


@pytest.mark.parametrize("call", BOOL_CALLS)
@pytest.mark.parametrize("ns", NAMESPACES)
def test_boolean_labels_fit_like_numpy_booleans(ns, call):
    module, dtype = NAMESPACES[ns]
    X, y = data("iris")
    X = X.astype(dtype)
    y = y > 0
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y)).astype(dtype)
    expected, clf = tight(batch_size=32), tight(batch_size=32)
    X_ns, y_ns = to(module, X), to(module, y)
    if call.startswith("fit"):
        expected.set_params(batch_size=None)
        clf.set_params(batch_size=None)
        kwargs = {"sample_weight": w} if call == "fit_weighted" else {}
        fit_quietly(expected, X, y, **kwargs)
        if kwargs:
            kwargs = {"sample_weight": to(module, w)}
        with dispatch(), quiet():
            call_atomic(clf, "fit", X_ns, y_ns, **kwargs)
    else:
        classes = np.array([False, True])
        rows = slice(None)
        if call == "partial_fit_one_class_chunk":  # only True in the chunk
            rows = y
        expected.partial_fit(X[rows], y[rows], classes=classes)
        ns_classes = {
            "partial_fit_classes_in_namespace": to(module, classes),
            "partial_fit_classes_list": [False, True],
            "partial_fit_one_class_chunk": [False, True],
        }[call]
        with dispatch():
            call_atomic(
                clf, "partial_fit", to(module, X[rows]), to(module, y[rows]), ns_classes
            )
    assert_array_equal(as_numpy(clf.classes_), [False, True])
    assert_allclose(as_numpy(clf.coef_), expected.coef_, atol=tolerance(dtype))
    with dispatch():
        predicted = as_numpy(clf.predict(X_ns))
    assert predicted.dtype == np.bool_
    assert np.mean(predicted == expected.predict(X)) >= 0.99


# ============================================================================
# X with requires_grad=True
# ============================================================================

GRAD_MODES = {
    "newton-cg": {},
    "lbfgs": {"solver": "lbfgs"},
    "fista": {"solver": "fista", "l1_ratio": 0.5},
    "float learning_rate": {"learning_rate": 0.5, "max_iter": 20},
    "mini-batch": {"batch_size": 32, "random_state": 0, "max_iter": 5},
    "early stopping": {
        "early_stopping": True,
        "batch_size": 32,
        "random_state": 0,
        "max_iter": 5,
    },
    "partial_fit": {"batch_size": 32, "random_state": 0},
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("mode", GRAD_MODES)
def test_requires_grad_X_gives_plain_fitted_tensors(mode, weighted):
    X, y = data("iris")
    X_plain, y_t = torch.asarray(X), torch.asarray(y)
    X_grad = X_plain.clone().requires_grad_(True)
    kwargs, kwargs_grad = {}, {}
    if weighted:
        w = torch.asarray(np.random.RandomState(0).uniform(0.5, 2.0, size=len(y)))
        kwargs = {"sample_weight": w}
        kwargs_grad = {"sample_weight": w.clone().requires_grad_(True)}
    clf, expected = (SoftmaxGDClassifier(**GRAD_MODES[mode]) for _ in range(2))
    with dispatch(), quiet():
        if mode == "partial_fit":
            for model, X_, kw in (
                (clf, X_grad, kwargs_grad),
                (expected, X_plain, kwargs),
            ):
                call_atomic(model, "partial_fit", X_, y_t, classes=[0, 1, 2], **kw)
                call_atomic(model, "partial_fit", X_, y_t, **kw)
        else:
            call_atomic(clf, "fit", X_grad, y_t, **kwargs_grad)
            expected.fit(X_plain, y_t, **kwargs)
    for name in ("coef_", "intercept_", "classes_"):
        value = getattr(clf, name)
        assert isinstance(value, torch.Tensor), name
        assert value.grad_fn is None and not value.requires_grad, name
        assert_allclose(as_numpy(value), as_numpy(getattr(expected, name)), atol=1e-12)
    assert all(type(value) is float for value in clf.loss_curve_)
    restored = pickle.loads(pickle.dumps(copy.deepcopy(clf)))
    with dispatch():
        assert_allclose(
            as_numpy(restored.predict_proba(X_grad)),
            as_numpy(expected.predict_proba(X_plain)),
            atol=1e-12,
        )
    assert X_grad.grad is None


# ============================================================================
# Torch sparse tensors
# ============================================================================

LAYOUTS = {
    "coo": lambda t: t.to_sparse(),
    "csr": lambda t: t.to_sparse_csr(),
    "csc": lambda t: t.to_sparse_csc(),
}
SAYS_WHAT_TO_PASS = r"(?i)dense|scipy"


@pytest.mark.parametrize("dispatch_on", [True, False], ids=["dispatch", "no-dispatch"])
@pytest.mark.parametrize(
    "method", ["fit", "partial_fit", "predict", "predict_proba", "decision_function"]
)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_torch_sparse_X_fits_or_says_what_to_pass(layout, method, dispatch_on):
    """Either the result of the dense tensor, or a TypeError / ValueError
    that says what to pass (a dense tensor, or a scipy sparse matrix)."""
    X, y = data("iris")
    X = np.where(np.abs(X) > 0.5, X, 0.0)
    dense, y_t = torch.asarray(X), torch.asarray(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "CSR ... beta"
        sparse = LAYOUTS[layout](dense)
    context = dispatch() if dispatch_on else sklearn.config_context()
    with context:
        reference = SoftmaxGDClassifier(random_state=0).fit(dense, y_t)
        clf = SoftmaxGDClassifier(random_state=0)
        if method in ("fit", "partial_fit"):
            args = (sparse, y_t) + (([0, 1, 2],) if method == "partial_fit" else ())
            expected = SoftmaxGDClassifier(random_state=0)
            getattr(expected, method)(dense, *args[1:])
        else:
            clf, args = reference, (sparse,)
            expected = getattr(reference, method)(dense)
        try:
            result = call_atomic(clf, method, *args)
        except (TypeError, ValueError) as error:
            assert re.search(SAYS_WHAT_TO_PASS, str(error)), str(error)
            return
    if method in ("fit", "partial_fit"):
        assert_allclose(as_numpy(result.coef_), as_numpy(expected.coef_), atol=1e-8)
    else:
        assert_allclose(as_numpy(result), as_numpy(expected), atol=1e-8)


# ============================================================================
# partial_fit streams across namespaces and dtypes
# ============================================================================

STREAMS = {
    # name: ((namespace, dtype) of the first call, of the second call)
    "numpy->torch": (("numpy", "float64"), ("torch", "float64")),
    "torch->numpy": (("torch", "float64"), ("numpy", "float64")),
    "torch64->torch32": (("torch", "float64"), ("torch", "float32")),
    "torch32->torch64": (("torch", "float32"), ("torch", "float64")),
    "numpy->strict": (("numpy", "float64"), ("array_api_strict", "float64")),
    "strict->torch": (("array_api_strict", "float64"), ("torch", "float64")),
    "strict->numpy": (("array_api_strict", "float64"), ("numpy", "float64")),
    "numpy64->numpy32": (("numpy", "float64"), ("numpy", "float32")),
}
CLEAR_NAMESPACE_ERROR = r"(?i)namespace|array.api|torch|numpy|strict|device"


@pytest.mark.parametrize("labels", ["integers", "strings"])
@pytest.mark.parametrize("stream", STREAMS)
def test_partial_fit_stream_across_namespaces(stream, labels):
    """The second call continues the first one's model as the all-numpy
    stream does (its model then in the second call's namespace), or raises
    a ValueError that names the namespaces, leaving the model as it was.
    String labels stay in numpy on every namespace."""
    (ns1, dtype1), (ns2, dtype2) = STREAMS[stream]
    X, y = data("iris")
    rows = np.random.RandomState(0).permutation(len(y))
    first, second = rows[:75], rows[75:]
    classes = np.unique(y)
    if labels == "strings":
        y = np.array(["setosa", "versicolor", "virginica"])[y]
        classes = np.unique(y)
        labels_in = {ns1: "numpy", ns2: "numpy"}
    else:
        labels_in = {ns1: ns1, ns2: ns2}
    expected = SoftmaxGDClassifier(batch_size=16, random_state=0)
    expected.partial_fit(X[first], y[first], classes=classes)
    expected.partial_fit(X[second], y[second])
    clf = SoftmaxGDClassifier(batch_size=16, random_state=0)
    with dispatch():
        clf.partial_fit(
            to(ns1, X[first], dtype1), to(labels_in[ns1], y[first]), classes=classes
        )
        try:
            call_atomic(
                clf,
                "partial_fit",
                to(ns2, X[second], dtype2),
                to(labels_in[ns2], y[second]),
            )
        except ValueError as error:
            assert re.search(CLEAR_NAMESPACE_ERROR, str(error)), str(error)
            return
        X2 = to(ns2, X, dtype2)
        predicted = clf.predict_proba(X2)
    assert namespace_of(clf.coef_) == ns2
    assert namespace_of(predicted) == ns2
    assert clf.n_iter_ == 2
    tol = 1e-4 if "float32" in (dtype1, dtype2) else 1e-8
    assert_allclose(as_numpy(clf.coef_), expected.coef_, atol=tol)
    assert_allclose(as_numpy(predicted), expected.predict_proba(X), atol=tol)


@pytest.mark.parametrize("stream", ["numpy->torch", "torch->numpy", "strict->torch"])
def test_warm_start_across_namespaces(stream):
    """The reference the issue names: a warm-started ``fit`` already
    continues across namespaces."""
    (ns1, dtype1), (ns2, dtype2) = STREAMS[stream]
    X, y = data("iris")
    expected = SoftmaxGDClassifier(warm_start=True, max_iter=3)
    clf = SoftmaxGDClassifier(warm_start=True, max_iter=3)
    fit_quietly(expected, X, y)
    fit_quietly(expected, X, y)
    with dispatch():
        fit_quietly(clf, to(ns1, X, dtype1), to(ns1, y))
        fit_quietly(clf, to(ns2, X, dtype2), to(ns2, y))
    assert namespace_of(clf.coef_) == ns2
    assert_allclose(as_numpy(clf.coef_), expected.coef_, atol=1e-8)


# ============================================================================
# Edge arrays: what numpy does
# ============================================================================


def _edge_inputs(case, X, y):
    """(X, y) as numpy arrays for ``case``, and a function making the
    namespace's X from a numpy one (views where the case is one)."""
    make = None
    if case == "0-d X":
        X, y = np.asarray(1.0), np.asarray([0])
    elif case == "1-d X":
        X = X[:, 0]
    elif case == "no rows":
        X, y = X[:0], y[:0]
    elif case == "no features":
        X = X[:, :0]
    elif case == "transposed view":
        make = lambda ns, X: to(ns, np.ascontiguousarray(X.T)).T  # noqa: E731
    elif case == "strided view":
        make = lambda ns, X: to(ns, np.repeat(X, 2, axis=0))[::2, :]  # noqa: E731
    elif case == "integer X":
        X = np.round(3 * X).astype(np.int64)
    elif case == "column y":
        y = y[:, None]
    elif case == "two-column y":
        y = np.stack([y, y], axis=1)
    elif case == "float labels":
        y = y.astype(np.float64)
    elif case == "NaN in X":
        X = X.copy()
        X[3, 1] = np.nan
    elif case == "one class":
        y = np.zeros_like(y)
    return X, y, make or to


EDGES = [
    "0-d X",
    "1-d X",
    "no rows",
    "no features",
    "transposed view",
    "strided view",
    "integer X",
    "column y",
    "two-column y",
    "float labels",
    "NaN in X",
    "one class",
]


def _outcome(call):
    """``("raise", type, the message's start)`` or ``("ok", warning
    categories, model)``: messages are compared on their first 25
    characters, before the array's repr that differs between namespaces."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = call()
        except Exception as error:  # the outcome under test
            return "raise", type(error), str(error)[:25]
    categories = sorted(
        {w.category.__name__ for w in caught if w.category is not UserWarning}
    )
    return "ok", categories, model


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("case", EDGES)
@pytest.mark.parametrize("ns", ["torch", "array_api_strict"])
def test_edge_arrays_like_numpy(ns, case, method):
    X, y = data("iris")
    X, y, make = _edge_inputs(case, X, y)
    kwargs = {"classes": [0, 1, 2]} if method == "partial_fit" else {}
    if case == "float labels" and kwargs:
        kwargs = {"classes": [0.0, 1.0, 2.0]}

    def numpy_call():
        with quiet():
            return getattr(tight(), method)(make("numpy", X), y, **kwargs)

    expected = _outcome(numpy_call)
    clf = tight()
    with dispatch():
        got = _outcome(
            lambda: call_atomic(clf, method, make(ns, X), to(ns, y), **kwargs)
        )
    assert got[:2] == expected[:2], (got[:2], expected[:2])
    if expected[0] == "ok":
        model, reference = got[2], expected[2]
        assert namespace_of(model.coef_) == ns
        assert_allclose(as_numpy(model.coef_), reference.coef_, atol=1e-8)
        assert_array_equal(as_numpy(model.classes_), reference.classes_)
    else:
        assert not hasattr(clf, "coef_")


PREDICT_EDGES = ["1-d X", "no rows", "no features", "transposed view", "NaN in X"]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
@pytest.mark.parametrize("case", PREDICT_EDGES)
@pytest.mark.parametrize("ns", ["torch", "array_api_strict"])
def test_edge_arrays_to_predict_like_numpy(ns, case, method):
    X, y = data("iris")
    reference = tight().fit(X, y)
    with dispatch():
        clf = tight().fit(to(ns, X), to(ns, y))
    X, _, make = _edge_inputs(case, X, y)
    expected = _outcome(lambda: getattr(reference, method)(make("numpy", X)))
    with dispatch():
        got = _outcome(lambda: getattr(clf, method)(make(ns, X)))
    assert got[:2] == expected[:2], (got[:2], expected[:2])
    if expected[0] == "ok":
        assert namespace_of(got[2]) == ns
        assert_allclose(as_numpy(got[2]), expected[2], atol=1e-8)
