"""Mini-batch and online learning of ``SoftmaxGDClassifier``: reproducibility,
quality against ``LogisticRegression``, ``partial_fit``'s contract, the shared
path of ``fit`` and ``partial_fit``, the weighted objective seen by mini-batches,
early stopping, step-size schedules, verbose output, warm starts and dask-ml."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _callbacks import TaskEndCallback
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._array_api import get_namespace
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier, _sgd
from sk_softmax._objective import SoftmaxObjective, objective_value
from sk_softmax._optimizers import StepSchedule
from sk_softmax._solvers import GDOptions, drive, minimize

ALPHA = 1e-4  # the default penalty strength


# --------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def digits_split():
    """Standardized digits, stratified train/test split (scaler fit on train)."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="module")
def digits(digits_split):
    X_train, _, y_train, _ = digits_split
    return X_train, y_train


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def reference_log_loss(digits_split):
    """Held-out log-loss of the exact optimum, by scikit-learn's LogisticRegression."""
    X_train, X_test, y_train, y_test = digits_split
    # One thread: lbfgs on a tiny problem only loses to thread contention.
    with threadpool_limits(limits=1):
        lr = LogisticRegression(
            C=1.0 / (ALPHA * X_train.shape[0]), tol=1e-10, max_iter=10000
        ).fit(X_train, y_train)
    return log_loss(y_test, lr.predict_proba(X_test))


def schedule(clf):
    """The step schedule's state that ``partial_fit`` continues from."""
    return clf._optimizer_state["schedule"]


def parameters(clf):
    """The (K, d + 1) parameter array ``[W, b]`` of a fitted multiclass model."""
    return np.hstack([clf.coef_, clf.intercept_[:, None]])


def state(clf):
    """Everything that a failed call must leave as it was."""
    snapshot = {"keys": set(vars(clf))}
    for name in ("coef_", "intercept_", "classes_", "n_iter_", "loss_curve_"):
        value = getattr(clf, name)
        snapshot[name] = value.copy() if hasattr(value, "copy") else value
    snapshot["optimizer"] = {
        "schedule": dict(clf._optimizer_state["schedule"]),
        "plateau": dict(clf._optimizer_state["plateau"]),
        "iterate": clf._optimizer_state["iterate"].copy(),
    }
    return snapshot


def assert_same_state(clf, before):
    after = state(clf)
    assert after["keys"] == before["keys"]
    for name in ("coef_", "intercept_", "classes_"):
        assert_array_equal(after[name], before[name])
    assert after["n_iter_"] == before["n_iter_"]
    assert after["loss_curve_"] == before["loss_curve_"]
    for name in ("schedule", "plateau"):
        assert after["optimizer"][name] == before["optimizer"][name]
    assert_array_equal(after["optimizer"]["iterate"], before["optimizer"]["iterate"])


# ----------------------------------------------------------- reproducibility


