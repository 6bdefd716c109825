"""``_monitor.py``: what a fit reports after each iteration. The validation
score is the weighted accuracy; the monitor records the loss curve and the
scores, tells the plateau policy the validation score (or the negated
training loss), prints one line per iteration when verbose, runs one
"epoch" callback task per iteration, and stops when a callback or the
plateau asks."""

import re

import numpy as np
import pytest

from sk_softmax._backend import ArrayBackend
from sk_softmax._monitor import FitMonitor, ValidationSet
from sk_softmax._optimizers import PlateauStopping
from sk_softmax._solvers import Iteration


class FakeContext:
    """A callback context recording the epoch tasks; ``stop_at`` makes the
    end of that epoch's task ask to stop."""

    def __init__(self, stop_at=None):
        self.events, self.stop_at, self.epochs = [], stop_at, 0

    def subcontext(self, task_name):
        assert task_name == "epoch"
        self.epochs += 1
        return FakeEpoch(self, self.epochs)


class FakeEpoch:
    def __init__(self, parent, number):
        self.parent, self.number = parent, number

    def call_on_fit_task_begin(self, **fit_args):
        self.parent.events.append(("begin", self.number, sorted(fit_args)))

    def call_on_fit_task_end(self, *, reconstruction_attributes, **fit_args):
        self.parent.events.append(("end", self.number, reconstruction_attributes()))
        return self.number == self.parent.stop_at


def validation_data(fit_intercept=True):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 3, size=40)
    sample_weight = rng.uniform(0.5, 2.0, size=40)
    data = ArrayBackend(X, y, sample_weight, 3, np)
    return ValidationSet(data, fit_intercept), (X, y, sample_weight)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_validation_score_is_the_weighted_accuracy(fit_intercept):
    validation, (X, y, s) = validation_data(fit_intercept)
    rng = np.random.default_rng(1)
    P = rng.standard_normal((3, 3 + fit_intercept))
    Z = X @ P[:, :3].T + (P[:, 3] if fit_intercept else 0.0)
    right = np.argmax(Z, axis=1) == y
    assert right.any() and not right.all()
    assert validation.score(P) == pytest.approx(s[right].sum() / s.sum(), rel=1e-14)
    assert validation.total == pytest.approx(s.sum())


def monitor(ctx=None, *, plateau=None, validation=None, verbose=0):
    return FitMonitor(
        FakeContext() if ctx is None else ctx,
        {"estimator": None, "X": None, "y": None, "metadata": {}},
        lambda P: {"coef_": P},
        verbose=verbose,
        plateau=plateau,
        validation=validation,
    )


def test_monitor_records_and_reports_each_iteration(capsys):
    ctx = FakeContext()
    plateau = PlateauStopping(10, 0.0)
    report = monitor(ctx, plateau=plateau, verbose=1)
    P1, P2 = np.ones((3, 4)), 2 * np.ones((3, 4))
    assert report(1, Iteration(P1, 0.8, 1e-3, 0.5)) is False
    assert report(2, Iteration(P2, 0.6, None, 0.25)) is False
    assert report.loss_curve == [0.8, 0.6]
    assert report.validation_scores == []
    # the plateau is told the negated training loss
    assert plateau.best == -0.6 and plateau.best_P is P2
    # one "epoch" task per iteration, with the model's attributes
    assert [e[:2] for e in ctx.events] == [
        ("begin", 1),
        ("end", 1),
        ("begin", 2),
        ("end", 2),
    ]
    assert ctx.events[1][2]["coef_"] is P1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        r"-- Epoch 1, loss = 0\.80000000, optimality = 1\.000e-03, "
        r"step size = 5\.000e-01, elapsed = [\d.]+ s",
        lines[0],
    )
    assert "optimality" not in lines[1] and "step size = 2.500e-01" in lines[1]


def test_monitor_scores_the_validation_set():
    validation, _ = validation_data()
    plateau = PlateauStopping(10, 0.0)
    report = monitor(plateau=plateau, validation=validation)
    P = np.random.default_rng(2).standard_normal((3, 4))
    report(1, Iteration(P, 0.8, None, 0.5))
    assert report.validation_scores == [validation.score(P)]
    assert plateau.best == validation.score(P)  # not the training loss


def test_monitor_is_silent_by_default(capsys):
    report = monitor()
    report(1, Iteration(np.zeros((3, 4)), 1.0, None, 0.1))
    assert capsys.readouterr().out == ""


def test_monitor_stops_on_a_callback_or_the_plateau():
    report = monitor(FakeContext(stop_at=2))
    P = np.zeros((3, 4))
    assert [report(i, Iteration(P, 1.0, None, 0.1)) for i in (1, 2)] == [False, True]
    report = monitor(plateau=PlateauStopping(1, 0.0))
    stops = [
        report(i, Iteration(P, loss, None, 0.1)) for i, loss in ((1, 1.0), (2, 1.5))
    ]
    assert stops == [False, True]  # the second epoch's loss is worse
