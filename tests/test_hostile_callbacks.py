"""Hostile callbacks (issue 29, kind 5), public API only: the model that
scikit-learn's callback API hands to ``on_fit_task_end``
(``fitted_estimator``, built from ``reconstruction_attributes``) is a copy,
as the user guide says. A callback that writes into it, in place, at any
task level (each "epoch", the end of the fit), must not change the fit:
the fitted ``coef_``, ``intercept_``, ``classes_``, ``n_iter_`` and
``loss_curve_`` are those of the same fit without the callback, on every
fitting path (full-batch solvers, mini-batch, early stopping, partial_fit,
warm start; two classes and more; numpy and torch). The models handed
over are snapshots: later epochs, and later writes into the fitted
estimator, do not change them.

A callback that writes and then raises leaves the estimator exactly as it
was before the call (``call_atomic``).
"""

import numpy as np
import pytest
from _callbacks import TaskEndCallback
from _hostile import as_numpy, call_atomic, data, quiet  # tests/_hostile.py
from numpy.testing import assert_array_equal

from sk_softmax import SoftmaxGDClassifier

PATHS = {
    "newton-cg": {},
    "lbfgs": {"solver": "lbfgs"},
    "fista": {"solver": "fista", "l1_ratio": 0.5, "max_iter": 40},
    "float learning_rate": {"learning_rate": 0.5, "max_iter": 15},
    "mini-batch": {"batch_size": 32, "random_state": 0, "max_iter": 8},
    "one-batch epochs": {"batch_size": 1000, "random_state": 0, "max_iter": 8},
    "early stopping mini-batch": {
        "early_stopping": True,
        "batch_size": 16,
        "random_state": 0,
        "max_iter": 12,
    },
    "early stopping full batch": {
        "early_stopping": True,
        "random_state": 0,
        "max_iter": 12,
    },
    "partial_fit": {"batch_size": 32, "random_state": 0},
    "warm start": {"warm_start": True, "max_iter": 10},
}


def _write(model, how):
    """Write into ``model``'s fitted attributes as a hostile callback may."""
    if how == "zero in place":
        model.coef_[...] = 0.0
        model.intercept_[...] = 0.0
    elif how == "scale in place":
        model.coef_ *= 100.0
        model.intercept_ += 5.0
    elif how == "classes in place":  # idempotent: any number of epochs shows
        model.classes_[...] = model.classes_[-1]
    elif how == "rebind":
        model.coef_ = model.coef_ * 0.0
        model.intercept_ = model.intercept_ * 0.0
        model.loss_curve_ = []


class Writer(TaskEndCallback):
    """Writes into the model it receives at the end of the tasks of
    ``levels`` ("epoch": each iteration; "fit": the end of the fit)."""

    def __init__(self, levels, how):
        self.levels, self.how, self.calls = levels, how, 0

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        level = "epoch" if context.task_name == "epoch" else "fit"
        if level in self.levels:
            assert fitted_estimator is not None and fitted_estimator is not estimator
            _write(fitted_estimator, self.how)
            self.calls += 1
        return False


class Keeper(Writer):
    """Keeps every model it receives, and a copy of it made at the time."""

    def __init__(self):
        super().__init__((), None)
        self.models, self.copies = [], []

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if fitted_estimator is not None:
            self.models.append(fitted_estimator)
            self.copies.append(
                (
                    as_numpy(fitted_estimator.coef_).copy(),
                    as_numpy(fitted_estimator.intercept_).copy(),
                )
            )
        return False


def _data(n_classes, namespace="numpy"):
    X, y = data("iris")
    if n_classes == 2:
        y = (y > 0).astype(y.dtype)
    if namespace == "torch":
        torch = pytest.importorskip("torch", reason="the torch case needs torch")
        return torch.asarray(X), torch.asarray(y)
    return X, y


