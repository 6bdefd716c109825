"""The Hessian sample: the rows whose curvature Newton-CG's products, and
the per-feature preconditioners of L-BFGS and FISTA, are taken on."""

from dataclasses import dataclass


@dataclass(frozen=True)
class HessianSample:
    """How many rows the Hessian sample holds, and how they are stored.

    A random sample of the rows with positive weight, stratified by class,
    about ``fraction`` of them but at least ``min_rows``, ``rows_per_class``
    times the number of classes and, on dense rows, ``rows_per_feature``
    times the columns of ``P`` up to ``max_share`` of the rows: every dense
    row carries curvature in every feature, and a sampled Hessian is close to
    the whole data's only with many more rows than features; a sample of all
    the rows is the data itself, products in the data's dtype on every row.
    Each class's rows carry that class's share of the curvature, hence the
    floor per class. On sparse rows a feature's curvature comes from the few
    rows that use it and the penalty bounds it below: no per-feature floor.

    Float64 rows are stored in ``dtype`` (None: as they are): the sampled
    Hessian only chooses a step's direction, and differs from the data's by
    the sampling error, far above float32's rounding, while float32 products
    run faster, on a copy half the size. The gradient, the line search
    and the stopping test stay in the data's dtype. For the same reason,
    when the sample would be all the rows (small data), Newton-CG still
    takes a copy of them in ``dtype`` if the data, as float64 dense rows,
    hold between ``copy_bytes[0]`` and ``copy_bytes[1]`` bytes: below, a
    product's cost is its calls', whatever the dtype, and the data's own
    Hessian converges further for the same work; above, the copy's half of
    ``X`` would weigh on memory.
    """

    fraction: float = 0.1
    min_rows: int = 2000
    rows_per_class: int = 40
    rows_per_feature: int = 75
    max_share: float = 0.75
    dtype: str | None = "float32"
    copy_bytes: tuple[int, int] = (2**19, 2**26)


def hessian_sample(objective, options, seed, fraction=None, min_rows=0, copy=False):
    """The objective on the Hessian sample (``objective.on_sample``) that
    ``options`` (a ``HessianSample``) describes, drawn with ``seed``, or the
    objective itself when the sample would be all of its rows, but with
    ``copy``, on small data (``copy_bytes``): then its rows stored in
    ``options.dtype`` (``objective.stored``). ``fraction`` and
    ``min_rows`` override the options' share and raise their floor
    (Newton-CG grows its sample near the optimum)."""
    fraction = options.fraction if fraction is None else fraction
    per_class = options.rows_per_class * objective.n_classes
    per_feature = 0
    if not objective.data.sparse:
        per_feature = min(
            options.rows_per_feature * (objective.n_features + 1),
            int(options.max_share * objective.n_rows),
        )
    floor = max(min_rows, options.min_rows, per_class, per_feature)
    sample = objective.on_sample(fraction, floor, seed, options.dtype)
    low, high = options.copy_bytes
    if (
        copy
        and sample is objective
        and low <= 8 * objective.n_rows * objective.n_features <= high
    ):
        return objective.stored(options.dtype)
    return sample
