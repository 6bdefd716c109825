"""The grid of issue 16: the default ``SoftmaxGDClassifier()`` against the
fastest ``LogisticRegression`` solver, time to a 1e-6 objective gap, over
problem sizes and shapes.

Usage::

    python benchmarks/bench_grid.py [--rows dense,binary,classes,sparse | NAME,...]
                                    [--quick] [--repeats 3] [--threads 1 2]
                                    [--budget 60] [--alpha 1e-4] [--plot FILE]

Rows (``--rows`` takes family names and row names, comma-separated, run in
that order; sizes
with ``--quick`` in brackets), each the whole generated data set (no
held-out part), ``alpha=1e-4`` for all:

- ``dense``: ``dense-25k``, ``dense-100k``, ``dense-400k``, ``dense-1.6M``:
  ``datasets.dense(n)``, n x 200, 10 classes (n / 10);
- ``binary``: ``breast_cancer`` (569 x 30, standardized; the same) and
  ``binary-50k``: ``datasets.dense`` with 50k x 100, 2 classes (5k);
- ``classes``: ``classes-10``, ``classes-100``, ``classes-300``,
  ``classes-1000``: ``datasets.dense`` with 50k x 100 and K classes (5k rows);
- ``sparse``: ``sparse-10k``, ``sparse-100k``, ``sparse-1M``:
  ``datasets.sparse``, 100k rows with 50 nonzeros each, 20 classes, d
  features (10k rows, d / 10).

A cell is ``ours / fastest LR``: the median time of our fit to ``(J - J*) /
J* <= 1e-6`` over the smallest median time of a ``LogisticRegression``
solver to the same gap. ``J`` is the package's objective (``measure``),
``J*`` that of a tight reference fit (``SoftmaxGDClassifier(tol=1e-7)``,
stopped at 5 budgets, which the output would say);
``LogisticRegression`` minimises the same ``J`` at ``C = matching_C(alpha,
n, K)`` (``1 / (alpha n)``, two classes ``2 / (alpha n)``).

- Ours: ``SoftmaxGDClassifier(alpha=alpha, tol=1e-10, max_iter=10_000)``,
  the default solver (``tol`` only lowered so that the fit runs on to the
  gap: it does not change the iterates), its default ``random_state``.
  Timed by a callback (``measure.FitTrace``), evaluations excluded, which
  stops the fit at the gap.
- ``LogisticRegression``: ``lbfgs`` the same way (its callback raises
  ``StopIteration`` to stop it); ``newton-cg``, ``newton-cholesky``, ``sag``
  and ``saga``, which have no callbacks, at the smallest ``max_iter`` that
  reaches the gap (``measure.smallest_max_iter``, ``tol=0``,
  ``random_state=0``), timed from scratch. ``liblinear`` is left out: it
  penalises the intercept and is one-vs-rest, another objective.
  ``newton-cholesky`` is skipped where its Hessian, ``(K' (d + 1))^2``
  numbers (``K' = 1`` for two classes, else ``K``), would pass 1 GB (K >=
  300, every sparse row), and not run where one iteration (about ``n (K' (d
  + 1))^2 / 1e10`` seconds, measured on this machine) would take longer than
  a search allows (below).

The repeats are interleaved: each round runs every method once at every
thread count (``--threads``, BLAS and OpenMP through threadpoolctl). Round 1
at the first thread count also finds each searched solver's ``max_iter`` (the
search's last fit at it counts as that round's time). After it, a solver that
did not reach the gap, or took more than twice the fastest solver's time, is
not run again: it cannot be the fastest (its one time is still shown, with
its fit count). Problems whose fits take under 0.1 s get 5x the rounds.

Every fit has a time budget (``--budget``; 10 s with ``--quick``): a traced
fit stops there, a search gives up once a fit short of the gap took half the
budget (the next doubles it), or 1.5x the fastest solver's time so far.
Such a time is a lower bound, printed ``>``; a ratio with one is a bound.

Printed: per problem, each method's median time and iterations per thread
count; at the end, the table of ratios (markdown). ``--plot FILE`` writes a
PNG of the ratio against the work of one pass, ``n d K`` (dense) or ``nnz K``
(sparse), both log scale, one colour per family, filled markers for the first
thread count and open ones for the second, triangles for bounds.
"""

import argparse
import gc
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
import measure  # noqa: E402
from bench_all import GAP, REFERENCE_TOL, print_machine, quiet_fit  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402
from sk_softmax.__main__ import matching_C  # noqa: E402

