"""Mini-batch quality on digits: held-out log-loss against the optimum's.

Usage::

    python benchmarks/bench_minibatch_digits.py [--seeds 5] [--epochs 20]
                                                [--chunks 10] [--alpha 1e-3]

The protocol of issue 16, point 3. For each seed ``s``:

- scikit-learn's digits, 30% held out (stratified, ``random_state=s``),
  standardized by a ``StandardScaler`` fit on the training part;
- the optimum: ``LogisticRegression`` fitted tightly (``tol=1e-10``) at the
  same objective, ``C = 1 / (alpha * n_train)`` (K = 10 > 2), its held-out
  ``log_loss`` ``L*``;
- ``fit``: ``SoftmaxGDClassifier(alpha=alpha, batch_size=B,
  max_iter=epochs, random_state=s)``, defaults otherwise, B in {32, 64};
- ``partial_fit``: ``SoftmaxGDClassifier(alpha=alpha, batch_size=B,
  random_state=s)``, ``epochs`` passes over the training rows, each pass a
  fresh permutation (``RandomState(s)``) cut into ``--chunks`` chunks, one
  ``partial_fit`` call per chunk.

Printed: the ratio of each fit's held-out log-loss to ``L*``, then per batch
size the median and the worst over the seeds. The goal: ``fit`` within 2% at
the median and 5% at the worst, ``partial_fit`` within 5%.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier


def split(seed):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def optimum(data, alpha):
    X_train, X_test, y_train, y_test = data
    C = 1.0 / (alpha * X_train.shape[0])
    lr = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X_train, y_train)
    return log_loss(y_test, lr.predict_proba(X_test))


def ratio_fit(data, alpha, batch_size, epochs, seed, reference):
    X_train, X_test, y_train, y_test = data
    clf = SoftmaxGDClassifier(
        alpha=alpha, batch_size=batch_size, max_iter=epochs, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    return log_loss(y_test, clf.predict_proba(X_test)) / reference, clf.n_iter_


def ratio_partial_fit(data, alpha, batch_size, epochs, chunks, seed, reference):
    X_train, X_test, y_train, y_test = data
    classes = np.unique(y_train)
    rng = np.random.RandomState(seed)
    clf = SoftmaxGDClassifier(alpha=alpha, batch_size=batch_size, random_state=seed)
    for _ in range(epochs):
        for chunk in np.array_split(rng.permutation(X_train.shape[0]), chunks):
            clf.partial_fit(X_train[chunk], y_train[chunk], classes=classes)
    return log_loss(y_test, clf.predict_proba(X_test)) / reference


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=1e-3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    args = parser.parse_args()

    import sk_softmax

    print(f"sk_softmax from {Path(sk_softmax.__file__).parent}")
    print(
        f"digits, 30% held out, alpha={args.alpha}, {args.epochs} epochs, "
        f"seeds 0-{args.seeds - 1}; partial_fit: {args.chunks} shuffled chunks "
        "per epoch"
    )
    fit_ratios = {B: [] for B in args.batch_sizes}
    partial_ratios = {B: [] for B in args.batch_sizes}
    with threadpool_limits(1):
        for seed in range(args.seeds):
            data = split(seed)
            reference = optimum(data, args.alpha)
            line = f"seed {seed}: L* = {reference:.5f}"
            for B in args.batch_sizes:
                r, n_iter = ratio_fit(data, args.alpha, B, args.epochs, seed, reference)
                p = ratio_partial_fit(
                    data, args.alpha, B, args.epochs, args.chunks, seed, reference
                )
                fit_ratios[B].append(r)
                partial_ratios[B].append(p)
                line += f" | B={B}: fit {r:.4f} ({n_iter} ep), partial_fit {p:.4f}"
            print(line)
    print()
    print(
        f"{'batch':>5} {'fit median':>11} {'fit worst':>10} {'pf median':>10} {'pf worst':>9}"
    )
    for B in args.batch_sizes:
        f, p = np.array(fit_ratios[B]), np.array(partial_ratios[B])
        print(
            f"{B:>5} {np.median(f):>11.4f} {f.max():>10.4f} "
            f"{np.median(p):>10.4f} {p.max():>9.4f}"
        )


if __name__ == "__main__":
    main()
