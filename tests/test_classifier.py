"""Estimator-level behaviour of SoftmaxGDClassifier: labels, dtypes, sparse
input, the constant-step update, convergence reporting, warm starts, the
elastic-net penalty, input validation and atomic (fail-safe) fitting.

Expected values are computed here from docs/derivation.md's formulas with numpy/scipy,
never copied from the estimator's output.
"""

import copy
import functools
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _reference import objective  # tests/_reference.py
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._backend import ArrayBackend
from sk_softmax._objective import SoftmaxObjective
from sk_softmax._solvers import minimize

MAX_ITER_WARNING = r"[Mm]aximum number of iterations|max_iter"
TIGHT = {"tol": 1e-10, "max_iter": 10_000}
LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}


@functools.cache
def _standardized(name):
    X, y = LOADERS[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def data(name):
    """Standardized data set; fresh copies, so tests may modify them."""
    X, y = _standardized(name)
    return X.copy(), y.copy()


def one_hot(y):
    classes, y_index = np.unique(y, return_inverse=True)
    Y = np.zeros((len(y), len(classes)))
    Y[np.arange(len(y)), y_index] = 1.0
    return Y


def hand_gradient(W, b, X, Y, s, alpha, l1_ratio=0.0):
    """The derivation's gradients of the smooth part of J."""
    S = softmax(X @ W.T + b, axis=1)
    G = (S - Y) * s[:, None] / s.sum()
    return G.T @ X + alpha * (1 - l1_ratio) * W, G.sum(axis=0)


def soft_threshold(W, t):
    return np.sign(W) * np.maximum(np.abs(W) - t, 0.0)


def fitted_state(clf):
    """Everything fit may set: a deep copy of the non-parameter attributes."""
    params = set(clf.get_params(deep=False))
    return {k: copy.deepcopy(v) for k, v in vars(clf).items() if k not in params}


def assert_same_state(before, after):
    assert set(before) == set(after)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(after[key], value, err_msg=key)
            assert after[key].dtype == value.dtype, key
        else:
            assert after[key] == value, key


# ---------------------------------------------------------------- labels


def test_string_labels_give_the_same_model_as_integers():
    X, y = data("iris")
    names = np.array(["setosa", "versicolor", "virginica"])
    ref = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, names[y])
    assert_array_equal(clf.classes_, names)
    assert_allclose(clf.coef_, ref.coef_, rtol=1e-12, atol=1e-14)
    assert_array_equal(clf.predict(X), names[ref.predict(X)])
    assert clf.score(X, names[y]) == pytest.approx(ref.score(X, y))


def test_non_contiguous_integer_labels_are_sorted():
    X, y = data("iris")
    mapping = np.array([42, -3, 10])  # class 0 -> 42, 1 -> -3, 2 -> 10
    ref = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, mapping[y])
    assert_array_equal(clf.classes_, [-3, 10, 42])
    # rows of coef_ follow classes_: -3 is the old class 1, 10 the old 2, 42 the old 0
    order = [1, 2, 0]
    assert_allclose(clf.coef_, ref.coef_[order], rtol=1e-12, atol=1e-14)
    assert_allclose(clf.intercept_, ref.intercept_[order], rtol=1e-12, atol=1e-14)
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X)[:, order], atol=1e-14)
    predicted = clf.predict(X)
    assert set(np.unique(predicted)) <= {-3, 10, 42}
    assert_array_equal(predicted, mapping[ref.predict(X)])


def test_boolean_labels():
    X, y = data("breast_cancer")
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y == 1)
    assert_array_equal(clf.classes_, [False, True])
    predicted = clf.predict(X)
    assert predicted.dtype == bool
    assert np.mean(predicted == (y == 1)) > 0.95


