"""``python -m sk_softmax``: SoftmaxGDClassifier against LogisticRegression.

Fits both estimators to the same optimum on scikit-learn's digits data
(standardized) and prints accuracy, log-loss, the training objective ``J``
(evaluated the same way for both fitted models) and fit times.
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._objective import objective_value

ALPHA = 1e-4
N_FITS = 5


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
    """The last fitted estimator and the median wall-clock time of ``n_fits`` fits."""
    times = []
    for _ in range(n_fits):
        estimator = make_estimator()
        start = time.perf_counter()
        estimator.fit(X, y)
        times.append(time.perf_counter() - start)
    return estimator, float(np.median(times))


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_samples, n_classes = X_train.shape[0], np.unique(y_train).shape[0]
    C = matching_C(ALPHA, n_samples, n_classes)
    rows = compare(X_train, X_test, y_train, y_test, C)
    print(
        f"digits: {n_samples} train / {X_test.shape[0]} test samples, "
        f"{X_train.shape[1]} features, {n_classes} classes, standardized; "
        f"alpha={ALPHA:g} <=> C=1/(alpha*n)={C:.6g}"
    )
    print(
        "J = mean cross-entropy + alpha/2 ||W||_F^2 on the train set; "
        f"fit time = median of {N_FITS} fits, 1 BLAS/OpenMP thread"
    )
    print()
    print_table(rows)


def compare(X_train, X_test, y_train, y_test, C):
    """One row of measurements per estimator, with the relative gap of ``J``
    to the better of the two."""
    models = {
        f"SoftmaxGDClassifier(alpha={ALPHA:g})": lambda: SoftmaxGDClassifier(
            alpha=ALPHA
        ),
        f"LogisticRegression(C={C:.4g}, lbfgs)": lambda: LogisticRegression(
            C=C, solver="lbfgs", max_iter=1000
        ),
    }
    rows = []
    for name, make_estimator in models.items():
        # One BLAS/OpenMP thread for both, so that the times compare the
        # algorithms and not their threading on a small problem.
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            # Report, don't abort, if a fit stops short of its tolerance.
            warnings.simplefilter("always")
            estimator, fit_time = timed_fits(make_estimator, X_train, y_train)
        rows.append(
            {
                "model": name,
                "train acc": estimator.score(X_train, y_train),
                "test acc": estimator.score(X_test, y_test),
                "test log-loss": log_loss(
                    y_test, estimator.predict_proba(X_test), labels=estimator.classes_
                ),
                "J (train)": objective(estimator, X_train, y_train, ALPHA),
                "fit time [s]": fit_time,
                "n_iter": int(np.max(estimator.n_iter_)),
            }
        )
    J_best = min(row["J (train)"] for row in rows)
    for row in rows:
        row["rel. gap"] = (row["J (train)"] - J_best) / J_best

    return rows


def print_table(rows):
    columns = [  # name, width, format of the values
        ("model", 38, ""),
        ("train acc", 9, ".4f"),
        ("test acc", 8, ".4f"),
        ("test log-loss", 13, ".6f"),
        ("J (train)", 10, ".8f"),
        ("rel. gap", 9, ".2e"),
        ("fit time [s]", 12, ".4f"),
        ("n_iter", 6, "d"),
    ]

    def line(texts):  # text left-aligned, numbers right-aligned
        return "  ".join(
            f"{text:{'>' if fmt else '<'}{width}}"
            for text, (_, width, fmt) in zip(texts, columns, strict=True)
        )

    print(line([name for name, _, _ in columns]))
    print(line(["-" * width for _, width, _ in columns]))
    for row in rows:
        print(line([format(row[name], fmt) for name, _, fmt in columns]))


if __name__ == "__main__":
    main()
