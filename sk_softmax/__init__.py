"""Softmax (multinomial logistic) regression trained by gradient descent."""

from ._classifier import SoftmaxGDClassifier
from ._cv import SoftmaxGDClassifierCV

__all__ = ["SoftmaxGDClassifier", "SoftmaxGDClassifierCV"]
__version__ = "0.1.0"