@pytest.mark.parametrize("labels", [("no", "yes"), (-7, 3), (0, 1)])
def test_binary_convention(labels):
    X, y01 = data("breast_cancer")
    y = np.array(labels)[y01]
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    assert_array_equal(clf.classes_, sorted(labels))
    assert clf.coef_.shape == (1, X.shape[1])
    assert clf.intercept_.shape == (1,)
    z = clf.decision_function(X)
    assert z.shape == (X.shape[0],)
    assert_allclose(z, X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-12, atol=1e-12)
    # positive decision value means classes_[1]
    assert_array_equal(clf.predict(X), clf.classes_[(z > 0).astype(int)])
    assert np.any(z > 0) and np.any(z < 0)
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], 2)
    assert_allclose(proba[:, 1], expit(z), rtol=1e-12, atol=1e-15)
    assert_allclose(proba[:, 0], 1 - expit(z), rtol=0, atol=1e-15)
    assert_allclose(proba[:, 0], expit(-z), rtol=1e-12, atol=1e-15)
    log_proba = clf.predict_log_proba(X)
    assert_allclose(log_proba, np.log(proba), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "params",
    [{}, {"solver": "lbfgs"}, {"l1_ratio": 0.5}, {"batch_size": 64, "max_iter": 2}],
    ids=["newton-cg", "lbfgs", "fista", "mini-batch"],
)
def test_binary_full_batch_passes_use_one_row(params, monkeypatch):
    """Two classes: every pass of the full-batch solvers gets one row of
    parameters (``coef_``'s difference form, half the products); the
    mini-batch steps keep the softmax's two rows."""
    X, y = data("breast_cancer")
    rows = set()
    map_sum = ArrayBackend.map_sum

    def spy(self, fn, *args, **kwargs):
        rows.update(a.shape[0] for a in args if getattr(a, "ndim", 0) == 2)
        return map_sum(self, fn, *args, **kwargs)

    monkeypatch.setattr(ArrayBackend, "map_sum", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SoftmaxGDClassifier(alpha=1e-2, random_state=0, **params).fit(X, y)
    assert rows == ({2} if "batch_size" in params else {1})


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_binary_one_vector_fit_is_the_two_row_optimum(l1_ratio):
    """The fit on one vector reaches the optimum of the two-row softmax
    objective (minimised here by the solvers directly), whose rows are
    opposite: ``coef_ = W[1] - W[0]``."""
    X, y, s = _weighted_problem("breast_cancer")
    alpha = 1e-2
    clf = SoftmaxGDClassifier(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=500)
    clf.fit(X, y, sample_weight=s)
    two_rows = SoftmaxObjective.from_arrays(
        X,
        y,
        s / s.sum(),
        n_classes=2,
        alpha=alpha,
        l1_ratio=l1_ratio,
        fit_intercept=True,
    )
    result = minimize(
        two_rows,
        two_rows.zeros(),
        method="newton-cg" if l1_ratio == 0 else "fista",
        max_iter=2000,
        tol=1e-10,
        scale=None,
        report=lambda *a: False,
    )
    assert result.status == "converged"
    W, b = two_rows.split(result.P)
    assert_allclose(W[0], -W[1], rtol=1e-6, atol=1e-9)
    assert_allclose(clf.coef_[0], W[1] - W[0], rtol=1e-6, atol=1e-8)
    assert_allclose(clf.intercept_, [b[1] - b[0]], rtol=1e-6, atol=1e-8)


def test_binary_full_batch_early_stopping_scores_the_sign_rule():
    """Early stopping on two classes scores the one-row model by its sign
    rule: the validation accuracy is breast_cancer's (about 0.97), not the
    share of one class (0.37 or 0.63)."""
    X, y = data("breast_cancer")
    clf = SoftmaxGDClassifier(alpha=1e-2, early_stopping=True, random_state=0)
    clf.fit(X, y)
    assert clf.best_validation_score_ > 0.9
    assert all(0.9 < score <= 1.0 for score in clf.validation_scores_)


def test_multiclass_convention():
    X, y = data("wine")
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    assert clf.coef_.shape == (3, X.shape[1])
    assert clf.intercept_.shape == (3,)
    Z = clf.decision_function(X)
    assert Z.shape == (X.shape[0], 3)
    assert_allclose(Z, X @ clf.coef_.T + clf.intercept_, rtol=1e-12, atol=1e-12)
    assert_allclose(clf.predict_proba(X), softmax(Z, axis=1), rtol=1e-12, atol=1e-15)
    assert_allclose(clf.predict_log_proba(X), log_softmax(Z, axis=1), atol=1e-12)
    assert_array_equal(clf.predict(X), clf.classes_[np.argmax(Z, axis=1)])


@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_log_proba_is_finite_for_extreme_inputs(name):
    X, y = data(name)
    clf = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)
    X_extreme = 1e4 * X[::5]
    z = clf.decision_function(X_extreme)
    assert np.abs(z).max() > 1e3  # exp(-z) underflows: probabilities round to 0
    proba = clf.predict_proba(X_extreme)
    log_proba = clf.predict_log_proba(X_extreme)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    assert np.any(proba == 0.0)  # ... which is why log(proba) would be -inf
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    if z.ndim == 1:
        expected = np.column_stack([log_expit(-z), log_expit(z)])
    else:
        expected = log_softmax(z, axis=1)
    assert_allclose(log_proba, expected, rtol=1e-12, atol=1e-12)
    finite = proba > 0
    assert_allclose(log_proba[finite], np.log(proba[finite]), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("sparse", [None, "csr"])
@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_float32_is_preserved(name, sparse):
    X, y = data(name)
    X32 = X.astype(np.float32)
    if sparse:
        X32 = sp.csr_matrix(X32)
    clf32 = SoftmaxGDClassifier(alpha=1e-2, tol=1e-6).fit(X32, y)
    clf64 = SoftmaxGDClassifier(alpha=1e-2, tol=1e-6).fit(X, y)
    assert clf32.coef_.dtype == np.float32
    assert clf32.intercept_.dtype == np.float32
    assert clf32.decision_function(X32).dtype == np.float32
    proba32 = clf32.predict_proba(X32)
    assert proba32.dtype == np.float32
    assert clf32.predict_log_proba(X32).dtype == np.float32
    assert clf64.coef_.dtype == np.float64
    assert_allclose(proba32, clf64.predict_proba(X), rtol=0, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, bool])
