"""Defaults against defaults (issue 27): the default
``SoftmaxGDClassifier(alpha=alpha)`` against the default
``LogisticRegression(C=matching_C(alpha, n, K))`` (lbfgs, ``tol=1e-4``,
``max_iter=100``), fit time and objective gap, where users start.

Usage::

    python benchmarks/bench_defaults.py [--problems iris,wine,...]
                                        [--alpha 1e-3 1e-4] [--repeats 9]
                                        [--threads 1]

Problems, each the whole data set, standardized: ``iris`` (150 x 4, 3
classes), ``wine`` (178 x 13, 3), ``breast_cancer`` (569 x 30, 2),
``digits`` (1797 x 64, 10) and ``dense-25k`` (``bench_grid.py``'s
generator: ``datasets.dense``, 25k x 200, 10 classes).

Only ``alpha`` is set on ours and only ``C`` on LogisticRegression (the
same objective ``J``, ``measure.objective``). The gap is ``(J - J*) / J*``,
``J*`` the smaller ``J`` of two tight fits (ours at ``tol=1e-12`` and
LogisticRegression's lbfgs at ``tol=1e-12``). Times are medians of
``--repeats`` fits, interleaved (each round fits both, in alternating
order), with ``--threads`` BLAS/OpenMP threads (threadpoolctl), in wall
time and in the process's CPU time: with one thread they agree on an idle
machine, while on a loaded one the wall time of a few-millisecond fit
mostly measures the scheduler. A row passes (``ok``) when our CPU time is
at most LogisticRegression's and our gap at most its gap. The last column is
the CPU time our fit needs to reach LogisticRegression's gap (``tol``
lowered, its iterations traced), over LogisticRegression's: the solvers at
equal accuracy. Printed: one line per problem, then a markdown table.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
import measure  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402
from sk_softmax.__main__ import matching_C  # noqa: E402

TIGHT_TOL = 1e-12


def _standardized(load):
    def loader():
        X, y = load(return_X_y=True)
        return StandardScaler().fit_transform(X), y

    return loader


PROBLEMS = {
    "iris": _standardized(load_iris),
    "wine": _standardized(load_wine),
    "breast_cancer": lambda: datasets.breast_cancer(split=False),
    "digits": lambda: datasets.digits(split=False),
    "dense-25k": lambda: datasets.dense(25_000, split=False),
}


def _fit(estimator, X, y):
    """``((wall, cpu) seconds, estimator)`` of one fit, its
    ConvergenceWarning hidden."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start, cpu = time.perf_counter(), time.process_time()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start, time.process_time() - cpu
        return seconds, estimator


def _n_iter(estimator):
    return int(np.max(estimator.n_iter_))


def compare(X, y, alpha, repeats):
    """Ours and LogisticRegression at their defaults on ``(X, y)``: a dict
    of the median times (s), the iterations, the gaps and ``J*``."""
    classes, y_index = np.unique(y, return_inverse=True)
    J = measure.Objective(X, y_index, alpha)

    def value(estimator):
        return J(*measure.softmax_parameters(estimator))

    C = matching_C(alpha, X.shape[0], classes.shape[0])
    tight = [
        SoftmaxGDClassifier(alpha=alpha, tol=TIGHT_TOL, max_iter=10_000),
        LogisticRegression(C=C, tol=TIGHT_TOL, max_iter=10_000),
    ]
    J_star = min(value(_fit(estimator, X, y)[1]) for estimator in tight)
    makers = {
        "ours": lambda: SoftmaxGDClassifier(alpha=alpha),
        "LR": lambda: LogisticRegression(C=C),
    }
    times = {name: [] for name in makers}
    fitted = {}
    for round_ in range(repeats):
        order = list(makers) if round_ % 2 == 0 else list(makers)[::-1]
        for name in order:
            seconds, fitted[name] = _fit(makers[name](), X, y)
            times[name].append(seconds)
    row = {"J*": J_star}
    for name, estimator in fitted.items():
        wall, cpu = np.median(times[name], axis=0)
        row[name], row[name + " cpu"] = float(wall), float(cpu)
        row[name + " it"] = _n_iter(estimator)
        row[name + " gap"] = (value(estimator) - J_star) / J_star
    row["ratio"] = row["ours"] / row["LR"]
    row["cpu ratio"] = row["ours cpu"] / row["LR cpu"]
    to_gap = _to_gap(X, y, alpha, value, J_star, row["LR gap"], repeats)
    row["to gap"] = to_gap / row["LR cpu"]
    row["ok"] = row["cpu ratio"] <= 1.0 and row["ours gap"] <= row["LR gap"]
    return row


def _to_gap(X, y, alpha, value, J_star, gap, repeats):
    """The median CPU time of our fit to ``gap`` (its iterations traced,
    ``measure.FitTrace``, evaluations excluded, ``tol`` lowered so that the
    stopping test does not end it first): what our solver needs for
    LogisticRegression's accuracy."""
    times = []
    for _ in range(repeats):
        trace = measure.FitTrace(
            lambda e: (value(e),),
            lambda J: (J - J_star) / J_star <= gap,
            cpu=True,
        )
        estimator = SoftmaxGDClassifier(alpha=alpha, tol=1e-10, max_iter=10_000)
        _fit(estimator.set_callbacks(trace), X, y)
        reached = [s for s, J in trace.records if (J - J_star) / J_star <= gap]
        times.append(reached[0] if reached else np.nan)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--alpha", type=float, nargs="+", default=[1e-3, 1e-4])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), f"threads={args.threads}")
    print(f"load average at start: {' '.join(map(str, os.getloadavg()))}")
    rows = []
    with threadpool_limits(args.threads):
        for name in args.problems.split(","):
            X, y = PROBLEMS[name]()
            for alpha in args.alpha:
                row = compare(X, y, alpha, args.repeats)
                rows.append((name, X.shape, alpha, row))
                print(
                    f"{name} alpha={alpha:g}: ours {row['ours'] * 1e3:.3g} ms "
                    f"({row['ours it']} it), LR {row['LR'] * 1e3:.3g} ms "
                    f"({row['LR it']} it), ratio {row['ratio']:.2f} (CPU "
                    f"{row['cpu ratio']:.2f}); gap {row['ours gap']:.1e} / "
                    f"{row['LR gap']:.1e}",
                    flush=True,
                )
    print(f"load average at end: {' '.join(map(str, os.getloadavg()))}\n")
    print(
        "| data | alpha | ours ms (it) | LR ms (it) | time, ours / LR: wall "
        "| CPU | gap, ours / LR | ok | CPU to LR's gap / LR |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, shape, alpha, row in rows:
        print(
            f"| {name} ({shape[0]} x {shape[1]}) | {alpha:g} "
            f"| {row['ours'] * 1e3:.3g} ({row['ours it']}) "
            f"| {row['LR'] * 1e3:.3g} ({row['LR it']}) | {row['ratio']:.2f} "
            f"| {row['cpu ratio']:.2f} "
            f"| {row['ours gap']:.1e} / {row['LR gap']:.1e} "
            f"| {'yes' if row['ok'] else 'no'} | {row['to gap']:.2f} |"
        )


if __name__ == "__main__":
    main()
