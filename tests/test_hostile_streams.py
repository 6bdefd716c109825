"""Hostile online learning (issue 29, kinds 1 and 2), public API only.

Kind 1: healthy streams must never be taken for a divergence. One row at a
time (in file order and shuffled), small batches of noisy labels, labels
that drift between calls, a warm-start refit of one mini-batch epoch on
relabelled data, every schedule, sparse and float32 input, two classes and
more: ``SGDClassifier`` takes every one of these steps, so the estimator
must not raise, and its model must be finite and about as good as SGD's
on the same stream. Real divergence (a huge constant learning rate, on
scaled or raw data) must still raise the ``ValueError`` of
``tests/test_robustness.py``.

Kind 2: the step size must follow ``set_params`` between ``partial_fit``
calls (``alpha``, ``l1_ratio``, ``learning_rate``, ``power_t``): no blow-up
when the penalty grows, ``coef_`` shrinking as ``alpha`` grows (as
``SGDClassifier``'s does), a new ``learning_rate`` or schedule taking
effect.

Every call that raises must leave the estimator exactly as it was
(``call_atomic``).
"""

import math
import re

import numpy as np
import pytest
import scipy.sparse as sp
from _hostile import (  # tests/_hostile.py
    DIVERGED,
    WHAT_TO_CHANGE,
    assert_finite_model,
    call_atomic,
    data,
    quiet,
)
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier

#: How far below SGDClassifier's accuracy, on the same stream, the model may
#: end (measured where nothing raises: 0.03 at most).
MARGIN = 0.1


def _binary(n=300, seed=1):
    X, y = make_classification(n, 8, n_informative=4, n_redundant=2, random_state=seed)
    return StandardScaler().fit_transform(X), y


DATASETS = {
    "iris": lambda: data("iris"),
    "iris_raw": lambda: data("iris", standardized=False),
    "wine": lambda: data("wine"),
    "digits": lambda: data("digits", n_rows=200),
    "breast_cancer": lambda: data("breast_cancer", n_rows=200),
    "binary": _binary,
}


def stream(clf, X, y, batches, classes):
    """``partial_fit`` on each batch of rows in turn, each call atomic."""
    for rows in batches:
        call_atomic(clf, "partial_fit", X[rows], y[rows], classes=classes)
    return clf


def sgd_stream(X, y, batches, classes):
    """``SGDClassifier`` on the same stream: the reference that takes every
    one of these steps."""
    sgd = SGDClassifier(random_state=0)
    for rows in batches:
        sgd.partial_fit(X[rows], y[rows], classes=classes)
    return sgd


def assert_sensible(clf, sgd, X, y):
    """Finite, probabilities that sum to one, and an accuracy on the clean
    labels within ``MARGIN`` of SGD's on the same stream (so above chance
    wherever SGD is)."""
    assert_finite_model(clf)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)
    assert clf.score(X, y) >= sgd.score(X, y) - MARGIN, (
        clf.score(X, y),
        sgd.score(X, y),
    )


def batches_of(rows, size):
    return [rows[i : i + size] for i in range(0, len(rows), size)]


# ============================================================================
# Kind 1: healthy streams do not cry wolf
# ============================================================================


@pytest.mark.parametrize("order", ["file", "shuffled"])
@pytest.mark.parametrize(
    "dataset", ["iris", "iris_raw", "wine", "digits", "breast_cancer"]
)
def test_partial_fit_one_row_at_a_time(dataset, order):
    """One ``partial_fit`` call per row: each call's objective is one row's
    loss, which a model trained on other rows may well find large (iris in
    file order: the first row of a new class). It is no divergence."""
    X, y = DATASETS[dataset]()
    rows = np.arange(len(y))
    if order == "shuffled":
        rows = np.random.RandomState(0).permutation(len(y))
    batches = batches_of(rows, 1)
    classes = np.unique(y)
    clf = stream(SoftmaxGDClassifier(random_state=0), X, y, batches, classes)
    assert clf.n_iter_ == len(batches) == len(clf.loss_curve_)
    assert_sensible(clf, sgd_stream(X, y, batches, classes), X, y)


def _noisy(y, fraction, seed=0):
    """``y`` with a ``fraction`` of the labels replaced by random classes."""
    rng = np.random.RandomState(seed)
    classes = np.unique(y)
    y = y.copy()
    flip = rng.rand(len(y)) < fraction
    y[flip] = rng.choice(classes, size=int(flip.sum()))
    return y


