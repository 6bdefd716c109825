"""The backend of rows on Dask workers (``DaskBackend``), how a fit's
Dask inputs are read into it (``read``), and predictions on Dask arrays
(``predict``). Imported only for Dask input (``_inputs.read`` and
``_inputs.chunkwise``), so the package itself never needs Dask; the user
guide's "On a cluster" and ``sk_softmax.dask`` say what users see.

What travels, and where the work is done:

- ``X`` is chunked by rows (rechunked to one column chunk; dense or sparse
  chunks, CSR after conversion), ``y`` and ``sample_weight`` are chunked to
  match; chunks without rows are left out. Each chunk's rows, label indices
  and weights are kept together as one *part*; ``X`` never comes to the
  client.
- On a ``dask.distributed`` cluster the parts are computed on the workers
  and handed to one *actor* per worker (``_Parts``, made with
  ``client.submit(..., actor=True)``), consecutive parts to the same
  worker, as many to each: the same parts are summed together on every
  fit, so that a fit is deterministic. A pass over the data
  (``DaskBackend.map_sum``) is one actor call per worker: the function and
  the parameters go to each worker in one message, the worker runs the
  in-memory backend (``_backend.ArrayBackend``, numpy) on each of its parts
  in its threads and returns their sum, and the client adds the workers'
  sums in the parts' order. Only parameter-sized arrays travel, and no
  task or graph is made. The actors live as long as the fit; when the
  client drops them, the workers drop the parts. The solvers run unchanged
  on the client, on small numpy arrays.
- On the threaded (or synchronous) scheduler the parts are computed with
  ``dask.compute`` and held in this process; a pass runs them in a thread
  pool, as an actor does on its worker.
- ``DaskBackend.map`` (Newton-CG's forward pass) keeps its per-part results
  beside the parts, in the actors; ``map_sum(..., kept=...)`` reuses them
  there. The client refers to each kept result by a key; when it drops the
  reference, the actor's next call drops the result.
- The preparation is the in-memory one (``_backend.normalized``,
  ``_backend.stratified_sample``), written on the backend's passes: the
  class totals are a ``map_sum``, the weights are rescaled on the workers
  (``reweighted``), and the Hessian sample is drawn within each part
  (``draw``), with the part's index in its seed.

The work on each part limits BLAS to ``BLAS_THREADS`` threads
(threadpoolctl): each worker thread works on one part at a time, and BLAS
threads on top oversubscribe the cores. An actor dies with its worker: a
fit whose worker is lost fails (fit again) rather than recomputing the lost
parts.
"""

import itertools
import math
import os
import sys
import threading
import uuid
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._array_api import get_namespace
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
)

from ._array_ops import sum_parts
from ._backend import ArrayBackend, TrainingRows, storage_dtype
from ._labels import check_classes

#: BLAS threads of the work on each part (on a worker, or in a thread of the
#: threaded scheduler's pool): each thread works on one part at a time.
BLAS_THREADS = 1

# ------------------------------------------------ the work on each part


@cache
def _xp():
    """The array namespace of numpy arrays, as ``ArrayBackend`` gets it."""
    return get_namespace(np.empty(0))[0]


@cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_blas_lock = threading.Lock()
_blas_state = {"depth": 0, "limiter": None}


