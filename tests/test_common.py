"""scikit-learn's common estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_softmax import SoftmaxGDClassifier


@parametrize_with_checks([SoftmaxGDClassifier()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
