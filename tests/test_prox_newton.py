"""The proximal Newton solver (``_solvers/_prox_newton.py``): it reaches the
optimum FISTA and saga reach, with the same support, on multinomial and
binary, dense and sparse data, with weights; its working set grows only
where optimality is violated; an all-zero solution is found in one
iteration; its line search accepts only descent on the whole objective; and
its parts (the shift along the softmax's invariant directions, the
intercepts' exact step, the working set rule) do what they are for."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _problems import never_stop, objective, optimality_at, run, total_value
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._objective import LogisticObjective, SoftmaxObjective
from sk_softmax._penalties import ElasticNet
from sk_softmax._solvers import SOLVERS, ProxNewtonOptions
from sk_softmax._solvers._line_search import proximal_line_search
from sk_softmax._solvers._prox_newton import (
    QuadraticModel,
    intercept_step,
    working_set,
)

TIGHT = {"tol": 1e-10, "max_iter": 10_000}


def fit(method, obj, tol=1e-10, options=None, report=never_stop, max_iter=10_000):
    P0 = obj.product_layout(obj.zeros())
    return run(
        method, obj, P0, max_iter=max_iter, tol=tol, report=report, options=options
    )


def coefficients(obj, P):
    return obj.split(np.asarray(P))[0]


def binary(obj):
    """The same rows as the one-row logistic objective (two classes)."""
    data = obj.data
    penalty = obj.penalty
    l1_ratio = penalty.l1 / (penalty.l1 + penalty.l2) if penalty.l1 else 0.0
    return LogisticObjective(
        data,
        alpha=penalty.l1 + penalty.l2,
        l1_ratio=l1_ratio,
        fit_intercept=obj.fit_intercept,
    )


def problem(K, sparse, l1_ratio, fit_intercept=True, dtype=np.float64, seed=0):
    """300 rows, 8 features of which 4 carry the classes, non-uniform
    weights, unbalanced classes; ``K = 2`` on the one-row logistic form."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 8))
    W_true = np.zeros((K, 8))
    W_true[:, :4] = rng.standard_normal((K, 4))
    y = np.argmax(X @ W_true.T + np.arange(K) / K + rng.gumbel(size=(300, K)), axis=1)
    w = rng.uniform(0.5, 2.0, 300)
    X, w = X.astype(dtype), (w / w.sum()).astype(dtype)
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    obj = objective(
        X, y, w, K=K, alpha=0.03, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    )
    return binary(obj) if K == 2 else obj


# ------------------------------------------------------------ the optimum


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("K", [2, 3])
def test_reaches_the_fista_optimum_with_the_same_support(
    K, sparse, l1_ratio, fit_intercept
):
    obj = problem(K, sparse, l1_ratio, fit_intercept)
    ours, ref = fit("prox-newton", obj), fit("fista", obj)
    assert ours.status == ref.status == "converged"
    assert ours.n_iter < ref.n_iter
    threshold = 1e-10 * optimality_at(obj, obj.zeros())
    assert optimality_at(obj, ours.P) <= max(threshold, obj.rounding_level())
    W, W_ref = coefficients(obj, ours.P), coefficients(obj, ref.P)
    assert np.any(W == 0) and np.any(W != 0)  # a genuine L1 problem
    assert_array_equal(W == 0, W_ref == 0)
    assert_allclose(W, W_ref, atol=1e-7)
    # the intercepts too: their common shift, which no probability sees, is
    # kept where the fit started, as every other solver keeps it
    assert_allclose(ours.P, ref.P, atol=1e-7)
    assert total_value(obj, ours.P) == pytest.approx(total_value(obj, ref.P), rel=1e-12)


def test_float32_reaches_the_float64_optimum():
    obj32 = problem(3, False, 0.5, dtype=np.float32)
    obj64 = problem(3, False, 0.5)
    ours = fit("prox-newton", obj32, tol=1e-4)
    ref = fit("prox-newton", obj64)
    assert ours.status == "converged" and ours.P.dtype == np.float32
    assert_allclose(coefficients(obj32, ours.P), coefficients(obj64, ref.P), atol=2e-3)