@contextmanager
def limited_blas(threads=BLAS_THREADS):
    """BLAS limited to ``threads`` threads while any work of this process
    on a part (or prediction task) runs. BLAS's thread count is global to
    the process: the first one in sets it, the last one out restores it, so
    that parts worked on side by side in threads (the threaded scheduler, a
    worker with several threads) do not undo each other's limit."""
    with _blas_lock:
        if _blas_state["depth"] == 0:
            _blas_state["limiter"] = _controller().limit(limits=threads)
        _blas_state["depth"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["depth"] -= 1
            if _blas_state["depth"] == 0:
                _blas_state["limiter"].restore_original_limits()
                _blas_state["limiter"] = None


def _call(func, part, extra, shared, threads):
    """The work of one part: ``func(part, extra, *shared)``, BLAS limited."""
    with limited_blas(threads):
        return func(part, extra, *shared)


def _results(func, parts, extras, shared, threads, pool=None):
    """``_call`` on each part, in ``pool``'s threads, or in turn without."""
    calls = list(zip(parts, extras, strict=True))
    if pool is None or len(calls) == 1:
        return [_call(func, part, extra, shared, threads) for part, extra in calls]
    return list(pool.map(lambda call: _call(func, *call, shared, threads), calls))


def _local(part, n_classes):
    """The in-memory backend of one part ``(X, y, w)``, on its worker."""
    X, y, w = part
    return ArrayBackend(X, y, w, n_classes, _xp())


def _map_part(part, kept, fn, n_classes, args):
    return _local(part, n_classes).map(fn, *args)


def _map_sum_part(part, kept, fn, n_classes, args):
    return _local(part, n_classes).map_sum(fn, *args, kept=kept)


def _collect_part(part, kept, fn, n_classes, args):
    return _local(part, n_classes).collect(fn, *args)


def _add(*parts):
    """The sum of per-part results (``_array_ops.sum_parts``), summed into a
    copy of the first, so that no kept result is modified."""
    total = _copy(parts[0])
    for part in parts[1:]:
        total = sum_parts(total, part)
    return total


def _copy(result):
    if isinstance(result, tuple):
        return tuple(_copy(r) for r in result)
    return result.copy() if isinstance(result, np.ndarray) else result


def _raw_part(X, y, sample_weight, dtype):
    """One chunk's ``(X, y, sample_weight)``: ``X`` as ``dtype`` (sparse:
    CSR), ``y`` 1-D, the weights ones where none were given."""
    if sp.issparse(X):
        X = X.tocsr().astype(dtype, copy=False)
    else:
        # Aligned: a chunk that travelled inside a task graph (``from_array``
        # on a numpy X) can arrive at an odd address, where numpy's products
        # skip BLAS; such a chunk is copied, once.
        X = np.require(X, dtype=dtype, requirements="A")
    y = np.asarray(y).reshape(-1)
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0], dtype=dtype)
    else:
        sample_weight = np.asarray(sample_weight, dtype=dtype).reshape(-1)
    return X, y, sample_weight


def _label_summary(part, extra):
    """One part's distinct labels, whether its ``X`` and its weights are
    finite, and its smallest weight."""
    X, y, sample_weight = part
    values = X.data if sp.issparse(X) else X
    smallest = sample_weight.min() if sample_weight.shape[0] else 0.0
    return (
        np.unique(y),
        bool(np.isfinite(values).all()),
        bool(np.isfinite(sample_weight).all()),
        float(smallest),
    )


def _encode(part, extra, classes):
    """``(X, label indices, sample weights)`` of a raw part."""
    X, y, sample_weight = part
    return X, np.searchsorted(classes, y), sample_weight


def _reweight(part, extra, factor, divisor):
    """The part with the weights of ``ArrayBackend.reweighted``."""
    X, y, w = part
    reweighted = _local(part, factor.shape[0]).reweighted(factor, divisor)
    return X, y, reweighted.w


def _draw(part, seed, share, n_classes, dtype):
    """``ArrayBackend.draw`` on one part, with the part's own seed."""
    drawn = _local(part, n_classes).draw(share, seed, dtype)
    return drawn.X, drawn.y, drawn.w


def _take(part, rows):
    X, y, w = part
    X = X[rows] if sp.issparse(X) else np.take(X, rows, axis=0)
    return X, y[rows], w[rows]


def _total_weight(part, extra):
    return float(np.sum(part[2]))


def _n_rows(part, extra):
    return part[1].shape[0]


# ------------------------------------------------------------- runners


