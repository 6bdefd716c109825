"""scikit-learn's common estimator checks, with no expected failures."""

import functools

from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_softmax import SoftmaxGDClassifier, SoftmaxGDClassifierCV

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

# The cross-validated estimator refits from the folds' mean solution, which
# differs between the two fits of these checks (repeated rows and weights
# give equal folds' optima only to the folds' tolerance; "balanced" class
# weights are computed on each fold's rows, the check's explicit weights on
# all of them): both refits are within tol of the same optimum, the checks
# ask for 1e-7. The alpha chosen by both is the same at any tol.
TIGHT_TOL_CV_CHECKS = TIGHT_TOL_CHECKS | {
    "check_class_weight_balanced_linear_classifier"
}


def check_name(check):
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


@parametrize_with_checks([SoftmaxGDClassifier(), SoftmaxGDClassifierCV()])
def test_sklearn_compatible_estimator(estimator, check):
    name = check_name(check)
    if isinstance(estimator, SoftmaxGDClassifierCV):
        if name in TIGHT_TOL_CV_CHECKS:
            estimator = clone(estimator).set_params(tol=1e-10)
    elif name in TIGHT_TOL_CHECKS:
        estimator = clone(estimator).set_params(tol=1e-8)
    check(estimator)
