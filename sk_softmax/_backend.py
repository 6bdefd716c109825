"""Where the data lives: the backend interface, the in-memory backend,
and the one factory that picks a backend from the inputs.

The math (``_loss.py``) is written per block of rows, against an array
namespace ``xp``; the objective (``_objective.py``) and the solvers see the
data only through a *backend* (``Backend``), which owns everything that
depends on the kind of array ``X`` is. Two implement it: ``ArrayBackend``
here, arrays in memory (numpy and scipy sparse with BLAS and CSR fast
paths, or any array-API namespace with plain ``xp`` operations), and
``_dask_backend.DaskBackend``, row chunks on Dask workers.

Written once, on top of the interface, for every backend: the per-class
totals of the weights (``class_totals``), the normalized training weights
(``normalized``) and the stratified Hessian sample (``stratified_sample``).

Which backend a fit's inputs go to is decided in ``_inputs.py``, the one
module that asks where the data lives.
"""

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import _is_numpy_namespace, move_to

from ._array_ops import as_dtype, sum_parts
from ._labels import class_factors, class_weights


class Backend(Protocol):
    """What every backend provides: the training rows, their label indices
    ``y`` (``0 <= y[i] < n_classes``) and their weights ``w``, wherever they
    live.

    A per-block function has the signature ``fn(xp, X, y, w, *args)``:
    ``X`` a block's rows, ``y`` their label indices, ``w`` their weights. A
    pass applies it to every block; floating arguments are cast to the
    rows' ``dtype`` and results are in it.
    """

    xp: object  #: the array namespace of the parameters and of the passes
    n_rows: int
    n_features: int
    n_classes: int
    dtype: object  #: the rows' dtype
    sparse: bool  #: whether the rows are scipy sparse
    device: object  #: the parameters' device (None: the namespace's default)

    def map(self, fn, *args):
        """``fn`` on every block, the results kept per block, where the
        rows are (a forward pass reused by several Hessian products)."""

    def map_sum(self, fn, *args, kept=None):
        """The sum over the blocks of ``fn``'s results (arrays, 0-d arrays
        or tuples of them, None entries staying None), in the parameters'
        namespace; with ``kept``, the result of ``map``, passed to ``fn``
        after ``w``."""

    def collect(self, fn, *args):
        """``fn``'s result on every block, a list brought to the caller (for
        small results: a block's labels, its largest weight)."""

    def total_weight(self):
        """The sum of the weights, as a float."""

    def reweighted(self, factor, divisor=1.0):
        """The same rows with the weights ``w_i / divisor * factor[y_i]``,
        ``factor`` one number per class, on the host or in the namespace of
        the backend's results."""

    def draw(self, share, seed, dtype):
        """About ``share`` of the rows with positive weight of each class,
        drawn without replacement with ``seed`` (a larger share, a
        superset), in their original order, float64 rows stored in
        ``dtype`` (None: as they are); their weights unchanged."""

    def take(self, rows, scale=1.0):
        """The rows ``rows`` (global indices), in memory (``ArrayBackend``),
        their weights multiplied by ``scale``."""

    def support(self):
        """``(backend, columns)``: these rows on only the columns they use,
        or None (``ArrayBackend.support``)."""

    def padded(self):
        """These rows with an empty last column, or None
        (``ArrayBackend.padded``)."""

    def columns(self, index):
        """These rows on the columns ``index`` only, or None
        (``ArrayBackend.columns``)."""

    def parameter_layout(self, P):
        """``P`` in the memory order that the products with ``X`` read
        without a transposing copy."""


# --------------------------------------------- written once, every backend


def class_totals(data):
    """The number of rows with positive weight and the total weight of each
    class: two arrays of ``n_classes`` entries, in the namespace of the
    backend's results (one pass)."""
    return data.map_sum(_class_totals, data.n_classes)


def _class_totals(xp, X, y, w, n_classes):
    if isinstance(y, np.ndarray):
        positive = np.bincount(y[w > 0], minlength=n_classes).astype(np.float64)
        return positive, np.bincount(y, weights=w, minlength=n_classes)
    positive = [
        xp.sum(xp.astype((y == k) & (w > 0), w.dtype)) for k in range(n_classes)
    ]
    totals = [xp.sum(xp.where(y == k, w, 0.0)) for k in range(n_classes)]
    return xp.stack(positive), xp.stack(totals)


