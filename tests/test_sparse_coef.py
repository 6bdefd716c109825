"""``sparsify()`` and ``densify()`` (scikit-learn's ``SparseCoefMixin``, as
on ``LogisticRegression`` and ``SGDClassifier``): an L1 fit's ``coef_``
stored as a scipy sparse matrix predicts as the dense one does, ``densify``
restores it, and a sparsified model pickles."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier

PREDICTIONS = ("decision_function", "predict_proba", "predict_log_proba")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def l1_fit(X, y, **params):
    return SoftmaxGDClassifier(alpha=1e-2, l1_ratio=1.0, **params).fit(X, y)


@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
@pytest.mark.parametrize("sparse_X", [False, True], ids=["dense_X", "csr_X"])
def test_sparsified_model_predicts_as_the_dense_one(digits, binary, sparse_X):
    X, y = digits
    y = y % 2 if binary else y
    clf = l1_fit(X, y)
    dense_coef = clf.coef_.copy()
    assert 0.5 < np.mean(dense_coef == 0) < 1  # an L1 fit: mostly zeros
    X_in = sp.csr_matrix(X) if sparse_X else X
    expected = {name: getattr(clf, name)(X_in) for name in PREDICTIONS}
    labels, accuracy = clf.predict(X_in), clf.score(X_in, y)

    assert clf.sparsify() is clf
    assert sp.issparse(clf.coef_) and clf.coef_.format == "csr"
    assert clf.coef_.shape == dense_coef.shape == ((1 if binary else 10), 64)
    assert clf.coef_.nnz == np.count_nonzero(dense_coef)
    assert isinstance(clf.intercept_, np.ndarray)  # not converted
    for name in PREDICTIONS:
        # a sparse product sums in another order: rounding only
        assert_allclose(
            getattr(clf, name)(X_in), expected[name], rtol=1e-12, atol=1e-14
        )
    assert_array_equal(clf.predict(X_in), labels)
    assert clf.score(X_in, y) == accuracy

    assert clf.densify() is clf
    assert isinstance(clf.coef_, np.ndarray)
    assert_array_equal(clf.coef_, dense_coef)
    assert clf.densify() is clf and isinstance(clf.coef_, np.ndarray)  # a no-op


def test_sparsified_model_pickles(digits):
    X, y = digits
    clf = l1_fit(X, y).sparsify()
    loaded = pickle.loads(pickle.dumps(clf))
    assert sp.issparse(loaded.coef_)
    assert_array_equal(loaded.coef_.toarray(), clf.coef_.toarray())
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(loaded.densify().coef_, clf.coef_.toarray())


def test_sparsify_and_densify_need_a_fitted_model():
    for method in ("sparsify", "densify"):
        with pytest.raises(NotFittedError, match="must be fitted before"):
            getattr(SoftmaxGDClassifier(), method)()


def continued(X, y, how, round_trip):
    """A model fitted, sparsified and densified if ``round_trip``, then fitted
    again from its coefficients (``warm_start`` or ``partial_fit``)."""
    if how == "warm_start":
        clf = l1_fit(X, y, warm_start=True)
    else:
        clf = SoftmaxGDClassifier(
            alpha=1e-2, l1_ratio=1.0, batch_size=64, random_state=0
        ).partial_fit(X, y, classes=np.unique(y))
    if round_trip:
        clf.sparsify().densify()
    return clf.fit(X, y) if how == "warm_start" else clf.partial_fit(X, y)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_densify_then_continue_fitting(digits, how):
    """As ``SparseCoefMixin.sparsify`` documents: after ``densify`` the model
    continues from its coefficients as if it had never been sparsified."""
    X, y = digits
    plain, round_trip = continued(X, y, how, False), continued(X, y, how, True)
    assert isinstance(round_trip.coef_, np.ndarray)
    assert_array_equal(round_trip.coef_, plain.coef_)
    assert_array_equal(round_trip.intercept_, plain.intercept_)
    assert np.any(round_trip.coef_ == 0)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continue_fitting_from_a_sparse_coef(digits, how):
    """A sparsified model continues a fit (``warm_start``, ``partial_fit``)
    from its dense coefficients: where it stands, not from zero, and the
    refitted ``coef_`` is dense again."""
    X, y = digits
    if how == "warm_start":
        clf = l1_fit(X, y, warm_start=True)
        dense = clf.coef_.copy()
        clf.sparsify().fit(X, y)
        assert clf.n_iter_ <= 1  # started at the optimum it had reached
        np.testing.assert_allclose(clf.coef_, dense, atol=1e-6)
    else:
        clf = SoftmaxGDClassifier(alpha=1e-2, l1_ratio=1.0, batch_size=64)
        clf.partial_fit(X, y, classes=np.unique(y))
        before = clf.score(X, y)
        clf.sparsify().partial_fit(X, y)
        assert clf.score(X, y) >= before - 0.05
    assert isinstance(clf.coef_, np.ndarray)
