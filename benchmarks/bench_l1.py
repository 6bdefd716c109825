"""L1 and elastic-net fits, time to a 1e-6 objective gap: the proximal
Newton solver (the default for ``l1_ratio > 0``) against FISTA, against our
L2 fit at the same ``alpha`` and against ``LogisticRegression(solver="saga")``.

Usage::

    python benchmarks/bench_l1.py [--rows digits,dense-20k,sparse-100k]
                                  [--alphas 1e-3 1e-4] [--l1-ratios 0.5 1.0]
                                  [--repeats 3] [--budget 60] [--no-saga]

Rows (the whole generated data set, no held-out part):

- ``digits``: ``datasets.digits``, 1797 x 64, 10 classes, standardized;
- ``dense-20k``: ``datasets.dense(20_000)``, 20k x 200, 10 classes;
- ``sparse-100k``: ``datasets.sparse(100_000, 10_000)``, 100k x 10k with 50
  nonzeros a row, 20 classes.

Each cell is the median time over ``--repeats`` interleaved rounds (one BLAS
thread) to ``(J - J*) / J* <= 1e-6``, ``J`` the package's objective
(``measure.Objective``) at that penalty and ``J*`` the lowest ``J`` any fit
of the cell reached (a tight proximal Newton fit first, ``tol=1e-10``), and
the iterations (epochs for saga) it took:

- ``prox-newton``, ``fista``: ``SoftmaxGDClassifier(solver=..., tol=1e-10,
  max_iter=10_000)``, timed by a callback (``measure.FitTrace``) that stops
  the fit at the gap, the evaluations excluded;
- ``L2``: the default ``SoftmaxGDClassifier(alpha=alpha)`` (``l1_ratio=0``)
  timed the same way to its own gap: the fit the issue compares with;
- ``saga``: ``LogisticRegression(C=matching_C(alpha, n, K), l1_ratio=...,
  solver="saga", tol=0)`` at the smallest ``max_iter`` that reaches the gap
  (``measure.smallest_max_iter``), timed from scratch; a time past half the
  budget is a lower bound (printed ``>``).

Printed: per cell the times and iterations, then a markdown table of the
ratios ``prox-newton / L2``, ``fista / L2``, ``saga / prox-newton``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
import measure  # noqa: E402
from bench_all import GAP, print_machine, quiet_fit  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402
from sk_softmax.__main__ import matching_C  # noqa: E402

ROWS = {
    "digits": lambda: datasets.digits(split=False),
    "dense-20k": lambda: datasets.dense(20_000, split=False),
    "sparse-100k": lambda: datasets.sparse(100_000, 10_000, split=False),
}
OURS = ("prox-newton", "fista", "L2")


class Cell:
    """One data set at one ``(alpha, l1_ratio)``: its objectives (the
    penalty's and the L2 fit's), their optima, and the times."""

    def __init__(self, name, X, y, alpha, l1_ratio):
        self.name, self.X, self.y = name, X, y
        self.alpha, self.l1_ratio = alpha, l1_ratio
        self.K = int(y.max()) + 1
        self.J = {
            "l1": measure.Objective(X, y, alpha, l1_ratio),
            "L2": measure.Objective(X, y, alpha),
        }
        self.J_star = {"l1": np.inf, "L2": np.inf}
        self.times = {m: [] for m in (*OURS, "saga")}
        self.iterations = {m: [] for m in (*OURS, "saga")}
        self.bound = None
        self.saga_fits = {}  # max_iter -> (seconds, J)

    def evaluate(self, which):
        def evaluate(estimator):
            J = self.J[which](*measure.softmax_parameters(estimator))
            self.J_star[which] = min(self.J_star[which], J)
            return (J,)

        return evaluate

    def reached(self, which):
        return lambda J: (J - self.J_star[which]) / self.J_star[which] <= GAP


def ours(cell, method, tol=1e-10, callbacks=None):
    which = "L2" if method == "L2" else "l1"
    params = dict(alpha=cell.alpha, tol=tol, max_iter=10_000)
    if method != "L2":
        params.update(l1_ratio=cell.l1_ratio, solver=method)
    estimator = SoftmaxGDClassifier(**params)
    if callbacks is not None:
        estimator.set_callbacks(callbacks)
    return which, estimator


def reference(cell):
    """The optima ``J*``: tight fits of our solvers (and of the L2 fit)."""
    for method in ("prox-newton", "L2"):
        which, estimator = ours(cell, method)
        cell.evaluate(which)(quiet_fit(estimator, cell.X, cell.y))


def traced(cell, method, budget):
    which = "L2" if method == "L2" else "l1"
    trace = measure.FitTrace(cell.evaluate(which), cell.reached(which), budget=budget)
    quiet_fit(ours(cell, method, callbacks=trace)[1], cell.X, cell.y)
    for it, (seconds, J) in enumerate(trace.records, 1):
        if cell.reached(which)(J):
            cell.times[method].append(seconds)
            cell.iterations[method].append(it)
            return


def saga(cell, budget, k=None):
    """Time saga at ``max_iter=k`` (found by a search when None)."""
    C = matching_C(cell.alpha, cell.X.shape[0], cell.K)

    cache = cell.saga_fits

    def run(k):
        if k not in cache:
            estimator = LogisticRegression(
                C=C,
                l1_ratio=cell.l1_ratio,
                solver="saga",
                tol=0.0,
                max_iter=k,
                random_state=0,
            )
            start = time.perf_counter()
            quiet_fit(estimator, cell.X, cell.y)
            seconds = time.perf_counter() - start
            cache[k] = (seconds, *cell.evaluate("l1")(estimator))
        return cache[k]

    if k is None:
        k, lower = measure.smallest_max_iter(
            run, cell.reached("l1"), limit=budget / 2, max_k=2**12
        )
        if k is None:
            cell.bound = lower
            return None
    seconds, J = run(k)
    if cell.reached("l1")(J):
        cell.times["saga"].append(seconds)
        cell.iterations["saga"].append(k)
    return k


def median(cell, method):
    t = cell.times[method]
    return float(np.median(t)) if t else None


def fmt(seconds):
    return "-" if seconds is None else f"{seconds:.3g} s"


def report(cell):
    parts = []
    for method in (*OURS, "saga"):
        t = median(cell, method)
        it = cell.iterations[method]
        text = fmt(t) + (f" ({it[0]} it)" if it else "")
        if method == "saga" and t is None and cell.bound is not None:
            text = f"> {cell.bound:.3g} s"
        parts.append(f"{method} {text}")
    print(
        f"  {cell.name} alpha={cell.alpha:g} l1_ratio={cell.l1_ratio}: "
        + ", ".join(parts),
        flush=True,
    )


def ratio(a, b, bound=None):
    if a is None or b is None:
        return f"> {bound / b:.1f}" if bound is not None and b else "-"
    return f"{a / b:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--alphas", type=float, nargs="+", default=[1e-3, 1e-4])
    parser.add_argument("--l1-ratios", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--no-saga", action="store_true")
    args = parser.parse_args(argv)
    print_machine(args)
    cells = []
    with threadpool_limits(1):
        for name in args.rows.split(","):
            X, y = ROWS[name]()
            y = np.unique(y, return_inverse=True)[1]
            for alpha in args.alphas:
                for l1_ratio in args.l1_ratios:
                    cell = Cell(name, X, y, alpha, l1_ratio)
                    reference(cell)
                    k = None
                    for r in range(args.repeats):
                        for method in OURS:
                            traced(cell, method, args.budget)
                        if not args.no_saga and (r == 0 or k is not None):
                            k = saga(cell, args.budget, k)
                    report(cell)
                    cells.append(cell)
    print(
        "\n| data | alpha | l1_ratio | prox-newton / L2 | fista / L2 "
        "| saga / prox-newton | iterations (PN, FISTA, saga) |"
    )
    print("|---|---|---|---|---|---|---|")
    for c in cells:
        pn, fista, l2, sg = (median(c, m) for m in (*OURS, "saga"))
        its = ", ".join(
            str(c.iterations[m][0]) if c.iterations[m] else "-"
            for m in ("prox-newton", "fista", "saga")
        )
        print(
            f"| {c.name} | {c.alpha:g} | {c.l1_ratio} | {ratio(pn, l2)} "
            f"| {ratio(fista, l2)} | {ratio(sg, pn, c.bound)} | {its} |"
        )


if __name__ == "__main__":
    main()
