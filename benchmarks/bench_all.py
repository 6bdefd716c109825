"""Every method on every problem, in one table (issue 4's goals side by side).

Usage::

    python benchmarks/bench_all.py [--threads 1] [--repeats 3] [--budget 60]
                                   [--quick] [--skip-memory] [--only REGEX]
                                   [--plot DIR]

Problems (``datasets.py``; a stratified 80/20 split, the fits use the
training part): digits at ``alpha=1e-4``; the 200k x 200 dense problem at
``alpha=1e-4`` and ``alpha=1e-2``; the 100k x 50k text-like sparse problem at
``alpha=1e-4``. ``--quick`` shrinks the last three to 20k rows (sparse: 10k
features), to check that the script runs.

Every method that minimises the estimator's objective
``J = mean cross-entropy + alpha / 2 * ||W||_F^2`` is set up to minimise
exactly it: ``LogisticRegression(C=1 / (alpha n))`` and
``MLPClassifier(hidden_layer_sizes=(), alpha=alpha * batch_size)`` (MLP
divides its penalty by the batch size). ``SGDClassifier(loss="log_loss")`` is
one-vs-rest, another model: only its held-out log-loss is compared.

Columns:

- ``epoch``: seconds per pass over the data. ``SoftmaxGDClassifier()``: one
  evaluation of the objective and its gradient (``SoftmaxObjective`` as
  ``fit`` builds it), the unit its solvers are made of (an L-BFGS iteration
  costs about one, a Newton-CG iteration one plus one per conjugate-gradient
  step); ``LogisticRegression``: one iteration of its solver (lbfgs: about
  one loss-and-gradient evaluation; newton-cholesky: a Hessian and its
  factorisation; saga: an epoch); the mini-batch methods: one epoch.
  ``x read`` divides it by the time one streaming read of ``X_train`` takes at
  the bandwidth measured now (``roofline.read_bandwidth``);
- ``to gap``: seconds until ``(J - J*) / J* <= 1e-6``, ``J*`` the objective
  of a tight reference fit (``SoftmaxGDClassifier(tol=1e-7)``, or any lower
  ``J`` seen); ``it`` the iterations (epochs) it took;
- ``to 1%``: seconds until the held-out log-loss is within 1% of ``L*``, that
  of the reference fit;
- ``peak/X``: the memory a short fit adds at its peak (in a fresh subprocess,
  after the data are loaded; ``measure.print_peak_memory``: the larger of
  the traced allocations' peak and the peak RSS growth), over the bytes of
  ``X_train``.

How the times are measured. ``SoftmaxGDClassifier`` and
``LogisticRegression(lbfgs)`` support scikit-learn's callbacks: one fit runs,
and a callback evaluates ``J`` and the held-out log-loss after each iteration,
its own time excluded; the median over ``--repeats`` fits is reported. The
other methods have no callbacks: they are fitted from scratch with
``max_iter=k`` (``tol`` disabled), ``k`` doubled until the target is reached
and then bisected down to the smallest ``k`` that reaches it; that fit's time
is the median of ``--repeats`` runs. A search gives up ("-") when one fit takes
more than ``--budget`` seconds or ``k`` passes ``MAX_EPOCHS``. newton-cholesky
is not run on the sparse problem: its Hessian would have ``(K d)^2 = 10^12``
entries.

``--plot DIR`` also writes one PNG per problem into ``DIR`` (matplotlib,
imported only then): the relative gap ``(J - J*) / J*`` against fit time for
the methods that minimise ``J``, one line per traced method (its
median-time repeat), one point per fit a search ran.
"""

import argparse
import os
import platform
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
import measure  # noqa: E402
import roofline  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402
from sk_softmax._objective import SoftmaxObjective  # noqa: E402

GAP = 1e-6
LOGLOSS = 1.01
REFERENCE_TOL = 1e-7
MAX_EPOCHS = 32  # longest fit the searches and the mini-batch traces try
MLP_BATCH = 200  # MLPClassifier's default batch size, min(200, n)


def problems(quick):
    """name -> (loader, alpha)."""
    n_dense = 20_000 if quick else 200_000
    sparse_shape = (20_000, 10_000) if quick else (100_000, 50_000)
    return {
        "digits": (datasets.digits, 1e-4),
        "dense, alpha=1e-4": (lambda: datasets.dense(n_dense), 1e-4),
        "dense, alpha=1e-2": (lambda: datasets.dense(n_dense), 1e-2),
        "sparse, alpha=1e-4": (lambda: datasets.sparse(*sparse_shape), 1e-4),
    }