MAX_ITER = 2**14  # the searches' largest max_iter
REFERENCE_BUDGET = 5  # the reference fit's budget, in fit budgets
PRUNE = 1.5  # a search gives up past this times the fastest solver's time
KEEP = 2.0  # after round 1, solvers past this times the fastest are dropped
FAST = 0.1  # problems whose fits take less (s) get FAST_ROUNDS x the rounds
FAST_ROUNDS = 5
HESSIAN_BYTES = 2**30  # newton-cholesky's largest Hessian
HESSIAN_RATE = 1e10  # n (K' (d + 1))^2 per second, newton-cholesky, 1 thread


@dataclass
class Row:
    name: str
    family: str
    load: object  # quick -> (X, y)


def _n(n, quick):
    return n // 10 if quick else n


def _dense(n, d=200, K=10):
    return lambda quick: datasets.dense(
        _n(n, quick), split=False, n_features=d, n_classes=K
    )


def _sparse(d):
    return lambda quick: datasets.sparse(
        _n(100_000, quick), _n(d, quick), 50, 20, split=False
    )


ROWS = [
    Row("dense-25k", "dense", _dense(25_000)),
    Row("dense-100k", "dense", _dense(100_000)),
    Row("dense-400k", "dense", _dense(400_000)),
    Row("dense-1.6M", "dense", _dense(1_600_000)),
    Row("breast_cancer", "binary", lambda quick: datasets.breast_cancer(split=False)),
    Row("binary-50k", "binary", _dense(50_000, 100, 2)),
    *(
        Row(f"classes-{K}", "classes", _dense(50_000, 100, K))
        for K in (10, 100, 300, 1000)
    ),
    *(
        Row(f"sparse-{s}", "sparse", _sparse(d))
        for s, d in (("10k", 10_000), ("100k", 100_000), ("1M", 1_000_000))
    ),
]
FAMILIES = {"dense": "C0", "binary": "C2", "classes": "C1", "sparse": "C3"}
LR_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga")


class Problem:
    """One row's data, its reference optimum and the evaluation of ``J``."""

    def __init__(self, row, quick, alpha):
        self.name, self.family, self.alpha = row.name, row.family, alpha
        X, y = row.load(quick)
        self.classes, y = np.unique(y, return_inverse=True)
        self.X, self.y = X, y
        self.n, self.d = X.shape
        self.K = len(self.classes)
        self.C = matching_C(alpha, self.n, self.K)
        self.J = measure.Objective(X, y, alpha)
        self.J_star, self.J_min = None, np.inf

    @property
    def size(self):
        """The work of one pass: nnz K (sparse) or n d K (dense)."""
        return (self.X.nnz if sp.issparse(self.X) else self.n * self.d) * self.K

    def describe(self):
        shape = f"{self.n:,} x {self.d:,}, K={self.K}"
        if sp.issparse(self.X):
            return f"{shape}, nnz={self.X.nnz:,}, nnz K={self.size:.2e}"
        return f"{shape}, n d K={self.size:.2e}"

    def evaluate(self, estimator):
        J = self.J(*measure.softmax_parameters(estimator))
        self.J_min = min(self.J_min, J)
        return (J,)

    def reached(self, J):
        return (J - self.J_star) / self.J_star <= GAP


# ------------------------------------------------------------------ methods


@dataclass
class Method:
    name: str
    make: object  # (problem, max_iter) -> estimator
    traced: bool
    raise_stop: bool = False
    k: int = None  # searched: the max_iter that reaches the gap
    skip: str = None  # why it is not run
    times: dict = field(default_factory=dict)  # threads -> [seconds]
    iterations: dict = field(default_factory=dict)  # threads -> [iterations]
    bound: dict = field(default_factory=dict)  # threads -> lower bound (s)
    note: dict = field(default_factory=dict)  # threads -> what happened
    first_fit: object = None  # problem -> predicted seconds of max_iter=1


def ours():
    return Method(
        "ours",
        lambda p, k: SoftmaxGDClassifier(alpha=p.alpha, tol=1e-10, max_iter=k),
        traced=True,
    )


def logistic(solver):
    def make(p, k):
        return LogisticRegression(
            C=p.C,
            solver=solver,
            tol=1e-10 if solver == "lbfgs" else 0.0,
            max_iter=k,
            random_state=0,
        )

    method = Method(f"LR {solver}", make, traced=solver == "lbfgs", raise_stop=True)
    if solver == "newton-cholesky":
        method.first_fit = lambda p: p.n * hessian_size(p) ** 2 / HESSIAN_RATE
    return method