def test_other_dtypes_become_float64(dtype):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(80, 4)).astype(dtype)
    y = (X[:, 0].astype(float) + rng.randn(80) > 0.8).astype(int)
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    assert clf.coef_.dtype == np.float64
    assert clf.intercept_.dtype == np.float64
    assert clf.predict_proba(X).dtype == np.float64
    ref = SoftmaxGDClassifier(alpha=1e-2).fit(X.astype(np.float64), y)
    assert_allclose(clf.coef_, ref.coef_, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- sparse


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_sparse_input_gives_the_dense_model(name, fmt, l1_ratio):
    X, y = data(name)
    X[np.abs(X) < 0.5] = 0.0  # a genuinely sparse matrix
    X_sparse = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    params = dict(alpha=1e-2, l1_ratio=l1_ratio, **TIGHT)
    dense = SoftmaxGDClassifier(**params).fit(X, y)
    sparse = SoftmaxGDClassifier(**params).fit(X_sparse, y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-8)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=0, atol=1e-8)
    assert_allclose(sparse.predict_proba(X_sparse), dense.predict_proba(X), atol=1e-12)
    assert_array_equal(dense.predict(X_sparse), dense.predict(X))


@pytest.mark.parametrize(
    "solver, l1_ratio",
    [("newton-cg", 0.0), ("lbfgs", 0.0), ("fista", 0.0), ("fista", 0.5)],
)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_products_read_the_coefficients_without_a_copy(
    monkeypatch, fmt, solver, l1_ratio
):
    """Scipy's sparse-times-dense kernels copy a dense operand that is not
    row-major: on sparse X, every product ``W X^T`` a fit makes gets ``W``
    column-major (``W^T`` row-major)."""
    import sk_softmax._loss as loss_module

    X, y = data("wine")
    X[np.abs(X) < 0.5] = 0.0
    layouts = []
    logits_t = loss_module._logits_t

    def recording(X, W, b, xp, **kwargs):
        if sp.issparse(X):
            layouts.append(W.T.flags.c_contiguous)
        return logits_t(X, W, b, xp, **kwargs)

    monkeypatch.setattr(loss_module, "_logits_t", recording)
    clf = SoftmaxGDClassifier(alpha=1e-2, l1_ratio=l1_ratio, solver=solver)
    clf.fit(sp.csr_matrix(X).asformat(fmt), y)
    assert len(layouts) > clf.n_iter_ and all(layouts)


@pytest.mark.parametrize(
    "solver, fmt, l1_ratio, expected",
    [
        ("auto", None, 0.0, "newton-cg"),
        ("auto", "csr", 0.0, "newton-cg"),
        ("auto", "csc", 0.0, "newton-cg"),
        ("auto", None, 0.5, "prox-newton"),
        ("auto", "csr", 0.5, "prox-newton"),
        ("prox-newton", None, 1.0, "prox-newton"),
        ("lbfgs", None, 0.0, "lbfgs"),
        ("newton-cg", "csr", 0.0, "newton-cg"),
        ("fista", None, 0.0, "fista"),
        ("fista", "csr", 0.5, "fista"),
    ],
)
def test_solver_choice(monkeypatch, solver, fmt, l1_ratio, expected):
    """The classifier's choice reaches ``_solvers.minimize`` as the key of
    ``_solvers.SOLVERS`` that runs: exactly one solver, the expected one."""
    import sk_softmax._fitting as fitting_module

    called = []
    minimize = fitting_module.minimize

    def recording(*args, method, **kwargs):
        called.append(method)
        return minimize(*args, method=method, **kwargs)

    monkeypatch.setattr(fitting_module, "minimize", recording)
    X, y = data("wine")
    X = X if fmt is None else sp.csr_matrix(X).asformat(fmt)
    SoftmaxGDClassifier(alpha=1e-2, l1_ratio=l1_ratio, solver=solver).fit(X, y)
    assert called == [expected]


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_smooth_solvers_refuse_l1(solver):
    X, y = data("wine")
    with pytest.raises(ValueError, match="l1_ratio=0.*'fista'"):
        SoftmaxGDClassifier(solver=solver, l1_ratio=0.5).fit(X, y)


