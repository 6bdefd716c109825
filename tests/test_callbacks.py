"""``SoftmaxGDClassifier`` with scikit-learn's callbacks (``sklearn.callback``):
one "epoch" task per iteration, scores of the epoch models, early stop on a
callback's request, progress bars in meta-estimators, no hard dependency on
rich, and teardown (with the estimator unchanged) when fit raises."""

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.callback import ScoringMonitor
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier

REPO_ROOT = Path(__file__).resolve().parents[1]

# The fitting paths: mini-batch, and the full-batch solvers.
PATHS = {
    "minibatch": dict(batch_size=32, random_state=0, n_iter_no_change=1000),
    "lbfgs": dict(),
    "agd": dict(l1_ratio=0.5, solver="fista"),
    "prox-newton": dict(l1_ratio=0.5),
    "gd": dict(learning_rate=0.1),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class Recorder:
    """A callback that records its hooks and each epoch's parameters."""

    def __init__(self, stop_at=None, fail_at=None):
        self.stop_at = stop_at
        self.fail_at = fail_at
        self.hooks = []
        self.params = []

    def setup(self, estimator, context):
        self.hooks.append("setup")

    def teardown(self, estimator, context):
        self.hooks.append("teardown")

    def on_fit_task_begin(self, estimator, context):
        self.hooks.append("begin")

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.hooks.append("end")
        if context.task_name != "epoch":
            return False
        self.params.append(
            (fitted_estimator.coef_.copy(), fitted_estimator.intercept_.copy())
        )
        if context.task_id == self.fail_at:
            raise RuntimeError("callback failure")
        return context.task_id == self.stop_at


def accuracy(X, y, classes, coef, intercept, sample_weight=None):
    """Accuracy of the linear model ``(coef, intercept)``, computed by hand."""
    scores = X @ coef.T + intercept
    if scores.shape[1] == 1:
        predicted = classes[(scores[:, 0] > 0).astype(int)]
    else:
        predicted = classes[np.argmax(scores, axis=1)]
    return np.average(predicted == y, weights=sample_weight)


def epoch_rows(monitor):
    rows = monitor.get_logs().data
    return [row for row in rows if row["task_name"] == "epoch"]


# ----------------------------------------------------------- ScoringMonitor


@pytest.mark.parametrize("path", PATHS)
def test_scoring_monitor_logs_one_row_per_epoch(digits, path):
    X, y = digits
    monitor, recorder = ScoringMonitor(scoring="accuracy"), Recorder()
    clf = SoftmaxGDClassifier(max_iter=25, **PATHS[path])
    clf.set_callbacks(monitor, recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    rows = epoch_rows(monitor)
    assert len(rows) == clf.n_iter_ == len(recorder.params) > 1
    assert [row["task_id"] for row in rows] == list(range(clf.n_iter_))
    # Each row scores that epoch's model.
    for row, (coef, intercept) in zip(rows, recorder.params, strict=True):
        assert row["accuracy"] == pytest.approx(
            accuracy(X, y, clf.classes_, coef, intercept), abs=1e-12
        )
    # The last epoch's model is the fitted one.
    assert rows[-1]["accuracy"] == pytest.approx(clf.score(X, y), abs=1e-12)
    # The epochs' models are not all the same.
    assert len({coef.tobytes() for coef, _ in recorder.params}) == clf.n_iter_


def test_scoring_monitor_uses_sample_weight(iris):
    X, y = iris
    rng = np.random.RandomState(0)
    sample_weight = rng.uniform(0.0, 3.0, size=X.shape[0])
    monitor = ScoringMonitor(scoring="accuracy")
    clf = SoftmaxGDClassifier(alpha=0.5).set_callbacks(monitor)
    clf.fit(X, y, sample_weight=sample_weight)
    last = epoch_rows(monitor)[-1]["accuracy"]
    assert last == pytest.approx(
        clf.score(X, y, sample_weight=sample_weight), abs=1e-12
    )
    assert last != pytest.approx(clf.score(X, y), abs=1e-12)


def test_scoring_monitor_partial_fit_logs_one_epoch_per_call(iris):
    X, y = iris
    monitor = ScoringMonitor(scoring="accuracy")
    clf = SoftmaxGDClassifier(batch_size=16, random_state=0).set_callbacks(monitor)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y)
    runs = monitor.get_logs(select="all")
    assert len(runs) == 2
    for run in runs:
        rows = [row for row in run.data if row["task_name"] == "epoch"]
        assert len(rows) == 1
    last = [row for row in runs[-1].data if row["task_name"] == "epoch"][0]
    assert last["accuracy"] == pytest.approx(clf.score(X, y), abs=1e-12)


def test_binary_epoch_models_score_like_the_fitted_model(iris):
    X, y = iris
    mask = y > 0
    X, y = X[mask], np.where(y[mask] == 1, "versicolor", "virginica")
    monitor, recorder = ScoringMonitor(scoring="accuracy"), Recorder()
    clf = SoftmaxGDClassifier(alpha=1e-2).set_callbacks(monitor, recorder).fit(X, y)
    rows = epoch_rows(monitor)
    assert len(rows) == clf.n_iter_
    for row, (coef, intercept) in zip(rows, recorder.params, strict=True):
        assert coef.shape == (1, X.shape[1])
        assert row["accuracy"] == pytest.approx(
            accuracy(X, y, clf.classes_, coef, intercept), abs=1e-12
        )
    assert rows[-1]["accuracy"] == pytest.approx(clf.score(X, y), abs=1e-12)


# ------------------------------------------------------ stopping on request


@pytest.mark.parametrize("path", PATHS)
def test_callback_stops_the_fit(digits, path):
    X, y = digits
    recorder = Recorder(stop_at=2)
    clf = SoftmaxGDClassifier(max_iter=100, **PATHS[path]).set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert len(clf.loss_curve_) == 3
    # The fitted model is the one of the epoch where the fit stopped.
    assert_array_equal(clf.coef_, recorder.params[-1][0])
    assert_array_equal(clf.intercept_, recorder.params[-1][1])
    assert recorder.hooks.count("setup") == recorder.hooks.count("teardown") == 1


# -------------------------------------------------------------- ProgressBar


def test_progressbar_in_pipeline(iris, capsys):
    pytest.importorskip(
        "rich", reason="rich (the test and progress extras) is not installed"
    )
    from sklearn.callback import ProgressBar

    X, y = iris

    def make():
        return make_pipeline(
            StandardScaler(),
            SoftmaxGDClassifier(batch_size=16, max_iter=20, random_state=0),
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with_bar = make().set_callbacks(ProgressBar(max_propagation_depth=None))
        with_bar.fit(X, y)
        without = make().fit(X, y)
    out = capsys.readouterr().out
    assert "SoftmaxGDClassifier - fit" in out
    assert "100%" in out
    assert_array_equal(with_bar[-1].coef_, without[-1].coef_)
    assert_array_equal(with_bar.predict_proba(X), without.predict_proba(X))
    assert with_bar[-1].n_iter_ == without[-1].n_iter_ == 20


def test_progressbar_in_grid_search(iris, capsys):
    pytest.importorskip(
        "rich", reason="rich (the test and progress extras) is not installed"
    )
    from sklearn.callback import ProgressBar

    X, y = iris
    grid = {"softmaxgdclassifier__alpha": [1e-3, 1e-1]}

    def make():
        pipe = make_pipeline(StandardScaler(), SoftmaxGDClassifier())
        return GridSearchCV(pipe, grid, cv=3)

    with_bar = make().set_callbacks(ProgressBar(max_propagation_depth=None))
    with_bar.fit(X, y)
    without = make().fit(X, y)
    out = capsys.readouterr().out
    assert "SoftmaxGDClassifier - fit" in out
    assert "100%" in out
    assert_array_equal(
        with_bar.cv_results_["mean_test_score"], without.cv_results_["mean_test_score"]
    )
    assert with_bar.best_params_ == without.best_params_
    best_with = with_bar.best_estimator_[-1]
    best_without = without.best_estimator_[-1]
    assert_array_equal(best_with.coef_, best_without.coef_)
    assert best_with.n_iter_ == best_without.n_iter_
    # The callback is not left on the inner estimators.
    assert not hasattr(best_with, "_skl_callbacks")


def test_package_works_without_rich():
    """sk_softmax does not need rich: import, fit (both paths) and callbacks."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["rich"] = None  # any import of rich now raises ImportError
        try:
            import rich.progress
        except ImportError:
            pass
        else:
            raise SystemExit("rich is still importable")

        import warnings
        from sklearn.callback import ScoringMonitor
        from sklearn.datasets import load_iris
        from sklearn.exceptions import ConvergenceWarning
        from sk_softmax import SoftmaxGDClassifier

        X, y = load_iris(return_X_y=True)
        clf = SoftmaxGDClassifier(alpha=1e-2, max_iter=1000).fit(X, y)
        assert clf.score(X, y) > 0.9, clf.score(X, y)
        monitor = ScoringMonitor(scoring="accuracy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mini = SoftmaxGDClassifier(batch_size=16, max_iter=5, random_state=0)
            mini.set_callbacks(monitor).fit(X, y)
        rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
        assert len(rows) == mini.n_iter_ == 5
        assert "rich" not in {m.split(".")[0] for m, v in sys.modules.items() if v}
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# ----------------------------------------------------------------- teardown


def _nan(X):
    X = X.copy()
    X[0, 0] = np.nan
    return X


@pytest.mark.parametrize("path", PATHS)
def test_teardown_when_fit_raises_on_bad_input(iris, path):
    X, y = iris
    recorder = Recorder()
    clf = SoftmaxGDClassifier(max_iter=5, **PATHS[path])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    coef, intercept, n_iter = clf.coef_.copy(), clf.intercept_.copy(), clf.n_iter_
    clf.set_callbacks(recorder)
    keys = set(vars(clf))
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(_nan(X), y)
    # Every callback set up is torn down.
    assert recorder.hooks.count("setup") == recorder.hooks.count("teardown")
    assert set(vars(clf)) == keys
    assert_array_equal(clf.coef_, coef)
    assert_array_equal(clf.intercept_, intercept)
    assert clf.n_iter_ == n_iter


@pytest.mark.parametrize("path", PATHS)
def test_teardown_when_fit_raises_during_training(iris, path):
    """A failure after the callbacks' setup (here, in an epoch's hook) still
    tears them down, and the estimator is left as it was before the call."""
    X, y = iris
    clf = SoftmaxGDClassifier(max_iter=5, **PATHS[path])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    before = {k: v for k, v in vars(clf).items()}
    coef, loss_curve = clf.coef_.copy(), list(clf.loss_curve_)
    recorder = Recorder(fail_at=1)
    clf.set_callbacks(recorder)
    with pytest.raises(RuntimeError, match="callback failure"):
        clf.set_params(alpha=0.5).fit(X, y)
    assert recorder.hooks.count("setup") == 1
    assert recorder.hooks[-1] == "teardown"
    assert recorder.hooks.count("teardown") == 1
    assert len(recorder.params) == 2  # it failed at the second epoch
    assert set(vars(clf)) == set(before) | {"_skl_callbacks"}
    assert not {"_callback_fit_ctx", "_skl_callbacks_to_teardown"} & set(vars(clf))
    assert_array_equal(clf.coef_, coef)
    assert clf.loss_curve_ == loss_curve
    for name in ("n_iter_", "classes_", "n_features_in_"):
        assert_array_equal(getattr(clf, name), before[name])
    # The estimator still fits normally afterwards.
    clf.set_callbacks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert not np.array_equal(clf.coef_, coef)


def test_teardown_when_partial_fit_raises(iris):
    X, y = iris
    clf = SoftmaxGDClassifier(batch_size=16, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    coef = clf.coef_.copy()
    schedule = dict(clf._optimizer_state["schedule"])
    plateau = dict(clf._optimizer_state["plateau"])
    iterate = clf._optimizer_state["iterate"].copy()
    recorder = Recorder(fail_at=0)
    clf.set_callbacks(recorder)
    with pytest.raises(RuntimeError, match="callback failure"):
        clf.partial_fit(X, y)
    assert recorder.hooks.count("setup") == recorder.hooks.count("teardown") == 1
    assert_array_equal(clf.coef_, coef)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    assert clf._optimizer_state["schedule"] == schedule
    assert clf._optimizer_state["plateau"] == plateau
    assert_array_equal(clf._optimizer_state["iterate"], iterate)
    assert schedule["epoch"] == 1
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
