"""Robustness of SoftmaxGDClassifier: inputs on which a fit must never be
silently wrong. Either the model is right (checked against an optimum
computed here with numpy/scipy or by LogisticRegression), or the fit says so:
a ValueError that tells what to change, or a ConvergenceWarning. A fitted
``coef_`` is never non-finite, and a fit that raises leaves the previous model
as it was.

Public API only. One section per defect kind:

1. the Newton-CG Hessian sample on rows that repeat with a period;
2. diverging step sizes, overflowing data or penalties returned as a model;
3. convergence declared at the null model when one feature is badly scaled;
4. bare Python errors (ZeroDivisionError, OverflowError) instead of sklearn's;
5. invalid ``class_weight`` values, "balanced" with an empty class;
6. extreme but valid sample weights;
7. feature names with ``warm_start``;

then general invariants over solvers x containers x weights.
"""

import copy
import functools
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _reference import objective  # tests/_reference.py
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier

LOADERS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
IRIS_NAMES = np.array(["setosa", "versicolor", "virginica"])


@functools.cache
def _loaded(name, standardized):
    X, y = LOADERS[name](return_X_y=True)
    X = X.astype(np.float64)
    if standardized:
        X = StandardScaler().fit_transform(X)
    return X, y


def data(name, standardized=True):
    """A data set, raw or standardized; fresh copies, so tests may modify them."""
    X, y = _loaded(name, standardized)
    return X.copy(), y.copy()


def as_container(X, container):
    return sp.csr_matrix(X) if container == "csr" else X


def fitted_state(clf):
    """Everything fit may set: a deep copy of the non-parameter attributes
    (as in tests/test_classifier.py)."""
    params = set(clf.get_params(deep=False))
    return {k: copy.deepcopy(v) for k, v in vars(clf).items() if k not in params}


def assert_same_state(before, after, where=""):
    """As in tests/test_classifier.py, recursing into dicts (the mini-batch
    state that ``partial_fit`` continues from)."""
    assert set(before) == set(after), where
    for key, value in before.items():
        name = f"{where}.{key}" if where else key
        if isinstance(value, np.ndarray):
            assert_array_equal(after[key], value, err_msg=name)
            assert after[key].dtype == value.dtype, name
        elif isinstance(value, dict):
            assert isinstance(after[key], dict), name
            assert_same_state(value, after[key], name)
        else:
            assert after[key] == value, name


def assert_finite_model(clf):
    assert np.all(np.isfinite(clf.coef_)), clf.coef_
    assert np.all(np.isfinite(clf.intercept_)), clf.intercept_