class _LocalRunner:
    """Parts held in this process (Dask's threaded or synchronous
    scheduler): each pass runs the parts in a thread pool (one thread per
    core; in turn when the scheduler is the synchronous one)."""

    def __init__(self, synchronous):
        self.pool = None if synchronous else _pool()

    def persist(self, tasks):
        return list(dask.compute(*tasks))

    def map(self, func, parts, extras, shared, threads):
        return _results(func, parts, extras, shared, threads, self.pool)

    gather = map

    def map_sum(self, func, parts, extras, shared, threads):
        return _add(*_results(func, parts, extras, shared, threads, self.pool))

    def where(self, parts):
        return [None] * len(parts)


@cache
def _pool():
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1)


class _Parts:
    """The actor of one worker (``_ActorRunner``): the parts it holds, and
    the results of ``map`` kept beside them, each under a key the client
    chose. A call runs on the parts like the threaded scheduler does, in
    the worker's threads."""

    def __init__(self):
        self.held = {}
        threads = sys.modules["distributed"].get_worker().state.nthreads
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def run(self, how, func, keys, extras, kept, shared, threads, out, release):
        """``how`` (``map``, ``gather`` or ``map_sum``) over the parts
        ``keys``; ``map`` keeps its results under the keys ``out``. First
        drops what the client no longer refers to (``release``)."""
        for key in release:
            self.held.pop(key, None)
        if kept:  # the extras are the keys of results kept here
            extras = [self.held[key] for key in extras]
        parts = [self.held[key] for key in keys]
        results = _results(func, parts, extras, shared, threads, self.pool)
        if how == "map":
            self.held.update(zip(out, results, strict=True))
            return None
        return _add(*results) if how == "map_sum" else results


def _hand_over(part, actor, key):
    """The task that gives ``part`` (a raw part) to ``actor``, on the
    actor's worker. A part moved here from another worker for balance was
    deserialized, and may be misaligned again: ``_raw_part`` aligns it
    (no copy otherwise)."""
    part = _raw_part(*part, part[0].dtype)
    worker = sys.modules["distributed"].get_worker()
    worker.state.actors[actor.key].held[key] = part


class _Ref:
    """A part (or a result of ``map``) held by actor ``actor`` under
    ``key``. When the client drops it, the key goes to the actor's release
    list, which its next call carries (no message from a finalizer)."""

    __slots__ = ("actor", "key", "__weakref__")

    def __init__(self, actor, key, released):
        self.actor, self.key = actor, key
        weakref.finalize(self, released.append, key)