def test_with_no_l1_part_it_is_newton():
    """``l1_ratio = 0``: the working set is every feature, and the optimum
    is Newton-CG's."""
    obj = problem(3, False, 0.0)
    ours, ref = fit("prox-newton", obj), fit("newton-cg", obj)
    assert ours.status == "converged"
    assert_allclose(coefficients(obj, ours.P), coefficients(obj, ref.P), atol=1e-8)


def _standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("fmt", [None, "csr"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_saga_multiclass(weighted, fmt):
    """K > 2: ``alpha = 1 / (C sum s)`` maps the elastic net (as
    ``test_classifier.test_elastic_net_matches_saga_multiclass``), with
    sample weights and on sparse X."""
    X, y = _standardized(load_wine)
    s = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    C, l1_ratio = 1.0, 0.5
    alpha = 1.0 / (C * (len(y) if s is None else s.sum()))
    X_fit = X if fmt is None else sp.csr_array(X)
    clf = SoftmaxGDClassifier(alpha=alpha, l1_ratio=l1_ratio, **TIGHT)
    clf.fit(X_fit, y, sample_weight=s)
    assert clf.n_iter_ < 50
    ref = LogisticRegression(
        C=C,
        l1_ratio=l1_ratio,
        solver="saga",
        tol=1e-10,
        max_iter=100_000,
        random_state=0,
    ).fit(X, y, sample_weight=s)
    assert np.any(clf.coef_ == 0)
    assert_array_equal(clf.coef_ == 0, ref.coef_ == 0)
    assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-6)


def test_matches_saga_binary_with_class_weight():
    """K = 2, ``class_weight="balanced"``: with ``W = [-w/2, w/2]``,
    ``LogisticRegression(C, l1_ratio=rho)`` is ``alpha = (2 - rho) / (C sum
    s)``, ``l1_ratio = rho / (2 - rho)`` (as
    ``test_classifier.test_elastic_net_matches_saga_binary``)."""
    X, y = _standardized(load_breast_cancer)
    C, rho = 0.1, 0.5
    counts = np.bincount(y)
    s = (len(y) / (2 * counts))[y]  # the balanced weights
    alpha, l1_ratio = (2 - rho) / (C * s.sum()), rho / (2 - rho)
    clf = SoftmaxGDClassifier(
        alpha=alpha, l1_ratio=l1_ratio, class_weight="balanced", **TIGHT
    ).fit(X, y)
    ref = LogisticRegression(
        C=C,
        l1_ratio=rho,
        solver="saga",
        class_weight="balanced",
        tol=1e-10,
        max_iter=100_000,
        random_state=0,
    ).fit(X, y)
    assert np.any(clf.coef_ == 0)
    assert_array_equal(clf.coef_ == 0, ref.coef_ == 0)
    assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-6)


# ------------------------------------------------------------ working set


class Recording(SoftmaxObjective):
    """Records the number of features of every working-set model."""

    def on_columns(self, index):
        self.widths.append(len(index))
        return super().on_columns(index)


