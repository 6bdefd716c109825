"""Vector helpers on parameter-sized arrays and per-sample label arrays,
for every array namespace: inner products, ``y += a x``, 1-norms and scaled
max-norms (BLAS on large numpy arrays, ``xp`` operations elsewhere), the
label-indexed gather and scatter of the loss, and dtype casts of pass
arguments and results.

The math (``_loss.py``, ``_penalties.py``), the step rules
(``_optimizers.py``) and the solvers import their arithmetic from here; the
backends (``_backend.py``) decide where the data live and nothing else.
"""

import numpy as np
from scipy.linalg import blas

#: ``dot``, ``norm1`` and ``add_scaled`` call BLAS on arrays of at least
#: this many entries, numpy's one-thread loops below it (a BLAS thread
#: pool's wake-up costs more than a small operation). They call one
#: library, scipy's: numpy and scipy may each bring an OpenBLAS, and two
#: libraries' idle threads compete for the cores
#: (``benchmarks/HISTORY.md``, "one BLAS library").
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
    if isinstance(a, np.ndarray):  # the method: no namespace wrapper's cost
        return float(np.multiply(a, b).sum())
    return float(xp.sum(a * b))


def norm1(a, xp):
    """``sum |a|`` over all entries, as a float: BLAS's asum on the memory
    of large contiguous numpy arrays (``BLAS_MIN_ENTRIES``), without the
    temporary ``|a|``; ``xp.sum(xp.abs(a))`` otherwise."""
    if _blas_operands(a, a):
        asum = blas.dasum if a.dtype == np.float64 else blas.sasum
        return float(asum(a.ravel(order="K")))
    if isinstance(a, np.ndarray):
        return float(np.abs(a).sum())
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
    number per column of ``A``, without a temporary the size of ``A``.

    numpy: ``|A| / scales`` on blocks of ``BLAS_MIN_ENTRIES`` entries, whose
    reductions run along contiguous memory whatever ``A``'s layout (sparse
    data's parameters are column-major, with short columns). Other
    namespaces: each column's largest and smallest entries, a few
    operations in all (each one a kernel on a GPU).
    """
    if isinstance(A, np.ndarray):
        step = max(1, BLAS_MIN_ENTRIES // max(1, A.shape[0]))
        if A.shape[1] <= step:  # one block
            return float((np.abs(A) / scales).max())
        return max(
            float(np.max(np.abs(A[:, j : j + step]) / scales[j : j + step]))
            for j in range(0, A.shape[1], step)
        )
    column_max = xp.maximum(xp.max(A, axis=0), -xp.min(A, axis=0))
    return float(xp.max(column_max / scales))


def solve(A, b, xp):
    """``A^-1 b`` for a square ``A``: numpy's own solver on numpy arrays
    (the namespace's wrapper checks its arguments' shapes, a cost on the
    small systems of Newton's direct step), ``xp.linalg.solve``
    elsewhere."""
    if isinstance(A, np.ndarray):
        return np.linalg.solve(A, b)
    return xp.linalg.solve(A, b)


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


def sum_parts(total, part):
    """``total + part`` for per-block results: arrays summed in place into
    ``total`` (its arrays are fresh results of the first block), tuples
    entry by entry, None kept."""
    if isinstance(total, tuple):
        return tuple(sum_parts(t, p) for t, p in zip(total, part, strict=True))
    if total is None:
        return None
    if hasattr(total, "shape") and total.shape != ():
        total += part
        return total
    return total + part
