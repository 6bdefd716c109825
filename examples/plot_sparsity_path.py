"""
=====================================================
L1 and elastic-net: sparsity path and class templates
=====================================================

With ``l1_ratio > 0`` the penalty
``alpha * ((1 - l1_ratio) / 2 * ||W||^2 + l1_ratio * ||W||_1)`` sets
coefficients exactly to zero (the default solver, proximal Newton, keeps the
L1 part exact in each step's subproblem).
We follow the number of nonzero coefficients of the digits model as ``alpha``
grows, for a pure L1 and an elastic-net penalty, warm-starting each fit from
the previous one, and draw the ten class templates (the rows of ``coef_``) as
8x8 images.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
alphas = np.logspace(-1, -4, 7)  # from strong to weak: warm starts follow the path

fig, ax = plt.subplots(figsize=(6, 4))
for l1_ratio in (1.0, 0.5):
    clf = SoftmaxGDClassifier(l1_ratio=l1_ratio, warm_start=True, tol=1e-3)
    nonzeros, accuracies = [], []
    for alpha in alphas:
        clf.set_params(alpha=alpha).fit(X, y)
        nonzeros.append(np.count_nonzero(clf.coef_))
        accuracies.append(clf.score(X, y))
    print(f"l1_ratio={l1_ratio}: nonzeros {[int(k) for k in nonzeros]}")
    print(f"  training accuracy {np.round(accuracies, 3).tolist()}")
    ax.semilogx(alphas, nonzeros, "o-", label=f"l1_ratio = {l1_ratio}")
ax.axhline(clf.coef_.size, color="gray", ls=":", label="all coefficients")
ax.set(xlabel="alpha", ylabel="nonzero coefficients", title="Sparsity path on digits")
ax.legend()
fig.tight_layout()

# %%
# The class templates of a sparse model: each row of ``coef_`` as an 8x8
# image. Red pixels vote for the class, blue against; white ones are zero.
clf = SoftmaxGDClassifier(alpha=1e-3, l1_ratio=1.0, tol=1e-3).fit(X, y)
print(f"alpha=1e-3: {np.count_nonzero(clf.coef_)} of {clf.coef_.size} nonzero")
scale = np.abs(clf.coef_).max()
fig, axes = plt.subplots(2, 5, figsize=(8, 3.6))
for label, coef, ax in zip(clf.classes_, clf.coef_, axes.ravel(), strict=True):
    ax.imshow(coef.reshape(8, 8), cmap="RdBu_r", vmin=-scale, vmax=scale)
    ax.set_title(f"class {label}")
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("coef_ of an L1-penalised model (alpha = 1e-3)")
fig.tight_layout()
plt.show()