def test_the_working_set_stays_near_the_support():
    """200 features, 4 of them informative: the Hessian products never see
    more than a few dozen columns, and the optimum is FISTA's."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 200))
    W_true = np.zeros((3, 200))
    W_true[:, :4] = 3 * rng.standard_normal((3, 4))
    y = np.argmax(X @ W_true.T + rng.gumbel(size=(600, 3)), axis=1)
    obj = Recording.from_arrays(X, y, alpha=0.05, l1_ratio=1.0, fit_intercept=True)
    obj.widths = []
    options = ProxNewtonOptions(min_working_set=8)
    result = fit("prox-newton", obj, options=options)
    assert result.status == "converged"
    support = np.flatnonzero(np.any(coefficients(obj, result.P) != 0, axis=0))
    assert 0 < support.shape[0] <= 20
    assert obj.widths and max(obj.widths) <= 3 * max(support.shape[0], 8)
    ref = fit("fista", obj)
    assert_allclose(coefficients(obj, result.P), coefficients(obj, ref.P), atol=1e-7)


def test_working_set_rule():
    """Nonzero features always; of the others only violators (gradient past
    the L1 strength), the largest scaled violations first, up to ``growth``
    times the nonzero ones (at least ``min_working_set``, at least one)."""
    w = np.full(6, 1 / 6)  # l1 = 0.5, every scale 1 / sqrt(6)
    obj = objective(np.eye(6), np.arange(6) % 3, w, K=3, alpha=1.0, l1_ratio=0.5)
    P = np.zeros((3, 7))
    P[1, 2] = 0.3  # feature 2 is nonzero
    g = np.zeros((3, 7))
    g[0, [0, 1, 3, 4, 5]] = [0.6, 0.9, 0.4, 0.55, -0.8]  # violators: 0, 1, 4, 5

    def chosen(min_working_set):
        rule = ProxNewtonOptions(min_working_set=min_working_set, growth=2.0)
        return np.flatnonzero(working_set(obj, P, g, rule))

    assert_array_equal(chosen(3), [1, 2, 5])
    assert_array_equal(chosen(1), [1, 2])
    assert_array_equal(chosen(10), [0, 1, 2, 4, 5])


# ------------------------------------------------------------ all zero


@pytest.mark.parametrize("K", [2, 3])
def test_all_zero_solution_at_large_alpha_in_one_iteration(K):
    """Unbalanced classes, alpha above the largest for which a coefficient
    is nonzero: one iteration, the exact step to the best intercepts
    (``log`` of the class weights), no coefficient ever nonzero."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 5))
    y = np.repeat(np.arange(K), [80, 40] if K == 2 else [60, 40, 20])
    w = np.full(120, 1 / 120)
    pi = np.bincount(y) / 120
    G = (pi[None, :] - np.eye(K)[y]) / 120  # the data gradient at W = 0, best b
    l1_max = np.abs(G.T @ X).max()
    obj = objective(X, y, w, K=K, alpha=1.05 * l1_max, l1_ratio=1.0)
    obj = binary(obj) if K == 2 else obj
    seen = []
    result = fit("prox-newton", obj, report=lambda i, s: seen.append(s.P.copy()))
    assert (result.status, result.n_iter) == ("converged", 1)
    assert np.all(coefficients(obj, result.P) == 0)
    b = result.P[:, -1]
    expected = np.log(pi[1:] / pi[:1]) if K == 2 else np.log(pi) - np.log(pi).mean()
    assert_allclose(b, expected, atol=1e-12)
    assert optimality_at(obj, result.P) <= 1e-12


def test_all_zero_without_intercept_needs_no_iteration():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 4))
    y = np.arange(90) % 3
    obj = objective(
        X, y, np.full(90, 1 / 90), alpha=10.0, l1_ratio=1.0, fit_intercept=False
    )
    result = fit("prox-newton", obj)
    assert (result.status, result.n_iter) == ("converged", 0)
    assert np.all(result.P == 0)


def test_intercept_step_is_exact_from_any_intercepts():
    X, y = np.random.default_rng(2).standard_normal((40, 3)), np.arange(40) % 4
    y[:7] = 0  # unbalanced
    obj = objective(X, y, np.full(40, 1 / 40), alpha=1.0, l1_ratio=1.0)
    P = np.zeros((4, 4))
    P[:, -1] = [0.3, -1.0, 2.0, 0.1]
    d = intercept_step(obj, P, obj.smooth_value_and_gradient(P)[1])
    assert np.all(d[:, :-1] == 0)
    g = obj.smooth_value_and_gradient(P + d)[1]
    assert_allclose(g[:, -1], 0.0, atol=1e-15)
    assert (P + d)[:, -1].mean() == pytest.approx(P[:, -1].mean())


# ------------------------------------------------------------ descent


@pytest.mark.parametrize("K", [2, 3, 5])
def test_every_iteration_decreases_the_whole_objective(K):
    obj = problem(K, False, 1.0, seed=K)
    values = [total_value(obj, obj.zeros())]
    result = fit("prox-newton", obj, report=lambda i, s: values.append(s.value))
    assert result.status == "converged"
    eps = np.finfo(np.float64).eps
    for before, after in zip(values[:-1], values[1:], strict=True):
        assert after <= before + 16 * eps * abs(before)
    assert values[-1] < values[0]


