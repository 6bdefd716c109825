"""
=====================================
On a cluster, with Dask
=====================================

``fit`` on Dask arrays keeps ``X`` on the workers of a ``dask.distributed``
cluster: each iteration sends the parameters to the workers, every worker
computes its chunks' share of the loss and gradient, and only
parameter-sized partial sums come back. Here the cluster is a
``LocalCluster`` on this machine; on a real cluster only the ``Client``
changes (``Client("tcp://scheduler:8786")``, dask-jobqueue, Kubernetes,
Coiled, ...).

The workers here are threads of this process (``processes=False``). With
worker processes (the ``LocalCluster`` default) each worker imports the
main module, so a script must start the cluster under
``if __name__ == "__main__":``.
"""

import matplotlib

matplotlib.use("Agg")

import dask.array as da  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from dask.distributed import Client, LocalCluster  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402

cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
)
client = Client(cluster)

# %%
# Data generated on the workers
# -----------------------------
# 100,000 rows in four chunks of 25,000; three classes drawn from a softmax
# model of the first three features.
rs = da.random.RandomState(0)
X = rs.standard_normal((100_000, 20), chunks=(25_000, 20))
scores = X[:, :3] @ np.array([[2.0, -1.0, 0.0], [0.0, 1.5, -1.0], [1.0, 0.0, 2.0]])
y = da.argmax(scores + rs.gumbel(size=(100_000, 3), chunks=(25_000, 3)), axis=1)
print(f"X: {X.shape}, {X.numblocks[0]} chunks of {X.chunksize[0]} rows")

# %%
# A distributed fit
# -----------------
# ``X`` stays on the workers; the fitted model is plain numpy, and
# ``predict`` on a Dask array is lazy, chunk by chunk.
clf = SoftmaxGDClassifier(alpha=1e-4).fit(X, y)
accuracy = float((clf.predict(X) == y).mean().compute())
print(f"{clf.n_iter_} iterations, training accuracy {accuracy:.3f}")
print("coef_ is a", type(clf.coef_).__name__, "(the fitted model is plain numpy)")

# %%
# The objective at each Newton-CG iteration
# -----------------------------------------
fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(np.array(clf.loss_curve_) - min(clf.loss_curve_) + 1e-8, "o-")
ax.set_xlabel("Newton-CG iteration (one distributed pass and a few on the sample)")
ax.set_ylabel("objective - final objective (+1e-8)")
ax.set_title("A distributed fit on 4 chunks, 2 workers")
fig.tight_layout()
plt.show()

client.close()
cluster.close()
