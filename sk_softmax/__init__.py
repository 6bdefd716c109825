"""Softmax (multinomial logistic) regression trained by gradient descent."""

from ._classifier import SoftmaxGDClassifier

__all__ = ["SoftmaxGDClassifier"]
__version__ = "0.1.0"
