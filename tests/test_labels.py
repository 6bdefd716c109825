"""``_labels.py``: label encoding, the class weights and their checks, and
the per-class factors that normalize the training weights, all computed
from per-class totals (what every backend can give)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_softmax._labels import class_factors, class_weights, encode_labels


def test_encode_labels_are_indices_in_the_sorted_classes():
    classes = np.array(["ant", "bee", "cat"])
    y = np.array(["cat", "ant", "cat", "bee"])
    assert_array_equal(encode_labels(y, classes, np), [2, 0, 2, 1])


def test_class_weights_dict_and_balanced():
    classes = np.array([0, 1, 2])
    totals = np.array([3.0, 1.0, 2.0])  # y = [0, 0, 0, 1, 2, 2], unit weights
    assert class_weights(None, classes, totals, incremental=False) is None
    weights = class_weights({1: 3.0}, classes, totals, incremental=False)
    assert_array_equal(weights, [1.0, 3.0, 1.0])
    # weighted counts (3, 3, 3): sum / (K * count) = 9 / (3 * 3)
    balanced = class_weights(
        "balanced", classes, np.array([3.0, 3.0, 3.0]), incremental=False
    )
    assert_allclose(balanced, [1.0, 1.0, 1.0])
    # as scikit-learn's compute_class_weight with sample weights
    balanced = class_weights("balanced", classes, totals, incremental=False)
    assert_allclose(balanced, 6.0 / (3 * totals), rtol=1e-15)


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf, "2", None])
def test_class_weight_values_are_checked(value):
    with pytest.raises(ValueError, match="finite non-negative number"):
        class_weights({1: value}, np.array([0, 1]), np.ones(2), incremental=False)


def test_balanced_class_weight_needs_weight_in_every_class():
    classes = np.array([0, 1, 2])
    totals = np.array([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="class 1 has none"):
        class_weights("balanced", classes, totals, incremental=False)
    with pytest.raises(ValueError, match="not supported for partial_fit"):
        class_weights("balanced", classes, np.ones(3), incremental=True)


def test_balanced_class_weight_error_names_the_class_as_given():
    classes = np.array(["ant", "bee", "cat"])
    with pytest.raises(ValueError, match="class 'bee' has none"):
        class_weights("balanced", classes, np.array([1.0, 0.0, 2.0]), incremental=False)


def test_class_factors_are_the_class_weights():
    totals = np.array([1.0, 5.0])
    assert_array_equal(class_factors(totals, np.array([2.0, 0.5])), [2.0, 0.5])
    assert_array_equal(class_factors(totals, None), [1.0, 1.0])


def test_class_factors_of_class_weights_that_overflow():
    """Class weights whose products with the totals overflow are divided by
    their largest value first: finite factors of the same ratios, without a
    warning."""
    big = np.finfo(np.float64).max / 2
    factor = class_factors(np.array([1.0, 3.0]), np.array([big, big / 2]))
    assert_allclose(factor, [1.0, 0.5], rtol=1e-15)


def test_weights_summing_to_zero_raise():
    with pytest.raises(ValueError, match="sum to zero"):
        class_factors(np.zeros(2), None)
    with pytest.raises(ValueError, match="sum to zero"):
        class_factors(np.ones(2), np.array([0.0, 0.0]))