def evaluation_time(problem, repeats):
    """Median time of one value-and-gradient pass of the objective ``fit``
    builds (label indices, weights ``1 / n``), at a small random point."""
    X, y = problem.X, problem.y
    K = int(y.max()) + 1
    objective = SoftmaxObjective.from_arrays(
        X, y, alpha=problem.alpha, l1_ratio=0.0, fit_intercept=True
    )
    P = 0.01 * np.random.default_rng(0).standard_normal((K, X.shape[1] + 1))
    return roofline.median_time(
        lambda: objective.smooth_value_and_gradient(P), max(repeats, 5)
    )


# Each method: make(alpha, n_train, k) -> an estimator that runs at most k
# iterations (epochs); "traced": fitted once, observed through a callback;
# "objective": it minimises J (otherwise the gap column is left empty).
METHODS = {
    "SoftmaxGDClassifier()": dict(
        make=lambda a, n, k: SoftmaxGDClassifier(alpha=a, max_iter=k, tol=1e-10),
        traced=True,
        objective=True,
        epoch=evaluation_time,
    ),
    "SoftmaxGDClassifier(solver='lbfgs')": dict(
        make=lambda a, n, k: SoftmaxGDClassifier(
            alpha=a, solver="lbfgs", max_iter=k, tol=1e-10
        ),
        traced=True,
        objective=True,
        epoch=evaluation_time,
    ),
    "SoftmaxGDClassifier(batch_size=256)": dict(
        make=lambda a, n, k: SoftmaxGDClassifier(
            alpha=a, batch_size=256, max_iter=min(k, MAX_EPOCHS), random_state=0
        ),
        traced=True,
        objective=True,
    ),
    "LogisticRegression(lbfgs)": dict(
        make=lambda a, n, k: LogisticRegression(C=1 / (a * n), tol=1e-10, max_iter=k),
        traced=True,
        objective=True,
        raise_stop=True,  # it ignores the callback's return value
    ),
    "LogisticRegression(saga)": dict(
        make=lambda a, n, k: LogisticRegression(
            C=1 / (a * n), solver="saga", tol=0, max_iter=k, random_state=0
        ),
        traced=False,
        objective=True,
    ),
    "LogisticRegression(newton-cholesky)": dict(
        make=lambda a, n, k: LogisticRegression(
            C=1 / (a * n), solver="newton-cholesky", tol=0, max_iter=k
        ),
        traced=False,
        objective=True,
        dense_only=True,
    ),
    "SGDClassifier(log_loss)": dict(
        make=lambda a, n, k: SGDClassifier(
            loss="log_loss", alpha=a, max_iter=k, tol=None, random_state=0
        ),
        traced=False,
        objective=False,
    ),
    "MLPClassifier((), adam)": dict(
        make=lambda a, n, k: MLPClassifier(
            hidden_layer_sizes=(),
            alpha=a * MLP_BATCH,
            batch_size=MLP_BATCH,
            max_iter=k,
            tol=0,
            n_iter_no_change=10**9,
            random_state=0,
        ),
        traced=False,
        objective=False,
    ),
}
# MLP(adam) minimises J only in expectation over its batches: compare its
# held-out loss, as for SGD.


class Problem:
    """The data of one problem and the evaluation of a model on it."""

    def __init__(self, name, loader, alpha):
        self.name, self.alpha = name, alpha
        self.X, self.X_test, self.y, self.y_test = loader()
        self.n = self.X.shape[0]
        self.J_star, self.L_star, self.J_min = None, None, np.inf

    def evaluate(self, estimator):
        """(J, held-out log-loss) of a fitted estimator."""
        W, b = measure.softmax_parameters(estimator)
        J = measure.objective(W, b, self.X, self.y, self.alpha)
        self.J_min = min(self.J_min, J)
        return J, log_loss(self.y_test, estimator.predict_proba(self.X_test))

    def gap_reached(self, J):
        return J is not None and (J - self.J_star) / self.J_star <= GAP

    def loss_reached(self, loss):
        return loss <= LOGLOSS * self.L_star


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    return estimator


def timed_fit(estimator, problem):
    start = time.perf_counter()
    quiet_fit(estimator, problem.X, problem.y)
    return time.perf_counter() - start, estimator


def targets(problem, objective):
    """The two stopping tests on (J, held-out loss); no gap test if the method
    does not minimise J."""
    gap = (lambda J, L: problem.gap_reached(J)) if objective else None
    return gap, lambda J, L: problem.loss_reached(L)


def first(records, reached):
    """(time, iterations) of the first record meeting ``reached``."""
    for it, (seconds, J, loss) in enumerate(records, 1):
        if reached(J, loss):
            return seconds, it
    return None, None


