"""
===============================================
Choosing alpha by cross-validation along a path
===============================================

:class:`~sk_softmax.SoftmaxGDClassifierCV` solves, for each fold, the
models of a grid of alphas from the largest down, each fit starting from the
previous solution, and scores each on the fold's held-out rows. We plot the
held-out log-loss of each fold and their mean against alpha on the digits,
with the alpha it chooses beside the ``C`` that
:class:`~sklearn.linear_model.LogisticRegressionCV` chooses on the same folds
and the same grid (``alpha = 1 / (C n)`` for more than two classes).
"""

import matplotlib

matplotlib.use("Agg")

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifierCV

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
n = X.shape[0]
folds = list(StratifiedKFold(5).split(X, y))
Cs = np.logspace(-4, 4, 10)
alphas = 1.0 / (Cs * n)  # LogisticRegressionCV's grid, as alphas

# n_alphas_no_change=None: every alpha, for the whole curve (by default a
# fold's path stops after two alphas below its best score).
clf = SoftmaxGDClassifierCV(alphas=alphas, cv=folds, n_alphas_no_change=None)
clf.fit(X, y)
lrcv = LogisticRegressionCV(
    Cs=Cs,
    cv=folds,
    l1_ratios=(0.0,),
    scoring="neg_log_loss",
    use_legacy_attributes=False,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs at small C
    lrcv.fit(X, y)
lrcv_alpha = 1.0 / (lrcv.C_ * n)

losses = -clf.scores_[:, 0, :]  # (folds, alphas): held-out log-loss
print(f"alphas (largest first): {np.array2string(clf.alphas_[0], precision=2)}")
print(f"mean held-out log-loss:  {np.round(losses.mean(axis=0), 3).tolist()}")
print(f"SoftmaxGDClassifierCV: alpha_ = {clf.alpha_:.3g}")
print(f"LogisticRegressionCV:  C_ = {lrcv.C_:.3g}, i.e. alpha = {lrcv_alpha:.3g}")
print(f"iterations along each fold's path: {clf.n_iter_[:, 0, :].sum(axis=1).tolist()}")

fig, ax = plt.subplots(figsize=(6, 4))
for k, fold in enumerate(losses):
    ax.semilogx(alphas, fold, color="0.7", lw=1, label="each fold" if k == 0 else None)
ax.semilogx(alphas, losses.mean(axis=0), "o-", color="C0", label="mean over folds")
ax.axvline(lrcv_alpha, color="C3", lw=5, alpha=0.3, label="LogisticRegressionCV's C_")
ax.axvline(clf.alpha_, color="C0", ls="--", label=f"chosen alpha_ = {clf.alpha_:.2g}")
ax.set_xlabel("alpha (larger: stronger penalty)")
ax.set_ylabel("held-out log-loss")
ax.set_ylim(0, min(2.5, losses.max() * 1.05))
ax.legend()
ax.set_title("Cross-validated path on the digits")
fig.tight_layout()
plt.show()