@pytest.mark.parametrize("noise", [0.1, 0.2, 0.4])
@pytest.mark.parametrize(
    "dataset, batch", [("iris", 2), ("iris", 5), ("digits", 5), ("binary", 3)]
)
def test_small_batches_of_noisy_labels(dataset, batch, noise):
    """Shuffled passes (two on iris, one otherwise) of ``batch``-row calls
    over labels of which a share ``noise`` is random: a mislabelled row
    costs a confident model several nats, far above ``2 log K``; the model,
    scored on the clean labels, must still be as good as SGD's."""
    X, y = DATASETS[dataset]()
    y_noisy = _noisy(y, noise)
    rng = np.random.RandomState(1)
    n_passes = 2 if dataset == "iris" else 1
    rows = np.concatenate([rng.permutation(len(y)) for _ in range(n_passes)])
    batches = batches_of(rows, batch)
    classes = np.unique(y)
    clf = stream(SoftmaxGDClassifier(random_state=0), X, y_noisy, batches, classes)
    assert clf.n_iter_ == len(batches)
    assert_sensible(clf, sgd_stream(X, y_noisy, batches, classes), X, y)


DRIFTS = {
    "shift": lambda y, K: (y + 1) % K,
    "swap_0_1": lambda y, K: np.choose(np.minimum(y, 2), [1, 0, y]),
    "one_class": lambda y, K: np.zeros_like(y),
}


def _first_model(how, X, y):
    """The model the drifting stream continues: a full-batch fit, three
    passes of ``partial_fit``, or a (converged) mini-batch fit."""
    if how == "full_batch_fit":
        return SoftmaxGDClassifier().fit(X, y)
    if how == "minibatch_fit":
        with quiet():
            return SoftmaxGDClassifier(batch_size=16, random_state=0).fit(X, y)
    clf = SoftmaxGDClassifier(batch_size=16, random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.unique(y))
    return clf


@pytest.mark.parametrize("first", ["full_batch_fit", "partial_fit", "minibatch_fit"])
@pytest.mark.parametrize("drift", DRIFTS)
@pytest.mark.parametrize("dataset", ["iris", "digits"])
def test_labels_drift_between_calls(dataset, drift, first):
    """A fitted model, then ``partial_fit`` calls whose labels have drifted:
    the first such call starts from a loss far above ``2 log K`` (the model
    is confidently wrong on the new labels), which is what online learning
    is for. The model must follow the drift, as SGD's does, wherever its
    step is not exhausted (a converged mini-batch fit ends with the
    "adaptive" step divided by 5**9, which ``partial_fit`` continues)."""
    X, y = DATASETS[dataset]()
    K = len(np.unique(y))
    y_new = DRIFTS[drift](y, K)
    changed = y_new != y
    clf = _first_model(first, X, y)
    sgd = SGDClassifier(random_state=0).fit(X, y)
    before = np.mean(clf.predict(X[changed]) == y_new[changed])
    rows = np.random.RandomState(2).permutation(len(y))
    chunks = [rows[20 * c : 20 * c + 80] for c in range(5)]
    for chunk in chunks:
        call_atomic(clf, "partial_fit", X[chunk], y_new[chunk])
        sgd.partial_fit(X[chunk], y_new[chunk])
    assert_finite_model(clf)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    if first != "minibatch_fit":
        after = np.mean(clf.predict(X[changed]) == y_new[changed])
        assert after >= before + 0.2, (before, after)


RELABELLINGS = {
    "shift": lambda y, K: (y + 1) % K,
    "reverse": lambda y, K: K - 1 - y,
}


@pytest.mark.parametrize(
    "learning_rate, batch_size",
    [("auto", 8), ("auto", 32), ("invscaling", 32), (2.0, 8)],
)
@pytest.mark.parametrize("relabel", RELABELLINGS)
@pytest.mark.parametrize("first", ["full_batch", "minibatch"])
@pytest.mark.parametrize("dataset", ["iris", "digits"])
def test_warm_start_one_epoch_on_relabelled_data(
    dataset, first, relabel, learning_rate, batch_size
):
    """``warm_start`` with ``max_iter=1``: one mini-batch epoch from the
    fitted model on relabelled data. Its start point is confidently wrong,
    so its batches' losses exceed ``2 log K``; the epoch must run, and move
    the model towards the new labels."""
    X, y = DATASETS[dataset]()
    K = len(np.unique(y))
    y_new = RELABELLINGS[relabel](y, K)
    first_batch = None if first == "full_batch" else batch_size
    with quiet():
        clf = SoftmaxGDClassifier(batch_size=first_batch, random_state=0, max_iter=30)
        clf.fit(X, y)
    before = clf.score(X, y_new)
    clf.set_params(
        warm_start=True, batch_size=batch_size, max_iter=1, learning_rate=learning_rate
    )
    with quiet():
        call_atomic(clf, "fit", X, y_new)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    assert_finite_model(clf)
    assert clf.score(X, y_new) >= before + 0.1, (before, clf.score(X, y_new))