def hessian_size(p):
    """newton-cholesky's Hessian is ``m x m``: ``m = K' (d + 1)``."""
    return (1 if p.K == 2 else p.K) * (p.d + 1)


def newton_cholesky_skip(p):
    """Why newton-cholesky is not run on ``p`` (None: it is)."""
    if sp.issparse(p.X):
        return "sparse: dense Hessian"
    m = hessian_size(p)
    if 8 * m**2 > HESSIAN_BYTES:
        return f"Hessian {8 * m**2 / 1e9:.1f} GB"
    return None


def traced_fit(p, method, budget):
    """``(seconds, iterations, None, None)`` to the gap, or ``(None, None,
    lower bound, why)``."""
    trace = measure.FitTrace(
        p.evaluate, p.reached, budget=budget, raise_stop=method.raise_stop
    )
    quiet_fit(method.make(p, 10_000).set_callbacks(trace), p.X, p.y)
    for it, (seconds, J) in enumerate(trace.records, 1):
        if p.reached(J):
            return seconds, it, None, None
    last = trace.records[-1] if trace.records else (0.0, np.nan)
    if last[0] > budget:
        return None, None, last[0], "over the budget"
    gap = (last[1] - p.J_star) / p.J_star
    return None, None, last[0], f"stopped at gap {gap:.1e}"


def timed_fit(p, method, k):
    start = time.perf_counter()
    estimator = quiet_fit(method.make(p, k), p.X, p.y)
    return time.perf_counter() - start, p.evaluate(estimator)[0]


def search(p, method, budget, best, threads):
    """Find ``method.k``; return ``(seconds of the fit at it, None)``, or
    ``(None, a lower bound)``."""
    limit = min(budget / 2, PRUNE * best)
    if method.first_fit and method.first_fit(p) > limit:
        method.note[threads] = f"not run: ~{method.first_fit(p):.3g} s an iteration"
        return None, None
    cache = {}

    def run(k):
        if k not in cache:
            cache[k] = timed_fit(p, method, k)
        return cache[k]

    k, lower = measure.smallest_max_iter(run, p.reached, limit=limit, max_k=MAX_ITER)
    fits = len(cache)
    if k is None:
        method.note[threads] = f"search gave up after {fits} fits"
        return None, lower
    method.k, method.note[threads] = k, f"search: {fits} fits"
    return cache[k][0], None


def run_once(p, method, threads, budget, best, first):
    """One timed fit of ``method`` at ``threads``; record it."""
    if method.traced:
        seconds, it, lower, why = traced_fit(p, method, budget)
        if why:
            method.note[threads] = why
    elif first:
        seconds, lower = search(p, method, budget, best, threads)
        it = method.k
    else:
        seconds, J = timed_fit(p, method, method.k)
        it, lower = method.k, None
        if not p.reached(J):
            method.note[threads] = f"max_iter={method.k} missed the gap"
    if seconds is None:
        if lower is not None:
            method.bound[threads] = max(method.bound.get(threads, 0.0), lower)
        return None
    method.times.setdefault(threads, []).append(seconds)
    method.iterations.setdefault(threads, []).append(it)
    return seconds


def median(method, threads):
    t = method.times.get(threads)
    return float(np.median(t)) if t else None