class _ActorRunner:
    """Parts held on the workers of a ``dask.distributed`` cluster by one
    actor per worker (``_Parts``). A pass is one actor call per worker,
    sent from the client to the worker with the function and the
    parameter-sized arguments: no task, no graph, no scheduling. Each
    actor returns its parts' sum; the client adds the workers' sums."""

    def __init__(self, client):
        self.client = client
        self.actors, self.addresses, self._released = [], [], []
        self._futures = []  # the actors live while the client holds these
        self._keys = itertools.count()

    def _ref(self, actor):
        return _Ref(actor, next(self._keys), self._released[actor])

    def persist(self, tasks):
        """Computes the parts on the workers, spreads them evenly (each
        kept where it is computed where balance allows) and hands each
        worker's parts to its actor: refs to them.

        The parts are handed over by one task each on the actor's worker,
        whose futures are then dropped: the actors depend on no task, so
        the scheduler forgets the parts' graph (``X``'s keys) now rather
        than when the fit ends (a prediction made right after the fit
        resubmitted those keys while the scheduler still knew them)."""
        futures = self.client.compute(list(tasks))
        sys.modules["distributed"].wait(futures)
        workers = sorted(self.client.scheduler_info()["workers"])
        targets = _placement(len(futures), workers)
        used = [worker for worker in workers if worker in targets]
        self.addresses = used
        self._released = [[] for _ in used]
        self._futures = [
            self.client.submit(
                _Parts,
                actor=True,
                workers=[worker],
                key=f"sk_softmax-parts-{uuid.uuid4().hex}",
            )
            for worker in used
        ]
        self.actors = [future.result() for future in self._futures]
        refs = [self._ref(used.index(target)) for target in targets]
        handed = [
            self.client.submit(
                _hand_over,
                part,
                self._futures[ref.actor],
                ref.key,
                workers=[self.addresses[ref.actor]],
                pure=False,
            )
            for part, ref in zip(futures, refs, strict=True)
        ]
        self.client.gather(handed)
        return refs

    def _call(self, how, func, parts, extras, shared, threads):
        by_actor = {}
        for i, part in enumerate(parts):
            by_actor.setdefault(part.actor, []).append(i)
        kept = isinstance(extras[0], _Ref) if extras else False
        out = [self._ref(part.actor) for part in parts] if how == "map" else None
        calls = {}
        for actor, rows in by_actor.items():
            released = self._released[actor]
            release = [released.pop() for _ in range(len(released))]
            calls[actor] = self.actors[actor].run(
                how,
                func,
                [parts[i].key for i in rows],
                [extras[i].key if kept else extras[i] for i in rows],
                kept,
                shared,
                threads,
                None if out is None else [out[i].key for i in rows],
                release,
            )
        results = {actor: call.result() for actor, call in calls.items()}
        if how == "map":
            return out
        if how == "map_sum":
            return _add(*results.values())
        gathered = [None] * len(parts)
        for actor, rows in by_actor.items():
            for i, result in zip(rows, results[actor], strict=True):
                gathered[i] = result
        return gathered

    def map(self, func, parts, extras, shared, threads):
        """``func`` on every part, the results kept by the parts' actors."""
        return self._call("map", func, parts, extras, shared, threads)

    def gather(self, func, parts, extras, shared, threads):
        return self._call("gather", func, parts, extras, shared, threads)

    def map_sum(self, func, parts, extras, shared, threads):
        return self._call("map_sum", func, parts, extras, shared, threads)

    def where(self, parts):
        return [self.addresses[part.actor] for part in parts]