CONTAINERS = {
    "dense": lambda X: X,
    "csr": sp.csr_matrix,
    "float32": lambda X: X.astype(np.float32),
    "csr_float32": lambda X: sp.csr_matrix(X.astype(np.float32)),
}


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize(
    "learning_rate", ["auto", "constant", "invscaling", "adaptive", 0.05]
)
@pytest.mark.parametrize("dataset", ["iris", "breast_cancer"])
def test_noisy_stream_every_schedule_and_container(dataset, learning_rate, container):
    """Calls of 10 rows in mini-batches of 3, 20% of the labels random, with
    each step-size schedule, on dense, sparse and float32 data."""
    X, y = DATASETS[dataset]()
    y_noisy = _noisy(y, 0.2, seed=3)
    Xc = CONTAINERS[container](X)
    batches = batches_of(np.random.RandomState(4).permutation(len(y)), 10)
    classes = np.unique(y)
    clf = SoftmaxGDClassifier(batch_size=3, learning_rate=learning_rate, random_state=0)
    stream(clf, Xc, y_noisy, batches, classes)
    if "float32" in container:
        assert clf.coef_.dtype == np.float32
    assert_sensible(clf, sgd_stream(Xc, y_noisy, batches, classes), Xc, y)


# -------------------------------------------- real divergence is still caught

DIVERGING_STREAMS = {
    # name: (data set, standardized, learning_rate, batch_size, container)
    "lr1e6_iris_minibatch": ("iris", True, 1e6, 32, "dense"),
    "lr1e6_iris_one_batch": ("iris", True, 1e6, None, "dense"),
    "lr1e6_iris_minibatch_float32": ("iris", True, 1e6, 32, "float32"),
    "lr1e6_iris_one_batch_csr": ("iris", True, 1e6, None, "csr"),
    "lr10_wine_raw_minibatch": ("wine", False, 10.0, 32, "dense"),
    "lr10_wine_raw_one_batch": ("wine", False, 10.0, None, "dense"),
    "lr10_digits_raw_minibatch": ("digits", False, 10.0, 32, "dense"),
    "lr10_digits_raw_minibatch_csr": ("digits", False, 10.0, 32, "csr"),
}


def _assert_divergence_message(error):
    assert re.search(DIVERGED, str(error)), str(error)
    assert re.search(WHAT_TO_CHANGE, str(error)), str(error)


@pytest.mark.parametrize("case", DIVERGING_STREAMS)
def test_huge_constant_step_stream_still_raises(case):
    """``partial_fit`` calls on the whole data with a constant step far too
    long for it: the loss on the same rows grows by orders of magnitude
    within a call (today: raised at the first or second call). It must
    still raise a ValueError that says what to change, within two calls,
    leaving the previous model as it was."""
    name, standardized, learning_rate, batch_size, container = DIVERGING_STREAMS[case]
    X, y = data(name, standardized, n_rows=500 if name == "digits" else None)
    X = CONTAINERS[container](X)
    clf = SoftmaxGDClassifier(
        learning_rate=learning_rate, batch_size=batch_size, random_state=0
    )
    with pytest.raises(ValueError) as raised:
        for _ in range(2):
            call_atomic(clf, "partial_fit", X, y, classes=np.unique(y))
    _assert_divergence_message(raised.value)


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("dataset", ["digits", "wine"])
def test_huge_constant_step_minibatch_fit_on_raw_data_still_raises(dataset, container):
    """A mini-batch ``fit`` with ``learning_rate=10`` on raw data (features
    up to 16 or 1680): each epoch's mean batch loss is thousands of nats,
    against ``log K`` at the start. A refit of a good model must raise and
    leave it intact."""
    X_good, y = data(dataset, n_rows=500)
    X_raw, _ = data(dataset, standardized=False, n_rows=500)
    clf = SoftmaxGDClassifier(batch_size=32, random_state=0, max_iter=5)
    with quiet():
        clf.fit(CONTAINERS[container](X_good), y)
    clf.set_params(learning_rate=10.0)
    with quiet(), pytest.raises(ValueError) as raised:
        call_atomic(clf, "fit", CONTAINERS[container](X_raw), y)
    _assert_divergence_message(raised.value)


