"""
==========================================
Online learning and early stopping
==========================================

Two ways to train on data seen a piece at a time.

* ``partial_fit`` makes one mini-batch epoch over each chunk it is given, so a
  model can learn from a stream that never sits in memory as a whole (the
  classes must be announced on the first call).
* ``early_stopping=True`` holds out a share of the training data and stops
  when the accuracy on it stops improving; ``validation_scores_`` keeps that
  accuracy after each epoch.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from sk_softmax import SoftmaxGDClassifier

X, y = make_classification(
    n_samples=30_000,
    n_features=40,
    n_informative=20,
    n_classes=5,
    class_sep=1.5,
    flip_y=0.05,
    random_state=0,
)
X_stream, X_test, y_stream, y_test = train_test_split(
    X, y, test_size=5000, random_state=0
)

# %%
# The stream: chunks of 500 rows, scored on the held-out set after each one.
clf = SoftmaxGDClassifier(alpha=1e-4, batch_size=50, random_state=0)
classes = np.unique(y)
seen, scores = [], []
for start in range(0, X_stream.shape[0], 500):
    chunk = slice(start, start + 500)
    clf.partial_fit(X_stream[chunk], y_stream[chunk], classes=classes)
    seen.append(min(start + 500, X_stream.shape[0]))
    scores.append(clf.score(X_test, y_test))
print(f"after {seen[-1]} rows: held-out accuracy {scores[-1]:.3f}")

full = SoftmaxGDClassifier(alpha=1e-4).fit(X_stream, y_stream)
print(f"full-batch fit on the same rows: {full.score(X_test, y_test):.3f}")

# %%
# Early stopping with mini-batches: the fit stops once the validation
# accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
# keeps the best epoch's model.
es = SoftmaxGDClassifier(
    alpha=1e-4,
    batch_size=100,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=5,
    max_iter=50,
    random_state=0,
).fit(X_stream[:5000], y_stream[:5000])
print(
    f"early stopping: {es.n_iter_} epochs, best validation accuracy "
    f"{es.best_validation_score_:.3f}, held out {es.score(X_test, y_test):.3f}"
)

fig, (ax_stream, ax_es) = plt.subplots(1, 2, figsize=(10, 3.8))
ax_stream.plot(seen, scores, label="partial_fit, chunk by chunk")
ax_stream.axhline(
    full.score(X_test, y_test), color="gray", ls=":", label="full-batch fit"
)
ax_stream.set(
    xlabel="rows seen", ylabel="held-out accuracy", title="Learning from a stream"
)
ax_stream.legend()
epochs = np.arange(1, len(es.validation_scores_) + 1)
ax_es.plot(epochs, es.validation_scores_, "o-", label="validation accuracy")
best = int(np.argmax(es.validation_scores_)) + 1
ax_es.axvline(best, color="gray", ls=":", label=f"model kept (epoch {best})")
ax_es.set(xlabel="epoch", ylabel="accuracy", title="Early stopping")
ax_es.legend()
fig.tight_layout()
plt.show()