def _placement(n_parts, workers):
    """The worker of each of ``n_parts`` parts: consecutive parts to the
    same worker (``workers`` sorted), as many to each (to one). The parts a
    worker sums do not depend on where they were computed, so neither do
    the sums: a fit gives the same model every time."""
    return [workers[i * len(workers) // n_parts] for i in range(n_parts)]


def _runner():
    """The runner of Dask's current scheduler: actors on a ``distributed``
    client's workers, or the local one (threads, or in turn for the
    synchronous scheduler)."""
    scheduler = dask.base.get_scheduler()
    client = getattr(scheduler, "__self__", None)
    if client is not None and hasattr(client, "submit"):
        return _ActorRunner(client)
    return _LocalRunner(synchronous=scheduler is dask.local.get_sync)


# -------------------------------------------------------------- backend


class DaskBackend:
    """Training rows on Dask workers, as persisted parts ``(X, y, w)``: the
    methods of ``_backend.ArrayBackend``, each a pass over the parts.

    Parameters
    ----------
    runner : the scheduler's runner (``_runner()``)
    parts : list
        The persisted parts (on a cluster, references to them in their
        workers' actors; tuples in this process for the threaded
        scheduler), each ``(X, y, w)`` of one chunk of rows:
        ``X`` numpy or scipy sparse CSR, ``y`` the label indices, ``w`` the
        normalized weights.
    n_rows, n_features, n_classes : int
    dtype : numpy dtype of ``X``
    sparse : bool
    """

    #: The weights live on the workers; the client has no array of them.
    w = None
    #: The parameters are numpy arrays on the client.
    device = None

    def __init__(self, runner, parts, *, n_rows, n_features, n_classes, dtype, sparse):
        self.runner, self.parts = runner, list(parts)
        self.n_rows, self.n_features = n_rows, n_features
        self.n_classes, self.dtype, self.sparse = n_classes, np.dtype(dtype), sparse
        self.xp = _xp()
        self.blas_threads = BLAS_THREADS
        self._part_rows = None

    @property
    def where(self):
        """The worker of each part (None in this process)."""
        return self.runner.where(self.parts)

    def _with(self, parts, n_rows, dtype=None):
        return DaskBackend(
            self.runner,
            parts,
            n_rows=n_rows,
            n_features=self.n_features,
            n_classes=self.n_classes,
            dtype=self.dtype if dtype is None else dtype,
            sparse=self.sparse,
        )

    def _run(self, how, func, *shared, extras=None):
        extras = [None] * len(self.parts) if extras is None else extras
        run = getattr(self.runner, how)
        return run(func, self.parts, extras, shared, self.blas_threads)

    # -- passes over the rows

    def map(self, fn, *args):
        """``fn`` on every part's blocks, the results kept where the part
        is (a list, one entry per part)."""
        return self._run("map", _map_part, fn, self.n_classes, args)

    def map_sum(self, fn, *args, kept=None):
        """The sum over all rows of ``fn``'s per-block results (as
        ``ArrayBackend.map_sum``), each worker's parts summed there, the
        workers' sums on the client; ``kept`` is the result of ``map``."""
        return self._run(
            "map_sum", _map_sum_part, fn, self.n_classes, args, extras=kept
        )

    # -- row subsets

    def take(self, rows, scale=1.0):
        """The rows ``rows`` (sorted global indices, few of them), brought
        to the client as an in-memory ``ArrayBackend``."""
        rows = np.asarray(rows)
        bounds = np.concatenate([[0], np.cumsum(self.part_rows())])
        local = [
            rows[(rows >= bounds[i]) & (rows < bounds[i + 1])] - bounds[i]
            for i in range(len(self.parts))
        ]
        pieces = self._run("gather", _take_rows, extras=local)
        pieces = [p for p in pieces if p[1].shape[0]]
        stack = sp.vstack if self.sparse else np.concatenate
        X = stack([p[0] for p in pieces])
        X = X.tocsr() if self.sparse else X
        y = np.concatenate([p[1] for p in pieces])
        w = np.concatenate([p[2] for p in pieces]) * scale
        return ArrayBackend(X, y, w, self.n_classes, self.xp)

    def part_rows(self):
        """The number of rows of each part."""
        if self._part_rows is None:
            self._part_rows = np.asarray(self._run("gather", _n_rows))
        return self._part_rows

    def collect(self, fn, *args):
        """``fn``'s results on every block of every part, brought to the
        client: a list, the parts in order."""
        per_part = self._run("gather", _collect_part, fn, self.n_classes, args)
        return [result for results in per_part for result in results]

    def total_weight(self):
        """The sum of the weights: each part's, added in the parts' order."""
        return math.fsum(self._run("gather", _total_weight))

    def reweighted(self, factor, divisor=1.0):
        """The same rows, with the weights ``w_i / divisor * factor[y_i]``
        computed on the workers."""
        factor = np.asarray(factor, dtype=np.float64)
        parts = self._run("map", _reweight, factor, divisor)
        return self._with(parts, self.n_rows)

    def draw(self, share, seed, dtype):
        """``ArrayBackend.draw`` within each part, the part's index in the
        seed: a ``DaskBackend`` on the same workers."""
        seeds = [(seed, i) for i in range(len(self.parts))]
        drawn = self._run("map", _draw, share, self.n_classes, dtype, extras=seeds)
        sample = self._with(drawn, n_rows=0)
        sample.n_rows = int(sample.part_rows().sum())
        sample.dtype = np.dtype(storage_dtype(self.dtype, dtype, self.xp))
        return sample

    def support(self):
        """None: the sample stays on every column (``ArrayBackend.support``
        restricts CSR rows in memory only; here the columns a sample uses
        would be a reduction over the workers, for the same step)."""
        return None

    def columns(self, index):
        """None: the rows stay on every column (``ArrayBackend.columns``
        copies columns in memory only)."""
        return None

    def padded(self):
        """None: the rows stay as they are on the workers
        (``ArrayBackend.padded`` pads CSR rows in memory only)."""
        return None

    # -- parameters

    def parameter_layout(self, P):
        """As ``ArrayBackend.parameter_layout``: column-major for sparse
        chunks, whose products read ``W^T`` row-major."""
        return np.asfortranarray(P) if self.sparse else P


def _take_rows(part, rows):
    return _take(part, rows)


# ------------------------------------------------------------- the fit


def _frame_meta(X):
    """What scikit-learn's feature-name checks read of ``X``: a Dask
    DataFrame's empty pandas frame (``_meta``, the same columns), which
    they recognize as they do pandas input; ``X`` itself otherwise."""
    return X._meta if hasattr(X, "columns") and hasattr(X, "_meta") else X


def _as_dask_array(a, name):
    """``a`` as a Dask array: Dask DataFrames and Series through
    ``to_dask_array`` (their row counts computed on the workers), in-memory
    arrays wrapped (``y`` and weights given as numpy)."""
    if not dask.is_dask_collection(a):
        return da.from_array(np.asarray(a), chunks=-1)
    if hasattr(a, "to_dask_array"):
        return a.to_dask_array(lengths=True)
    if not isinstance(a, da.Array):
        raise TypeError(f"{name} must be a Dask array, got {type(a).__name__}.")
    if any(math.isnan(c) for c in a.shape):
        a = a.compute_chunk_sizes()
    return a


def _checked_inputs(estimator, X, y, sample_weight):
    """``X``, ``y`` and the weights as Dask arrays chunked alike by rows,
    checked on their metadata only (nothing is computed); sets
    ``n_features_in_`` and ``feature_names_in_`` as ``validate_data``."""
    _check_feature_names(estimator, _frame_meta(X), reset=True)
    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got a {X.ndim}D Dask array instead.")
    n, d = X.shape
    if n < 1 or d < 1:
        raise ValueError(f"Found array with shape {X.shape}; at least 1 is required.")
    _check_n_features(estimator, X, reset=True)
    X = X.rechunk({1: -1})
    y = _as_dask_array(y, "y")
    if y.ndim == 2 and y.shape[1] == 1:  # a (chunk, 1) y would broadcast
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please "
            "change the shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=4,
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape}.")
    arrays = {"y": y}
    if sample_weight is not None:
        arrays["sample_weight"] = _as_dask_array(sample_weight, "sample_weight")
    for name, a in arrays.items():
        if a.ndim != 1 or a.shape[0] != n:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"X has {n} rows, {name} has shape {a.shape}."
            )
        arrays[name] = a.rechunk((X.chunks[0],))
    return X, arrays["y"], arrays.get("sample_weight")