def fit_recording(clf, *args, method="fit", **kwargs):
    """Call ``clf.<method>``; return the warnings it raised (none is an error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(clf, method)(*args, **kwargs)
    return caught


def convergence_messages(caught):
    return [
        str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)
    ]


# ============================================================================
# 1. Newton-CG's Hessian sample on periodic rows
# ============================================================================
#
# With more than 20000 rows the Hessian sample is a strict subset of the rows
# (today every 10th row). A correct fit takes 9-15 iterations here; max_iter=30
# bounds the cost of today's slow fits (37-64 iterations), which fail anyway.
# Periodic structures (labels cycling with period 10, a CV fold held out by
# zero weights on every tenth row, interleaved zero weights, a class weighted
# 0) must not change the model the default solver reaches, nor make it much
# slower than on the same rows shuffled.

PERIODIC_ALPHA = 1e-3
PERIODIC_TOL = 1e-6
PERIODIC_MAX_ITER = 30
PERIODIC_CASES = [
    "labels_cycle",  # y[i] = i % 10
    "fold_held_out_every_10th_row",  # sample_weight 0 where i % 10 == 0
    "zero_weight_even_rows",  # sample_weight 0 where i % 2 == 0
    "zero_weight_odd_rows",  # sample_weight 0 where i % 2 == 1
    "labels_cycle_class_weight_0_zero",  # class_weight {0: 0}, y[i] = i % 10
    "labels_cycle_class_weight_3_zero",  # class_weight {3: 0}, y[i] = i % 10
    "class_weight_3_zero",  # class_weight {3: 0}, rows in random order
]


@functools.cache
def _periodic_data():
    X, y = make_classification(
        n_samples=21_000,  # > 20000 after the cycles are cut: a sample of every 10th row
        n_features=10,
        n_informative=8,
        n_classes=10,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    # rows reordered so that y[i] == i % 10 (complete cycles only)
    by_class = [np.flatnonzero(y == c) for c in range(10)]
    m = min(map(len, by_class))
    cycle = np.column_stack([rows[:m] for rows in by_class]).ravel()
    return X, y, cycle


def periodic_case(name):
    """``(X, y, sample_weight, class_weight)`` of one periodic case."""
    X, y, cycle = _periodic_data()
    if name.startswith("labels_cycle"):
        X, y = X[cycle], y[cycle]
    i = np.arange(len(y))
    sample_weight = {
        "fold_held_out_every_10th_row": i % 10 != 0,
        "zero_weight_even_rows": i % 2 != 0,
        "zero_weight_odd_rows": i % 2 != 1,
    }.get(name)
    if sample_weight is not None:
        sample_weight = sample_weight.astype(np.float64)
    zero_class = {
        "labels_cycle_class_weight_0_zero": 0,
        "labels_cycle_class_weight_3_zero": 3,
        "class_weight_3_zero": 3,
    }.get(name)
    class_weight = None
    if zero_class is not None:
        class_weight = {c: float(c != zero_class) for c in range(10)}
    return X, y, sample_weight, class_weight


def total_weights(y, sample_weight, class_weight):
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
    if class_weight is not None:
        s = s * np.array([class_weight[c] for c in y])
    return s


@functools.cache
def periodic_optimum(name):
    """The optimal J of a periodic case, by LogisticRegression (lbfgs)."""
    X, y, sample_weight, class_weight = periodic_case(name)
    s = total_weights(y, sample_weight, class_weight)
    lr = LogisticRegression(C=1 / (PERIODIC_ALPHA * s.sum()), tol=1e-8, max_iter=10_000)
    with threadpool_limits(1):
        lr.fit(X, y, sample_weight=s)
    return objective(lr.coef_, lr.intercept_, X, y, PERIODIC_ALPHA, s)


@functools.cache
def periodic_fit(name, permutation_seed=None, random_state=0):
    """The default fit of a case (rows permuted if ``permutation_seed``):
    ``(coef_, intercept_, n_iter_, proba on the unpermuted X, warnings)``."""
    X, y, sample_weight, class_weight = periodic_case(name)
    X_fit, y_fit, sw_fit = X, y, sample_weight
    if permutation_seed is not None:
        perm = np.random.RandomState(permutation_seed).permutation(len(y))
        X_fit, y_fit = X[perm], y[perm]
        sw_fit = None if sample_weight is None else sample_weight[perm]
    clf = SoftmaxGDClassifier(
        alpha=PERIODIC_ALPHA,
        tol=PERIODIC_TOL,
        max_iter=PERIODIC_MAX_ITER,
        class_weight=class_weight,
        random_state=random_state,
    )
    caught = fit_recording(clf, X_fit, y_fit, sample_weight=sw_fit)
    messages = convergence_messages(caught)
    return clf.coef_, clf.intercept_, clf.n_iter_, clf.predict_proba(X), messages


@pytest.mark.parametrize("case", PERIODIC_CASES)
def test_periodic_rows_reach_the_optimum(case):
    X, y, sample_weight, class_weight = periodic_case(case)
    coef, intercept, n_iter, _, messages = periodic_fit(case)
    s = total_weights(y, sample_weight, class_weight)
    J = objective(coef, intercept, X, y, PERIODIC_ALPHA, s)
    J_opt = periodic_optimum(case)
    assert J - J_opt <= 1e-6 * J_opt, (
        f"J = {J:.10f}, optimum {J_opt:.10f} (relative gap {(J - J_opt) / J_opt:.2e})"
        f" after {n_iter} iterations; warnings: {messages}"
    )
    assert not messages


@pytest.mark.parametrize("case", PERIODIC_CASES)
def test_periodic_rows_fit_like_the_same_rows_shuffled(case):
    coef, _, n_iter, proba, _ = periodic_fit(case)
    coef_p, _, n_iter_p, proba_p, _ = periodic_fit(case, permutation_seed=1)
    assert_allclose(proba, proba_p, rtol=0, atol=1e-4)
    assert max(n_iter, n_iter_p) <= 2 * min(n_iter, n_iter_p), (n_iter, n_iter_p)


@pytest.mark.parametrize(
    "case", ["labels_cycle", "fold_held_out_every_10th_row", "zero_weight_even_rows"]
)
def test_periodic_rows_fit_is_deterministic(case):
    X, y, sample_weight, class_weight = periodic_case(case)
    fits = []
    for _ in range(2):
        clf = SoftmaxGDClassifier(
            alpha=PERIODIC_ALPHA,
            class_weight=class_weight,
            max_iter=10,  # determinism needs no convergence
            random_state=3,
        )
        fit_recording(clf, X, y, sample_weight=sample_weight)
        fits.append(clf)
    assert_array_equal(fits[0].coef_, fits[1].coef_)
    assert_array_equal(fits[0].intercept_, fits[1].intercept_)
    assert fits[0].n_iter_ == fits[1].n_iter_
    assert_array_equal(fits[0].loss_curve_, fits[1].loss_curve_)


# ============================================================================
# 2. Divergence must raise, not be returned as a model
# ============================================================================

DIVERGED = r"(?i)diverg|overflow|non-finite"
WHAT_TO_CHANGE = r"(?i)learning_rate|step|scal"


def assert_raises_divergence(clf, X, y, advice=WHAT_TO_CHANGE):
    """The fit raises a ValueError saying it diverged and what to change, and
    leaves the previously fitted model as it was."""
    before = fitted_state(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow / convergence warnings on the way
        with pytest.raises(ValueError, match=DIVERGED) as raised:
            clf.fit(X, y)
    assert re.search(advice, str(raised.value)), str(raised.value)
    assert_same_state(before, fitted_state(clf))


DIVERGING_STEPS = {
    # name: (data set, standardized, parameters of the diverging fit)
    "lr10_wine_raw_full_batch": ("wine", False, {"learning_rate": 10.0}),
    "lr10_breast_cancer_raw_full_batch": (
        "breast_cancer",
        False,
        {"learning_rate": 10.0},
    ),
    "lr10_wine_raw_minibatch": (
        "wine",
        False,
        {"learning_rate": 10.0, "batch_size": 32},
    ),
    "lr1e6_iris_full_batch": ("iris", True, {"learning_rate": 1e6}),
    "lr1e6_iris_minibatch": ("iris", True, {"learning_rate": 1e6, "batch_size": 32}),
    "lr1e6_breast_cancer_minibatch": (
        "breast_cancer",
        True,
        {"learning_rate": 1e6, "batch_size": 32},
    ),
}


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("case", DIVERGING_STEPS)
def test_diverging_constant_step_raises(case, container):
    name, standardized, params = DIVERGING_STEPS[case]
    X_good, y = data(name)
    clf = SoftmaxGDClassifier(alpha=1e-4, random_state=0, max_iter=50)
    clf.fit(as_container(X_good, container), y)
    X, _ = data(name, standardized)
    clf.set_params(**params)
    assert_raises_divergence(clf, as_container(X, container), y)


SCALED_DATA = {
    # name: (factor, parameters)
    "constant_full_batch_x1e154": (1e154, {"learning_rate": "constant"}),
    "constant_minibatch_x1e154": (
        1e154,
        {"learning_rate": "constant", "batch_size": 16},
    ),
    "adaptive_minibatch_x1e154": (1e154, {"batch_size": 16}),
    "constant_minibatch_x1e155": (
        1e155,
        {"learning_rate": "constant", "batch_size": 16},
    ),
    "adaptive_minibatch_x1e155": (1e155, {"batch_size": 16}),
    "invscaling_minibatch_x1e155": (
        1e155,
        {"learning_rate": "invscaling", "batch_size": 16},
    ),
}


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("case", SCALED_DATA)
def test_data_scaled_to_overflow_raises_or_fits(case, container):
    """Data whose squares overflow: a ValueError that says to scale the data,
    or a model as good as on the unscaled data; never NaN or the null model."""
    factor, params = SCALED_DATA[case]
    X, y = data("iris")
    clf = SoftmaxGDClassifier(alpha=1e-4, random_state=0, max_iter=20, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(as_container(X, container), y)
    good_accuracy = clf.score(X, y)
    before = fitted_state(clf)
    X_big = as_container(X * factor, container)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            clf.fit(X_big, y)
        except ValueError as error:
            assert re.search(DIVERGED, str(error)), str(error)
            assert re.search(r"(?i)scal", str(error)), str(error)
            assert_same_state(before, fitted_state(clf))
            return
    assert_finite_model(clf)
    assert clf.score(X_big, y) >= good_accuracy - 0.05


@pytest.mark.parametrize("l1_ratio", [0.0, 0.01, 0.5])
@pytest.mark.parametrize("alpha", [1e100, 1e150, 1e300])
def test_fista_with_a_huge_penalty_raises_or_returns_the_optimum(alpha, l1_ratio):
    """The optimum of a huge penalty is W = 0 with the intercepts of the class
    priors; FISTA must return it, or raise, never NaN or 1e131 coefficients."""
    X, y = data("wine")
    clf = SoftmaxGDClassifier(alpha=1e-4).fit(X, y)
    before = fitted_state(clf)
    clf.set_params(solver="fista", alpha=alpha, l1_ratio=l1_ratio, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            clf.fit(X, y)
        except ValueError as error:
            assert re.search(DIVERGED, str(error)), str(error)
            assert_same_state(before, fitted_state(clf))
            return
    assert_finite_model(clf)
    assert np.max(np.abs(clf.coef_)) <= 1e-8
    priors = np.bincount(y) / len(y)
    assert_allclose(clf.predict_proba(X), np.tile(priors, (len(y), 1)), atol=1e-6)


# ============================================================================
# 3. Convergence declared at the null model on a badly scaled feature
# ============================================================================
#
# Iris with one or two columns multiplied by 1e4..1e6: the fit reaches the
# optimum (J within 1% of it), or warns (ConvergenceWarning) that the data
# need scaling.

SCALING_ALPHA = 1e-3
SCALING_ADVICE = r"(?i)scal(e|ing)|standardi[sz]"
SCALED_COLUMNS = [(0,), (2,), (0, 3)]
SCALING_SOLVERS = {
    "fista": {"solver": "fista"},
    "lbfgs": {"solver": "lbfgs"},
    "newton-cg": {"solver": "newton-cg"},
    "auto_l1_0.5": {"l1_ratio": 0.5},
    "fista_l1_0.5": {"solver": "fista", "l1_ratio": 0.5},
    "constant_schedule": {"learning_rate": "constant"},
    "adaptive_minibatch": {"batch_size": 16, "random_state": 0},
}


@functools.cache
def scaled_optimum(columns, factor, l1_ratio):
    """min J on iris with ``columns`` multiplied by ``factor``, from scratch.

    Solved in the well-conditioned variables ``V = W * scale`` (the
    coefficients of the unscaled data), with the L1 part split as ``V = P - N``,
    ``P, N >= 0``, so that L-BFGS-B sees a smooth problem with bounds.
    (LogisticRegression, on the scaled data, stops short of this optimum.)
    """
    X, y = data("iris")
    n, d = X.shape
    scale = np.ones(d)
    scale[list(columns)] = factor
    classes, y_index = np.unique(y, return_inverse=True)
    K = len(classes)
    Y = np.eye(K)[y_index]
    alpha, l1 = SCALING_ALPHA, l1_ratio

    def value_and_gradient(z):
        P = z[: K * d].reshape(K, d)
        N = z[K * d : 2 * K * d].reshape(K, d)
        b = z[2 * K * d :]
        V = P - N
        log_p = log_softmax(X @ V.T + b, axis=1)
        W = V / scale
        J = -np.sum(Y * log_p) / n + alpha * (
            (1 - l1) / 2 * np.sum(W**2) + l1 * np.sum((P + N) / scale)
        )
        G = (np.exp(log_p) - Y) / n
        grad_V = G.T @ X + alpha * (1 - l1) * V / scale**2
        grad = np.concatenate(
            [
                (grad_V + alpha * l1 / scale).ravel(),
                (-grad_V + alpha * l1 / scale).ravel(),
                G.sum(axis=0),
            ]
        )
        return J, grad

    def projected_gradient(z):
        """The gradient, with the entries that would push a variable at its
        bound of 0 below it set to 0 (``min(z, g)`` on the bounded ones)."""
        grad = value_and_gradient(z)[1]
        grad[: 2 * K * d] = np.minimum(z[: 2 * K * d], grad[: 2 * K * d])
        return grad

    # L-BFGS-B may stop early on its own tests (a line search that fails to
    # decrease, or ftol) depending on scipy's version: what makes the
    # reference is its projected gradient, restarted from where it stopped
    # until that is small (about 1e-6 here, far below what the 1% tests see).
    bounds = [(0, None)] * (2 * K * d) + [(None, None)] * K
    z = np.zeros(2 * K * d + K)
    with threadpool_limits(1):  # tiny BLAS calls: threads only add overhead
        for _ in range(5):
            result = minimize(
                value_and_gradient,
                z,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 20_000, "ftol": 1e-10, "gtol": 1e-6},
            )
            z = result.x
            if np.abs(projected_gradient(z)).max() <= 1e-5:
                break
    assert np.abs(projected_gradient(z)).max() <= 1e-5, result.message
    return result.fun


@pytest.mark.parametrize("solver", SCALING_SOLVERS)
@pytest.mark.parametrize("factor", [1e4, 1e6])
@pytest.mark.parametrize("columns", SCALED_COLUMNS, ids=str)
def test_badly_scaled_feature_converges_or_warns(columns, factor, solver):
    params = SCALING_SOLVERS[solver]
    l1_ratio = params.get("l1_ratio", 0.0)
    X, y = data("iris")
    X[:, list(columns)] *= factor
    clf = SoftmaxGDClassifier(alpha=SCALING_ALPHA, **params)
    caught = fit_recording(clf, X, y)
    assert_finite_model(clf)
    warned = [m for m in convergence_messages(caught) if re.search(SCALING_ADVICE, m)]
    J = objective(clf.coef_, clf.intercept_, X, y, SCALING_ALPHA, l1_ratio=l1_ratio)
    J_opt = scaled_optimum(columns, factor, l1_ratio)
    assert J <= 1.01 * J_opt or warned, (
        f"J = {J:.5f}, optimum {J_opt:.5f}, accuracy {clf.score(X, y):.3f} after "
        f"{clf.n_iter_} iterations, and no ConvergenceWarning about scaling"
    )


# ============================================================================
# 4. Bare Python errors become sklearn's errors, or the right model
# ============================================================================


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"batch_size": 16},
        {"learning_rate": "constant"},
    ],
    ids=["full_batch", "minibatch", "constant_schedule"],
)
def test_early_stopping_with_zero_weight_validation_rows(params):
    """Three rows of each class carry all the weight: some validation splits
    hold none of them. Then a ValueError about the validation set (as in
    SGDClassifier), never a ZeroDivisionError; otherwise a finite model."""
    X, y = data("iris")
    sample_weight = np.zeros(len(y))
    for c in range(3):
        sample_weight[np.flatnonzero(y == c)[:3]] = 1.0
    for seed in range(10):
        clf = SoftmaxGDClassifier(
            early_stopping=True, random_state=seed, max_iter=20, **params
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y, sample_weight=sample_weight)
        except ValueError as error:
            assert re.search(r"(?i)validation", str(error)), str(error)
            assert not hasattr(clf, "coef_")
        else:
            assert_finite_model(clf)
            assert np.isfinite(clf.best_validation_score_)


ZERO_X_FITS = {
    "constant_full_batch": {"learning_rate": "constant"},
    "invscaling_full_batch": {"learning_rate": "invscaling"},
    "adaptive_full_batch": {"learning_rate": "adaptive"},
    "constant_minibatch": {"learning_rate": "constant", "batch_size": 16},
    "invscaling_minibatch": {"learning_rate": "invscaling", "batch_size": 16},
    "auto_minibatch": {"batch_size": 16},
    "float_step": {"learning_rate": 0.1},
    "newton-cg": {"solver": "newton-cg"},
    "lbfgs": {"solver": "lbfgs"},
    "fista": {"solver": "fista"},
    "partial_fit": None,
}


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("fit", ZERO_X_FITS)
def test_all_zero_X_without_intercept_or_penalty_gives_the_zero_model(fit, container):
    """X = 0, fit_intercept=False, alpha=0: every model has the same loss and
    the zero model is the optimum (LogisticRegression returns it); the step
    size estimate must not divide by zero."""
    _, y = data("iris")
    X = as_container(np.zeros((len(y), 4)), container)
    params = ZERO_X_FITS[fit]
    clf = SoftmaxGDClassifier(
        alpha=0.0, fit_intercept=False, max_iter=5, random_state=0, **(params or {})
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=5
        if params is None:
            clf.partial_fit(X, y, classes=[0, 1, 2])
        else:
            clf.fit(X, y)
    assert_array_equal(clf.coef_, np.zeros((3, 4)))
    assert_array_equal(clf.intercept_, np.zeros(3))
    assert_allclose(clf.predict_proba(X), np.full((len(y), 3), 1 / 3))


@pytest.mark.parametrize("batch_size", [None, 32])
def test_overflow_on_sparse_data_is_a_value_error(batch_size):
    """The lazy sparse updates overflow Python floats (scale ** 2) with a
    diverging step: an OverflowError today. A ValueError is expected (see
    section 2 for its message)."""
    X, y = data("breast_cancer")
    clf = SoftmaxGDClassifier(learning_rate=1e6, batch_size=batch_size, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):
            clf.fit(sp.csr_matrix(X), y)


# ============================================================================
# 5. class_weight values
# ============================================================================


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("value", [-1.0, -np.inf, np.inf, np.nan, None], ids=str)
def test_invalid_class_weight_value_is_refused_naming_the_class(value, method):
    X, y = data("iris")
    y = IRIS_NAMES[y]
    class_weight = {"setosa": 1.0, "versicolor": value, "virginica": 1.0}
    clf = SoftmaxGDClassifier(class_weight=class_weight)
    kwargs = {"classes": IRIS_NAMES} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match="versicolor") as raised:
        fit_recording(clf, X, y, method=method, **kwargs)
    assert "sum to zero" not in str(raised.value)
    assert not hasattr(clf, "coef_")


@pytest.mark.parametrize("value", [0.0, 1e-300, 3.0])
def test_valid_class_weight_values_are_accepted(value):
    X, y = data("iris")
    y = IRIS_NAMES[y]
    class_weight = {"setosa": 1.0, "versicolor": value, "virginica": 1.0}
    clf = SoftmaxGDClassifier(alpha=1e-2, class_weight=class_weight)
    assert not convergence_messages(fit_recording(clf, X, y))
    assert_finite_model(clf)


@pytest.mark.parametrize("empty", IRIS_NAMES)
def test_balanced_class_weight_with_an_empty_class_names_it(empty):
    """One class has zero total sample weight: "balanced" cannot weight it.
    A ValueError naming it, without a RuntimeWarning (division by zero) and
    without the false message that the weights sum to zero."""
    X, y = data("iris")
    y = IRIS_NAMES[y]
    sample_weight = (y != empty).astype(np.float64)
    clf = SoftmaxGDClassifier(class_weight="balanced")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=empty) as raised:
            clf.fit(X, y, sample_weight=sample_weight)
    assert "sum to zero" not in str(raised.value)
    runtime = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert not runtime


# ============================================================================
# 6. Extreme but valid weights
# ============================================================================

WEIGHT_FITS = {
    "auto": {},
    "lbfgs": {"solver": "lbfgs"},
    "fista_l1": {"solver": "fista", "l1_ratio": 0.5},
    "prox_newton_l1": {"solver": "prox-newton", "l1_ratio": 0.5},
    "minibatch": {"batch_size": 16, "random_state": 0, "max_iter": 20},
}


def _fit_quietly(clf, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # mini-batch max_iter=20
        return clf.fit(X, y, **kwargs)


@pytest.mark.parametrize("fit", WEIGHT_FITS)
@pytest.mark.parametrize("weight", [1e-300, 1e300, 1e306, 1e307, 1.7e308], ids=str)
def test_uniform_extreme_sample_weight_gives_the_unweighted_model(weight, fit):
    X, y = data("iris")
    params = {"alpha": 1e-3, **WEIGHT_FITS[fit]}
    ref = _fit_quietly(SoftmaxGDClassifier(**params), X, y)
    clf = _fit_quietly(
        SoftmaxGDClassifier(**params), X, y, sample_weight=np.full(len(y), weight)
    )
    assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("weight", [1e300, 1e307, 1.7e308], ids=str)
def test_uniform_extreme_class_weight_gives_the_unweighted_model(weight):
    X, y = data("iris")
    ref = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)
    clf = SoftmaxGDClassifier(alpha=1e-3, class_weight=dict.fromkeys(range(3), weight))
    clf.fit(X, y)
    assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "heavy, light",
    [(1e307, 1e-300), (1e307, 1.0), (1.0, 1e-300), (1e300, 1e-10)],
    ids=str,
)
def test_mixed_extreme_weights_give_the_model_of_the_heavy_rows(heavy, light):
    """Even rows weigh ``heavy``, odd rows ``light``: the light rows count for
    less than rounding, so the model is the unweighted one of the even rows."""
    X, y = data("iris")
    sample_weight = np.where(np.arange(len(y)) % 2 == 0, heavy, light)
    ref = SoftmaxGDClassifier(alpha=1e-3, tol=1e-8).fit(X[::2], y[::2])
    clf = SoftmaxGDClassifier(alpha=1e-3, tol=1e-8)
    clf.fit(X, y, sample_weight=sample_weight)
    assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)


def test_weights_whose_product_overflows_give_the_unweighted_model_or_raise():
    """sample_weight 1e200 times class_weight 1e200 overflows per row: the
    model of the unweighted data, or a ValueError about the weights."""
    X, y = data("iris")
    ref = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)
    clf = SoftmaxGDClassifier(alpha=1e-3, class_weight=dict.fromkeys(range(3), 1e200))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            clf.fit(X, y, sample_weight=np.full(len(y), 1e200))
    except ValueError as error:
        assert re.search(r"(?i)weight", str(error)), str(error)
        return
    assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-8)


# ============================================================================
# 7. Feature names with warm_start
# ============================================================================

WARM_FITS = {"auto": {}, "lbfgs": {"solver": "lbfgs"}}


def _frame(X):
    pd = pytest.importorskip(
        "pandas", reason="pandas (the test extra) is not installed"
    )
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])


@pytest.mark.parametrize("fit", WARM_FITS)
def test_warm_start_on_a_dataframe_after_an_array_records_the_names(fit):
    X, y = data("iris")
    df = _frame(X)
    clf = SoftmaxGDClassifier(alpha=1e-2, warm_start=True, **WARM_FITS[fit])
    clf.fit(X, y)
    caught = fit_recording(clf, df, y)
    assert not [str(w.message) for w in caught if "feature names" in str(w.message)]
    assert_array_equal(clf.feature_names_in_, df.columns)
    assert clf.n_iter_ <= 2  # the warm start was used: it starts at the optimum
    lr = LogisticRegression(warm_start=True).fit(X, y).fit(df, y)
    assert_array_equal(lr.feature_names_in_, clf.feature_names_in_)


@pytest.mark.parametrize("fit", WARM_FITS)
def test_warm_start_on_an_array_after_a_dataframe_forgets_the_names(fit):
    X, y = data("iris")
    df = _frame(X)
    lr = LogisticRegression(warm_start=True).fit(df, y).fit(X, y)
    assert not hasattr(lr, "feature_names_in_")  # what we match
    clf = SoftmaxGDClassifier(alpha=1e-2, warm_start=True, **WARM_FITS[fit])
    clf.fit(df, y)
    caught = fit_recording(clf, X, y)
    assert not [str(w.message) for w in caught if "feature names" in str(w.message)]
    assert not hasattr(clf, "feature_names_in_")
    assert clf.n_iter_ <= 2


@pytest.mark.parametrize("change", ["renamed", "reordered"])
def test_warm_start_on_other_column_names_records_them_or_refuses(change):
    """LogisticRegression records the new names (and reuses the coefficients
    by position); refusing is safer. Either, but never a warning with the old
    names kept."""
    X, y = data("iris")
    df = _frame(X)
    other = (
        df.rename(columns=str.upper) if change == "renamed" else df[df.columns[::-1]]
    )
    clf = SoftmaxGDClassifier(alpha=1e-2, warm_start=True).fit(df, y)
    before = fitted_state(clf)
    try:
        caught = fit_recording(clf, other, y)
    except ValueError as error:
        assert "feature names" in str(error)
        assert_same_state(before, fitted_state(clf))
        return
    assert not [str(w.message) for w in caught if "feature names" in str(w.message)]
    assert_array_equal(clf.feature_names_in_, other.columns)


# ============================================================================
# Invariants: never silently wrong
# ============================================================================

INVARIANT_FITS = {
    "newton-cg": {"solver": "newton-cg"},
    "lbfgs": {"solver": "lbfgs"},
    "fista_l1": {"solver": "fista", "l1_ratio": 0.5},
    "prox_newton_l1": {"solver": "prox-newton", "l1_ratio": 0.5},
    "float_step": {"learning_rate": 0.5},
    "constant_minibatch": {"learning_rate": "constant", "batch_size": 16},
    "adaptive_minibatch": {"batch_size": 16},
}
INVARIANT_WEIGHTS = ["none", "random_with_zeros", "balanced"]


def _weighted(weights, y):
    """``(sample_weight, class_weight)`` of a weighting scheme."""
    if weights == "random_with_zeros":
        sw = np.random.RandomState(0).uniform(0.0, 3.0, len(y))
        sw[::7] = 0.0
        return sw, None
    return None, ("balanced" if weights == "balanced" else None)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("weights", INVARIANT_WEIGHTS)
@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("fit", INVARIANT_FITS)
def test_fitted_model_is_finite(fit, container, weights):
    X, y = data("wine")
    sample_weight, class_weight = _weighted(weights, y)
    clf = SoftmaxGDClassifier(
        alpha=1e-3,
        class_weight=class_weight,
        max_iter=30,
        random_state=0,
        **INVARIANT_FITS[fit],
    )
    clf.fit(as_container(X, container), y, sample_weight=sample_weight)
    assert_finite_model(clf)
    proba = clf.predict_proba(as_container(X, container))
    assert np.all(np.isfinite(proba))
    assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.9


def _hostile_step(clf, X, y):
    clf.set_params(learning_rate=1e6)
    return X, y, None


def _hostile_scale(clf, X, y):
    return X * 1e155, y, None


def _hostile_class_weight(clf, X, y):
    clf.set_params(class_weight={0: np.nan, 1: 1.0, 2: 1.0})
    return X, y, None


def _hostile_sample_weight(clf, X, y):
    return X, y, np.full(X.shape[0], 1e307)


def _hostile_zero_X(clf, X, y):
    clf.set_params(alpha=0.0, fit_intercept=False)
    return X * 0.0, y, None


HOSTILE_FITS = {
    "step_1e6": _hostile_step,
    "X_times_1e155": _hostile_scale,
    "class_weight_nan": _hostile_class_weight,
    "sample_weight_1e307": _hostile_sample_weight,
    "zero_X_no_intercept_no_penalty": _hostile_zero_X,
}


@pytest.mark.parametrize("hostile", HOSTILE_FITS)
@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("fit", INVARIANT_FITS)
def test_hostile_fit_raises_cleanly_or_is_finite(fit, container, hostile):
    """After a good fit, a fit on hostile input either raises a ValueError
    (never a bare Python error) and leaves the good model as it was, or
    returns a finite model."""
    X, y = data("wine")
    clf = SoftmaxGDClassifier(
        alpha=1e-3, max_iter=30, random_state=0, **INVARIANT_FITS[fit]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(as_container(X, container), y)
    before = fitted_state(clf)
    X_bad, y_bad, sample_weight = HOSTILE_FITS[hostile](clf, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            clf.fit(as_container(X_bad, container), y_bad, sample_weight=sample_weight)
        except ValueError:
            assert_same_state(before, fitted_state(clf))
            return
    assert_finite_model(clf)


# ---------------------------------------- features whose squares overflow


@pytest.mark.parametrize(
    "dtype, scale", [(np.float32, 1e20), (np.float32, 1e30), (np.float64, 1e200)]
)
@pytest.mark.parametrize(
    "params",
    [{}, {"solver": "lbfgs"}, {"solver": "fista"}, {"learning_rate": 0.1}],
    ids=["auto", "lbfgs", "fista", "float_step"],
)
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_features_whose_squares_overflow_raise(dtype, scale, params, fmt):
    """Features so large that their squares overflow the dtype leave no
    curvature or scale to compute: the fit refuses them, saying to scale,
    instead of stopping at once at the null model (accuracy 1/3) under an
    overflow RuntimeWarning. The previous model stays."""
    X, y = data("iris")
    X = (X * scale).astype(dtype)
    X = sp.csr_array(X) if fmt == "csr" else X
    clf = SoftmaxGDClassifier().fit(*data("iris")).set_params(**params)
    before = fitted_state(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="(?i)overflow.*scal"):
            clf.fit(X, y)
    assert_same_state(before, fitted_state(clf))
