"""
==========================================
Calibration against LogisticRegression
==========================================

Softmax regression fitted by maximum likelihood gives probabilities that are
close to calibrated when the model fits the data. At the same penalty
(``C = 2 / (alpha * n)`` for two classes),
:class:`~sk_softmax.SoftmaxGDClassifier` and
:class:`~sklearn.linear_model.LogisticRegression` reach the same optimum, so
their reliability curves (:class:`~sklearn.calibration.CalibrationDisplay`)
coincide; a strong penalty pulls the probabilities towards 1/2 and the curve
away from the diagonal.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibrationDisplay
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import train_test_split

from sk_softmax import SoftmaxGDClassifier

X, y = make_classification(
    n_samples=20_000, n_features=20, n_informative=6, n_redundant=4, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
n = X_train.shape[0]

alpha = 1e-4
models = {
    "SoftmaxGDClassifier": SoftmaxGDClassifier(alpha=alpha),
    "LogisticRegression, C = 2 / (alpha n)": LogisticRegression(C=2 / (alpha * n)),
    "SoftmaxGDClassifier, alpha = 1": SoftmaxGDClassifier(alpha=1.0),
}

fig, ax = plt.subplots(figsize=(6, 5.5))
for (name, model), marker in zip(models.items(), "os^", strict=True):
    model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    print(
        f"{name:38s} log-loss {log_loss(y_test, proba):.4f}, "
        f"Brier {brier_score_loss(y_test, proba):.4f}"
    )
    CalibrationDisplay.from_predictions(
        y_test, proba, n_bins=10, name=name, ax=ax, marker=marker
    )
first, second = (m.predict_proba(X_test) for m in list(models.values())[:2])
print(f"largest difference, same penalty: {np.abs(first - second).max():.1e}")
ax.set_title("Reliability diagram (held-out half)")
fig.tight_layout()
plt.show()