def _host_float64(a):
    if isinstance(a, np.ndarray):
        return a.astype(np.float64, copy=False)
    return np.asarray(move_to(a, xp=np, device="cpu"), dtype=np.float64)


def largest_weight(data):
    """The largest weight of any row, as a float (0 without rows)."""
    return max(float(m) for m in data.collect(_largest_weight))


def _largest_weight(xp, X, y, w):
    return float(xp.max(w)) if w.shape[0] else 0.0


def normalized(data, class_weight, classes, *, incremental):
    """The rows of ``data`` (whose ``w`` are the sample weights) with the
    normalized training weights ``s_i / sum_j s_j``, ``s_i = sample_weight[i]
    * class_weight[y_i]`` (``class_weight`` the estimator's parameter,
    checked by ``_labels.class_weights``).

    Weights whose sum overflows (near the largest float) are first divided
    by the largest of them, so that such weights give the model of their
    ratios, as any other weights do. Raises if the weights sum to zero."""
    totals = _host_float64(class_totals(data)[1])
    divisor = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        overflows = not np.isfinite(totals.sum())
    if overflows:
        divisor = largest_weight(data)
        ones = np.ones_like(totals)
        totals = _host_float64(class_totals(data.reweighted(ones, divisor))[1])
    weight_of_class = class_weights(
        class_weight, classes, totals, incremental=incremental
    )
    scaled = data.reweighted(class_factors(totals, weight_of_class), divisor)
    total = scaled.total_weight()
    if not (total > 0 and math.isfinite(total)):
        raise ValueError(
            "The weights of the training samples (sample_weight times "
            f"class_weight) sum to {total}: they must sum to a positive, "
            "finite number."
        )
    return scaled.reweighted(np.ones_like(totals), total)


def stratified_sample(data, fraction, min_rows, seed, dtype):
    """A random sample of the rows with positive weight, stratified by
    class, for the Hessian of Newton-CG: about ``fraction`` of them but at
    least ``min_rows``; None when that is all of them.

    The rows are drawn without replacement with ``seed`` (``data.draw``),
    so that the sample represents the data whatever the order of its rows
    (rows repeating with a period, weights zeroing every k-th row); a
    larger ``fraction`` with the same seed gives a superset. Each class's
    sampled weights are rescaled to the class's total weight, so that the
    sample's weighted class frequencies are the data's. Float64 rows are
    stored in ``dtype`` (None: as they are).
    """
    positive, totals = class_totals(data)
    n_positive = round(float(data.xp.sum(positive)))
    n_sample = max(math.ceil(fraction * n_positive), min_rows)
    if n_sample >= n_positive:
        return None
    drawn = data.draw(n_sample / n_positive, seed, dtype)
    sampled = class_totals(drawn)[1]
    # Computed where the totals are (on the device for arrays on one).
    scale = data.xp.astype(totals, sampled.dtype) / data.xp.where(
        sampled > 0, sampled, 1.0
    )
    return drawn.reweighted(scale)


def storage_dtype(dtype, stored, xp):
    """The dtype in which sampled rows of ``dtype`` are kept: ``stored``
    (a dtype name, or None: ``dtype``) for float64 rows, ``dtype``
    otherwise."""
    if stored is None or dtype != xp.float64:
        return dtype
    return getattr(xp, stored)


# ------------------------------------------------------ what a reader gives


@dataclass(frozen=True)
class TrainingRows:
    """What reading a fit's inputs gives: ``data``, a backend of the rows
    with their label indices and their sample weights (not yet
    normalized); the ``classes``; and the validated ``X``, ``y`` and
    ``sample_weight`` (ones where none were given; None on Dask) that
    scikit-learn's callbacks receive."""

    data: Backend
    classes: object
    X: object
    y: object
    sample_weight: object


# ------------------------------------------------------------ in memory