def _raw_parts(runner, X, y, sample_weight):
    """The persisted raw parts ``(X, y, sample_weight)``, one per row chunk
    that has rows."""
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    X_chunks = X.to_delayed().ravel()
    y_chunks = y.to_delayed().ravel()
    if sample_weight is None:
        w_chunks = [None] * len(X_chunks)
    else:
        w_chunks = sample_weight.to_delayed().ravel()
    chunks = zip(X_chunks, y_chunks, w_chunks, X.chunks[0], strict=True)
    tasks = [
        dask.delayed(_raw_part)(Xc, yc, wc, dtype)
        for Xc, yc, wc, rows in chunks
        if rows > 0
    ]
    return runner.persist(tasks), dtype


def read(estimator, X, y, sample_weight, classes, plan):
    """``_inputs.read`` for Dask inputs: a ``DaskBackend`` of the rows,
    their label indices and sample weights, checked on the workers (``X``
    finite, weights finite and non-negative) and by ``_labels.check_classes``
    against the model a fit continues. Nothing of the size of ``X`` reaches
    the client. Only full-batch fits are distributed: other plans raise a
    ``ValueError`` before anything is computed."""
    _check_supported(plan)
    X, y, sample_weight = _checked_inputs(estimator, X, y, sample_weight)
    runner = _runner()
    raw, dtype = _raw_parts(runner, X, y, sample_weight)
    summaries = runner.gather(_label_summary, raw, [None] * len(raw), (), 1)
    if not all(s[1] for s in summaries):
        raise ValueError("Input X contains NaN or infinity.")
    if not all(s[2] for s in summaries):
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if min(s[3] for s in summaries) < 0:
        raise ValueError("Negative values in data passed to `sample_weight`")
    labels = np.unique(np.concatenate([s[0] for s in summaries]))
    check_classification_targets(labels)
    classes = check_classes(
        getattr(estimator, "classes_", None),
        labels,
        None,
        np,
        incremental=False,
        continuing=plan.resume,
    )
    parts = runner.map(_encode, raw, [None] * len(raw), (classes,), 1)
    del raw  # the encoded parts share X's chunks
    data = DaskBackend(
        runner,
        parts,
        n_rows=X.shape[0],
        n_features=X.shape[1],
        n_classes=classes.shape[0],
        dtype=dtype,
        sparse=sp.issparse(X._meta),
    )
    return TrainingRows(data, classes, X, y, sample_weight)