def run_traced(problem, method, repeats):
    p = problem
    gap = method["objective"]

    def done(J, loss):  # both targets reached: the trace can stop the fit
        return (not gap or p.gap_reached(J)) and p.loss_reached(loss)

    runs = []
    for _ in range(repeats):
        trace = measure.FitTrace(
            p.evaluate, done, raise_stop=method.get("raise_stop", False)
        )
        quiet_fit(method["make"](p.alpha, p.n, 10_000).set_callbacks(trace), p.X, p.y)
        runs.append(trace.records)
    if "epoch" in method:
        epoch = method["epoch"](p, repeats)
    else:
        epoch = np.median(
            [np.median(np.diff([0.0] + [r[0] for r in rs])) for rs in runs]
        )
    results = []
    for reached in targets(p, method["objective"]):
        if reached is None:
            results.append((None, None))
            continue
        hits = [first(rs, reached) for rs in runs]
        if any(t is None for t, _ in hits):
            results.append((None, None))
        else:
            results.append((np.median([t for t, _ in hits]), hits[0][1]))
    # The curve to plot: the repeat whose fit took the median time.
    median_run = sorted(runs, key=lambda rs: rs[-1][0] if rs else 0.0)[len(runs) // 2]
    return epoch, results, [(t, J) for t, J, _ in median_run]


def run_searched(problem, method, repeats, budget):
    p, cache = problem, {}

    def run(k):
        if k not in cache:
            seconds, estimator = timed_fit(method["make"](p.alpha, p.n, k), p)
            J, loss = p.evaluate(estimator)
            cache[k] = (seconds, J if method["objective"] else None, loss)
        return cache[k]

    def smallest(reached):
        return measure.smallest_max_iter(run, reached, limit=budget, max_k=MAX_EPOCHS)[
            0
        ]

    results = []
    for reached in targets(p, method["objective"]):
        k = None if reached is None else smallest(reached)
        if k is None:
            results.append((None, None))
            continue
        more = [
            timed_fit(method["make"](p.alpha, p.n, k), p)[0] for _ in range(repeats - 1)
        ]
        results.append((float(np.median([cache[k][0], *more])), k))
    # Seconds per epoch: the least-squares slope of time against k over the
    # fits run (the fixed cost of a fit drops out), or time / k after one fit.
    ks = np.array(sorted(cache), dtype=float)
    seconds = np.array([cache[k][0] for k in sorted(cache)])
    if len(ks) >= 2 and np.ptp(ks) > 0:
        epoch = float(np.polyfit(ks, seconds, 1)[0])
    else:
        epoch = float(seconds[-1] / ks[-1])
    return epoch, results, [(cache[k][0], cache[k][1]) for k in sorted(cache)]


GAP_FLOOR = 1e-12  # gaps at or below it (J at or below J*) are drawn at it


def plot_file(problem_name):
    """The PNG's name for a problem: 'dense, alpha=1e-4' -> 'dense_alpha_1e-4.png'."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", problem_name).strip("_") + ".png"


def plot_problem(path, title, J_star, curves):
    """Write a PNG of ``(J - J*) / J*`` against fit time (both log scale).

    ``curves``: method name -> ``(traced, [(seconds, J), ...])``; a traced
    method's records are one fit, drawn as a line, a searched method's are
    separate fits (one per ``max_iter``), drawn as points. Methods whose ``J``
    is None (they do not minimise it) are left out; a ValueError if no method
    is left.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = {
        name: (traced, [(t, J) for t, J in points if J is not None])
        for name, (traced, points) in curves.items()
    }
    drawn = {name: curve for name, curve in drawn.items() if curve[1]}
    if not drawn:
        raise ValueError(f"{title}: no records of a method that minimises J")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (traced, points) in drawn.items():
        seconds, J = np.array(points, dtype=float).T
        gap = np.maximum((J - J_star) / J_star, GAP_FLOOR)
        if traced:
            ax.plot(seconds, gap, marker=".", markersize=3, label=name)
        else:
            ax.plot(seconds, gap, "o", markersize=4, label=f"{name}, one per fit")
    ax.axhline(GAP, color="k", linestyle=":", linewidth=1, label=f"target {GAP:g}")
    ax.set_xscale("log")  # the methods' times span two decades or more
    ax.set_yscale("log")
    ax.set_xlabel("fit time (s, log scale)")
    ax.set_ylabel("(J - J*) / J*")
    ax.set_title(title)
    measure.save_figure(fig, ax, path)
    return Path(path)


def probe_memory(problem_name, method_name, quick):
    """Child mode: fit a few iterations and print the peak memory it added."""
    loader, alpha = problems(quick)[problem_name]
    X, _, y, _ = loader()
    estimator = METHODS[method_name]["make"](alpha, X.shape[0], 3)
    measure.print_peak_memory(lambda: quiet_fit(estimator, X, y))


def selected(method, problem):
    return not (method.get("dense_only") and problem.startswith("sparse"))


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_machine(args):
    """Print the machine, the libraries and their threads; return the read
    bandwidth per dtype."""
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), platform.node())
    print(f"CPU: {platform.processor() or platform.machine()}, nproc={os.cpu_count()}")
    print(
        f"numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}; threads: "
        + ", ".join(
            f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info()
        )
    )
    print(f"load average at start: {' '.join(map(str, os.getloadavg()))}")
    bandwidth = {
        dt: roofline.read_bandwidth(dtype=dt) for dt in (np.float64, np.float32)
    }
    print(
        f"read bandwidth {bandwidth[np.float64] / 1e9:.1f} GB/s, GEMM "
        f"{roofline.gemm_rate() / 1e9:.0f} GFLOP/s (float64); "
        f"times: medians of {args.repeats}; one fit's budget {args.budget:.0f} s\n"
    )
    return bandwidth