def test_same_seed_gives_bitwise_identical_model(digits):
    X, y = digits
    params = dict(batch_size=32, shuffle=True, max_iter=3, n_iter_no_change=10)
    with pytest.warns(ConvergenceWarning):
        a = SoftmaxGDClassifier(random_state=7, **params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        b = SoftmaxGDClassifier(random_state=7, **params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        c = SoftmaxGDClassifier(random_state=8, **params).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_)
    assert np.array_equal(a.intercept_, b.intercept_)
    assert a.loss_curve_ == b.loss_curve_
    assert not np.allclose(a.coef_, c.coef_)


# ----------------------------------------------------------------- quality


def test_minibatch_fit_matches_logistic_regression(digits_split, reference_log_loss):
    X_train, X_test, y_train, y_test = digits_split
    clf = SoftmaxGDClassifier(batch_size=64, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        # 20 epochs may stop at max_iter: the quality is what is checked here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.n_iter_ <= 20
    held_out = log_loss(y_test, clf.predict_proba(X_test))
    assert held_out <= 1.02 * reference_log_loss


def test_partial_fit_matches_logistic_regression(digits_split, reference_log_loss):
    """20 epochs of partial_fit over 8 shuffled chunks reach the optimum's quality."""
    X_train, X_test, y_train, y_test = digits_split
    classes = np.unique(y_train)
    rng = np.random.RandomState(0)
    clf = SoftmaxGDClassifier(batch_size=64, random_state=0)
    for _ in range(20):
        for chunk in np.array_split(rng.permutation(X_train.shape[0]), 8):
            clf.partial_fit(X_train[chunk], y_train[chunk], classes=classes)
    assert clf.n_iter_ == 20 * 8
    held_out = log_loss(y_test, clf.predict_proba(X_test))
    assert held_out <= 1.02 * reference_log_loss


def _digits_split_30(seed):
    """Issue 16's protocol: digits, 30% held out (stratified, ``seed``),
    standardized on the training part."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_default_minibatch_fit_on_digits_near_the_optimum():
    """``benchmarks/bench_minibatch_digits.py``'s protocol, batch 32, seeds
    0-2: 20 default epochs at ``alpha=1e-3`` reach a training objective
    within 3.5% of the optimum's (measured: 2.2-2.9% over seeds 0-4) and a
    held-out log-loss within 5% of the optimum's at the median (measured:
    1.110, 1.028, 1.030; over seeds 0-4
    the median is 1.043 and the worst 1.339: the flat directions of this
    problem need more than 20 epochs of SGD at 1 / L_B, see the "Mini-batch
    on digits" section of ``benchmarks/README.md``)."""
    alpha, ratios = 1e-3, []
    for seed in range(3):
        X_train, X_test, y_train, y_test = _digits_split_30(seed)
        with threadpool_limits(limits=1):
            lr = LogisticRegression(
                C=1.0 / (alpha * X_train.shape[0]), tol=1e-10, max_iter=10000
            ).fit(X_train, y_train)
        clf = SoftmaxGDClassifier(
            alpha=alpha, batch_size=32, max_iter=20, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        J = objective_value(clf.coef_, clf.intercept_, X_train, y_train, alpha=alpha)
        J_opt = objective_value(lr.coef_, lr.intercept_, X_train, y_train, alpha=alpha)
        assert J <= 1.035 * J_opt
        optimum = log_loss(y_test, lr.predict_proba(X_test))
        ratios.append(log_loss(y_test, clf.predict_proba(X_test)) / optimum)
    assert np.median(ratios) <= 1.05


# -------------------------------------------------------- partial_fit contract


def test_partial_fit_requires_classes_on_first_call(iris):
    X, y = iris
    clf = SoftmaxGDClassifier()
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "coef_")


def test_partial_fit_rejects_unknown_labels(iris):
    X, y = iris
    with pytest.raises(ValueError, match="not in"):
        SoftmaxGDClassifier().partial_fit(X, y, classes=[0, 1])


def test_partial_fit_rejects_changed_classes(iris):
    X, y = iris
    clf = SoftmaxGDClassifier().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    # The same classes, in any order, are accepted.
    clf.partial_fit(X, y, classes=[2, 0, 1])
    assert clf.n_iter_ == 2


def test_partial_fit_rejects_balanced_class_weight(iris):
    X, y = iris
    clf = SoftmaxGDClassifier(class_weight="balanced")
    with pytest.raises(ValueError, match="balanced"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(clf, "coef_")


def _nan_X(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


@pytest.mark.parametrize(
    "make_bad_call",
    [
        pytest.param(lambda X, y: (_nan_X(X), y), id="nan-X"),
        pytest.param(lambda X, y: (X, np.where(y == 2, 5, y)), id="unknown-label"),
        pytest.param(lambda X, y: (X[:, :-1], y), id="wrong-n-features"),
    ],
)
def test_failed_partial_fit_leaves_estimator_unchanged(iris, make_bad_call):
    X, y = iris
    clf = SoftmaxGDClassifier(batch_size=16, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y)
    before = state(clf)
    X_bad, y_bad = make_bad_call(X, y)
    with pytest.raises(ValueError):
        clf.partial_fit(X_bad, y_bad)
    assert_same_state(clf, before)
    # The model goes on exactly as if the failed call had not happened.
    reference = SoftmaxGDClassifier(batch_size=16, random_state=0)
    for _ in range(3):
        reference.partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y)
    assert_array_equal(clf.coef_, reference.coef_)
    assert clf.loss_curve_ == reference.loss_curve_


def test_failed_first_partial_fit_leaves_estimator_unfitted(iris):
    X, y = iris
    clf = SoftmaxGDClassifier(batch_size=16)
    keys = set(vars(clf))
    with pytest.raises(ValueError):
        clf.partial_fit(_nan_X(X), y, classes=[0, 1, 2])
    assert set(vars(clf)) == keys


def test_partial_fit_accumulates_epochs(iris):
    X, y = iris
    clf = SoftmaxGDClassifier(batch_size=16, random_state=0)
    curves = []
    for call in range(1, 4):
        clf.partial_fit(X, y, classes=[0, 1, 2] if call == 1 else None)
        assert clf.n_iter_ == call  # one call is one epoch
        assert len(clf.loss_curve_) == call
        assert schedule(clf)["epoch"] == call
        curves.append(list(clf.loss_curve_))
    # Earlier entries are kept, a new one is appended per call.
    assert curves[2][:2] == curves[1]
    assert curves[1][:1] == curves[0]
    # An epoch of learning lowers the loss from log(K) at W = 0.
    assert curves[2][-1] < curves[0][0]


def test_partial_fit_accepts_single_class_chunk(iris):
    X, y = iris
    clf = SoftmaxGDClassifier(batch_size=16, random_state=0)
    first = y == 0
    # On the first call, with the classes given...
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert_array_equal(clf.classes_, [0, 1, 2])
    # ... and on later calls.
    for label in (1, 2):
        chunk = y == label
        clf.partial_fit(X[chunk], y[chunk])
    assert clf.n_iter_ == 3
    assert clf.coef_.shape == (3, X.shape[1])
    assert np.all(np.isfinite(clf.coef_))


def test_partial_fit_from_scratch_equals_one_epoch_of_fit(iris):
    """fit and partial_fit share one path: one call is fit(max_iter=1)."""
    X, y = iris
    params = dict(learning_rate=0.3, batch_size=20, shuffle=False, random_state=0)
    online = SoftmaxGDClassifier(**params).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.warns(ConvergenceWarning):
        batch = SoftmaxGDClassifier(max_iter=1, **params).fit(X, y)
    assert_allclose(online.coef_, batch.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(online.intercept_, batch.intercept_, rtol=1e-12, atol=1e-14)
    assert_allclose(online.loss_curve_, batch.loss_curve_, rtol=1e-12)
    assert online.n_iter_ == batch.n_iter_ == 1


# ------------------------------------------------ weighted objective, batches


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_single_batch_equals_full_batch_gradient_descent(iris, l1_ratio):
    """batch_size >= n_samples: the mini-batch path is the constant-step solver,
    with sample weights and a class_weight dict."""
    X, y = iris
    rng = np.random.RandomState(0)
    sample_weight = rng.uniform(0.2, 3.0, size=X.shape[0])
    class_weight = {0: 1.0, 1: 2.5, 2: 0.4}
    eta, k = 0.4, 6
    common = dict(
        alpha=0.01, l1_ratio=l1_ratio, class_weight=class_weight, learning_rate=eta
    )
    with pytest.warns(ConvergenceWarning):
        mini = SoftmaxGDClassifier(
            batch_size=X.shape[0] + 5,
            shuffle=False,
            max_iter=k,
            n_iter_no_change=k + 1,
            **common,
        ).fit(X, y, sample_weight=sample_weight)
    with pytest.warns(ConvergenceWarning):
        full = SoftmaxGDClassifier(max_iter=k, tol=0, **common).fit(
            X, y, sample_weight=sample_weight
        )
    assert mini.n_iter_ == full.n_iter_ == k
    assert_allclose(mini.coef_, full.coef_, rtol=1e-10, atol=1e-13)
    assert_allclose(mini.intercept_, full.intercept_, rtol=1e-10, atol=1e-13)


def test_single_batch_loss_curve_is_exact_objective(iris):
    """With one batch the epoch's reported objective is J at the epoch's start
    point (the mean of its batch objectives), and the constant-step solver
    reports J after its step: the curves are the same, shifted by one."""
    X, y = iris
    eta, k = 0.4, 5
    common = dict(alpha=0.01, learning_rate=eta, max_iter=k)
    with pytest.warns(ConvergenceWarning):
        mini = SoftmaxGDClassifier(
            batch_size=X.shape[0], shuffle=False, n_iter_no_change=k + 1, **common
        ).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        full = SoftmaxGDClassifier(tol=0, **common).fit(X, y)
    assert_allclose(mini.loss_curve_[0], np.log(3), rtol=1e-12)  # J at W = 0
    assert_allclose(mini.loss_curve_[1:], full.loss_curve_[:-1], rtol=1e-10)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_single_batch_epoch_objective_is_J_at_one_point(iris, l1_ratio):
    """``stochastic_gradient`` documents the epoch objective as the mean of the
    batch objectives ``J_B(P) = f_B(P) + g(P)``, exact when one batch holds all
    the rows: ``loss_curve_[t]`` is then ``J(P_t)`` at the epoch's start point,
    the L1 part included (not ``f(P_t) + g(P_{t+1})``)."""
    X, y = iris
    n, alpha = X.shape[0], 0.05
    params = dict(
        alpha=alpha,
        l1_ratio=l1_ratio,
        batch_size=n,
        learning_rate=0.5,
        shuffle=False,
        tol=0,
        n_iter_no_change=100,
    )
    fits = []
    for k in (1, 2, 3):
        with pytest.warns(ConvergenceWarning):
            fits.append(SoftmaxGDClassifier(max_iter=k, **params).fit(X, y))
    objective = SoftmaxObjective.from_arrays(
        X,
        y,
        np.full(n, 1.0 / n),
        n_classes=3,
        xp=np,
        alpha=alpha,
        l1_ratio=l1_ratio,
        fit_intercept=True,
    )
    curve = fits[-1].loss_curve_
    assert_allclose(curve[0], np.log(3), rtol=1e-12)  # J(0): g(0) = 0
    for t, fitted in enumerate(fits[:-1], start=1):
        P = parameters(fitted)
        J = objective.smooth_value(P) + objective.nonsmooth_value(P)
        assert_allclose(curve[t], J, rtol=1e-10)


def _weighted_objective(X, y, sample_weight, alpha=0.01):
    """The estimator's objective: weights normalised to sum to one."""
    xp, _ = get_namespace(X)
    w = sample_weight / sample_weight.sum()
    return SoftmaxObjective.from_arrays(
        X,
        y,
        w,
        n_classes=np.unique(y).shape[0],
        xp=xp,
        alpha=alpha,
        l1_ratio=0.0,
        fit_intercept=True,
    )


def test_integer_weights_equal_repeated_rows_with_one_batch(iris):
    """With a single batch, training on integer weights is training on repeated
    rows: same epoch objectives (the full-batch J) and same model."""
    X, y = iris
    rng = np.random.RandomState(3)
    counts = rng.randint(1, 4, size=X.shape[0])
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    params = dict(
        alpha=0.01,
        batch_size=10_000,
        learning_rate=0.5,
        shuffle=False,
        max_iter=4,
        n_iter_no_change=10,
    )
    with pytest.warns(ConvergenceWarning):
        weighted = SoftmaxGDClassifier(**params).fit(X, y, sample_weight=counts)
    with pytest.warns(ConvergenceWarning):
        repeated = SoftmaxGDClassifier(**params).fit(X_rep, y_rep)
    assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-9, atol=1e-12)
    # The reported epoch objective after one epoch is the full-batch objective.
    objective = _weighted_objective(X_rep, y_rep, np.ones(X_rep.shape[0]))
    with pytest.warns(ConvergenceWarning):
        one_epoch = SoftmaxGDClassifier(**{**params, "max_iter": 1}).fit(
            X, y, sample_weight=counts
        )
    assert_allclose(
        weighted.loss_curve_[1],
        objective.smooth_value(parameters(one_epoch)),
        rtol=1e-10,
    )


# ------------------------------------------------- sparse mini-batch steps


def _sparse_digits(digits, n=400):
    """The first ``n`` standardized digits rows with their smaller entries
    zeroed: sparse rows, and some columns that a batch never uses."""
    X, y = digits
    X = np.where(np.abs(X[:n]) > 1.0, X[:n], 0.0)
    return X, y[:n]


@pytest.fixture
def lazy_steps(monkeypatch):
    """Counts the steps made by the support-restricted sparse iterates."""
    calls = []
    step = _sgd._LazySparseIterates.step

    def counting(self, rows, n_rows, eta):
        calls.append(rows.shape[0])
        return step(self, rows, n_rows, eta)

    monkeypatch.setattr(_sgd._LazySparseIterates, "step", counting)
    return calls


@pytest.mark.parametrize("container", [sp.csr_array, sp.csc_matrix])
@pytest.mark.parametrize(
    "alpha, learning_rate, fit_intercept",
    [
        (1e-3, "constant", True),
        (1e-3, "adaptive", False),
        # eta * alpha = 0.9: the scale shrinks 10x a step and is folded into
        # the coefficients every few steps
        (9.0, 0.1, True),
        # eta * alpha = 1: each step sets W to -eta * grad_W
        (10.0, 0.1, True),
    ],
)
def test_sparse_minibatch_steps_equal_dense_ones(
    digits, lazy_steps, container, alpha, learning_rate, fit_intercept
):
    """On sparse X the steps touch only the batch's columns, with the L2
    shrinkage kept as a scale factor and the epoch average kept lazily; the
    iterates, their averages and the epoch objectives are those of the dense
    steps on the same batches (sample and class weights included), and so is
    a partial_fit continuing from the last iterate."""
    X, y = _sparse_digits(digits)
    rng = np.random.RandomState(0)
    sample_weight = rng.uniform(0.2, 3.0, size=X.shape[0])
    params = dict(
        alpha=alpha,
        learning_rate=learning_rate,
        fit_intercept=fit_intercept,
        class_weight={0: 2.0, 3: 0.5},
        batch_size=32,
        max_iter=3,
        random_state=0,
    )
    fits = {}
    for name, data in (("dense", X), ("sparse", container(X))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = SoftmaxGDClassifier(**params).fit(
                data, y, sample_weight=sample_weight
            )
        fits[name] = clf.partial_fit(data[:100], y[:100])
    n_batches = 3 * -(-X.shape[0] // 32) + -(-100 // 32)
    assert len(lazy_steps) == n_batches  # the sparse fit took the lazy steps
    dense, sparse = fits["dense"], fits["sparse"]
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-10)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-9, atol=1e-12)
    assert_allclose(
        sparse._optimizer_state["iterate"],
        dense._optimizer_state["iterate"],
        rtol=1e-9,
        atol=1e-12,
    )
    # The unused columns stay exactly zero (a batch never touches them).
    unused = ~np.any(X != 0, axis=0)
    assert unused.any() and np.all(sparse.coef_[:, unused] == 0)


def test_sparse_minibatch_batch_without_nonzeros(digits, lazy_steps):
    """A batch of empty rows (no feature used) moves only the intercepts and
    the shrinkage, as on dense zeros."""
    X, y = _sparse_digits(digits)
    X[:64] = 0.0  # the first two batches of 32, without shuffling
    common = dict(batch_size=32, shuffle=False, max_iter=2, alpha=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sparse = SoftmaxGDClassifier(**common).fit(sp.csr_array(X), y)
        dense = SoftmaxGDClassifier(**common).fit(X, y)
    assert lazy_steps
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-9, atol=1e-12)


def test_sparse_minibatch_steps_keep_float32(digits, lazy_steps):
    X, y = _sparse_digits(digits)
    X = X.astype(np.float32)
    common = dict(batch_size=32, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sparse = SoftmaxGDClassifier(**common).fit(sp.csr_array(X), y)
        dense = SoftmaxGDClassifier(**common).fit(X, y)
    assert lazy_steps
    assert sparse.coef_.dtype == sparse.intercept_.dtype == np.float32
    assert sparse._optimizer_state["iterate"].dtype == np.float32
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-4, atol=1e-5)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-4, atol=1e-5)


def test_sparse_minibatch_with_l1_takes_dense_steps(digits, lazy_steps):
    """Soft-thresholding touches every coefficient: no lazy steps then."""
    X, y = _sparse_digits(digits)
    common = dict(alpha=1e-2, l1_ratio=0.5, batch_size=64, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sparse = SoftmaxGDClassifier(**common).fit(sp.csr_array(X), y)
        dense = SoftmaxGDClassifier(**common).fit(X, y)
    assert lazy_steps == []
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)


# ------------------------------------------------- the loop of _sgd, directly


def _iris_objective(iris, *, alpha=0.01, l1_ratio=0.0, sparse=False, seed=0):
    X, y = iris
    w = np.random.RandomState(seed).uniform(0.2, 3.0, size=X.shape[0])
    X = np.where(np.abs(X) > 0.5, X, 0.0)  # zeros, for the sparse steps
    return SoftmaxObjective.from_arrays(
        sp.csr_array(X) if sparse else X,
        y,
        w / w.sum(),
        n_classes=3,
        xp=np,
        alpha=alpha,
        l1_ratio=l1_ratio,
        fit_intercept=True,
    )


def _run_sgd(objective, *, eta, batch_size, epochs, rows=None, shuffle=False, seed=0):
    rows = np.arange(objective.n_rows) if rows is None else rows
    P0 = objective.zeros()
    schedule = StepSchedule("constant", eta)
    states = []
    result = drive(
        _sgd.stochastic_gradient(
            objective,
            P0,
            schedule=schedule,
            batch_size=batch_size,
            rows=rows,
            shuffle=shuffle,
            rng=np.random.RandomState(seed),
        ),
        P0,
        max_iter=epochs,
        threshold=None,
        report=lambda it, state: states.append(state) and False,
        reference=np.log(3),
    )
    return result, states, schedule


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_one_batch_epochs_are_gradient_descent_steps(iris, l1_ratio):
    """With one batch of all the rows, an epoch is one step of the
    constant-step solver, and its reported objective is ``J`` at the epoch's
    start point; no optimality is computed."""
    objective = _iris_objective(iris, alpha=0.05, l1_ratio=l1_ratio)
    eta, k = 0.5, 4
    result, states, schedule = _run_sgd(objective, eta=eta, batch_size=10_000, epochs=k)
    assert (result.n_iter, result.status) == (k, "max_iter")
    assert schedule.epoch == k
    full = []
    minimize(
        objective,
        objective.zeros(),
        method="gd",
        max_iter=k,
        tol=0.0,
        scale=None,
        report=lambda it, state: full.append(state) and False,
        options=GDOptions(learning_rate=eta),
    )
    P = objective.zeros()
    for state, gd_state in zip(states, full, strict=True):
        assert state.optimality is None and state.step_size == eta
        J = objective.smooth_value(P) + objective.nonsmooth_value(P)
        assert state.value == pytest.approx(J, rel=1e-12)
        assert_allclose(state.P, gd_state.P, rtol=1e-12, atol=1e-15)
        P = state.P
    assert_allclose(result.last, result.P, rtol=1e-15)  # one iterate per epoch


def test_epoch_model_is_the_average_of_its_iterates(iris):
    """The epoch's model is the mean of the iterates after each batch; the
    last iterate, from which partial_fit goes on, is returned apart."""
    objective = _iris_objective(iris)
    eta, batch_size = 0.3, 40  # batches of 40, 40, 40 and 30 rows
    result, states, _ = _run_sgd(objective, eta=eta, batch_size=batch_size, epochs=1)
    P, iterates, values = objective.zeros(), [], []
    for start in range(0, 150, batch_size):
        rows = np.arange(start, min(start + batch_size, 150))
        batch = objective.subset(rows, 150)
        f, g = batch.smooth_value_and_gradient(P)
        values.append(f * rows.shape[0] / 150)
        P = P - eta * g
        iterates.append(P)
    assert_allclose(states[0].P, np.mean(iterates, axis=0), rtol=1e-13)
    assert_allclose(result.last, iterates[-1], rtol=1e-13)
    assert states[0].value == pytest.approx(sum(values), rel=1e-13)


def test_minibatch_epochs_visit_the_given_rows_only(iris):
    """``rows`` (the training rows of an early-stopping split) are the only
    rows the steps read: changing the others changes nothing."""
    objective = _iris_objective(iris)
    rows = np.arange(0, 150, 2)
    a, _, _ = _run_sgd(
        objective, eta=0.3, batch_size=16, epochs=2, rows=rows, shuffle=True
    )
    X = objective.data.X.copy()
    X[1::2] = 100.0
    changed = SoftmaxObjective.from_arrays(
        X,
        objective.data.y,
        objective.data.w,
        n_classes=3,
        xp=np,
        alpha=0.01,
        l1_ratio=0.0,
        fit_intercept=True,
    )
    b, _, _ = _run_sgd(
        changed, eta=0.3, batch_size=16, epochs=2, rows=rows, shuffle=True
    )
    assert_array_equal(a.P, b.P)
    c, _, _ = _run_sgd(
        objective, eta=0.3, batch_size=16, epochs=2, rows=rows, shuffle=True, seed=1
    )
    assert not np.array_equal(a.P, c.P)  # the shuffle follows the rng


@pytest.mark.parametrize("eta, alpha", [(0.3, 0.01), (0.1, 9.0), (0.1, 10.0)])
def test_lazy_sparse_iterates_equal_the_plain_ones(iris, eta, alpha):
    """``_LazySparseIterates`` (``W = scale * V``, updated on the batch's
    columns) makes the steps of ``_Iterates`` on the same sparse batches:
    values, last iterates and epoch averages, over two epochs, including the
    scale folded into ``V`` (eta * alpha = 0.9) and reset (eta * alpha = 1)."""
    objective = _iris_objective(iris, alpha=alpha, sparse=True)
    P0 = objective.zeros()
    plain = _sgd._Iterates(objective, P0)
    lazy = _sgd._LazySparseIterates(objective, P0)
    order = np.random.RandomState(0).permutation(150)
    for _ in range(2):
        plain.begin_epoch()
        lazy.begin_epoch()
        for start in range(0, 150, 16):
            rows = order[start : start + 16]
            f_plain = plain.step(rows, 150, eta)
            f_lazy = lazy.step(rows, 150, eta)
            assert f_lazy == pytest.approx(f_plain, rel=1e-10)
            assert_allclose(lazy.last(), plain.last(), rtol=1e-9, atol=1e-12)
        assert_allclose(lazy.average(), plain.average(), rtol=1e-9, atol=1e-12)
    assert_array_equal(P0, 0.0)  # the start point is not modified


# ------------------------------------------------------------ early stopping


class _EpochRecorder(TaskEndCallback):
    """A callback that keeps a copy of each epoch's model parameters."""

    def __init__(self):
        self.params = []

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.params.append(parameters(fitted_estimator).copy())


def test_early_stopping_keeps_best_epoch(digits):
    X, y = digits
    seed, fraction, max_iter = 0, 0.2, 200
    recorder = _EpochRecorder()
    clf = SoftmaxGDClassifier(
        batch_size=64,
        early_stopping=True,
        validation_fraction=fraction,
        max_iter=max_iter,
        random_state=seed,
    ).set_callbacks(recorder)
    clf.fit(X, y)

    assert clf.n_iter_ < max_iter
    assert len(clf.validation_scores_) == clf.n_iter_ == len(recorder.params)
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # It stopped because the last n_iter_no_change epochs did not improve.
    assert clf.n_iter_ - 1 - np.argmax(clf.validation_scores_) >= clf.n_iter_no_change
    # The kept model is the (first) best epoch's, not the last one's.
    best = int(np.argmax(clf.validation_scores_))
    assert_array_equal(parameters(clf), recorder.params[best])

    # Its accuracy on the validation rows is the best validation score.
    rng = check_random_state(seed)
    splitter = StratifiedShuffleSplit(test_size=fraction, random_state=rng)
    _, val_rows = next(splitter.split(np.zeros((X.shape[0], 1)), y))
    assert clf.score(X[val_rows], y[val_rows]) == pytest.approx(
        clf.best_validation_score_, abs=1e-12
    )


def test_early_stopping_ignores_validation_rows_in_training(digits):
    """The validation rows leave the objective: changing their labels does not
    change the model trained on the remaining rows (up to the early stop)."""
    X, y = digits
    seed, fraction = 0, 0.2
    rng = check_random_state(seed)
    splitter = StratifiedShuffleSplit(test_size=fraction, random_state=rng)
    _, val_rows = next(splitter.split(np.zeros((X.shape[0], 1)), y))
    params = dict(
        batch_size=64,
        early_stopping=True,
        validation_fraction=fraction,
        max_iter=1,  # the kept model is the last (and only) epoch's
        random_state=seed,
    )
    with pytest.warns(ConvergenceWarning):
        a = SoftmaxGDClassifier(**params).fit(X, y)
    X_changed = X.copy()
    X_changed[val_rows] *= 3.0  # validation rows only: the split is the same
    with pytest.warns(ConvergenceWarning):
        b = SoftmaxGDClassifier(**params).fit(X_changed, y)
    assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)


def test_no_validation_scores_without_early_stopping(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning):
        clf = SoftmaxGDClassifier(batch_size=16, max_iter=3, random_state=0)
        clf.fit(X, y)
    assert clf.validation_scores_ is None
    assert clf.best_validation_score_ is None


def test_n_iter_no_change_stops_on_training_loss(digits):
    X, y = digits
    max_iter = 100
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxGDClassifier(
            batch_size=64,
            learning_rate="constant",
            tol=1e-1,
            n_iter_no_change=3,
            max_iter=max_iter,
            random_state=0,
        ).fit(X, y)
    assert clf.n_iter_ < 10
    # MLP's rule: an epoch improves if its loss beats the best so far by tol; the
    # fit stops at the first n_iter_no_change consecutive epochs without one.
    best, count, stops = np.inf, 0, []
    for loss in clf.loss_curve_:
        count = 0 if loss <= best - clf.tol else count + 1
        best = min(best, loss)
        stops.append(count >= clf.n_iter_no_change)
        count = 0 if stops[-1] else count
    assert stops[-1] and not any(stops[:-1])


# --------------------------------------------------------------- schedules

_EPOCH_LINE = re.compile(
    r"Epoch (?P<epoch>\d+), loss = (?P<loss>[-+\d.eE]+)"
    r"(?:, validation score = (?P<val>[-+\d.eE]+))?"
    r".*step size = (?P<step>[-+\d.eE]+), elapsed = (?P<elapsed>[\d.]+) s"
)


def _epoch_lines(text):
    lines = [line for line in text.splitlines() if line.strip()]
    matches = [_EPOCH_LINE.search(line) for line in lines]
    assert all(matches), lines
    return matches


def test_invscaling_schedule(iris, capsys):
    X, y = iris
    power_t, k = 0.7, 6
    with pytest.warns(ConvergenceWarning):
        clf = SoftmaxGDClassifier(
            batch_size=16,
            learning_rate="invscaling",
            power_t=power_t,
            max_iter=k,
            n_iter_no_change=k + 1,
            verbose=1,
            random_state=0,
        ).fit(X, y)
    steps = np.array([float(m["step"]) for m in _epoch_lines(capsys.readouterr().out)])
    assert steps.shape == (k,)
    eta0 = schedule(clf)["eta0"]
    # Epoch t (from 0) uses eta0 / (t + 1) ** power_t (printed to 4 digits).
    assert_allclose(steps, eta0 / np.arange(1, k + 1) ** power_t, rtol=1e-3)
    assert schedule(clf)["epoch"] == k
    assert_allclose(schedule(clf)["eta"], eta0 / (k + 1) ** power_t, rtol=1e-14)


def test_adaptive_schedule_divides_step_by_five_on_plateau(iris, capsys):
    X, y = iris
    # tol=10: no epoch improves the loss by 10, so every n_iter_no_change
    # epochs is a plateau.
    with pytest.warns(ConvergenceWarning):
        clf = SoftmaxGDClassifier(
            batch_size=16,
            learning_rate="adaptive",
            tol=10.0,
            n_iter_no_change=2,
            max_iter=7,
            verbose=1,
            random_state=0,
        ).fit(X, y)
    steps = np.array([float(m["step"]) for m in _epoch_lines(capsys.readouterr().out)])
    eta0 = schedule(clf)["eta0"]
    # Epoch 1 sets the best; epochs 2-3 are the first plateau, 4-5 the second...
    expected = eta0 * np.array([1, 1, 1, 1 / 5, 1 / 5, 1 / 25, 1 / 25])
    assert_allclose(steps, expected, rtol=1e-3)
    assert_allclose(schedule(clf)["eta"], eta0 / 125, rtol=1e-14)


def test_adaptive_schedule_stops_when_step_is_exhausted(iris):
    X, y = iris
    max_iter = 100
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxGDClassifier(
            batch_size=16,
            learning_rate="adaptive",
            tol=10.0,
            n_iter_no_change=1,
            max_iter=max_iter,
            random_state=0,
        ).fit(X, y)
    # eta0 / 5 ** 9 < 1e-6 * eta0 <= eta0 / 5 ** 8: nine plateaus, one epoch each.
    assert clf.n_iter_ == 10
    assert schedule(clf)["eta"] < 1e-6 * schedule(clf)["eta0"]


@pytest.mark.parametrize("eta", [0.05, 0.3])
def test_float_learning_rate_is_constant(iris, capsys, eta):
    X, y = iris
    with pytest.warns(ConvergenceWarning):
        clf = SoftmaxGDClassifier(
            batch_size=16,
            learning_rate=eta,
            max_iter=5,
            n_iter_no_change=10,
            verbose=1,
            random_state=0,
        ).fit(X, y)
    steps = [float(m["step"]) for m in _epoch_lines(capsys.readouterr().out)]
    assert_allclose(steps, [eta] * 5, rtol=1e-3)
    assert schedule(clf)["eta"] == schedule(clf)["eta0"] == eta


# ------------------------------------------------------------------ verbose


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_prints_one_line_per_epoch(iris, capsys, early_stopping):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxGDClassifier(
            batch_size=16,
            max_iter=6,
            early_stopping=early_stopping,
            verbose=1,
            random_state=0,
        ).fit(X, y)
    matches = _epoch_lines(capsys.readouterr().out)
    assert len(matches) == clf.n_iter_
    assert [int(m["epoch"]) for m in matches] == list(range(1, clf.n_iter_ + 1))
    assert_allclose([float(m["loss"]) for m in matches], clf.loss_curve_, atol=1e-8)
    elapsed = [float(m["elapsed"]) for m in matches]
    assert elapsed == sorted(elapsed)
    if early_stopping:
        scores = [float(m["val"]) for m in matches]
        assert_allclose(scores, clf.validation_scores_, atol=1e-6)
    else:
        assert all(m["val"] is None for m in matches)


def test_verbose_full_batch_solver(iris, capsys):
    X, y = iris
    clf = SoftmaxGDClassifier(verbose=1).fit(X, y)
    matches = _epoch_lines(capsys.readouterr().out)
    assert len(matches) == clf.n_iter_
    assert_allclose([float(m["loss"]) for m in matches], clf.loss_curve_, atol=1e-8)


def test_silent_by_default(iris, capsys):
    X, y = iris
    with pytest.warns(ConvergenceWarning):
        SoftmaxGDClassifier(batch_size=16, max_iter=2, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------- warm start


def test_warm_start_after_convergence_is_immediate(digits):
    X, y = digits
    clf = SoftmaxGDClassifier(alpha=1e-3, max_iter=1000).fit(X, y)
    cold_iterations = clf.n_iter_
    assert cold_iterations > 5
    coef = clf.coef_.copy()
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.n_iter_ <= 2
    assert_allclose(clf.coef_, coef, rtol=1e-3, atol=1e-3)


def test_minibatch_warm_start_continues(digits):
    X, y = digits
    params = dict(batch_size=64, max_iter=3, n_iter_no_change=10, random_state=0)
    with pytest.warns(ConvergenceWarning):
        cold = SoftmaxGDClassifier(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        cold.set_params(warm_start=True).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        fresh = SoftmaxGDClassifier(**params).fit(X, y)
    # The warm fit's first epoch starts from the previous model: it goes on
    # below the loss of the previous fit's last epoch, far from log(K) at W = 0.
    assert cold.loss_curve_[0] < fresh.loss_curve_[-1] < fresh.loss_curve_[0]
    assert not np.allclose(cold.coef_, fresh.coef_)


def test_minibatch_without_warm_start_restarts(digits):
    X, y = digits
    params = dict(batch_size=64, max_iter=2, n_iter_no_change=10, random_state=0)
    clf = SoftmaxGDClassifier(**params)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    first = clf.coef_.copy()
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert_array_equal(clf.coef_, first)


# ------------------------------------------------------------------ dask-ml


def test_dask_ml_incremental(digits_split):
    dask_ml_wrappers = pytest.importorskip(
        "dask_ml.wrappers", reason="dask-ml (the test and dask extras) is not installed"
    )
    da = pytest.importorskip(
        "dask.array", reason="dask[array] (the test and dask extras) is not installed"
    )
    X_train, X_test, y_train, y_test = digits_split
    X_dask = da.from_array(X_train, chunks=(200, X_train.shape[1]))
    y_dask = da.from_array(y_train, chunks=200)
    model = dask_ml_wrappers.Incremental(
        SoftmaxGDClassifier(batch_size=64, random_state=0), scoring="accuracy"
    )
    model.fit(X_dask, y_dask, classes=np.unique(y_train))
    n_chunks = len(X_dask.chunks[0])
    assert model.estimator_.n_iter_ == n_chunks  # one partial_fit per block
    assert model.score(da.from_array(X_test, chunks=200), y_test) > 0.85