@pytest.mark.parametrize("batch_size, learning_rate", [(16, "auto"), (None, 0.1)])
def test_solver_is_ignored_without_full_batch_auto(batch_size, learning_rate):
    X, y = data("wine")
    params = dict(
        alpha=1e-2,
        l1_ratio=0.5,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_iter=3,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        auto = SoftmaxGDClassifier(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        other = SoftmaxGDClassifier(solver="newton-cg", **params).fit(X, y)
    assert_array_equal(other.coef_, auto.coef_)


def test_large_sparse_input_is_not_densified():
    n_samples, n_features = 2000, 200_000
    rng = np.random.RandomState(0)
    nnz = 20_000
    X = sp.coo_matrix(
        (
            rng.standard_normal(nnz),
            (rng.randint(0, n_samples, nnz), rng.randint(0, n_features, nnz)),
        ),
        shape=(n_samples, n_features),
    ).tocsr()
    y = rng.randint(0, 3, n_samples)
    dense_bytes = n_samples * n_features * 8  # 3.2 GB
    clf = SoftmaxGDClassifier(alpha=0.1)
    tracemalloc.start()
    try:
        clf.fit(X, y)
        proba = clf.predict_proba(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 10, f"peak {peak / 1e6:.0f} MB"
    assert sp.issparse(X) and X.format == "csr"
    assert clf.coef_.shape == (3, n_features)
    assert proba.shape == (n_samples, 3)
    assert_allclose(proba.sum(axis=1), 1.0)
    # features that never occur get no weight (their gradient is 0 forever)
    unused = np.diff(X.tocsc().indptr) == 0
    assert unused.any()
    assert np.all(clf.coef_[:, unused] == 0)


# ------------------------------------------------- constant learning rate


def _weighted_problem(name, seed=0):
    X, y = data(name)
    s = np.random.RandomState(seed).uniform(0.5, 2.0, len(y))
    return X, y, s


@pytest.mark.parametrize("l1_ratio", [0.0, 0.7])
def test_one_constant_step_is_the_derivations_update(l1_ratio):
    X, y, s = _weighted_problem("wine")
    eta, alpha = 0.3, 0.05
    clf = SoftmaxGDClassifier(
        alpha=alpha, l1_ratio=l1_ratio, learning_rate=eta, max_iter=1, tol=0
    )
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf.fit(X, y, sample_weight=s)

    Y = one_hot(y)
    K = Y.shape[1]
    # at W = 0, b = 0 the softmax is uniform, and alpha * W vanishes
    G = (np.full_like(Y, 1.0 / K) - Y) * s[:, None] / s.sum()
    W1 = soft_threshold(-eta * (G.T @ X), eta * alpha * l1_ratio)
    b1 = -eta * G.sum(axis=0)
    assert_allclose(clf.coef_, W1, rtol=1e-12, atol=1e-15)
    assert_allclose(clf.intercept_, b1, rtol=1e-12, atol=1e-15)
    assert clf.n_iter_ == 1
    if l1_ratio:
        assert np.any(clf.coef_ == 0)  # the proximal step makes exact zeros

    # a second step includes alpha * (1 - l1_ratio) * W
    clf2 = SoftmaxGDClassifier(
        alpha=alpha, l1_ratio=l1_ratio, learning_rate=eta, max_iter=2, tol=0
    )
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf2.fit(X, y, sample_weight=s)
    grad_W, grad_b = hand_gradient(W1, b1, X, Y, s, alpha, l1_ratio)
    W2 = soft_threshold(W1 - eta * grad_W, eta * alpha * l1_ratio)
    b2 = b1 - eta * grad_b
    assert_allclose(clf2.coef_, W2, rtol=1e-12, atol=1e-15)
    assert_allclose(clf2.intercept_, b2, rtol=1e-12, atol=1e-15)
    assert len(clf2.loss_curve_) == 2
    assert_allclose(
        clf2.loss_curve_,
        [objective(W, b, X, y, alpha, s, l1_ratio) for W, b in [(W1, b1), (W2, b2)]],
        rtol=1e-12,
    )


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_constant_steps_binary(l1_ratio):
    """K = 2 runs the same softmax update on W of shape (2, d); coef_ = W[1] - W[0]."""
    X, y, s = _weighted_problem("breast_cancer")
    eta, alpha = 0.5, 0.01
    clf = SoftmaxGDClassifier(
        alpha=alpha, l1_ratio=l1_ratio, learning_rate=eta, max_iter=2, tol=0
    )
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf.fit(X, y, sample_weight=s)
    Y = one_hot(y)
    W, b = np.zeros((2, X.shape[1])), np.zeros(2)
    for _ in range(2):
        grad_W, grad_b = hand_gradient(W, b, X, Y, s, alpha, l1_ratio)
        W = soft_threshold(W - eta * grad_W, eta * alpha * l1_ratio)
        b = b - eta * grad_b
    assert_allclose(clf.coef_, (W[1] - W[0])[None, :], rtol=1e-12, atol=1e-15)
    assert_allclose(clf.intercept_, [b[1] - b[0]], rtol=1e-12, atol=1e-15)


def test_no_intercept_constant_step():
    X, y, s = _weighted_problem("iris")
    eta = 0.2
    clf = SoftmaxGDClassifier(
        alpha=0.1, fit_intercept=False, learning_rate=eta, max_iter=1, tol=0
    )
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf.fit(X, y, sample_weight=s)
    Y = one_hot(y)
    grad_W, _ = hand_gradient(np.zeros((3, X.shape[1])), np.zeros(3), X, Y, s, 0.1)
    assert_allclose(clf.coef_, -eta * grad_W, rtol=1e-12, atol=1e-15)
    assert_array_equal(clf.intercept_, np.zeros(3))


def test_small_constant_step_decreases_the_loss_monotonically():
    X, y = data("iris")
    alpha = 1e-2
    X1 = np.hstack([X, np.ones((len(y), 1))])
    # Lipschitz bound of the gradient of J: ||X1||_2^2 / (2 n) + alpha
    lipschitz = np.linalg.norm(X1, 2) ** 2 / (2 * len(y)) + alpha
    clf = SoftmaxGDClassifier(alpha=alpha, learning_rate=1 / lipschitz, max_iter=50)
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf.fit(X, y)
    curve = np.asarray(clf.loss_curve_)
    assert len(curve) == clf.n_iter_ == 50
    assert np.all(np.diff(curve) < 0)
    assert curve[0] < np.log(3)  # J at W = 0, b = 0 is log(K)


# ------------------------------------------------ convergence reporting


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_convergence_warning_when_max_iter_is_too_small(name):
    X, y = data(name)
    clf = SoftmaxGDClassifier(alpha=1e-4, max_iter=3, tol=1e-8)
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert len(clf.loss_curve_) == 3


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_loss_curve_of_the_default_solver(name):
    X, y = data(name)
    alpha = 1e-3
    clf = SoftmaxGDClassifier(alpha=alpha, max_iter=500).fit(X, y)
    assert 1 <= clf.n_iter_ <= 500
    curve = np.asarray(clf.loss_curve_)
    assert len(curve) == clf.n_iter_
    eps = np.finfo(np.float64).eps
    assert np.all(np.diff(curve) <= 32 * eps * np.abs(curve[:-1]))
    assert curve[0] < np.log(len(np.unique(y)))
    J = objective(clf.coef_, clf.intercept_, X, y, alpha)
    assert_allclose(curve[-1], J, rtol=1e-10)


@pytest.mark.parametrize(
    "name, params, weighted",
    [
        ("wine", dict(class_weight={0: 2.0, 1: 1.0, 2: 0.5}), True),
        ("iris", dict(l1_ratio=0.5), True),
        ("breast_cancer", dict(l1_ratio=0.3), False),
        ("iris", dict(fit_intercept=False), True),
    ],
)
def test_last_loss_is_the_objective_at_the_fitted_model(name, params, weighted):
    X, y = data(name)
    alpha = 1e-2
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y)) if weighted else None
    clf = SoftmaxGDClassifier(alpha=alpha, **params).fit(X, y, sample_weight=sw)
    s = np.ones(len(y)) if sw is None else sw
    if "class_weight" in params:
        s = s * np.array([params["class_weight"][label] for label in y])
    J = objective(
        clf.coef_,
        clf.intercept_,
        X,
        y,
        alpha,
        sample_weight=s,
        l1_ratio=params.get("l1_ratio", 0.0),
    )
    assert len(clf.loss_curve_) == clf.n_iter_
    assert_allclose(clf.loss_curve_[-1], J, rtol=1e-10)
    assert min(clf.loss_curve_) <= clf.loss_curve_[0]


def test_fits_are_deterministic():
    X, y = data("wine")
    a = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)
    b = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert a.n_iter_ == b.n_iter_


