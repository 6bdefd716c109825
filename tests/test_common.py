"""scikit-learn's common estimator checks, with no expected failures."""

import functools

from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_softmax import SoftmaxGDClassifier

# The sample-weight equivalence checks compare a weighted fit with a fit on
# repeated rows to rtol=1e-7: the two must stop at the same point. At the
# default tol=1e-4 they need not: Newton-CG's inner loop stops on a residual
# test, so rounding can change the last step (both fits are then within tol
# of the optimum, not within 1e-7 of each other). scikit-learn runs these
# checks on its own iterative solvers with a tight tol too (LinearSVC and
# LinearRegression at tol=1e-12, in its PER_ESTIMATOR_CHECK_PARAMS).
TIGHT_TOL_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
}


def check_name(check):
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


@parametrize_with_checks([SoftmaxGDClassifier()])
def test_sklearn_compatible_estimator(estimator, check):
    if check_name(check) in TIGHT_TOL_CHECKS:
        estimator = clone(estimator).set_params(tol=1e-8)
    check(estimator)
