"""
==========================================
Quickstart: handwritten digits
==========================================

Fit :class:`~sk_softmax.SoftmaxGDClassifier` on the 8x8 digits data in a
pipeline with :class:`~sklearn.preprocessing.StandardScaler`, then look at the
held-out accuracy, the probabilities and the confusion matrix.
"""

import matplotlib

matplotlib.use("Agg")  # headless; sphinx-gallery captures the figures anyway

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

# %%
# Standardizing the features makes the problem well conditioned; the default
# solver (Newton-CG) then converges in a handful of iterations.
clf = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-3))
clf.fit(X_train, y_train)
softmax = clf[-1]
print(
    f"iterations: {softmax.n_iter_}, held-out accuracy: {clf.score(X_test, y_test):.3f}"
)

# %%
# ``predict_proba`` gives one probability per class, summing to one.
proba = clf.predict_proba(X_test[:3])
print(proba.round(3))
print("row sums:", proba.sum(axis=1))

# %%
# The confusion matrix on the held-out digits: most errors are between
# similar-looking digits (e.g. 8 and 1, 9 and 3).
fig, ax = plt.subplots(figsize=(5.5, 5))
ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test, ax=ax, colorbar=False)
ax.set_title("SoftmaxGDClassifier on digits (held out)")
fig.tight_layout()
plt.show()