def run_method(problem, m, args, read):
    """Run and print one method on one problem; return ``(traced, curve)``,
    the ``(seconds, J)`` records ``plot_problem`` draws."""
    method, name = METHODS[m], problem.name
    if method["traced"]:
        epoch, results, curve = run_traced(problem, method, args.repeats)
    else:
        epoch, results, curve = run_searched(problem, method, args.repeats, args.budget)
    peak = None
    if not args.skip_memory:
        argv = [__file__, "--probe-memory", name, m]
        argv += ["--threads", str(args.threads)]
        argv += ["--quick"] if args.quick else []
        peak = measure.peak_memory(argv) / measure.nbytes(problem.X)
    (gap_t, gap_it), (loss_t, loss_it) = results
    print(
        f"{name:<19} {m:<36} {epoch:>7.3f} {epoch / read:>7.1f} "
        f"{fmt(gap_t, '7.3f'):>7} {fmt(gap_it, 'd'):>4} "
        f"{fmt(loss_t, '7.3f'):>7} {fmt(loss_it, 'd'):>4} "
        f"{fmt(peak, '7.3f'):>7}",
        flush=True,
    )
    return method["traced"], curve


def run_problem(name, loader, alpha, chosen, args, bandwidth):
    """Fit the reference, then every chosen method; plot if ``--plot``."""
    problem = Problem(name, loader, alpha)
    reference = quiet_fit(
        SoftmaxGDClassifier(alpha=alpha, tol=REFERENCE_TOL, max_iter=10_000),
        problem.X,
        problem.y,
    )
    problem.J_star, problem.L_star = problem.evaluate(reference)
    read = roofline.time_to_read(
        measure.nbytes(problem.X), bandwidth[problem.X.dtype.type]
    )
    curves = {m: run_method(problem, m, args, read) for m in chosen}
    if problem.J_min < problem.J_star * (1 - GAP / 10):
        print(
            f"  note: a fit reached J below the reference's by "
            f"{(problem.J_star - problem.J_min) / problem.J_star:.1e} (relative)"
        )
    objective_curves = {m: c for m, c in curves.items() if METHODS[m]["objective"]}
    if args.plot and objective_curves:
        path = Path(args.plot) / plot_file(name)
        plot_problem(path, name, problem.J_star, objective_curves)
        print(f"  plot: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only", default="", help="regex on 'problem | method'")
    parser.add_argument("--plot", metavar="DIR", help="write one PNG per problem")
    parser.add_argument("--probe-memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_memory:
        with threadpool_limits(args.threads):
            probe_memory(*args.probe_memory, args.quick)
        return

    with threadpool_limits(args.threads):
        bandwidth = print_machine(args)
        header = (
            f"{'problem':<19} {'method':<36} {'epoch':>7} {'x read':>7} "
            f"{'to gap':>7} {'it':>4} {'to 1%':>7} {'it':>4} {'peak/X':>7}"
        )
        print(header)
        print("-" * len(header))
        for name, (loader, alpha) in problems(args.quick).items():
            chosen = [
                m
                for m in METHODS
                if selected(METHODS[m], name) and re.search(args.only, f"{name} | {m}")
            ]
            if chosen:
                run_problem(name, loader, alpha, chosen, args, bandwidth)
        print(f"\nload average at end: {' '.join(map(str, os.getloadavg()))}")


if __name__ == "__main__":
    main()
