"""``python -m sk_softmax``: SoftmaxGDClassifier against LogisticRegression.

On scikit-learn's digits data (standardized), at the same objective
(``alpha`` matched to LogisticRegression's ``C``), it prints two tables:

1. each estimator at its defaults, with the relative gap of the training
   objective ``J`` to the optimum ``J*`` at which it stops, and its fit time;
2. the time each takes to reach the same gap, ``1e-6``: ``tol`` is tightened
   tenfold from the default until the fit's gap is at most ``1e-6``
   (``max_iter`` raised so that ``tol`` decides), and that fit is timed.

``J*`` is the lower of the two estimators' ``J`` at ``tol=1e-10``; ``J`` is
evaluated the same way for both fitted models. Times are medians of several
fits, with one BLAS/OpenMP thread.
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._objective import objective_value

ALPHA = 1e-4
TARGET_GAP = 1e-6
N_FITS = 5
TIGHT_TOL = 1e-10
MAX_ITER = 10_000  # for the tightened fits: tol, not max_iter, decides


def objective(estimator, X, y, alpha):
    """``J = mean cross-entropy + alpha / 2 * ||W||_F^2`` of a fitted linear
    model, evaluated the same way for both estimators."""
    y_index = np.searchsorted(estimator.classes_, y)
    return objective_value(
        estimator.coef_, estimator.intercept_, X, y_index, alpha=alpha
    )


def matching_C(alpha, n_samples, n_classes):
    """The ``C`` of LogisticRegression with the optimum of ``alpha``."""
    return (1.0 if n_classes > 2 else 2.0) / (alpha * n_samples)


def timed_fits(make_estimator, X, y, n_fits=N_FITS):
    """The last fitted estimator, the median wall-clock time of ``n_fits``
    fits and whether the fit warned that it did not converge."""
    times = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for _ in range(n_fits):
            estimator = make_estimator()
            start = time.perf_counter()
            estimator.fit(X, y)
            times.append(time.perf_counter() - start)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return estimator, float(np.median(times)), warned


def estimators(C):
    """For each estimator: a function of ``(tol, max_iter)`` that makes it,
    ``None`` meaning its default."""

    def ours(tol=None, max_iter=None):
        params = {"tol": tol, "max_iter": max_iter}
        return SoftmaxGDClassifier(
            alpha=ALPHA, **{k: v for k, v in params.items() if v is not None}
        )

    def logreg(tol=None, max_iter=None):
        params = {"tol": tol, "max_iter": max_iter}
        return LogisticRegression(
            C=C, **{k: v for k, v in params.items() if v is not None}
        )

    return {
        f"SoftmaxGDClassifier(alpha={ALPHA:g})": ours,
        f"LogisticRegression(C={C:.4g})": logreg,
    }


def optimum(makers, X, y):
    """``J*``: the lower ``J`` of the estimators fitted at ``tol=1e-10``."""
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for make in makers.values():
            fitted = make(tol=TIGHT_TOL, max_iter=MAX_ITER).fit(X, y)
            values.append(objective(fitted, X, y, ALPHA))
    return min(values)


def measure(make, X_train, y_train, X_test, y_test, J_star):
    estimator, fit_time, warned = timed_fits(make, X_train, y_train)
    J = objective(estimator, X_train, y_train, ALPHA)
    return {
        "estimator": estimator,
        "test acc": estimator.score(X_test, y_test),
        "rel. gap": (J - J_star) / J_star,
        "fit time [s]": fit_time,
        "n_iter": int(np.max(estimator.n_iter_)),
        "warned": warned,
    }


def at_defaults(makers, X_train, y_train, X_test, y_test, J_star):
    """Table 1: each estimator as constructed with only the matched penalty."""
    rows = []
    for name, make in makers.items():
        row = measure(make, X_train, y_train, X_test, y_test, J_star)
        params = row["estimator"].get_params()
        row["model"] = name
        row["tol, max_iter"] = f"{params['tol']:g}, {params['max_iter']}"
        rows.append(row)
    return rows


def to_target_gap(makers, X_train, y_train, X_test, y_test, J_star):
    """Table 2: for each estimator the default ``tol`` tightened tenfold until
    the fit's gap is at most ``TARGET_GAP``, and that fit's time (the first
    ``tol`` of that grid which reaches the gap: its gap may be well below)."""
    rows = []
    for name, make in makers.items():
        tol = make().get_params()["tol"]
        while True:
            row = measure(
                lambda: make(tol=tol, max_iter=MAX_ITER),  # noqa: B023
                X_train,
                y_train,
                X_test,
                y_test,
                J_star,
            )
            if row["rel. gap"] <= TARGET_GAP or tol <= TIGHT_TOL:
                break
            tol /= 10
        row["model"] = name
        row["tol, max_iter"] = f"{tol:g}, {MAX_ITER}"
        rows.append(row)
    return rows


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_samples, n_classes = X_train.shape[0], np.unique(y_train).shape[0]
    C = matching_C(ALPHA, n_samples, n_classes)
    makers = estimators(C)
    data = (X_train, y_train, X_test, y_test)
    # One BLAS/OpenMP thread for both, so that the times compare the
    # algorithms and not their threading on a small problem.
    with threadpool_limits(limits=1):
        J_star = optimum(makers, X_train, y_train)
        defaults = at_defaults(makers, *data, J_star)
        target = to_target_gap(makers, *data, J_star)

    print(
        f"digits: {n_samples} train / {X_test.shape[0]} test samples, "
        f"{X_train.shape[1]} features, {n_classes} classes, standardized; "
        f"alpha={ALPHA:g} <=> C=1/(alpha*n)={C:.6g} (the same objective J)"
    )
    print(
        f"rel. gap = (J - J*) / J*, J* = {J_star:.10f} (both fitted at "
        f"tol={TIGHT_TOL:g}); fit time = median of {N_FITS} fits, "
        "1 BLAS/OpenMP thread"
    )
    print("\n1. Each at its defaults (only the penalty matched):\n")
    print_table(defaults)
    print(
        f"\n2. Time to the same gap, {TARGET_GAP:g}: the default tol divided by 10 "
        f"until the gap is at most {TARGET_GAP:g}, max_iter={MAX_ITER}:\n"
    )
    print_table(target)
    if any(row["warned"] for row in defaults + target):
        print("\n* the fit warned that it stopped before its tol (ConvergenceWarning)")


def print_table(rows):
    columns = [  # name, width, format of the values
        ("model", 33, ""),
        ("tol, max_iter", 13, ""),
        ("test acc", 8, ".4f"),
        ("rel. gap", 9, ".1e"),
        ("fit time [s]", 12, ".4f"),
        ("n_iter", 7, ""),
    ]

    def line(texts):  # text left-aligned, numbers right-aligned
        return "  ".join(
            f"{text:{'>' if fmt or name == 'n_iter' else '<'}{width}}"
            for text, (name, width, fmt) in zip(texts, columns, strict=True)
        )

    print(line([name for name, _, _ in columns]))
    print(line(["-" * width for _, width, _ in columns]))
    for row in rows:
        values = dict(row, n_iter=f"{row['n_iter']}{'*' if row['warned'] else ''}")
        print(line([format(values[name], fmt) for name, _, fmt in columns]))


if __name__ == "__main__":
    main()