def test_verbose_prints_one_line_per_iteration(capsys):
    X, y = data("iris")
    SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    assert capsys.readouterr().out == ""
    clf = SoftmaxGDClassifier(alpha=1e-2, verbose=1).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == clf.n_iter_ > 0


# ------------------------------------------------------------ warm start


@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_warm_start_from_the_optimum_stops_at_once(name):
    X, y = data(name)
    clf = SoftmaxGDClassifier(alpha=1e-2, tol=1e-8).fit(X, y)
    coef, intercept, n_iter = clf.coef_.copy(), clf.intercept_.copy(), clf.n_iter_
    assert n_iter > 5
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.n_iter_ <= 2
    assert_allclose(clf.coef_, coef, rtol=0, atol=1e-8)
    assert_allclose(clf.intercept_, intercept, rtol=0, atol=1e-8)
    # without warm_start the same fit starts again from zero
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.n_iter_ == n_iter


def test_warm_start_on_an_unfitted_estimator_is_a_cold_fit():
    X, y = data("iris")
    cold = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    warm = SoftmaxGDClassifier(alpha=1e-2, warm_start=True).fit(X, y)
    assert warm.n_iter_ == cold.n_iter_
    assert_array_equal(warm.coef_, cold.coef_)


def test_warm_start_continues_from_the_current_model():
    X, y = data("wine")
    alpha = 1e-2
    cold = SoftmaxGDClassifier(alpha=alpha, tol=1e-8).fit(X, y)
    # a model fitted on other data (half of the rows) is a good start
    warm = SoftmaxGDClassifier(alpha=alpha, tol=1e-8).fit(X[::2], y[::2])
    warm.set_params(warm_start=True).fit(X, y)
    assert warm.n_iter_ < cold.n_iter_
    assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-6)


def test_warm_start_constant_step_starts_from_coef():
    X, y, s = _weighted_problem("wine")
    eta, alpha = 0.2, 0.05
    clf = SoftmaxGDClassifier(alpha=alpha, max_iter=3)
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf.fit(X[::3], y[::3])
    W0, b0 = clf.coef_.copy(), clf.intercept_.copy()
    assert np.abs(W0).max() > 0
    clf.set_params(warm_start=True, learning_rate=eta, max_iter=1, tol=0)
    with pytest.warns(ConvergenceWarning, match=MAX_ITER_WARNING):
        clf.fit(X, y, sample_weight=s)
    grad_W, grad_b = hand_gradient(W0, b0, X, one_hot(y), s, alpha)
    assert_allclose(clf.coef_, W0 - eta * grad_W, rtol=1e-12, atol=1e-15)
    assert_allclose(clf.intercept_, b0 - eta * grad_b, rtol=1e-12, atol=1e-15)


