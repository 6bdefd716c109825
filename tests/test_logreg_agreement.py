"""SoftmaxGDClassifier reaches scikit-learn's LogisticRegression optimum.

docs/derivation.md, 3.6: with an L2 penalty, ``alpha = 1 / (C * sum_i s_i)`` for K > 2 and
``alpha = 2 / (C * sum_i s_i)`` for K = 2 give the optimum of
``LogisticRegression(C)``. The objective ``J`` is recomputed here from the
fitted ``coef_`` / ``intercept_`` with scipy's ``log_softmax``, independently of
the package's own loss code.
"""

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from _reference import (  # tests/_reference.py
    objective,
    polished_optimum,
    probabilities,
)
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier

# With tol=1e-10 the objective can stop decreasing in float64 before the
# gradient criterion is met; that warning (and only that one) is expected here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The objective cannot be decreased further"
    ":sklearn.exceptions.ConvergenceWarning"
)

LOADERS = {
    "iris": load_iris,
    "wine": load_wine,
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
}
TIGHT = {"tol": 1e-10, "max_iter": 10_000}


@functools.cache
def standardized(name):
    X, y = LOADERS[name](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X.flags.writeable = False  # shared between tests: nobody may modify it
    y.flags.writeable = False
    return X, y


def alpha_for(C, s, n_classes):
    """The mapping (docs/derivation.md) from LogisticRegression's C to alpha."""
    return (2.0 if n_classes == 2 else 1.0) / (C * np.sum(s))


@functools.cache
def reference(name, C):
    """LogisticRegression fitted to high precision (cached: 1-3 s on digits)."""
    X, y = standardized(name)
    return LogisticRegression(C=C, **TIGHT).fit(X, y)


def assert_same_optimum(clf, ref, X, y, alpha, sample_weight=None):
    """``clf`` and LogisticRegression's ``ref`` both reach the optimum of
    ``J`` at ``alpha``: ``clf`` to 1e-8 of its ``J`` and 1e-5 of its
    probabilities, ``ref`` (which shows the ``C`` <-> ``alpha`` mapping) to
    1e-8 of ``J``. The optimum is ``ref`` polished by Newton steps from
    scratch (tests/_reference.py), so that the check does not depend on
    where LogisticRegression's solver stops."""
    coef, intercept = polished_optimum(
        ref.coef_, ref.intercept_, X, y, alpha, sample_weight, ref.fit_intercept
    )
    J_opt = objective(coef, intercept, X, y, alpha, sample_weight)
    J_clf = objective(clf.coef_, clf.intercept_, X, y, alpha, sample_weight)
    J_ref = objective(ref.coef_, ref.intercept_, X, y, alpha, sample_weight)
    assert J_opt <= min(J_clf, J_ref) * (1 + 1e-13), (J_opt, J_clf, J_ref)
    assert J_clf - J_opt <= 1e-10 * J_opt, (J_clf, J_opt)
    assert J_ref - J_opt <= 1e-8 * J_opt, (J_ref, J_opt)
    assert_allclose(
        clf.predict_proba(X), probabilities(coef, intercept, X), rtol=0, atol=1e-7
    )


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("name", ["iris", "wine", "digits", "breast_cancer"])
def test_same_optimum_as_logistic_regression(name, C):
    X, y = standardized(name)
    n_classes = np.unique(y).shape[0]
    alpha = alpha_for(C, np.ones(len(y)), n_classes)
    clf = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X, y)
    ref = reference(name, C)

    expected_shape = (1 if n_classes == 2 else n_classes, X.shape[1])
    assert clf.coef_.shape == ref.coef_.shape == expected_shape
    assert_same_optimum(clf, ref, X, y, alpha)
    assert np.mean(clf.predict(X) == ref.predict(X)) >= 0.99
    # the reported loss is the objective at the returned model
    assert_allclose(
        clf.loss_curve_[-1],
        objective(clf.coef_, clf.intercept_, X, y, alpha),
        rtol=1e-10,
    )


@pytest.mark.parametrize("fmt", [None, "csr"])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "fista"])
def test_every_solver_reaches_the_logistic_regression_optimum(solver, fmt):
    X, y = standardized("wine")
    alpha = alpha_for(1.0, np.ones(len(y)), 3)
    X_fit = X if fmt is None else sp.csr_array(X)
    clf = SoftmaxGDClassifier(alpha=alpha, solver=solver, **TIGHT).fit(X_fit, y)
    assert_same_optimum(clf, reference("wine", 1.0), X, y, alpha)


def test_alpha_mapping_is_needed():
    """The factor 2 for K = 2 matters: with the K > 2 mapping the optimum differs."""
    X, y = standardized("breast_cancer")
    C = 1.0
    wrong = SoftmaxGDClassifier(alpha=1.0 / (C * len(y)), **TIGHT).fit(X, y)
    ref = reference("breast_cancer", C)
    assert np.abs(wrong.predict_proba(X) - ref.predict_proba(X)).max() > 1e-4


