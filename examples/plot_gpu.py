"""
=====================================
On a GPU, through the Array API
=====================================

With scikit-learn's Array API dispatch on, the estimator fits and predicts in
the namespace of ``X`` and on its device: here PyTorch, on CUDA when there is
a GPU and on the CPU otherwise, so the script runs as written on both. The
fitted ``coef_`` and the predictions are tensors on that device, and the
model equals the one fitted on numpy arrays.

scipy reads ``SCIPY_ARRAY_API=1`` once, when it is first imported: the script
sets it before importing anything else.

The documentation shows this script without running it (building the docs
does not install torch); run it with torch installed
(``pip install ".[array-api]"``) to see its output.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn import config_context  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402

device = "cuda" if torch.cuda.is_available() else "cpu"
X, y = make_classification(
    n_samples=20_000, n_features=50, n_informative=20, n_classes=5, random_state=0
)
X = StandardScaler().fit_transform(X).astype(np.float32)

# %%
# The same fit on the device and on numpy
# ---------------------------------------
X_device = torch.asarray(X, device=device)  # float32: a GPU's native speed
y_device = torch.asarray(y, device=device)
with config_context(array_api_dispatch=True):
    on_device = SoftmaxGDClassifier(alpha=1e-3).fit(X_device, y_device)
    proba = on_device.predict_proba(X_device)
on_numpy = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)

coef = on_device.coef_.cpu().numpy()
print(f"device: {proba.device}, coef_ is a {type(on_device.coef_).__name__}")
print(
    f"largest difference from the numpy model: {np.abs(coef - on_numpy.coef_).max():.1e}"
)

# %%
# The loss curves coincide: the same solver, the same iterations
# ---------------------------------------------------------------
fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(
    on_numpy.loss_curve_ - np.min(on_numpy.loss_curve_) + 1e-7, "o-", label="numpy"
)
ax.semilogy(
    np.array(on_device.loss_curve_) - np.min(on_numpy.loss_curve_) + 1e-7,
    "x--",
    label=f"torch ({device})",
)
ax.set_xlabel("Newton-CG iteration")
ax.set_ylabel("objective - final objective (+1e-7)")
ax.set_title("The same fit on numpy and on a torch device")
ax.legend()
fig.tight_layout()
plt.show()