def test_warm_start_binary_keeps_the_model():
    X, y = data("breast_cancer")
    clf = SoftmaxGDClassifier(alpha=1e-2, l1_ratio=0.5, tol=1e-8).fit(X, y)
    proba = clf.predict_proba(X)
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.n_iter_ <= 2
    assert_allclose(clf.predict_proba(X), proba, atol=1e-8)


@pytest.mark.parametrize(
    "new_labels", [np.array([0, 1]), np.array(["a", "b", "c"]), np.array([0, 1, 3])]
)
def test_warm_start_with_other_classes_raises(new_labels):
    X, y = data("iris")
    clf = SoftmaxGDClassifier(alpha=1e-2, warm_start=True).fit(X, y)
    y_new = new_labels[y % len(new_labels)]
    with pytest.raises(ValueError, match="classes"):
        clf.fit(X, y_new)


# ------------------------------------------------------------ elastic net


def test_l1_gives_exact_zeros_that_l2_does_not():
    X, y = data("wine")
    l2 = SoftmaxGDClassifier(alpha=0.05).fit(X, y)
    l1 = SoftmaxGDClassifier(alpha=0.05, l1_ratio=1.0).fit(X, y)
    stronger = SoftmaxGDClassifier(alpha=0.2, l1_ratio=1.0).fit(X, y)
    assert np.count_nonzero(l2.coef_ == 0) == 0
    n_zeros = np.count_nonzero(l1.coef_ == 0)
    assert 0 < n_zeros < l1.coef_.size
    assert np.count_nonzero(stronger.coef_ == 0) > n_zeros


def _l1_alpha_max(X, y, l1_ratio):
    """Smallest alpha with W = 0 optimal: at W = 0 the optimal intercepts make the
    softmax the class frequencies, and W = 0 stays optimal while every entry of
    grad_W is within the L1 subdifferential, |grad_W| <= alpha * l1_ratio."""
    Y = one_hot(y)
    frequencies = Y.mean(axis=0)
    G = (frequencies - Y) / len(y)
    return np.abs(G.T @ X).max() / l1_ratio, frequencies


def test_l1_alpha_max_gives_the_null_model():
    X, y = data("wine")  # unbalanced classes: the optimal b is not 0
    l1_ratio = 0.8
    alpha_max, frequencies = _l1_alpha_max(X, y, l1_ratio)

    above = SoftmaxGDClassifier(alpha=1.02 * alpha_max, l1_ratio=l1_ratio, tol=1e-8)
    above.fit(X, y)
    assert np.all(above.coef_ == 0)
    assert_allclose(above.predict_proba(X[:5]), np.tile(frequencies, (5, 1)), atol=1e-6)

    below = SoftmaxGDClassifier(alpha=0.9 * alpha_max, l1_ratio=l1_ratio, tol=1e-8)
    below.fit(X, y)
    assert 0 < np.count_nonzero(below.coef_) < below.coef_.size


def _symmetric_data():
    """Every class has the same mean (0) and the same size: W = 0, b = 0 is the
    optimum for any alpha."""
    X = np.tile([[1.0, 2.0], [-1.0, -2.0]], (15, 1))
    y = np.repeat(np.arange(3), 2)
    return X, np.tile(y, 5)


@pytest.mark.parametrize(
    "case", ["l1_above_alpha_max", "l2_lbfgs", "l2_constant_step", "l1_constant_step"]
)
def test_fit_converges_when_zero_is_already_optimal(case):
    """The start W = 0, b = 0 is the optimum: the fit must stop at once, without
    a ConvergenceWarning (ConvergenceWarning is an error in this test suite)."""
    if case == "l1_above_alpha_max":
        X, y = data("iris")  # balanced classes: the optimal b is 0 as well
        alpha_max, _ = _l1_alpha_max(X, y, 0.8)
        params = dict(alpha=1.02 * alpha_max, l1_ratio=0.8)
    else:
        X, y = _symmetric_data()
        params = {
            "l2_lbfgs": dict(alpha=1e-3),
            "l2_constant_step": dict(alpha=1e-3, learning_rate=0.5),
            "l1_constant_step": dict(alpha=1e-3, l1_ratio=0.5, learning_rate=0.5),
        }[case]
    clf = SoftmaxGDClassifier(**params).fit(X, y)
    assert clf.n_iter_ <= 1
    assert np.all(clf.coef_ == 0)
    assert_allclose(clf.predict_proba(X), 1 / 3, atol=1e-12)