@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_no_intercept_matches_logistic_regression(name):
    X, y = standardized(name)
    n_classes = np.unique(y).shape[0]
    C = 1.0
    alpha = alpha_for(C, np.ones(len(y)), n_classes)
    clf = SoftmaxGDClassifier(alpha=alpha, fit_intercept=False, **TIGHT).fit(X, y)
    ref = LogisticRegression(C=C, fit_intercept=False, **TIGHT).fit(X, y)
    assert np.all(clf.intercept_ == 0)
    assert clf.intercept_.shape == ref.intercept_.shape
    assert_same_optimum(clf, ref, X, y, alpha)


def subsample(name, n, seed=0):
    X, y = standardized(name)
    rows = np.random.RandomState(seed).choice(len(y), n, replace=False)
    return X[rows], y[rows]


@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_integer_sample_weight_equals_repeated_rows(name):
    X, y = subsample(name, 90)
    sw = np.random.RandomState(1).randint(0, 4, len(y))
    sw[:6] = [0, 1, 2, 3, 0, 3]
    alpha = 1e-2
    weighted = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X, y, sample_weight=sw)
    repeated = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(
        np.repeat(X, sw, axis=0), np.repeat(y, sw)
    )
    assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=1e-7)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=0, atol=1e-7)
    assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-9)
    # and a model fitted without the weights is a different one
    unweighted = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X, y)
    assert np.abs(unweighted.coef_ - weighted.coef_).max() > 1e-3


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_zero_sample_weight_equals_removed_rows(name):
    X, y = subsample(name, 120)
    sw = np.ones(len(y))
    sw[::3] = 0.0
    kept = sw > 0
    alpha = 1e-2
    weighted = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X, y, sample_weight=sw)
    removed = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X[kept], y[kept])
    assert_allclose(weighted.coef_, removed.coef_, rtol=0, atol=1e-7)
    assert_allclose(weighted.intercept_, removed.intercept_, rtol=0, atol=1e-7)
    assert_allclose(weighted.predict_proba(X), removed.predict_proba(X), atol=1e-9)


def balanced_weights(y, sample_weight):
    """'balanced' by hand: sum(sw) / (K * weighted count of each class)."""
    classes, y_index = np.unique(y, return_inverse=True)
    counts = np.bincount(y_index, weights=sample_weight)
    return (np.sum(sample_weight) / (len(classes) * counts))[y_index]


@pytest.mark.parametrize("with_sample_weight", [False, True])
@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_balanced_class_weight_matches_logistic_regression(name, with_sample_weight):
    X, y = standardized(name)
    n_classes = np.unique(y).shape[0]
    sw = (
        np.random.RandomState(0).uniform(0.2, 3.0, len(y))
        if with_sample_weight
        else np.ones(len(y))
    )
    s = sw * balanced_weights(y, sw)
    C = 1.0
    alpha = alpha_for(C, s, n_classes)
    clf = SoftmaxGDClassifier(alpha=alpha, class_weight="balanced", **TIGHT)
    clf.fit(X, y, sample_weight=sw)
    ref = LogisticRegression(C=C, class_weight="balanced", **TIGHT)
    ref.fit(X, y, sample_weight=sw)
    assert_same_optimum(clf, ref, X, y, alpha, sample_weight=s)
    # balancing changes the model
    plain = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X, y, sample_weight=sw)
    assert np.abs(plain.predict_proba(X) - clf.predict_proba(X)).max() > 1e-3


def test_class_weight_dict_equals_sample_weight():
    X, y = standardized("iris")
    weights = {0: 0.5, 1: 3.0, 2: 1.5}
    s = np.array([weights[label] for label in y])
    alpha = 1e-2
    by_class = SoftmaxGDClassifier(alpha=alpha, class_weight=weights, **TIGHT).fit(X, y)
    by_sample = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X, y, sample_weight=s)
    assert_allclose(by_class.coef_, by_sample.coef_, rtol=0, atol=1e-8)
    assert_allclose(by_class.intercept_, by_sample.intercept_, rtol=0, atol=1e-8)
    # class weights multiply the sample weights
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    both = SoftmaxGDClassifier(alpha=alpha, class_weight=weights, **TIGHT)
    both.fit(X, y, sample_weight=sw)
    product = SoftmaxGDClassifier(alpha=alpha, **TIGHT).fit(X, y, sample_weight=sw * s)
    assert_allclose(both.coef_, product.coef_, rtol=0, atol=1e-8)


def test_class_weight_dict_matches_logistic_regression():
    X, y = standardized("wine")
    weights = {0: 2.0, 1: 0.5, 2: 1.0}
    s = np.array([weights[label] for label in y])
    C = 0.5
    alpha = alpha_for(C, s, 3)
    clf = SoftmaxGDClassifier(alpha=alpha, class_weight=weights, **TIGHT).fit(X, y)
    ref = LogisticRegression(C=C, class_weight=weights, **TIGHT).fit(X, y)
    assert_same_optimum(clf, ref, X, y, alpha, sample_weight=s)


def test_sample_weight_scale_does_not_change_the_model():
    """J is a weighted *mean*: multiplying all weights by a constant changes nothing."""
    X, y = subsample("iris", 100)
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    a = SoftmaxGDClassifier(alpha=1e-2, **TIGHT).fit(X, y, sample_weight=sw)
    b = SoftmaxGDClassifier(alpha=1e-2, **TIGHT).fit(X, y, sample_weight=1000 * sw)
    assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-8)
