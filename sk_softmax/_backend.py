"""Where the data lives: the one module that knows.

The math (``_loss.py``) is written per block of rows, against an array
namespace ``xp``; the objective (``_objective.py``) and the solvers see the
data only through a *backend*, which owns everything that depends on the
kind of array ``X`` is:

- iterating row blocks, and the map-sum of per-block partial results
  (``map``, ``map_sum``); the sum of a 0-d value becomes a Python number
  once per pass, in the objective, not once per block;
- row subsets: mini-batches (``take``), their column support on sparse data
  (``take_support``, ``support``), sparse rows with an empty column for
  the intercepts (``padded``), and the Hessian sample (``sample``,
  ``sample_rows``), whose float64 rows are stored in float32; a pass
  takes its arguments, and gives its results, in the rows' dtype;
- the parameters' memory layout (``parameter_layout``);
- inner products, ``y += a x`` and 1-norms on parameter-sized arrays
  (``dot``, ``add_scaled``, ``norm1``), and the label-indexed gather and
  scatter of the loss
  (``label_values``, ``subtract_at_labels``).

``ArrayBackend`` is the backend of arrays in memory: numpy and scipy sparse
(with BLAS and CSR fast paths), or any array-API namespace (plain ``xp``
operations). A backend for data elsewhere (Dask workers) provides the same
methods; nothing above this module changes.

A per-block function has the signature ``fn(xp, X, y, w, *args)``: ``X``
the block's rows, ``y`` their label indices, ``w`` their normalized weights;
``map_sum`` adds its results, tuples entry by entry (None stays None).
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas
from sklearn.utils._array_api import _is_numpy_namespace

# ---------------------------------------------------------------- vectors


#: ``dot`` and ``add_scaled`` call BLAS on arrays of at least this many
#: entries, and numpy's own one-thread loops below it. Both call the same
#: library, scipy's, never numpy's ``np.dot``: numpy and scipy may each
#: bring their own OpenBLAS, and with 2 threads each library's idle worker
#: spins after a call, so that two of them left the solver's own thread
#: about half a core (scipy's sparse products, which use no BLAS, took 40%
#: longer). Below the size, a thread pool's wake-up costs more than the
#: operation: OpenBLAS threads an axpy from 10 000 entries, and on a
#: parameter array of 10 100 entries (100 classes) each call took 2 ms
#: instead of 5 us. With 2 BLAS threads on the 2-vCPU machine, time to a
#: 1e-6 gap (benchmarks/bench_grid.py's data): 100 classes 3.15 -> 1.39 s,
#: sparse-100k 13.4 -> 9.2 s; with one thread, unchanged.
BLAS_MIN_ENTRIES = 1 << 16


def _blas_operands(a, b, dtypes=(np.float32, np.float64)):
    """Whether ``a`` and ``b`` are numpy arrays of one dtype among
    ``dtypes``, one shape and one contiguous memory layout, with at least
    ``BLAS_MIN_ENTRIES`` entries: their ``ravel(order="K")`` views then list
    matching entries in the same order, for BLAS."""
    return (
        isinstance(a, np.ndarray)
        and isinstance(b, np.ndarray)
        and a.size >= BLAS_MIN_ENTRIES
        and a.dtype == b.dtype
        and a.dtype in dtypes
        and a.shape == b.shape
        and (
            (a.flags.c_contiguous and b.flags.c_contiguous)
            or (a.flags.f_contiguous and b.flags.f_contiguous)
        )
    )


def dot(a, b, xp):
    """``<a, b>``, the sum of ``a * b`` over all entries, as a float.

    On large float64 numpy arrays of one layout (``BLAS_MIN_ENTRIES``),
    BLAS's dot on their memory: no temporary. float32 keeps ``xp.sum``'s pairwise sum, more accurate than a
    float32 dot's running sum; other namespaces use ``xp.sum(a * b)``.
    """
    if _blas_operands(a, b, dtypes=(np.float64,)):
        return float(blas.ddot(a.ravel(order="K"), b.ravel(order="K")))
    return float(xp.sum(a * b))


def norm1(a, xp):
    """``sum |a|`` over all entries, as a float: BLAS's asum on the memory
    of large contiguous numpy arrays (``BLAS_MIN_ENTRIES``), without the
    temporary ``|a|``; ``xp.sum(xp.abs(a))`` otherwise."""
    if _blas_operands(a, a):
        asum = blas.dasum if a.dtype == np.float64 else blas.sasum
        return float(asum(a.ravel(order="K")))
    return float(xp.sum(xp.abs(a)))


def add_scaled(y, a, x, xp):
    """``y += a * x`` in place: BLAS's axpy on large numpy arrays of one
    layout (``BLAS_MIN_ENTRIES``), without the temporary ``a * x``; ``y +=
    a * x`` otherwise."""
    if _blas_operands(x, y):
        axpy = blas.daxpy if x.dtype == np.float64 else blas.saxpy
        axpy(x.ravel(order="K"), y.ravel(order="K"), a=a)
    else:
        y += a * x


def scaled_abs_max(A, scales, xp):
    """``max_kj |A_kj| / scales_j`` as a float, ``scales`` one positive
    number per column of ``A``, without a temporary the size of ``A``
    (160 MB on 1M features and 20 classes).

    numpy: ``|A| / scales`` on blocks of ``BLAS_MIN_ENTRIES`` entries. A
    reduction over the rows of a column-major ``A`` (sparse data's layout,
    ``ArrayBackend.parameter_layout``) runs along its short contiguous
    columns, about three times slower than these blocks (118 against 43 ms
    at 20 x 1M). Other namespaces: each column's largest and smallest
    entries, a few operations in all (each one a kernel on a GPU).
    """
    if isinstance(A, np.ndarray):
        step = max(1, BLAS_MIN_ENTRIES // max(1, A.shape[0]))
        return max(
            float(np.max(np.abs(A[:, j : j + step]) / scales[j : j + step]))
            for j in range(0, A.shape[1], step)
        )
    column_max = xp.maximum(xp.max(A, axis=0), -xp.min(A, axis=0))
    return float(xp.max(column_max / scales))


def positive_part(a, xp):
    """``max(a, 0)`` elementwise: numpy's ``maximum`` with a scalar; the
    standard's ``clip`` elsewhere (torch's ``maximum`` takes arrays only)."""
    if isinstance(a, np.ndarray):
        return np.maximum(a, 0.0)
    return xp.clip(a, min=0.0)


# ------------------------------------------------------------ labels


def label_values(Z_t, y, xp):
    """``Z_t[y[i], i]`` for every column ``i`` of the class-major ``Z_t``
    (K, n): each sample's entry at its own class. numpy: fancy indexing;
    other namespaces: ``take_along_axis``."""
    if isinstance(Z_t, np.ndarray):
        return Z_t[y, np.arange(Z_t.shape[1])]
    return xp.take_along_axis(Z_t, y[None, :], axis=0)[0, :]


def subtract_at_labels(G_t, y, w, xp):
    """``G_t[y[i], i] -= w[i]`` in place, for every column ``i``: the
    one-hot ``Y^T * w`` subtracted without building ``Y``. numpy: a
    fancy-index scatter; other namespaces (no in-place scatter in the
    standard): the one-hot mask, elementwise."""
    if isinstance(G_t, np.ndarray):
        G_t[y, np.arange(G_t.shape[1])] -= w
    else:
        classes = xp.arange(G_t.shape[0], device=getattr(G_t, "device", None))
        mask = classes[:, None] == y[None, :]
        G_t -= xp.astype(mask, G_t.dtype) * w


def as_dtype(parts, dtype, xp):
    """``parts`` (an array, a 0-d array or number, None, or a tuple of them)
    with its floating arrays in ``dtype``, cast only where they differ;
    other entries unchanged."""
    if isinstance(parts, tuple):
        return tuple(as_dtype(part, dtype, xp) for part in parts)
    if isinstance(parts, (np.ndarray, np.floating)):
        return parts.astype(dtype, copy=False) if parts.dtype.kind == "f" else parts
    if (
        hasattr(parts, "dtype")
        and parts.dtype != dtype
        and xp.isdtype(parts.dtype, "real floating")
    ):
        return xp.astype(parts, dtype)
    return parts


def _sum_parts(total, part):
    """``total + part`` for per-block results: arrays summed in place into
    ``total`` (its arrays are fresh results of the first block), tuples
    entry by entry, None kept."""
    if isinstance(total, tuple):
        return tuple(_sum_parts(t, p) for t, p in zip(total, part, strict=True))
    if total is None:
        return None
    if hasattr(total, "shape") and total.shape != ():
        total += part
        return total
    return total + part


# ------------------------------------------------------------ the backend


class ArrayBackend:
    """Training rows held in memory: numpy, scipy sparse, or an array-API
    namespace.

    Parameters
    ----------
    X : {array, sparse matrix} of shape (n, d)
        Never copied or densified; dense rows are processed in views.
    y : integer array of shape (n,)
        Label indices, ``0 <= y[i] < n_classes``.
    w : array of shape (n,)
        Normalized non-negative weights (summing to 1 for a full objective).
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

    #: Newton-CG's Hessian sample of float64 rows is stored in this dtype
    #: (``sample``; its name in the namespace). The sampled Hessian only
    #: chooses the direction of a step, and differs from the whole data's by
    #: the sampling error (tens of percent on a tenth of the rows), against
    #: float32's rounding of 6e-8: its products lose nothing that matters,
    #: and BLAS's sgemm and scipy's float32 sparse kernels run them about
    #: twice as fast, on a copy half the size; the conjugate gradients'
    #: vectors, in the sample's dtype, are half the size too. The gradient,
    #: the line search, and so the optimum and the stopping test, stay in
    #: float64.
    sample_dtype = "float32"

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
        """``(X, y, w)`` in blocks of rows covering the data.

        Sparse ``X`` is one block, the data themselves: its products do not
        gain from cache reuse, each block would pay for a (K, d) gradient,
        large when d is, and slicing a scipy sparse matrix, even with
        ``[:]``, copies it.
        """
        X, y, w = self.X, self.y, self.w
        if self.sparse:
            return [(X, y, w)]
        n = self.n_rows
        row_bytes = max(1, self.n_features * _itemsize(X.dtype, self.xp))
        size = max(self._block_bytes() // row_bytes, 256)
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
            total = part if i == 0 else _sum_parts(total, part)
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

    def sample(self, fraction, min_rows, seed):
        """A random sample of the rows with positive weight, stratified by
        class, for the Hessian of Newton-CG: about ``fraction`` of them but
        at least ``min_rows``; None when that is all of them.

        The rows are drawn without replacement with ``seed``, so that the
        sample represents the data whatever the order of its rows (rows
        repeating with a period, weights zeroing every k-th row); a larger
        ``fraction`` with the same seed gives a superset. Each class's
        sampled weights are rescaled to the class's total weight, so that
        the sample's weighted class frequencies are the data's. Rows are
        kept in their original order.
        """
        xp = self.xp
        positive = xp.nonzero(self.w > 0)[0]
        n_positive = positive.shape[0]
        n_sample = max(int(np.ceil(fraction * n_positive)), min_rows)
        if n_sample >= n_positive:
            return None
        rng = np.random.default_rng(seed)
        share = n_sample / n_positive
        y_positive = xp.take(self.y, positive, axis=0)
        chosen, scale = [], np.zeros(self.n_classes)
        for k in range(self.n_classes):
            rows_k = positive[y_positive == k]
            if rows_k.shape[0] == 0:
                continue
            m = min(rows_k.shape[0], int(np.ceil(share * rows_k.shape[0])))
            order = self.asarray(rng.permutation(rows_k.shape[0])[:m])
            picked = xp.take(rows_k, order, axis=0)
            total_k = xp.sum(xp.take(self.w, rows_k, axis=0))
            scale[k] = float(total_k / xp.sum(xp.take(self.w, picked, axis=0)))
            chosen.append(picked)
        batch = self.sample_rows(xp.sort(xp.concat(chosen)))
        scale = self.asarray(scale, dtype=batch.w.dtype)
        batch.w = batch.w * xp.take(scale, batch.y, axis=0)
        return batch

    def sample_rows(self, rows):
        """The rows ``rows`` of a Hessian sample: ``take(rows)``, stored in
        ``sample_storage``'s dtype."""
        stored = self.sample_storage(self.X.dtype, self.xp)
        if stored != self.X.dtype:
            return self._take_stored(rows, stored)
        return self.take(rows)

    @classmethod
    def sample_storage(cls, dtype, xp):
        """The dtype in which a Hessian sample of rows in ``dtype`` is
        stored: ``sample_dtype`` for float64 rows, ``dtype`` otherwise."""
        return getattr(xp, cls.sample_dtype) if dtype == xp.float64 else dtype

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
