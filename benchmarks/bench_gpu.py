"""SoftmaxGDClassifier on a GPU through the Array API (torch), float32.

Usage::

    python benchmarks/bench_gpu.py            # 200k x 200 and 2M x 200
    python benchmarks/bench_gpu.py --small    # 20k x 200 and 200k x 200
    python benchmarks/bench_gpu.py --device cpu --threads 1

The device is CUDA when torch sees one, the CPU otherwise (``--device``
overrides): the same script measures torch on the CPU where no GPU is
available. The problems are ``datasets.dense`` (200 features, 10 classes,
standardized, 80/20 split) at ``alpha = 1e-4``, in float32.

For each problem and method, the table gives:

- ``epoch``: one pass over the data. For ``SoftmaxGDClassifier`` one
  value-and-gradient evaluation of its objective at a nonzero point (median
  of repeats, the device synchronized); for ``LogisticRegression`` the
  median time of one iteration of its solver;
- ``x read``: ``epoch`` divided by the time of one read of ``X_train`` on
  the device, at the read bandwidth this script measures (a large sum
  reduction; a copy is reported too);
- ``to gap``: the fit time (evaluations excluded) to a relative objective
  gap ``(J - J*) / J* <= 1e-6``, with the iterations it took; ``J`` is
  computed in float64 on the host from the fitted coefficients, ``J*``
  the smallest of a tight float64 reference fit (numpy) and every run;
- ``to 1%``: the fit time to a held-out log-loss within 1% of the
  reference model's.

The methods: ``SoftmaxGDClassifier()`` (Newton-CG) on torch arrays with
``array_api_dispatch=True``; ``LogisticRegression(solver="lbfgs",
C=1 / (alpha n))``, the same objective, under the same dispatch on the same
device; and ``SoftmaxGDClassifier()`` on numpy arrays (the CPU path). A
warm-up fit on a slice of the data runs first on each device.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import sklearn
import torch
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._objective import SoftmaxObjective

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
import measure  # noqa: E402

ALPHA = 1e-4
GAP = 1e-6
LOGLOSS = 1.01
MAX_ITER = 2000


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_time(func, device, repeats):
    func()  # warm-up
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        func()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bandwidth(device, mbytes, repeats=7):
    """Bytes per second of a read (a sum reduction) and of a copy (read +
    write) of ``mbytes`` MB of float32 on ``device``."""
    a = torch.ones(mbytes * 2**20 // 4, dtype=torch.float32, device=device)
    b = torch.empty_like(a)
    read = median_time(lambda: a.sum(), device, repeats)
    copy = median_time(lambda: b.copy_(a), device, repeats)
    return a.nbytes / read, 2 * a.nbytes / copy


def to_numpy(a):
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


class Problem:
    """The data on the host (float32), their reference optimum, and the
    evaluation of a fitted model: ``(J, held-out log-loss)``."""

    def __init__(self, n_samples):
        X, X_test, y, y_test = datasets.dense(n_samples, dtype=np.float32)
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test
        self.n = X.shape[0]
        reference = SoftmaxGDClassifier(alpha=ALPHA, tol=1e-10, max_iter=MAX_ITER)
        quiet_fit(reference, X.astype(np.float64), y)
        self.J_star, self.L_star = self.evaluate(reference)

    def evaluate(self, estimator):
        W, b = estimator.coef_, estimator.intercept_
        W, b = to_numpy(W).astype(np.float64), to_numpy(b).astype(np.float64)
        if W.shape[0] == 1:
            W, b = np.vstack([-W / 2, W / 2]), np.hstack([-b / 2, b / 2])
        J = measure.objective(W, b, self.X, self.y, ALPHA)
        Z = self.X_test @ W.T + b
        L = float(np.mean(logsumexp(Z, axis=1) - Z[np.arange(Z.shape[0]), self.y_test]))
        return J, L

    def gap_reached(self, J):
        return (J - self.J_star) / self.J_star <= GAP

    def loss_reached(self, L):
        return L <= LOGLOSS * self.L_star


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def methods(device):
    """name -> (estimator factory, namespace of the data, device)."""
    return {
        f"ours, torch {device}": (
            lambda n: SoftmaxGDClassifier(alpha=ALPHA, tol=1e-10, max_iter=MAX_ITER),
            "torch",
            device,
        ),
        f"LR lbfgs, torch {device}": (
            lambda n: LogisticRegression(
                C=1 / (ALPHA * n), solver="lbfgs", tol=1e-12, max_iter=MAX_ITER
            ),
            "torch",
            device,
        ),
        "ours, numpy cpu": (
            lambda n: SoftmaxGDClassifier(alpha=ALPHA, tol=1e-10, max_iter=MAX_ITER),
            "numpy",
            "cpu",
        ),
    }


def on(namespace, device, *arrays):
    if namespace == "numpy":
        return arrays
    return tuple(torch.asarray(a, device=device) for a in arrays)


def traced(problem, make, namespace, device):
    """The records ``(seconds, J, L)`` of one fit, stopped once both targets
    are reached."""

    def done(J, L):
        return problem.gap_reached(J) and problem.loss_reached(L)

    trace = measure.FitTrace(problem.evaluate, done)
    X, y = on(namespace, device, problem.X, problem.y)
    with sklearn.config_context(array_api_dispatch=namespace != "numpy"):
        quiet_fit(make(problem.n).set_callbacks(trace), X, y)
    return trace.records


def first(records, reached):
    for it, (seconds, J, L) in enumerate(records, 1):
        if reached(J, L):
            return seconds, it
    return None, None


def epoch_time(problem, namespace, device, repeats):
    """One value-and-gradient evaluation of our objective, at a nonzero point."""
    X, y, w = on(
        namespace,
        device,
        problem.X,
        problem.y.astype(np.int64),
        np.full(problem.n, 1.0 / problem.n, dtype=np.float32),
    )
    with sklearn.config_context(array_api_dispatch=namespace != "numpy"):
        xp = sklearn.utils._array_api.get_namespace(X)[0]
        objective = SoftmaxObjective.from_arrays(
            X, y, w, n_classes=10, xp=xp, alpha=ALPHA, l1_ratio=0.0, fit_intercept=True
        )
        P = objective.zeros() + 1e-3
        return median_time(
            lambda: objective.smooth_value_and_gradient(P), device, repeats
        )


def run(problem, name, method, read_bw, repeats):
    make, namespace, device = method
    records = traced(problem, make, namespace, device)
    if name.startswith("ours"):
        epoch = epoch_time(problem, namespace, device, repeats)
    else:
        epoch = float(np.median(np.diff([0.0] + [r[0] for r in records])))
    bw = read_bw[device]
    x_read = epoch / (problem.X.nbytes / bw)
    gap = first(records, lambda J, L: problem.gap_reached(J))
    loss = first(records, lambda J, L: problem.loss_reached(L))
    return epoch, x_read, gap, loss


def fmt(result):
    seconds, iterations = result
    return "-" if seconds is None else f"{seconds:.3g} s ({iterations})"


def warm_up(device):
    problem_X, _, problem_y, _ = datasets.dense(5_000, dtype=np.float32)
    for make, namespace, dev in methods(device).values():
        X, y = on(namespace, dev, problem_X, problem_y)
        with sklearn.config_context(array_api_dispatch=namespace != "numpy"):
            quiet_fit(make(X.shape[0]), X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="20k and 200k rows")
    parser.add_argument(
        "--device", default=None, help="cuda or cpu (default: cuda if available)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="rows before the 80/20 split"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (torch, BLAS)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = (25_000, 250_000) if args.small else (250_000, 2_500_000)
    sizes = args.sizes or sizes
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(
        f"device: {device} ({name}); torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    mbytes = 256 if args.small else 1024
    read_bw = {}
    for dev in sorted({device, "cpu"}):
        read_bw[dev], copy_bw = bandwidth(dev, mbytes)
        print(
            f"{dev}: read {read_bw[dev] / 1e9:.1f} GB/s, copy {copy_bw / 1e9:.1f} GB/s"
        )
    warm_up(device)
    header = f"| {'problem':<12} | {'method':<22} | {'epoch':>9} | {'x read':>6} | {'to gap':>14} | {'to 1%':>14} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for n_samples in sizes:
        problem = Problem(n_samples)
        label = f"{problem.n // 1000}k x 200"
        for method_name, method in methods(device).items():
            epoch, x_read, gap, loss = run(
                problem, method_name, method, read_bw, args.repeats
            )
            print(
                f"| {label:<12} | {method_name:<22} | {epoch * 1e3:>6.1f} ms | {x_read:>6.1f} | "
                f"{fmt(gap):>14} | {fmt(loss):>14} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