def test_line_search_refuses_an_ascent_direction():
    """A direction that raises the objective, whatever ``decrease`` it
    claims, is never accepted; a descent direction is, with the
    sufficient decrease of the whole objective."""
    obj = problem(3, False, 0.5)
    P = 0.1 * np.random.default_rng(0).standard_normal(obj.zeros().shape)
    f, g = obj.smooth_value_and_gradient(P)
    J = f + obj.nonsmooth_value(P)
    opt = obj.optimality(P, g)
    assert proximal_line_search(obj, P, J, g, -1.0, opt) is None
    step = 1.0 / obj.feature_curvature(P)
    d = obj.prox(P - step * g, step) - P
    W, dW = obj.split(P)[0], obj.split(d)[0]
    decrease = float(np.sum(g * d)) + obj.penalty.l1 * float(
        np.abs(W + dW).sum() - np.abs(W).sum()
    )
    t, P_new, _, _, J_new = proximal_line_search(obj, P, J, d, decrease, opt)
    assert J_new <= J + 1e-4 * t * decrease < J
    assert J_new == pytest.approx(total_value(obj, P_new), rel=1e-14)


# ------------------------------------------------------------ the shift


@pytest.mark.parametrize("l2, l1", [(0.0, 1.0), (0.5, 1.0), (2.0, 0.1)])
def test_best_shift_minimises_the_penalty_along_the_shifts(l2, l1):
    """Adding one number to a column's K entries leaves the softmax
    unchanged; ``best_shift`` moves each column to the penalty's minimum
    along these shifts (checked against a fine grid) and keeps ``H D``
    consistent."""
    rng = np.random.default_rng(0)
    K, m = 5, 30
    model = QuadraticModel.__new__(QuadraticModel)
    model.xp, model.penalty = np, ElasticNet(0.0, 0.0, np)
    model.penalty.l2, model.penalty.l1 = l2, l1
    model.P = rng.standard_normal((K, m))
    model.damping, model.floored = 0.0, np.ones((K, m))
    model.shiftable = np.ones(m, dtype=bool)
    D = 0.1 * rng.standard_normal((K, m))
    D_new, HD = model.best_shift(D, np.zeros_like(D))
    c = (D_new - D)[0]
    assert_allclose(D_new - D, np.broadcast_to(c, D.shape), atol=1e-12)
    assert_allclose(HD, l2 * (D_new - D), atol=1e-14)

    def penalty(U):
        return 0.5 * l2 * (U**2).sum(axis=0) + l1 * np.abs(U).sum(axis=0)

    U = model.P + D
    grid = np.linspace(-4, 4, 80_001)
    best = np.min([penalty(U + s) for s in grid], axis=0)
    assert np.all(penalty(model.P + D_new) <= best + 1e-8)
    if l2 == 0:  # the median: some entry of every column is exactly zero
        assert np.all(np.any(model.P + D_new == 0, axis=0))


# ------------------------------------------------------------ defaults


def test_default_for_l1_and_no_convergence_warning():
    """The default solver for ``l1_ratio > 0`` is proximal Newton: on a 3000
    x 20, 4-class problem it converges at the defaults in a few dozen
    iterations (ConvergenceWarning is an error in this test suite)."""
    X, y = make_classification(
        n_samples=3000,
        n_features=20,
        n_informative=10,
        n_classes=4,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxGDClassifier(l1_ratio=0.5).fit(X, y)
    assert clf.n_iter_ <= 40
    fista = SoftmaxGDClassifier(l1_ratio=0.5, solver="fista", max_iter=10_000)
    fista.fit(X, y)
    assert fista.n_iter_ > 3 * clf.n_iter_
    assert_allclose(clf.predict_proba(X), fista.predict_proba(X), atol=1e-3)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_converges_at_a_small_alpha_with_centred_intercepts(l1_ratio):
    """Digits at alpha=1e-4: many features near their kinks and faces close
    to singular. The fit converges (a stall ends in a "precision"
    ConvergenceWarning) in a few dozen iterations, and the intercepts keep
    the zero sum the fit started from, as FISTA's do."""
    X, y = _standardized(load_digits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxGDClassifier(alpha=1e-4, l1_ratio=l1_ratio, tol=1e-6).fit(X, y)
    assert clf.n_iter_ <= 60
    assert abs(np.sum(clf.intercept_)) <= 1e-10 * np.max(np.abs(clf.intercept_))


def test_registered_and_public():
    assert SOLVERS["prox-newton"][1] is ProxNewtonOptions
    X, y = _standardized(load_wine)
    clf = SoftmaxGDClassifier(solver="prox-newton", l1_ratio=1.0, alpha=0.01)
    assert clf.fit(X, y).n_iter_ > 0