@pytest.mark.parametrize("C, l1_ratio", [(1.0, 0.5), (0.1, 1.0)])
def test_elastic_net_matches_saga_multiclass(C, l1_ratio):
    """K > 2: alpha = 1 / (C sum s) maps the whole elastic net, so that
    J * C * sum(s) is LogisticRegression's objective."""
    X, y = data("wine")
    alpha = 1.0 / (C * len(y))
    clf = SoftmaxGDClassifier(alpha=alpha, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    ref = LogisticRegression(
        C=C,
        l1_ratio=l1_ratio,
        solver="saga",
        tol=1e-10,
        max_iter=100_000,
        random_state=0,
    ).fit(X, y)
    assert np.any(clf.coef_ == 0)
    assert_array_equal(clf.coef_ == 0, ref.coef_ == 0)
    assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    J_clf = objective(clf.coef_, clf.intercept_, X, y, alpha, l1_ratio=l1_ratio)
    J_ref = objective(ref.coef_, ref.intercept_, X, y, alpha, l1_ratio=l1_ratio)
    assert abs(J_clf - J_ref) <= 1e-8 * J_ref


def test_elastic_net_matches_saga_binary():
    """K = 2 with W = [-w/2, w/2]: ||W||_F^2 = ||w||^2 / 2 but ||W||_1 = ||w||_1,
    so LogisticRegression(C, l1_ratio=rho) is alpha = (2 - rho) / (C n) with
    l1_ratio = rho / (2 - rho) (rho = 0 gives the 2 / (C n) of docs/derivation.md)."""
    X, y = data("breast_cancer")
    C, rho = 0.1, 0.5
    alpha, l1_ratio = (2 - rho) / (C * len(y)), rho / (2 - rho)
    clf = SoftmaxGDClassifier(alpha=alpha, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    ref = LogisticRegression(
        C=C,
        l1_ratio=rho,
        solver="saga",
        tol=1e-10,
        max_iter=100_000,
        random_state=0,
    ).fit(X, y)
    assert np.any(clf.coef_ == 0)
    assert_array_equal(clf.coef_ == 0, ref.coef_ == 0)
    assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)


# ------------------------------------------------------------ bad input


def _small():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4)
    y = np.arange(30) % 3
    return X, y


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X_raises(bad, match):
    X, y = _small()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=match):
        SoftmaxGDClassifier().fit(X, y)
    with pytest.raises(ValueError, match=match):
        SoftmaxGDClassifier().fit(sp.csr_matrix(X), y)
    clf = SoftmaxGDClassifier().fit(*_small())
    with pytest.raises(ValueError, match=match):
        clf.predict(X)


def test_one_class_raises():
    X, _ = _small()
    with pytest.raises(ValueError, match="class"):
        SoftmaxGDClassifier().fit(X, np.full(len(X), "only"))


def test_inconsistent_lengths_raise():
    X, y = _small()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SoftmaxGDClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        SoftmaxGDClassifier().fit(X, y, sample_weight=np.ones(len(y) - 1))


def test_empty_X_raises():
    X, y = _small()
    with pytest.raises(ValueError, match="0 sample"):
        SoftmaxGDClassifier().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="0 feature"):
        SoftmaxGDClassifier().fit(X[:, :0], y)


def test_wrong_number_of_features_at_predict_raises():
    X, y = _small()
    clf = SoftmaxGDClassifier().fit(X, y)
    for method in (
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
    ):
        with pytest.raises(ValueError, match="4 features"):
            getattr(clf, method)(X[:, :3])


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function"]
)
def test_predict_before_fit_raises(method):
    X, _ = _small()
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(SoftmaxGDClassifier(), method)(X)


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": -1.0},
        {"learning_rate": -1.0},
        {"learning_rate": 0.0},
        {"learning_rate": 0},
        {"learning_rate": "foo"},
        {"l1_ratio": 1.5},
        {"l1_ratio": -0.1},
        {"max_iter": 0},
        {"tol": -1e-3},
        {"class_weight": "foo"},
        {"solver": "sag"},
    ],
)
def test_invalid_parameters_raise(params):
    X, y = _small()
    (name,) = params
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        SoftmaxGDClassifier(**params).fit(X, y)


def test_negative_sample_weight_raises():
    X, y = _small()
    sw = np.ones(len(y))
    sw[4] = -0.5
    with pytest.raises(ValueError, match="[Nn]egative"):
        SoftmaxGDClassifier().fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_sample_weight_raises(bad, match):
    X, y = _small()
    sw = np.ones(len(y))
    sw[2] = bad
    with pytest.raises(ValueError, match=match):
        SoftmaxGDClassifier().fit(X, y, sample_weight=sw)


def test_all_zero_weights_raise():
    X, y = _small()
    with pytest.raises(ValueError, match="zero"):
        SoftmaxGDClassifier().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="zero"):
        SoftmaxGDClassifier(class_weight={0: 0.0, 1: 0.0, 2: 0.0}).fit(X, y)


def test_continuous_target_raises():
    X, _ = _small()
    y = np.linspace(0.0, 1.0, len(X))
    with pytest.raises(ValueError, match="Unknown label type"):
        SoftmaxGDClassifier().fit(X, y)


def test_multioutput_target_raises():
    X, y = _small()
    with pytest.raises(ValueError, match="1d array"):
        SoftmaxGDClassifier().fit(X, np.column_stack([y, y]))


def test_class_weight_for_unknown_class_raises():
    X, y = _small()
    with pytest.raises(ValueError, match="class_weight"):
        SoftmaxGDClassifier(class_weight={7: 2.0}).fit(X, y)


# ------------------------------------------------------- atomic fitting


def _nan_X(clf, X, y):
    X = X.copy()
    X[0, 0] = np.nan
    clf.fit(X, y)


def _one_class(clf, X, y):
    clf.fit(X, np.zeros_like(y))


def _warm_wrong_features(clf, X, y):
    clf.set_params(warm_start=True)
    clf.fit(X[:, :-1], y)