class ArrayBackend:
    """Training rows held in memory: numpy, scipy sparse, or an array-API
    namespace (the ``Backend`` interface).

    Parameters
    ----------
    X : {array, sparse matrix} of shape (n, d)
        Never copied or densified; dense rows are processed in views.
    y : integer array of shape (n,)
        Label indices, ``0 <= y[i] < n_classes``.
    w : array of shape (n,)
        Non-negative weights (normalized, summing to 1, for a full
        objective).
    n_classes : int
    xp : array namespace
    """

    #: Dense rows are processed in blocks of about this many bytes of ``X``, so
    #: that a block read for the forward pass is still in cache for the
    #: backward one and the (n, K) temporaries never exist whole.
    block_bytes = 2**21

    #: On an accelerator, blocks of this many bytes: there, each operation
    #: costs a kernel launch, and the (n, K) temporaries fit in its memory.
    device_block_bytes = 2**28

    def __init__(self, X, y, w, n_classes, xp):
        self.X, self.y, self.w = X, y, w
        self.n_classes, self.xp = n_classes, xp
        self.n_rows, self.n_features = X.shape
        # The dtype of the passes' results, and of the arguments they take.
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.device = getattr(w, "device", None)
        self.numpy = _is_numpy_namespace(xp)

    def asarray(self, a, dtype=None):
        """The host (numpy) array ``a`` in this backend's namespace, on its
        device: a host-to-device copy, or ``a`` itself for numpy."""
        if self.numpy:
            return a if dtype is None else a.astype(dtype, copy=False)
        return self.xp.asarray(a, dtype=dtype, device=self.device)

    def _with(self, X, y, w):
        return ArrayBackend(X, y, w, self.n_classes, self.xp)

    # -- passes over the rows

    def blocks(self):
        """``(X, y, w)`` in blocks of rows covering the data (one block,
        empty, for no rows).

        Sparse ``X`` is one block, the data themselves: its products do not
        gain from cache reuse, each block would pay for a (K, d) gradient,
        large when d is, and slicing a scipy sparse matrix, even with
        ``[:]``, copies it.
        """
        X, y, w = self.X, self.y, self.w
        n = self.n_rows
        row_bytes = max(1, self.n_features * _itemsize(X.dtype, self.xp))
        size = max(self._block_bytes() // row_bytes, 256)
        # Sparse rows, no rows (an empty chunk still gives its zero sums) or
        # rows that fit in one block: the data themselves, no views.
        if self.sparse or n <= size:
            return [(X, y, w)]
        return [
            (X[r, ...], y[r], w[r])
            for r in (slice(start, min(start + size, n)) for start in range(0, n, size))
        ]

    def _block_bytes(self):
        if self.numpy or _on_host(self.device):
            return self.block_bytes
        return self.device_block_bytes

    def map(self, fn, *args):
        """``fn(xp, X_b, y_b, w_b, *args)`` on every block, the results kept
        per block (e.g. a forward pass reused by several Hessian products),
        in the rows' dtype (``_stored``)."""
        args = self._stored(args)
        return [fn(self.xp, *block, *args) for block in self.blocks()]

    def collect(self, fn, *args):
        """``fn`` on every block, the results in a list (``map``: the
        blocks are in this process)."""
        return self.map(fn, *args)

    def total_weight(self):
        """The sum of the weights, as a float."""
        return float(self.xp.sum(self.w))

    def map_sum(self, fn, *args, kept=None):
        """The sum over the blocks of ``fn(xp, X_b, y_b, w_b, *args)``, or of
        ``fn(xp, X_b, y_b, w_b, kept_b, *args)`` with ``kept`` the result of
        ``map``. Results are arrays, 0-d arrays, or tuples of them (None
        entries stay None), in the rows' dtype (``_stored``); the first
        block's are summed into in place."""
        args = self._stored(args)
        blocks = self.blocks()
        total = None
        for i, block in enumerate(blocks):
            extra = () if kept is None else (kept[i],)
            part = fn(self.xp, *block, *extra, *args)
            total = part if i == 0 else sum_parts(total, part)
        return total

    def _stored(self, args):
        """The floating arrays among ``args`` in the rows' dtype: a product
        of float32 rows (a Hessian sample, ``sample_rows``) with a float64
        array would copy the rows to float64 first. A pass's results are in
        the rows' dtype too: on a sample, the whole of Newton-CG's
        conjugate gradients runs in float32."""
        return as_dtype(args, self.X.dtype, self.xp)

    # -- row subsets

    def take(self, rows, scale=1.0):
        """The rows ``rows`` (an index array, or a slice: then dense arrays
        are views), their weights multiplied by ``scale``."""
        xp = self.xp
        if isinstance(rows, slice):
            X = self.X[rows] if self.sparse else self.X[rows, ...]
            y, w = self.y[rows], self.w[rows]
        else:
            if isinstance(rows, np.ndarray):
                rows = self.asarray(rows)
            if self.sparse:
                X = _csr_rows(self.X, rows)
            else:
                X = xp.take(self.X, rows, axis=0)
            y, w = xp.take(self.y, rows, axis=0), xp.take(self.w, rows, axis=0)
        return self._with(X, y, w * scale)

    def _take_stored(self, rows, dtype):
        """``take(rows)``, the rows and weights stored in ``dtype``. On
        numpy, dense rows are gathered a block at a time into the result,
        never whole in the data's dtype."""
        if self.numpy and not self.sparse:
            X = np.empty((rows.shape[0], self.n_features), dtype=dtype)
            step = max(self.block_bytes // max(1, self.X[:1].nbytes), 1)
            for start in range(0, rows.shape[0], step):
                X[start : start + step] = self.X[rows[start : start + step]]
            return self._with(X, self.y[rows], self.w[rows].astype(dtype))
        batch = self.take(rows)
        X, w = batch.X, batch.w
        if self.sparse:  # scipy, numpy arrays: the data array alone is cast
            X = type(X)((X.data.astype(dtype), X.indices, X.indptr), shape=X.shape)
            w = w.astype(dtype)
        else:
            X, w = self.xp.astype(X, dtype), self.xp.astype(w, dtype)
        return self._with(X, batch.y, w)

    def reweighted(self, factor, divisor=1.0):
        """These rows with the weights ``w_i / divisor * factor[y_i]``
        (``factor`` on the host, or in this backend's namespace)."""
        w = self.w if divisor == 1.0 else self.w / divisor
        if isinstance(factor, np.ndarray):
            factor = self.asarray(factor, dtype=w.dtype)
        else:
            factor = self.xp.astype(factor, w.dtype)
        return self._with(self.X, self.y, w * self.xp.take(factor, self.y, axis=0))

    def draw(self, share, seed, dtype):
        """About ``share`` of each class's rows with positive weight, drawn
        without replacement with ``seed`` (``Backend.draw``), float64 rows
        stored in ``dtype``."""
        xp = self.xp
        positive = xp.nonzero(self.w > 0)[0]
        rng = np.random.default_rng(seed)
        y_positive = xp.take(self.y, positive, axis=0)
        chosen = []
        for k in range(self.n_classes):
            rows_k = positive[y_positive == k]
            if rows_k.shape[0] == 0:
                continue
            m = min(rows_k.shape[0], math.ceil(share * rows_k.shape[0]))
            order = self.asarray(rng.permutation(rows_k.shape[0])[:m])
            chosen.append(xp.take(rows_k, order, axis=0))
        rows = xp.sort(xp.concat(chosen)) if chosen else positive
        stored = storage_dtype(self.X.dtype, dtype, xp)
        if stored != self.X.dtype:
            return self._take_stored(rows, stored)
        return self.take(rows)

    def take_support(self, rows, scale=1.0):
        """``take(rows, scale)`` on sparse ``X``, restricted to the columns
        its rows use: returns ``(batch, columns)`` with ``batch.X`` holding
        the sorted columns ``columns`` of ``X[rows]`` in CSR (the others are
        zero on these rows). Its cost is that of the batch's nonzeros, not
        of the ``d`` features."""
        return self.take(rows, scale)._on_columns_used()

    def support(self):
        """These rows restricted to the columns they use, as
        ``take_support``: ``(data, columns)`` for CSR ``X`` on numpy with
        columns that no row uses, None otherwise (dense ``X``, every column
        used). Newton-CG's Hessian on sparse data solves for the others
        without touching them (``_solvers.newton_cg``)."""
        if not (self.numpy and self.sparse and self.X.format == "csr"):
            return None
        data, columns = self._on_columns_used()
        return None if columns.shape[0] == self.n_features else (data, columns)

    def _on_columns_used(self):
        """``(data, columns)``: these rows on the sorted columns ``columns``
        of CSR ``X`` that hold their nonzeros, renumbered; ``data`` shares
        ``X``'s values and row pointers."""
        X = self.X
        columns, compact = np.unique(X.indices, return_inverse=True)
        X_used = sp.csr_array(
            (X.data, compact.astype(X.indices.dtype), X.indptr),
            shape=(X.shape[0], columns.shape[0]),
        )
        return self._with(X_used, self.y, self.w), columns

    def columns(self, index):
        """These rows on the columns ``index`` (a sorted numpy index array)
        only, a copy of those columns: numpy and scipy sparse rows, None
        for other namespaces. The proximal Newton solver's Hessian products
        on its working set of features cost the working set's columns, not
        the ``d`` features (``_solvers.prox_newton``)."""
        if not self.numpy:
            return None
        X = self.X[:, index] if self.sparse else np.take(self.X, index, axis=1)
        return self._with(X, self.y, self.w)

    def padded(self):
        """These rows with one more column, empty, after the others: CSR
        ``X`` on numpy, sharing ``X``'s arrays (nothing is copied); None
        for other rows.

        A product of these rows with a parameter array ``P`` of ``d + 1``
        columns is the product with its first ``d`` (the last one meets
        only zeros), and the backward product comes out with ``d + 1``
        columns, shaped like ``P``: the objective writes the intercepts'
        part into the last one, where joining it to a ``(K, d)`` result
        would copy the whole array once more
        (``SoftmaxObjective._joined_sum``)."""
        if not (self.numpy and self.sparse and self.X.format == "csr"):
            return None
        X = self.X
        X_padded = type(X)(
            (X.data, X.indices, X.indptr), shape=(X.shape[0], X.shape[1] + 1)
        )
        return self._with(X_padded, self.y, self.w)

    # -- parameters

    def parameter_layout(self, P):
        """``P`` in the memory order that the products with ``X`` read
        without a transposing copy.

        Scipy's sparse-times-dense kernels take the dense operand row-major:
        ``W X^T`` is computed as ``(X W^T)^T`` and reads ``W^T``, which is
        row-major when ``W`` is column-major; ``G^T X`` is computed as
        ``(X^T G)^T``, a column-major result. So for sparse ``X`` the
        parameters go column-major, and every array a solver derives from
        them follows (numpy keeps the order of its operands, ``concat``
        too). Dense ``X`` goes through BLAS, which reads either order. For
        the full-batch solvers only: the copy costs a parameter array, which
        mini-batch steps on sparse data, storing theirs feature-major, would
        pay for nothing.
        """
        return np.asfortranarray(P) if self.sparse else P


def _itemsize(dtype, xp):
    """Bytes per entry of the float ``dtype``."""
    size = getattr(dtype, "itemsize", None)
    return size if isinstance(size, int) else xp.finfo(dtype).bits // 8


def _on_host(device):
    """Whether ``device`` is the host's memory (a "cpu" device)."""
    return "cpu" in str(getattr(device, "type", device)).lower()


def _csr_rows(X, rows):
    """The rows ``rows`` of scipy sparse ``X``, in CSR.

    For CSR ``X`` the rows' nonzeros are gathered directly from its arrays:
    scipy's own row indexing costs several times more for the small batches
    of the mini-batch solver.
    """
    if X.format != "csr":
        return X[rows].tocsr()
    starts = X.indptr[rows]
    lengths = X.indptr[rows + 1] - starts
    indptr = np.zeros(rows.shape[0] + 1, dtype=X.indptr.dtype)
    np.cumsum(lengths, out=indptr[1:])
    nonzeros = np.arange(indptr[-1]) + np.repeat(starts - indptr[:-1], lengths)
    return sp.csr_array(
        (X.data[nonzeros], X.indices[nonzeros], indptr),
        shape=(rows.shape[0], X.shape[1]),
    )
