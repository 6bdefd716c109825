"""Fit time and objective gap: SoftmaxGDClassifier vs LogisticRegression(lbfgs).

Usage::

    python benchmarks/bench_vs_logreg.py [--repeats 5] [--quick] [--threads N]

Both estimators minimise the same objective,
``J = mean cross-entropy + alpha / 2 * ||W||_F^2``, with ``alpha = 1e-4`` and
``LogisticRegression(C=1 / (alpha * n))`` (10 classes). ``J`` is computed here,
independently of either estimator, from the fitted ``coef_`` and ``intercept_``;
the relative gap is ``(J - J_best) / J_best`` with ``J_best`` the smallest ``J``
over every fit run on that dataset, tight reference fits (``tol=1e-12``) included.

Table 1 compares the estimators at their default ``tol`` (1e-4) and both at
``tol=1e-8``; ``max_iter`` is raised for both so that ``tol`` decides when
they stop. Times are medians over ``--repeats`` fits; the ratio is to
``LogisticRegression`` at the same ``tol``.

Table 2 times the internal solvers against each other at the same ``tol``
(same stopping rule: the max-norm of the gradient relative to its value at
zero): ``SoftmaxGDClassifier`` with its default solver (Newton-CG for an L2
penalty), and Newton-CG, L-BFGS and the accelerated gradient method (FISTA)
called directly on the objective built as ``SoftmaxGDClassifier._fit`` builds
it.
"""

import argparse
import contextlib
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils._array_api import get_namespace
from threadpoolctl import threadpool_info, threadpool_limits

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._objective import SoftmaxObjective
from sk_softmax._solvers import minimize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
import measure  # noqa: E402
from measure import softmax_parameters  # noqa: E402

ALPHA = 1e-4
MAX_ITER = 10_000
TIGHT_TOL = 1e-12


def objective(W, b, X, y_index, alpha=ALPHA):
    """``measure.objective`` at this script's ``alpha``."""
    return measure.objective(W, b, X, y_index, alpha)


# ------------------------------------------------------------------ datasets


def load_datasets(quick):
    """The data sets of ``datasets.py``, whole and standardized."""
    yield "digits", *datasets.digits(split=False)
    n_samples = 20_000 if quick else 200_000
    X, y = datasets.dense(n_samples, split=False)
    yield f"make_classification({n_samples // 1000}k x 200)", X, y


# -------------------------------------------------------------------- fitting


def convergence_note(message):
    """A short form of a ConvergenceWarning's message."""
    if message.startswith("Maximum number of iterations"):
        return "max_iter"
    if message.startswith("The objective cannot be decreased"):
        return "precision"
    if "failed to converge" in message:  # scipy's L-BFGS-B, via LogisticRegression
        lines = message.split("\n")
        return " ".join(lines[:2]).split("(", 1)[-1].strip()[:60]
    return message[:60]


def run_estimator(make_estimator, X, y, y_index):
    """Fit once; return (seconds, n_iter, J, warning or '')."""
    estimator = make_estimator()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
    notes = [
        convergence_note(str(w.message))
        for w in caught
        if issubclass(w.category, ConvergenceWarning)
    ]
    note = notes[-1] if notes else ""
    W, b = softmax_parameters(estimator)
    return seconds, int(np.max(estimator.n_iter_)), objective(W, b, X, y_index), note


def run_solver(name, X, y_index, tol):
    """Run the solver ``name`` (``_solvers.minimize``) on the objective
    ``SoftmaxGDClassifier`` builds."""
    start = time.perf_counter()
    xp, _ = get_namespace(X)
    problem = SoftmaxObjective.from_arrays(
        X, y_index, xp=xp, alpha=ALPHA, l1_ratio=0.0, fit_intercept=True
    )
    result = minimize(
        problem,
        problem.zeros(),
        method=name,
        max_iter=MAX_ITER,
        tol=tol,
        scale=None,
        report=lambda iteration, state: False,
    )
    seconds = time.perf_counter() - start
    W, b = problem.split(result.P)
    note = "" if result.status == "converged" else result.status
    return (
        seconds,
        result.n_iter,
        objective(np.asarray(W), np.asarray(b), X, y_index),
        note,
    )


def repeat(n, fit):
    """Median time of ``n`` calls of ``fit()``; the other outputs of the last call."""
    results = [fit() for _ in range(n)]
    return (float(np.median([r[0] for r in results])), *results[-1][1:])


# -------------------------------------------------------------------- tables


def print_table(title, columns, rows):
    """Print ``rows`` (dicts) under ``columns``, a list of (name, format spec)."""
    cells = [
        [
            "-"
            if isinstance(row[name], float) and np.isnan(row[name])
            else format(row[name], fmt)
            for name, fmt in columns
        ]
        for row in rows
    ]
    widths = [
        max(len(name), *(len(line[i]) for line in cells))
        for i, (name, _) in enumerate(columns)
    ]
    align = [">" if fmt else "<" for _, fmt in columns]  # numbers to the right

    def join(texts):
        return "  ".join(
            f"{text:{a}{w}}" for text, a, w in zip(texts, align, widths, strict=True)
        ).rstrip()

    print(title)
    print(join([name for name, _ in columns]))
    print(join(["-" * w for w in widths]))
    for line in cells:
        print(join(line))
    print()


