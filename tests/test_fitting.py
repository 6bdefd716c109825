"""The preparation of a fit, ``_fitting.py`` and the parts of
``_backend.py`` written once for every backend: the normalized training
weights (with the rescaling of weights whose sum overflows), the
early-stopping split, the seed of the Hessian sample, and a prepared
problem solved for several penalties from warm starts. The estimator-level
behaviour is in ``test_classifier``."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils import check_random_state

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._backend import ArrayBackend, normalized
from sk_softmax._fitting import prepare, seed, validation_split
from sk_softmax._plan import make_plan


def weights_of(s, y_index, class_weight=None, classes=(0, 1)):
    X = np.zeros((s.shape[0], 1))
    data = ArrayBackend(X, y_index, s, len(classes), np)
    return normalized(data, class_weight, np.array(classes), incremental=False).w


def test_normalized_weights_formula():
    s = np.array([1.0, 2.0, 3.0, 0.0])
    y_index = np.array([0, 1, 1, 0])
    w = weights_of(s, y_index, {0: 2.0, 1: 0.5})
    assert_allclose(w, np.array([2.0, 1.0, 1.5, 0.0]) / 4.5, rtol=1e-15)
    assert_allclose(weights_of(s, y_index), s / 6.0, rtol=1e-15)


def test_normalized_weights_whose_sum_overflows_are_rescaled_first():
    """Weights near the largest float sum to infinity: they are then divided
    by the largest of them, which gives the finite normalized weights they
    stand for, without a warning."""
    big = np.finfo(np.float64).max / 2
    s = np.array([big, big, big / 2])
    y_index = np.array([0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert_allclose(weights_of(s, y_index), [0.4, 0.4, 0.2], rtol=1e-15)
        w = weights_of(s, y_index, {0: 1.0, 1: 3.0})
    assert_allclose(w, np.array([1.0, 3.0, 1.5]) / 5.5, rtol=1e-15)


def test_normalized_weights_summing_to_zero_raise():
    with pytest.raises(ValueError, match="sum to zero"):
        weights_of(np.zeros(3), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="sum to zero"):
        weights_of(np.ones(3), np.array([0, 1, 1]), {0: 0.0, 1: 0.0})


def test_validation_split_is_stratified_and_sorted():
    y_index = np.repeat([0, 1, 2], [50, 30, 20])
    train, val = validation_split(y_index, 0.2, check_random_state(0))
    assert np.all(np.diff(train) > 0)
    assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert_array_equal(np.bincount(y_index[val]), [10, 6, 4])
    again, _ = validation_split(y_index, 0.2, check_random_state(0))
    assert_array_equal(again, train)


def test_seed_of_the_hessian_sample():
    """0 without a random_state, so that a full-batch fit is deterministic;
    drawn from the random state otherwise (the same int, the same seed)."""
    assert seed(None, check_random_state(None)) == 0
    a = seed(3, check_random_state(3))
    b = seed(3, check_random_state(3))
    c = seed(4, check_random_state(4))
    assert a == b and a != c
    assert 0 <= a < np.iinfo(np.int32).max


def never_stop_monitor(reconstruct, plateau, validation):
    class Report:
        loss_curve, validation_scores, plateau_stopped = [], [], False

        def __call__(self, iteration, state):
            self.loss_curve.append(state.value)
            return False

    return Report()


def test_a_prepared_problem_is_solved_along_a_path_from_warm_starts():
    """One preparation, solved for three alphas from the largest down, each
    from the last solution: each solve reaches the optimum of a fit from
    scratch at its alpha, in fewer iterations."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    estimator = SoftmaxGDClassifier(tol=1e-8)
    plan = make_plan(estimator.get_params(), incremental=False, fitted=False)
    problem = prepare(estimator, X, y, None, None, plan)
    start, warm_iterations = None, []
    for alpha in (1e-1, 1e-2, 1e-3):
        step = plan.with_penalty(alpha, 0.0).for_data(problem.n_classes)
        result = problem.solve(step, never_stop_monitor, start=start)
        start = result.P
        warm_iterations.append(result.n_iter)
        cold = SoftmaxGDClassifier(alpha=alpha, tol=1e-8).fit(X, y)
        assert_allclose(result.attributes["coef_"], cold.coef_, atol=1e-6)
        assert result.n_iter <= cold.n_iter_
    assert warm_iterations[-1] >= 1