def run_problem(p, args):
    """Reference, then the interleaved rounds; returns the methods."""
    budget = REFERENCE_BUDGET * args.budget
    trace = measure.FitTrace(lambda e: (), lambda: False, budget=budget)
    reference = SoftmaxGDClassifier(
        alpha=p.alpha, tol=REFERENCE_TOL, max_iter=10_000
    ).set_callbacks(trace)
    with threadpool_limits(min(args.threads)):
        start = time.perf_counter()
        quiet_fit(reference, p.X, p.y)
        elapsed = time.perf_counter() - start
    cut = bool(trace.records) and trace.records[-1][0] > budget
    (p.J_star,) = p.evaluate(reference)
    W, b = measure.softmax_parameters(reference)
    plain = measure.objective(W, b, p.X, p.y, p.alpha)
    assert abs(plain - p.J_star) <= 1e-12 * abs(plain), (plain, p.J_star)
    print(
        f"\n{p.name}: {p.describe()}; J* = {p.J_star:.10g} (reference: "
        f"{reference.n_iter_} iterations, {elapsed:.1f} s"
        f"{'; STOPPED AT ITS BUDGET: J* approximate' if cut else ''})",
        flush=True,
    )
    methods = [ours(), *(logistic(s) for s in LR_SOLVERS)]
    for m in methods:
        if m.name == "LR newton-cholesky":
            m.skip = newton_cholesky_skip(p)
    active = [m for m in methods if not m.skip]
    rounds, r = args.repeats, 0
    while r < rounds:
        for threads in args.threads:
            first = r == 0 and threads == args.threads[0]
            with threadpool_limits(threads):
                for m in active:
                    lr = [median(o, threads) for o in active if o.name != "ours"]
                    best = min([t for t in lr if t is not None], default=np.inf)
                    run_once(p, m, threads, args.budget, best, first)
            if first:  # drop the solvers that cannot be the fastest
                lr = [m for m in active if m.name != "ours"]
                best = min(
                    [median(m, threads) for m in lr if median(m, threads)],
                    default=np.inf,
                )
                active = [  # ours too, if it missed the gap
                    m
                    for m in active
                    if median(m, threads) is not None
                    and (m.name == "ours" or median(m, threads) <= KEEP * best)
                ]
                slowest = max(median(m, threads) or args.budget for m in active)
                if slowest < FAST:
                    rounds = args.repeats * FAST_ROUNDS
        r += 1
    if p.J_min < p.J_star * (1 - GAP / 10):
        print(
            f"  note: a fit reached J below J* by "
            f"{(p.J_star - p.J_min) / p.J_star:.1e} (relative)"
        )
    for threads in args.threads:
        for m in methods:
            print("  " + method_line(m, threads), flush=True)
    return methods


def method_line(m, threads):
    head = f"{threads} thr  {m.name:<19}"
    if m.skip:
        return f"{head} skipped: {m.skip}"
    t = median(m, threads)
    if t is None:
        bound, note = m.bound.get(threads), m.note.get(threads, "not run")
        if bound is None:
            return f"{head} {note}"
        return f"{head} > {bound:.3f} s  ({note})"
    its = sorted(set(m.iterations[threads]))
    it = str(its[0]) if len(its) == 1 else f"{its[0]}-{its[-1]}"
    fits = len(m.times[threads])
    note = f", {m.note[threads]}" if m.note.get(threads) else ""
    return f"{head} {t:8.3f} s  it {it:>5}  ({fits} fits{note})"


# ------------------------------------------------------------------ results


@dataclass
class Cell:
    ours: float  # seconds, or its lower bound
    ours_bound: bool
    ours_it: str
    lr: float  # seconds of the fastest, or the least lower bound
    lr_bound: bool
    lr_name: str
    lr_it: str

    @property
    def ratio(self):
        return self.ours / self.lr

    @property
    def kind(self):
        """'=' a ratio, '>' or '<' a bound, '?' neither."""
        if self.ours_bound and self.lr_bound:
            return "?"
        return ">" if self.ours_bound else "<" if self.lr_bound else "="


def iterations(m, threads):
    its = m.iterations.get(threads)
    return str(int(np.median(its))) if its else "-"


def cell(methods, threads, budget):
    o = methods[0]
    t = median(o, threads)
    ours_bound = t is None
    t = o.bound.get(threads, budget) if t is None else t
    timed = [(median(m, threads), m) for m in methods[1:] if median(m, threads)]
    if timed:
        lr, m = min(timed, key=lambda x: x[0])
        return Cell(
            t,
            ours_bound,
            iterations(o, threads),
            lr,
            False,
            m.name[3:],
            iterations(m, threads),
        )
    bounds = [m.bound[threads] for m in methods[1:] if threads in m.bound]
    return Cell(
        t,
        ours_bound,
        iterations(o, threads),
        min(bounds, default=budget),
        True,
        "none",
        "-",
    )


def fmt_time(t, bound):
    return f"> {t:.3g}" if bound else f"{t:.3g}"