# ============================================================================
# Kind 2: the step size follows set_params between partial_fit calls
# ============================================================================


def _passes(clf, X, y, n_passes, chunk=30, seed=0):
    """``n_passes`` shuffled passes of ``chunk``-row ``partial_fit`` calls."""
    rng = np.random.RandomState(seed)
    for _ in range(n_passes):
        for rows in batches_of(rng.permutation(y.shape[0]), chunk):
            call_atomic(clf, "partial_fit", X[rows], y[rows], classes=np.unique(y))
    return clf


def _penalty_bound(alpha, l1_ratio, K):
    """A bound on ``||coef_||_F`` for any model whose objective is at most
    twice that of the null model, ``log K``: ``J >= alpha ((1 - l1_ratio) / 2
    ||W||_F^2 + l1_ratio ||W||_1)`` and ``||W||_1 >= ||W||_F``."""
    budget = 2 * math.log(K)
    bounds = []
    if l1_ratio < 1:
        bounds.append(math.sqrt(2 * budget / (alpha * (1 - l1_ratio))))
    if l1_ratio > 0:
        bounds.append(budget / (alpha * l1_ratio))
    return min(bounds)


ALPHA_SEQUENCES = {
    "1e-3_to_10": (1e-3, 10.0),
    "1e-3_to_3": (1e-3, 3.0),
    "1e-3_1_10_100": (1e-3, 1.0, 10.0, 100.0),
}


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("sequence", ALPHA_SEQUENCES)
def test_growing_alpha_between_calls_shrinks_coef(sequence, container):
    """``partial_fit`` passes at each ``alpha`` of the sequence in turn: the
    step estimated at ``alpha=1e-3`` is far too long for ``alpha=10`` (the
    L2 part alone multiplies the coefficients by ``1 - eta alpha``), so
    reusing it diverges (today: 1e17). The step must be re-derived: no
    error, and ``coef_`` shrinks as ``alpha`` grows, within the bound the
    penalty sets, as SGDClassifier's does on the same calls."""
    X, y = data("iris")
    X = CONTAINERS[container](X)
    K = 3
    clf = SoftmaxGDClassifier(random_state=0)
    sgd = SGDClassifier(random_state=0)
    norms, sgd_norms = [], []
    for alpha in ALPHA_SEQUENCES[sequence]:
        clf.set_params(alpha=alpha)
        _passes(clf, X, y, 3)
        assert_finite_model(clf)
        norms.append(np.linalg.norm(clf.coef_))
        if alpha >= 1:
            assert norms[-1] <= _penalty_bound(alpha, 0.0, K), (alpha, norms)
        sgd.set_params(alpha=alpha)
        for rows in batches_of(np.random.RandomState(0).permutation(150), 30):
            sgd.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        sgd_norms.append(np.linalg.norm(sgd.coef_))
    assert np.all(np.diff(sgd_norms) < 0), sgd_norms  # the reference
    assert np.all(np.diff(norms) < 0), norms


@pytest.mark.parametrize(
    "alpha, l1_ratios",
    [(3.0, (1.0, 0.0)), (3.0, (0.5, 0.0)), (10.0, (1.0, 0.2)), (1e-3, (0.0, 1.0))],
    ids=["3:1->0", "3:0.5->0", "10:1->0.2", "1e-3:0->1"],
)
def test_l1_ratio_change_between_calls(alpha, l1_ratios):
    """``l1_ratio`` moves the penalty between the proximal L1 step and the
    L2 gradient, whose strength ``alpha (1 - l1_ratio)`` the step must
    stay below ``2 / ...`` of: from a pure L1 penalty at ``alpha=3``, the
    step estimated without any L2 part is too long for ``l1_ratio=0``."""
    X, y = data("iris")
    clf = SoftmaxGDClassifier(alpha=alpha, random_state=0)
    for l1_ratio in l1_ratios:
        clf.set_params(l1_ratio=l1_ratio)
        _passes(clf, X, y, 3)
        assert_finite_model(clf)
        assert np.linalg.norm(clf.coef_) <= _penalty_bound(alpha, l1_ratio, 3)


