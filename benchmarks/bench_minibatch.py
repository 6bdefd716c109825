"""Mini-batch epochs and time to a good held-out log-loss.

Usage::

    python benchmarks/bench_minibatch.py [--n-samples 200000] [--max-epochs 30]
                                          [--repeats 3] [--threads 1]

Data: the 200k x 200, 10-class ``make_classification`` problem of
``datasets.dense`` (160k training rows, 40k held out), standardized.

The target is the held-out log-loss of the optimum, ``L*``: that of
``LogisticRegression(lbfgs)`` fitted tightly at ``C = 1 / (alpha n)``,
``alpha = 1e-4``. For each method the table gives

- the median time of one epoch (over the epochs run, median over ``--repeats``
  runs for ours);
- the time (and epochs) until the held-out log-loss is within 1% of ``L*``,
  evaluation time excluded; "-" if not reached in ``--max-epochs`` epochs.

Methods: ours at batch sizes 32, 256, 4096 (defaults otherwise); a plain numpy
mini-batch loop (batch 256, constant step, the same update written directly:
the reference "straightforward numpy epoch"); SGDClassifier(loss="log_loss")
(one-vs-rest, per-sample updates); MLPClassifier(hidden_layer_sizes=()) with
solver "sgd" and "adam" (batch 256); and LogisticRegression(lbfgs), whose
time to the target is measured per L-BFGS iteration through a callback.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
import measure  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402

ALPHA = 1e-4


def held_out_trace(X_test, y_test, target):
    """A ``measure.FitTrace`` of the held-out log-loss, stopping at ``target``."""
    return measure.FitTrace(
        lambda fitted: (log_loss(y_test, fitted.predict_proba(X_test)),),
        lambda loss: loss <= target,
    )


def time_to_target(records, target):
    for epoch, (elapsed, loss) in enumerate(records, 1):
        if loss <= target:
            return elapsed, epoch
    return None, None


def epoch_times(records):
    elapsed = np.array([0.0] + [r[0] for r in records])
    return np.diff(elapsed)


def run_ours(batch_size, data, target, max_epochs, seed):
    X_train, X_test, y_train, y_test = data
    monitor = held_out_trace(X_test, y_test, target)
    clf = SoftmaxGDClassifier(
        alpha=ALPHA, batch_size=batch_size, max_iter=max_epochs, random_state=seed
    ).set_callbacks(monitor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    return monitor.records


def run_epochs(fit_one_epoch, predict_proba, data, target, max_epochs):
    """Time epochs of an estimator without callbacks, one call per epoch."""
    _, X_test, _, y_test = data
    records, fit_time = [], 0.0
    for _ in range(max_epochs):
        t = time.perf_counter()
        fit_one_epoch()
        fit_time += time.perf_counter() - t
        loss = log_loss(y_test, predict_proba(X_test))
        records.append((fit_time, loss))
        if loss <= target:
            break
    return records


def run_numpy(data, target, max_epochs, batch_size=256):
    """The straightforward numpy mini-batch loop (reference implementation)."""
    X_train, X_test, y_train, y_test = data
    n, d = X_train.shape
    K = int(y_train.max()) + 1
    rng = np.random.default_rng(0)
    W, b = np.zeros((K, d)), np.zeros(K)
    Y = np.eye(K)[y_train]
    eta = 0.1

    def epoch():
        nonlocal W, b
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            Xb, Yb = X_train[idx], Y[idx]
            Z = Xb @ W.T + b
            Z -= Z.max(axis=1, keepdims=True)
            S = np.exp(Z)
            S /= S.sum(axis=1, keepdims=True)
            G = (S - Yb) / len(idx)
            W -= eta * (G.T @ Xb + ALPHA * W)
            b -= eta * G.sum(axis=0)

    def proba(X):
        Z = X @ W.T + b
        Z -= Z.max(axis=1, keepdims=True)
        S = np.exp(Z)
        return S / S.sum(axis=1, keepdims=True)

    order = rng.permutation(n)

    def shuffled_epoch():
        nonlocal order
        order = rng.permutation(n)
        epoch()

    return run_epochs(shuffled_epoch, proba, data, target, max_epochs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    with threadpool_limits(args.threads):
        data = datasets.dense(args.n_samples)
        X_train, X_test, y_train, y_test = data
        n = X_train.shape[0]
        C = 1.0 / (ALPHA * n)
        t = time.perf_counter()
        reference = LogisticRegression(C=C, tol=1e-8, max_iter=1000).fit(
            X_train, y_train
        )
        print(f"reference LogisticRegression fit: {time.perf_counter() - t:.1f} s")
        optimum = log_loss(y_test, reference.predict_proba(X_test))
        target = 1.01 * optimum
        print(
            f"held-out log-loss at the optimum L* = {optimum:.5f}; target {target:.5f}"
        )
        print(
            f"X_train {X_train.shape}, {X_train.nbytes / 1e6:.0f} MB, threads={args.threads}"
        )

        rows = []
        for batch_size in (32, 256, 4096):
            runs = [
                run_ours(batch_size, data, target, args.max_epochs, seed)
                for seed in range(args.repeats)
            ]
            per_epoch = np.median([np.median(epoch_times(r)) for r in runs])
            reached = [time_to_target(r, target) for r in runs]
            times = [t for t, _ in reached if t is not None]
            epochs = [e for _, e in reached if e is not None]
            rows.append(
                (
                    f"SoftmaxGDClassifier(batch_size={batch_size})",
                    per_epoch,
                    np.median(times) if len(times) == len(runs) else None,
                    np.median(epochs) if len(epochs) == len(runs) else None,
                )
            )

        records = run_numpy(data, target, args.max_epochs)
        rows.append(
            (
                "plain numpy loop (batch 256, eta 0.1)",
                np.median(epoch_times(records)),
                *time_to_target(records, target),
            )
        )

        sgd = SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=0)
        classes = np.unique(y_train)
        records = run_epochs(
            lambda: sgd.partial_fit(X_train, y_train, classes=classes),
            lambda X: sgd.predict_proba(X),
            data,
            target,
            args.max_epochs,
        )
        rows.append(
            (
                "SGDClassifier(loss='log_loss')",
                np.median(epoch_times(records)),
                *time_to_target(records, target),
            )
        )

        for solver in ("sgd", "adam"):
            mlp = MLPClassifier(
                hidden_layer_sizes=(),
                solver=solver,
                alpha=ALPHA,
                batch_size=256,
                random_state=0,
            )
            records = run_epochs(
                lambda mlp=mlp: mlp.partial_fit(X_train, y_train, classes=classes),
                lambda X, mlp=mlp: mlp.predict_proba(X),
                data,
                target,
                args.max_epochs,
            )
            rows.append(
                (
                    f"MLPClassifier((), solver='{solver}')",
                    np.median(epoch_times(records)),
                    *time_to_target(records, target),
                )
            )

        monitor = held_out_trace(X_test, y_test, target)
        lbfgs = LogisticRegression(C=C, tol=1e-8, max_iter=1000).set_callbacks(monitor)
        lbfgs.fit(X_train, y_train)
        rows.append(
            (
                "LogisticRegression(lbfgs)",
                np.median(epoch_times(monitor.records)),
                *time_to_target(monitor.records, target),
            )
        )

    print()
    print(f"{'method':<44} {'epoch (s)':>10} {'to 1% of L* (s)':>16} {'epochs':>7}")
    for name, per_epoch, to_target, epochs in rows:
        tt = "-" if to_target is None else f"{to_target:.2f}"
        ep = "-" if epochs is None else f"{epochs:.0f}"
        print(f"{name:<44} {per_epoch:>10.3f} {tt:>16} {ep:>7}")


if __name__ == "__main__":
    main()
