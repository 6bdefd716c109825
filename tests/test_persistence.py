"""Saving and loading: pickle, joblib and skops keep the model and the state
``partial_fit`` continues from; skops needs to trust the estimator only."""

import io
import pickle

import joblib
import numpy as np
import pytest
import skops.io as sio
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier

ESTIMATOR = "sk_softmax._classifier.SoftmaxGDClassifier"


def _pickle(model):
    return pickle.loads(pickle.dumps(model))


def _joblib(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def _skops(model):
    data = sio.dumps(model)
    assert sio.get_untrusted_types(data=data) == [ESTIMATOR]
    return sio.loads(data, trusted=[ESTIMATOR])


ROUND_TRIPS = {"pickle": _pickle, "joblib": _joblib, "skops": _skops}


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
@pytest.mark.parametrize(
    "params", [{}, {"batch_size": 16, "random_state": 0, "max_iter": 20}]
)
def test_loaded_model_predicts_as_the_saved_one(iris, round_trip, params):
    X, y = iris
    model = SoftmaxGDClassifier(**params)
    if "batch_size" in params:
        with pytest.warns(Warning):  # 20 epochs: short of convergence
            model.fit(X, y)
    else:
        model.fit(X, y)
    loaded = ROUND_TRIPS[round_trip](model)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.n_iter_ == model.n_iter_


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
def test_partial_fit_continues_after_loading(iris, round_trip):
    """The step schedule, plateau counts and last iterate travel with the
    model: a loaded model's next partial_fit is the saved model's, bit for
    bit, and differs from a fresh model's."""
    X, y = iris
    rng = np.random.default_rng(0)
    chunks = np.array_split(rng.permutation(X.shape[0]), 3)
    model = SoftmaxGDClassifier(random_state=0)
    for rows in chunks[:2]:
        model.partial_fit(X[rows], y[rows], classes=np.unique(y))
    loaded = ROUND_TRIPS[round_trip](model)
    model.partial_fit(X[chunks[2]], y[chunks[2]])
    loaded.partial_fit(X[chunks[2]], y[chunks[2]])
    assert_array_equal(loaded.coef_, model.coef_)
    assert_array_equal(loaded.intercept_, model.intercept_)
    assert loaded.n_iter_ == model.n_iter_ == 3
    fresh = SoftmaxGDClassifier(random_state=0).partial_fit(
        X[chunks[2]], y[chunks[2]], classes=np.unique(y)
    )
    assert not np.allclose(fresh.coef_, model.coef_)


def test_partial_fit_state_is_plain_numbers_and_arrays(iris):
    """What partial_fit keeps holds no object of the package's classes, so
    that a safe loader (skops) trusts it without trusting them."""
    X, y = iris
    model = SoftmaxGDClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return value is None or isinstance(value, (int, float, str, np.ndarray))

    assert plain(model._optimizer_state)
    assert not plain({"schedule": model})  # the check can fail
