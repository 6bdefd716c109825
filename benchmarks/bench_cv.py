"""SoftmaxGDClassifierCV against LogisticRegressionCV and GridSearchCV over
SoftmaxGDClassifier: the same 5 folds and the same 10-value grid.

The grid is LogisticRegressionCV's ``Cs = np.logspace(-4, 4, 10)``, mapped
to alphas with the training size ``n`` (``alpha = 1 / (C n)``, ``2 / (C n)``
for two classes: README, "The model"). A fold trains on ``n_train ~ 0.8 n``
rows, so at the same alpha its fit is that of a ``C`` larger by ``n /
n_train`` than LogisticRegressionCV's fold at the grid's ``C``; the refit, on
all the rows, is the same. Grid steps are a factor 7.7 in ``C``, far more
than 1.25: "within one grid step" compares the indices of the chosen values
in the grid, ``|i_ours - i_LRCV| <= 1``.

Each problem is split 80/20 (``datasets.py``); the estimators are fitted on
the 80% (the cross-validation runs inside it) and the held-out log-loss is
measured on the 20%. LogisticRegressionCV uses lbfgs for the L2 rows and saga
for elastic-net (``l1_ratios=[0.5]``), GridSearchCV refits
``SoftmaxGDClassifier`` from scratch at every value and fold. One BLAS
thread. Times (wall clock, and the process's CPU time, less sensitive to
other jobs on a shared machine) are medians over ``--repeats`` interleaved
rounds;
LogisticRegressionCV with saga takes minutes and runs ``--slow-repeats``
times.

    python benchmarks/bench_cv.py                          # every problem
    python benchmarks/bench_cv.py --problems digits,digits-en --repeats 5
    python benchmarks/bench_cv.py --quick                  # small data: checks that it runs
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier, SoftmaxGDClassifierCV

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402

CS = np.logspace(-4, 4, 10)

#: name: (loader, l1_ratio); the sizes are those of the cross-validated
#: (training) part.
PROBLEMS = {
    "digits": (lambda quick: datasets.digits(), 0.0),
    "dense": (
        lambda quick: datasets.dense(
            n_samples=3125 if quick else 31250, n_features=100, n_classes=10
        ),
        0.0,
    ),
    "sparse": (
        lambda quick: datasets.sparse(
            n_samples=2500 if quick else 25000, n_features=5000, n_classes=20
        ),
        0.0,
    ),
    "digits-en": (lambda quick: datasets.digits(), 0.5),
}


def methods(n, n_classes, l1_ratio, folds):
    """The three estimators, as factories, on the same folds and grid."""
    alphas = (2.0 if n_classes == 2 else 1.0) / (CS * n)
    en = l1_ratio > 0
    return {
        "ours": lambda: SoftmaxGDClassifierCV(
            alphas=alphas, l1_ratios=[l1_ratio], cv=folds
        ),
        "LRCV": lambda: LogisticRegressionCV(
            Cs=CS,
            cv=folds,
            l1_ratios=(l1_ratio,),
            solver="saga" if en else "lbfgs",
            scoring="neg_log_loss",
            use_legacy_attributes=False,
        ),
        "GridSearchCV": lambda: GridSearchCV(
            SoftmaxGDClassifier(l1_ratio=l1_ratio),
            {"alpha": alphas},
            cv=folds,
            scoring="neg_log_loss",
        ),
    }, alphas


def grid_index(name, fitted, alphas):
    """The index in the grid (largest penalty first) of the chosen value."""
    if name == "LRCV":
        return int(np.argmin(np.abs(np.log(CS / fitted.C_))))
    alpha = fitted.alpha_ if name == "ours" else fitted.best_params_["alpha"]
    return int(np.argmin(np.abs(np.log(alphas / alpha))))


def run(problem, repeats, slow_repeats, quick):
    loader, l1_ratio = PROBLEMS[problem]
    X, X_test, y, y_test = loader(quick)
    folds = list(StratifiedKFold(5).split(X, y))
    factories, alphas = methods(X.shape[0], len(np.unique(y)), l1_ratio, folds)
    times = {name: [] for name in factories}
    cpu_times = {name: [] for name in factories}
    fitted = {}
    for round_ in range(repeats):
        for name, make in factories.items():
            if name == "LRCV" and l1_ratio > 0 and round_ >= slow_repeats:
                continue
            estimator = make()
            start, cpu = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(X, y)
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu)
            fitted[name] = estimator
    rows = {}
    for name, estimator in fitted.items():
        loss = log_loss(y_test, estimator.predict_proba(X_test), labels=np.unique(y))
        rows[name] = (
            float(np.median(times[name])),
            grid_index(name, estimator, alphas),
            loss,
            float(np.median(cpu_times[name])),
        )
    return X.shape, rows


def report(problem, shape, rows):
    ours, lrcv, grid = rows["ours"], rows["LRCV"], rows["GridSearchCV"]
    print(
        f"| {problem} ({shape[0]} x {shape[1]}) | {ours[0]:.3f} | {lrcv[0]:.3f} | "
        f"{grid[0]:.3f} | {ours[0] / lrcv[0]:.2f} | {ours[0] / grid[0]:.2f} | "
        f"{ours[1]} / {lrcv[1]} / {grid[1]} | "
        f"{ours[2]:.4f} / {lrcv[2]:.4f} / {grid[2]:.4f} | {ours[2] / lrcv[2]:.3f} | "
        f"{ours[3] / lrcv[3]:.2f} / {ours[3] / grid[3]:.2f} |",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slow-repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(
        "| problem | ours s | LRCV s | GridSearchCV s | ours / LRCV | "
        "ours / GridSearchCV | grid index (ours / LRCV / GS) | "
        "held-out log-loss (ours / LRCV / GS) | ours / LRCV loss | "
        "CPU time: ours / LRCV, ours / GS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(1):
        for problem in args.problems.split(","):
            shape, rows = run(problem, args.repeats, args.slow_repeats, args.quick)
            report(problem, shape, rows)


if __name__ == "__main__":
    main()