def test_shrinking_alpha_between_calls_learns_like_a_fresh_model():
    """The other way round: the step estimated at ``alpha=10`` is about a
    sixth of the one at ``alpha=1e-4``; re-derived, three passes after
    ``set_params(alpha=1e-4)`` reach what three passes of a fresh model
    reach, from about the same (nearly null) start."""
    X, y = data("iris")
    clf = SoftmaxGDClassifier(alpha=10.0, random_state=0)
    _passes(clf, X, y, 3)
    clf.set_params(alpha=1e-4)
    _passes(clf, X, y, 3, seed=1)
    fresh = _passes(SoftmaxGDClassifier(alpha=1e-4, random_state=0), X, y, 3, seed=1)
    assert clf.score(X, y) >= fresh.score(X, y) - 0.05, (
        clf.score(X, y),
        fresh.score(X, y),
    )


def _steps(clf, capsys, X, y, n_calls):
    """The step size of each of ``n_calls`` calls (``verbose``'s lines)."""
    steps = []
    for _ in range(n_calls):
        call_atomic(clf, "partial_fit", X, y, classes=np.unique(y))
        out = capsys.readouterr().out
        steps += [float(s) for s in re.findall(r"step size = ([-+.e0-9]+)", out)]
    assert len(steps) == n_calls
    return steps


def test_float_learning_rate_set_between_calls_is_the_step(capsys):
    X, y = data("iris")
    clf = SoftmaxGDClassifier(batch_size=30, verbose=1, random_state=0)
    _steps(clf, capsys, X, y, 2)
    clf.set_params(learning_rate=0.05)
    np.testing.assert_allclose(_steps(clf, capsys, X, y, 2), 0.05, rtol=1e-3)


def test_huge_learning_rate_set_between_calls_raises():
    """After healthy calls, ``set_params(learning_rate=1e6)``: the next calls
    take steps of 1e6 and diverge, which must be caught (today the old step
    goes on and nothing happens)."""
    X, y = data("iris")
    clf = SoftmaxGDClassifier(batch_size=32, random_state=0)
    _passes(clf, X, y, 1)
    clf.set_params(learning_rate=1e6)
    with pytest.raises(ValueError) as raised:
        for _ in range(2):
            call_atomic(clf, "partial_fit", X, y)
    _assert_divergence_message(raised.value)


SCHEDULE_CHANGES = {
    # name: (parameters before, parameters after, the steps after: "equal"
    # or "decreasing")
    "invscaling_power_t_0.5_to_0": (
        {"learning_rate": "invscaling"},
        {"power_t": 0.0},
        "equal",
    ),
    "invscaling_power_t_0_to_1": (
        {"learning_rate": "invscaling", "power_t": 0.0},
        {"power_t": 1.0},
        "decreasing",
    ),
    "constant_to_invscaling": (
        {"learning_rate": "constant"},
        {"learning_rate": "invscaling"},
        "decreasing",
    ),
    "invscaling_to_constant": (
        {"learning_rate": "invscaling"},
        {"learning_rate": "constant"},
        "equal",
    ),
}


@pytest.mark.parametrize("change", SCHEDULE_CHANGES)
def test_schedule_change_between_calls_takes_effect(change, capsys):
    """The schedule's kind and ``power_t`` set between calls decide the
    following steps (``verbose`` prints each call's step)."""
    before, after, expected = SCHEDULE_CHANGES[change]
    X, y = data("iris")
    clf = SoftmaxGDClassifier(batch_size=30, verbose=1, random_state=0, **before)
    _steps(clf, capsys, X, y, 3)
    clf.set_params(**after)
    steps = _steps(clf, capsys, X, y, 3)
    assert all(np.isfinite(steps)) and min(steps) > 0, steps
    if expected == "equal":
        np.testing.assert_allclose(steps, steps[0], rtol=1e-12)
    else:
        assert steps[0] > steps[1] > steps[2], steps


def test_batch_size_change_between_calls_stays_sensible():
    """Calls on the whole of digits in one batch, then in batches of one row:
    the step estimated for the whole batch's curvature is not that of one
    row. No error, and a model at least as good as SGD's."""
    X, y = data("digits", n_rows=300)
    clf = SoftmaxGDClassifier(random_state=0)
    _passes(clf, X, y, 2, chunk=300)
    clf.set_params(batch_size=1)
    _passes(clf, X, y, 1, chunk=100)
    sgd = SGDClassifier(random_state=0).fit(X, y)
    assert_sensible(clf, sgd, X, y)
