"""The first step of a fit, ``_fitting.py``, function by function: label
encoding, class weights and their checks, the normalized training weights
(with the overflow fallback), the early-stopping split and the seed of the
Hessian sample. The estimator-level behaviour is in ``test_classifier``."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils import check_random_state

from sk_softmax._fitting import (
    class_weights,
    encode_labels,
    normalized_weights,
    seed,
    validation_split,
)


class Estimator:
    def __init__(self, random_state):
        self.random_state = random_state


def test_encode_labels_are_indices_in_the_sorted_classes():
    classes = np.array(["ant", "bee", "cat"])
    y = np.array(["cat", "ant", "cat", "bee"])
    assert_array_equal(encode_labels(y, classes, np), [2, 0, 2, 1])


def test_normalized_weights_formula():
    s = np.array([1.0, 2.0, 3.0, 0.0])
    y_index = np.array([0, 1, 1, 0])
    per_class = np.array([2.0, 0.5])
    w = normalized_weights(s, per_class, y_index)
    expected = np.array([2.0, 1.0, 1.5, 0.0]) / 4.5
    assert_allclose(w, expected, rtol=1e-15)
    assert_allclose(normalized_weights(s, None, y_index), s / 6.0, rtol=1e-15)


def test_normalized_weights_whose_sum_overflows_are_rescaled_first():
    """Weights near the largest float sum to infinity: each factor is then
    divided by its largest value, which gives the finite normalized
    weights they stand for."""
    big = np.finfo(np.float64).max / 2
    s = np.array([big, big, big / 2])
    y_index = np.array([0, 1, 1])
    w = normalized_weights(s, None, y_index)
    assert_allclose(w, [0.4, 0.4, 0.2], rtol=1e-15)
    with np.errstate(over="ignore"):
        w = normalized_weights(s, np.array([1.0, 3.0]), y_index)
    assert_allclose(w, np.array([1.0, 3.0, 1.5]) / 5.5, rtol=1e-15)
    assert np.all(np.isfinite(w))


def test_normalized_weights_overflow_is_handled_without_a_warning():
    big = np.finfo(np.float64).max / 2
    s = np.array([big, big, big / 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        w = normalized_weights(s, np.array([1.0, 3.0]), np.array([0, 1, 1]))
    assert_allclose(w, np.array([1.0, 3.0, 1.5]) / 5.5, rtol=1e-15)


def test_normalized_weights_summing_to_zero_raise():
    with pytest.raises(ValueError, match="sum to zero"):
        normalized_weights(np.zeros(3), None, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="sum to zero"):
        normalized_weights(np.ones(3), np.array([0.0, 0.0]), np.array([0, 1, 1]))


def test_class_weights_dict_and_balanced():
    classes = np.array([0, 1, 2])
    y = np.array([0, 0, 0, 1, 2, 2])
    y_index = y.copy()
    assert (
        class_weights(None, classes, y, y_index, np.ones(6), incremental=False) is None
    )
    weights = class_weights(
        {1: 3.0}, classes, y, y_index, np.ones(6), incremental=False
    )
    assert_array_equal(weights, [1.0, 3.0, 1.0])
    sample_weight = np.array([1.0, 1.0, 1.0, 3.0, 1.0, 2.0])
    balanced = class_weights(
        "balanced", classes, y, y_index, sample_weight, incremental=False
    )
    # n / (K * weighted count of the class): 9 / (3 * (3, 3, 3))
    assert_allclose(balanced, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf, "2", None])
def test_class_weight_values_are_checked(value):
    classes = np.array([0, 1])
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="finite non-negative number"):
        class_weights({1: value}, classes, y, y, np.ones(3), incremental=False)


def test_balanced_class_weight_needs_weight_in_every_class():
    classes = np.array([0, 1, 2])
    y = np.array([0, 1, 2, 2])
    with pytest.raises(ValueError, match="class .*1.* has none"):
        class_weights(
            "balanced",
            classes,
            y,
            y,
            np.array([1.0, 0.0, 1.0, 1.0]),
            incremental=False,
        )
    with pytest.raises(ValueError, match="not supported for partial_fit"):
        class_weights("balanced", classes, y, y, np.ones(4), incremental=True)


def test_balanced_class_weight_error_names_the_class_as_given():
    classes = np.array([0, 1, 2])
    y = np.array([0, 1, 2, 2])
    with pytest.raises(ValueError, match="class 1 has none"):
        class_weights(
            "balanced",
            classes,
            y,
            y,
            np.array([1.0, 0.0, 1.0, 1.0]),
            incremental=False,
        )


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
    assert seed(Estimator(None), check_random_state(None)) == 0
    a = seed(Estimator(3), check_random_state(3))
    b = seed(Estimator(3), check_random_state(3))
    c = seed(Estimator(4), check_random_state(4))
    assert a == b and a != c
    assert 0 <= a < np.iinfo(np.int32).max
