"""Fits and predictions on Dask collections: the data stay on the workers.

Nothing needs importing: ``SoftmaxGDClassifier.fit`` accepts Dask arrays
and DataFrames (``X``, ``y`` and ``sample_weight``) and keeps ``X`` where
it is, on the workers of a ``dask.distributed`` cluster (or in the threads
of Dask's default scheduler). Each iteration sends the parameters to the
workers, every worker computes its chunks' share of the loss and gradient,
and only parameter-sized partial sums come back; the fitted model is plain
numpy. A fit on Dask arrays gives the model of the same fit on the same
data in memory (the same preparation and solvers), and is deterministic.

``predict``, ``predict_proba``, ``predict_log_proba`` and
``decision_function`` on Dask input return lazy Dask arrays, one task per
chunk of rows (chunks without rows included). A model fitted on named
columns checks the names of a Dask DataFrame as it does a pandas one.

Only full-batch fits are distributed. Mini-batch training (``batch_size``,
a step schedule, ``partial_fit``) and ``early_stopping`` raise a
``ValueError`` on Dask input rather than compute ``X`` on the client; for
mini-batch training on Dask arrays, wrap the estimator in
``dask_ml.wrappers.Incremental``, which calls ``partial_fit`` on one chunk
at a time.

The work on each chunk limits BLAS to ``BLAS_THREADS`` threads
(``limited_blas``): each worker thread works on one chunk at a time, and
BLAS threads on top would oversubscribe the cores.
"""

from ._dask_backend import BLAS_THREADS, DaskBackend, limited_blas, predict

__all__ = ["BLAS_THREADS", "DaskBackend", "limited_blas", "predict"]