def _warm_other_classes(clf, X, y):
    clf.set_params(warm_start=True)
    clf.fit(X, np.where(y == 2, 5, y))


def _negative_weights(clf, X, y):
    clf.fit(X, y, sample_weight=np.full(len(y), -1.0))


def _invalid_parameter(clf, X, y):
    clf.set_params(alpha=-1.0)
    clf.fit(X, y)


def _smooth_solver_with_l1(clf, X, y):
    clf.set_params(solver="newton-cg", l1_ratio=0.5)
    clf.fit(X, y)


@pytest.mark.parametrize(
    "failing_fit",
    [
        _nan_X,
        _one_class,
        _warm_wrong_features,
        _warm_other_classes,
        _negative_weights,
        _invalid_parameter,
        _smooth_solver_with_l1,
    ],
)
def test_failing_fit_leaves_the_fitted_model_intact(failing_fit):
    X, y = data("iris")
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y)
    before = fitted_state(clf)
    assert {"coef_", "intercept_", "classes_", "n_features_in_", "n_iter_"} <= set(
        before
    )
    proba = clf.predict_proba(X)
    with pytest.raises(ValueError):  # InvalidParameterError is a ValueError
        failing_fit(clf, X, y)
    assert_same_state(before, fitted_state(clf))
    assert_array_equal(clf.predict_proba(X), proba)


@pytest.mark.parametrize("failing_fit", [_nan_X, _one_class, _negative_weights])
def test_failing_first_fit_leaves_the_estimator_unfitted(failing_fit):
    X, y = data("iris")
    clf = SoftmaxGDClassifier(alpha=1e-2)
    keys = set(vars(clf))
    with pytest.raises(ValueError):
        failing_fit(clf, X, y)
    assert set(vars(clf)) == keys
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_failing_fit_of_a_warm_started_model_keeps_the_warm_model():
    X, y = data("iris")
    clf = SoftmaxGDClassifier(alpha=1e-2, warm_start=True).fit(X, y)
    before = fitted_state(clf)
    with pytest.raises(ValueError):
        _nan_X(clf, X, y)
    assert_same_state(before, fitted_state(clf))
    clf.fit(X, y)  # and it can still continue
    assert clf.n_iter_ <= 2


# ------------------------------------------------ inputs are not modified


@pytest.mark.parametrize(
    "kind", ["float64", "float32", "fortran", "csr", "csc", "csr32"]
)
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_fit_does_not_modify_its_inputs(kind, class_weight):
    X, y = data("wine")
    X[np.abs(X) < 0.3] = 0.0
    X = {
        "float64": X,
        "float32": X.astype(np.float32),
        "fortran": np.asfortranarray(X),
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
        "csr32": sp.csr_matrix(X.astype(np.float32)),
    }[kind]
    y = np.array(["a", "b", "c"])[y]
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    if sp.issparse(X):
        X_copy = X.copy()
        for array in (X.data, X.indices, X.indptr):
            array.flags.writeable = False
    else:
        X_copy = X.copy(order="K")
        X.flags.writeable = False
    y_copy, sw_copy = y.copy(), sw.copy()
    y.flags.writeable = False
    sw.flags.writeable = False

    clf = SoftmaxGDClassifier(alpha=1e-2, class_weight=class_weight)
    clf.fit(X, y, sample_weight=sw)  # read-only inputs work
    clf.predict_proba(X)

    if sp.issparse(X):
        assert X.format == X_copy.format
        assert_array_equal(X.toarray(), X_copy.toarray())
    else:
        assert X.dtype == X_copy.dtype
        assert_array_equal(X, X_copy)
    assert_array_equal(y, y_copy)
    assert_array_equal(sw, sw_copy)


def test_fit_does_not_alias_sample_weight():
    X, y = data("iris")
    sw = np.ones(len(y))
    clf = SoftmaxGDClassifier(alpha=1e-2).fit(X, y, sample_weight=sw)
    proba = clf.predict_proba(X)
    sw[:] = 100.0  # changing the caller's array afterwards changes nothing
    assert_array_equal(clf.predict_proba(X), proba)


# ---------------------------------------------------- feature metadata


def test_n_features_in_and_no_feature_names_for_arrays():
    X, y = data("wine")
    clf = SoftmaxGDClassifier().fit(X, y)
    assert clf.n_features_in_ == X.shape[1]
    assert not hasattr(clf, "feature_names_in_")


def test_feature_names_in_from_a_dataframe():
    pd = pytest.importorskip(
        "pandas", reason="pandas (the test extra) is not installed"
    )
    X, y = data("wine")
    columns = [f"feature_{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=columns)
    clf = SoftmaxGDClassifier().fit(df, y)
    assert clf.n_features_in_ == X.shape[1]
    assert_array_equal(clf.feature_names_in_, columns)
    proba = clf.predict_proba(df)
    with pytest.warns(UserWarning, match="feature names"):
        assert_allclose(clf.predict_proba(X), proba)
    # columns in another order are refused, not silently mismatched
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df[columns[::-1]])
    # refitting on an array forgets the names
    clf.fit(X, y)
    assert not hasattr(clf, "feature_names_in_")