def _check_supported(plan):
    """The ``ValueError`` for a fit that this backend does not distribute."""
    if plan.incremental:
        what = "partial_fit"
    elif plan.stochastic:
        what = "Mini-batch training (batch_size or a learning_rate schedule)"
    elif plan.early_stopping:
        what = "early_stopping"
    else:
        return
    raise ValueError(
        f"{what} is not supported on Dask arrays: only full-batch fits run on "
        "the workers, and the data are never computed on the client. For "
        "mini-batch training on Dask arrays, wrap the estimator in "
        "dask_ml.wrappers.Incremental (it calls partial_fit one chunk at a "
        "time); for a full-batch fit, leave batch_size=None, "
        "learning_rate='auto' (or a float) and early_stopping=False, and "
        "score a held-out Dask split yourself."
    )


# ---------------------------------------------------------- predictions


def _predict_block(X, model, method, threads):
    if X.shape[0] == 0:  # a chunk without rows: scikit-learn's checks refuse it
        K = model.classes_.shape[0]
        if method == "predict":
            return np.empty(0, dtype=model.classes_.dtype)
        dtype = np.result_type(X.dtype, model.coef_.dtype)
        shape = (0,) if method == "decision_function" and K == 2 else (0, K)
        return np.empty(shape, dtype=dtype)
    with limited_blas(threads):
        return getattr(model, method)(X)


def predict(estimator, X, method):
    """``estimator.<method>(X)`` on a Dask array ``X``: a lazy Dask array,
    one task per row chunk, each calling the method on its chunk with a
    copy of the fitted model (its arrays only)."""
    check_is_fitted(estimator)
    _check_feature_names(estimator, _frame_meta(X), reset=False)
    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got a {X.ndim}D Dask array instead.")
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    X = X.rechunk({1: -1})
    model = clone(estimator)
    for name in ("classes_", "coef_", "intercept_", "n_features_in_"):
        setattr(model, name, getattr(estimator, name))
    K = estimator.classes_.shape[0]
    if method == "predict":
        dtype, chunks = estimator.classes_.dtype, (X.chunks[0],)
    elif method == "decision_function" and K == 2:
        dtype, chunks = np.result_type(X.dtype, estimator.coef_.dtype), (X.chunks[0],)
    else:
        dtype = np.result_type(X.dtype, estimator.coef_.dtype)
        chunks = (X.chunks[0], (K,))
    return X.map_blocks(
        _predict_block,
        model,
        method,
        BLAS_THREADS,
        dtype=dtype,
        chunks=chunks,
        drop_axis=1 if len(chunks) == 1 else None,
        meta=np.empty((0,) * len(chunks), dtype=dtype),
    )