def benchmark(dataset, X, y, repeats, tols):
    classes, y_index = np.unique(y, return_inverse=True)
    n_samples, n_classes = X.shape[0], classes.shape[0]
    C = (1.0 if n_classes > 2 else 2.0) / (ALPHA * n_samples)

    def ours(tol):
        return lambda: SoftmaxGDClassifier(alpha=ALPHA, tol=tol, max_iter=MAX_ITER)

    def lbfgs(tol):
        return lambda: LogisticRegression(
            C=C, solver="lbfgs", tol=tol, max_iter=MAX_ITER
        )

    estimator_rows, solver_rows = [], []
    for tol in tols:
        reference = None
        for model, make in [
            ("LogisticRegression(lbfgs)", lbfgs(tol)),
            ("SoftmaxGDClassifier", ours(tol)),
        ]:
            t, n_iter, J, note = repeat(
                repeats, lambda make=make: run_estimator(make, X, y, y_index)
            )
            reference = reference or t
            estimator_rows.append(
                dict(model=model, tol=tol, time=t, ratio=t / reference)
                | dict(n_iter=n_iter, J=J, note=note)
            )
        # Internal solvers, same tol: the estimator's own default path first.
        ours_time = estimator_rows[-1]["time"]
        solver_rows.append(
            dict(estimator_rows[-1], model="SoftmaxGDClassifier (default)", ratio=1.0)
        )
        for name in ["newton-cg", "lbfgs", "agd"]:
            t, n_iter, J, note = repeat(
                repeats, lambda name=name, tol=tol: run_solver(name, X, y_index, tol)
            )
            solver_rows.append(
                dict(model=f'minimize(method="{name}") direct', tol=tol, time=t)
                | dict(ratio=t / ours_time, n_iter=n_iter, J=J, note=note)
            )

    # Tight references, one fit each: they only serve to find J_best.
    for model, fit in [
        (
            "LogisticRegression(lbfgs) ref",
            lambda: run_estimator(lbfgs(TIGHT_TOL), X, y, y_index),
        ),
        (
            "SoftmaxGDClassifier ref",
            lambda: run_estimator(ours(TIGHT_TOL), X, y, y_index),
        ),
    ]:
        t, n_iter, J, note = fit()
        estimator_rows.append(
            dict(model=model, tol=TIGHT_TOL, time=t, ratio=float("nan"))
            | dict(n_iter=n_iter, J=J, note=note + " (1 fit)")
        )
    J_best = min(row["J"] for row in estimator_rows + solver_rows)
    for row in estimator_rows + solver_rows:
        row["gap"] = (row["J"] - J_best) / J_best
        row["dataset"] = dataset
    return estimator_rows, solver_rows


def load_average():
    """The 1, 5 and 15 minute load averages (other processes skew timings)."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def describe_threads():
    return "; ".join(
        f"{info['user_api']} ({info['internal_api']}): {info['num_threads']} threads"
        for info in threadpool_info()
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="fits per timing (default 5, 1 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="20k samples instead of 200k, tol=1e-4 only, 1 repeat (a smoke test)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="limit BLAS and OpenMP threads to N"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    tols = [1e-4] if args.quick else [1e-4, 1e-8]

    limits = (
        threadpool_limits(limits=args.threads)
        if args.threads
        else contextlib.nullcontext()
    )
    with limits:
        print(f"threads: {describe_threads()}")
        print(f"load average at start: {load_average()}")
        print(
            f"alpha={ALPHA:g}, C=1/(alpha*n), max_iter={MAX_ITER} for both; "
            f"time = median of {repeats} fits; gap = (J - J_best) / J_best"
        )
        print()
        estimator_rows, solver_rows = [], []
        for dataset, X, y in load_datasets(args.quick):
            print(f"fitting {dataset} ...", file=sys.stderr, flush=True)
            rows = benchmark(dataset, X, y, repeats, tols)
            estimator_rows += rows[0]
            solver_rows += rows[1]
            del X

    columns = [
        ("dataset", ""),
        ("model", ""),
        ("tol", ".0e"),
        ("time", ".3f"),
        ("ratio", ".2f"),
        ("n_iter", "d"),
        ("J", ".10f"),
        ("gap", ".2e"),
        ("note", ""),
    ]
    print_table(
        "Table 1: estimators (time in s; ratio = time / LogisticRegression(lbfgs) "
        "time at the same tol)",
        columns,
        estimator_rows,
    )
    print_table(
        "Table 2: internal solvers (time in s; ratio = time / "
        "SoftmaxGDClassifier (default) time at the same tol)",
        columns,
        solver_rows,
    )
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