def _run(path, X, y, callbacks=()):
    """The fit of ``path``, with ``callbacks``; returns the estimator."""
    params = PATHS[path]
    clf = SoftmaxGDClassifier(**params)
    if path == "warm start":  # a first fit, then the warm-started one
        with quiet():
            clf.fit(X, (y + 1) % (int(y.max()) + 1))
    clf.set_callbacks(*callbacks)
    with quiet():
        if path == "partial_fit":
            classes = np.unique(as_numpy(y))
            call_atomic(clf, "partial_fit", X, y, classes=classes)
            call_atomic(clf, "partial_fit", X, y)
        else:
            call_atomic(clf, "fit", X, y)
    return clf


def _fitted(clf):
    return {
        "coef_": as_numpy(clf.coef_).copy(),
        "intercept_": as_numpy(clf.intercept_).copy(),
        "classes_": as_numpy(clf.classes_).copy(),
        "n_iter_": clf.n_iter_,
        "loss_curve_": list(clf.loss_curve_),
    }


def _assert_same_fit(got, expected):
    for name, value in expected.items():
        assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.parametrize(
    "how", ["zero in place", "scale in place", "classes in place", "rebind"]
)
@pytest.mark.parametrize("levels", [("epoch",), ("fit",)], ids=["epoch", "fit"])
@pytest.mark.parametrize("n_classes", [3, 2])
@pytest.mark.parametrize("path", PATHS)
def test_callback_writes_do_not_change_the_fit(path, n_classes, levels, how):
    X, y = _data(n_classes)
    expected = _fitted(_run(path, X, y))
    writer = Writer(levels, how)
    clf = _run(path, X, y, [writer])
    assert writer.calls > 0
    _assert_same_fit(_fitted(clf), expected)


@pytest.mark.parametrize("n_classes", [3, 2])
@pytest.mark.parametrize("path", PATHS)
def test_models_handed_to_callbacks_are_snapshots(path, n_classes):
    """Each model handed over keeps the values it had then: later epochs do
    not change it, nor do later writes into the fitted estimator."""
    X, y = _data(n_classes)
    keeper = Keeper()
    clf = _run(path, X, y, [keeper])
    assert len(keeper.models) >= 2
    clf.coef_[...] = 7.0  # the user's own write, after the fit
    clf.intercept_[...] = 7.0
    for model, (coef, intercept) in zip(keeper.models, keeper.copies, strict=True):
        assert_array_equal(as_numpy(model.coef_), coef)
        assert_array_equal(as_numpy(model.intercept_), intercept)


@pytest.mark.parametrize("levels", [("epoch",), ("fit",)], ids=["epoch", "fit"])
@pytest.mark.parametrize("path", ["newton-cg", "mini-batch", "partial_fit"])
def test_callback_writes_on_torch_tensors(path, levels):
    """The same with torch tensors (array API dispatch): the epoch models
    and the final one are tensors, written in place."""
    import sklearn

    X, y = _data(3, "torch")
    with sklearn.config_context(array_api_dispatch=True):
        expected = _fitted(_run(path, X, y))
        writer = Writer(levels, "scale in place")
        clf = _run(path, X, y, [writer])
    assert writer.calls > 0
    _assert_same_fit(_fitted(clf), expected)


class WriteThenRaise(Writer):
    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        super().on_fit_task_end(estimator, context, fitted_estimator=fitted_estimator)
        if self.calls >= 2 or context.task_name != "epoch":
            raise RuntimeError("callback failure after a write")
        return False


@pytest.mark.parametrize("levels", [("epoch",), ("fit",)], ids=["epoch", "fit"])
@pytest.mark.parametrize("path", ["newton-cg", "fista", "mini-batch", "warm start"])
def test_callback_that_writes_then_raises_leaves_the_model(path, levels):
    """A refit whose callback writes into the model it receives, then
    raises: the estimator is exactly as it was (the previous fit), and
    still predicts as it did."""
    X, y = _data(3)
    clf = _run(path, X, y)
    proba = clf.predict_proba(X)
    clf.set_callbacks(WriteThenRaise(levels, "zero in place"))
    with quiet(), pytest.raises(RuntimeError, match="after a write"):
        call_atomic(clf, "fit", X, y)
    assert_array_equal(clf.predict_proba(X), proba)