def print_table(results, threads_list):
    print(
        "\n| problem | size | threads | ours s (it) | fastest LR (it) | LR s | ours / LR |"
    )
    print("|---|---|---|---|---|---|---|")
    for p_name, size, cells in results:
        for threads in threads_list:
            c = cells[threads]
            ratio = {"=": "", ">": "> ", "<": "< ", "?": "? "}[c.kind]
            ratio += f"{c.ratio:.2f}"
            print(
                f"| {p_name} | {size:.1e} | {threads} | "
                f"{fmt_time(c.ours, c.ours_bound)} ({c.ours_it}) | "
                f"{c.lr_name} ({c.lr_it}) | {fmt_time(c.lr, c.lr_bound)} | {ratio} |"
            )
    if len(threads_list) > 1:
        a, b = threads_list[0], threads_list[1]
        print(f"\nSpeed-up from {a} to {b} threads (time at {a} / time at {b}):\n")
        print("| problem | ours | fastest LR |")
        print("|---|---|---|")
        for p_name, _, cells in results:
            ca, cb = cells[a], cells[b]
            ours = ca.ours / cb.ours if not (ca.ours_bound or cb.ours_bound) else None
            same = ca.lr_name == cb.lr_name and not (ca.lr_bound or cb.lr_bound)
            lr = ca.lr / cb.lr if same else None
            print(
                f"| {p_name} | {'-' if ours is None else f'{ours:.2f}'} | "
                f"{'-' if lr is None else f'{lr:.2f} ({ca.lr_name})'} |"
            )


def plot(path, families, results, threads_list):
    """Write the PNG of ours / fastest LR against the work of one pass."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (p_name, size, cells), family in zip(results, families, strict=True):
        for i, threads in enumerate(threads_list):
            c = cells[threads]
            if c.kind == "?":
                continue
            marker = {"=": "o", ">": "^", "<": "v"}[c.kind]
            colour = FAMILIES[family]
            ax.plot(
                size,
                c.ratio,
                marker,
                color=colour,
                markerfacecolor=colour if i == 0 else "none",
                markersize=7,
            )
            if i == 0:
                ax.annotate(
                    p_name,
                    (size, c.ratio),
                    fontsize=6,
                    xytext=(4, 3),
                    textcoords="offset points",
                )
    for family, colour in FAMILIES.items():
        if family in families:
            ax.plot([], [], "o", color=colour, label=family)
    for i, threads in enumerate(threads_list[:2]):
        ax.plot(
            [],
            [],
            "o",
            color="grey",
            markerfacecolor="grey" if i == 0 else "none",
            label=f"{threads} BLAS thread{'s' if threads > 1 else ''}",
        )
    ax.plot([], [], "^", color="grey", label="a bound (> or <)")
    ax.axhline(1.0, color="k", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_xlabel("work of one pass: n d K (dense), nnz K (sparse)")
    ax.set_ylabel("time to 1e-6 gap: ours / fastest LR")
    ax.set_title(
        "SoftmaxGDClassifier() against LogisticRegression (below 1: ours faster)"
    )
    ax.title.set_fontsize(9)
    measure.save_figure(fig, ax, path)


def select_rows(spec):
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    known = {r.name for r in ROWS} | {r.family for r in ROWS}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {sorted(known)}")
    chosen = {r.name: r for w in wanted for r in ROWS if w in (r.name, r.family)}
    return list(chosen.values())  # in the order asked, once each


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="dense,binary,classes,sparse")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--budget", type=float, default=None)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--plot", metavar="FILE", help="write the ratio plot (PNG)")
    args = parser.parse_args()
    if args.budget is None:
        args.budget = 10.0 if args.quick else 60.0
    rows = select_rows(args.rows)
    with threadpool_limits(args.threads[0]):
        print_machine(args)
    print(
        f"rows: {', '.join(r.name for r in rows)}{' (--quick)' if args.quick else ''}; "
        f"alpha={args.alpha:g}; threads {args.threads}; gap {GAP:g}"
    )
    start = time.perf_counter()
    results, families = [], []
    for row in rows:
        try:  # one failing row (memory, a solver's error) does not end the run
            p = Problem(row, args.quick, args.alpha)
            methods = run_problem(p, args)
            cells = {t: cell(methods, t, args.budget) for t in args.threads}
            results.append((row.name, p.size, cells))
            families.append(row.family)
        except Exception:
            print(f"\n{row.name}: FAILED")
            traceback.print_exc(file=sys.stdout)
        finally:
            p = methods = None  # one problem in memory at a time
            gc.collect()
        if args.plot and results:  # after every row: a cut run keeps its plot
            plot(args.plot, families, results, args.threads)
    print_table(results, args.threads)
    print(
        f"\nwhole run: {(time.perf_counter() - start) / 60:.1f} min; load average "
        f"at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.plot:
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
