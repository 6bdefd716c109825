"""Cost of one full-batch epoch (value and gradient) against the roofline,
and peak memory of a fit against the size of X.

Usage::

    python benchmarks/bench_epoch.py [--threads 1] [--repeats 5] [--skip-memory]

For each data set (``datasets.py``): the median time of
``SoftmaxObjective.smooth_value_and_gradient`` (one pass: forward ``X W^T``,
softmax, backward ``G^T X``), the time to stream X once from memory at the
bandwidth measured now (``roofline.read_bandwidth``), and their ratio; the
same for the forward product alone. The float32 / float64 ratio is the
median over ``max(repeats, 9)`` interleaved pairs of epochs (one of each,
back to back), so that the machine's load drifting between the two rows does
not enter it. For memory, a 5-iteration fit runs in a
fresh subprocess; the memory it adds at its peak (``measure.print_peak_memory``:
the larger of the peak of its traced allocations and the growth of the peak
RSS, ``VmHWM`` after resetting it through ``/proc/self/clear_refs``),
divided by the size of X, is reported ("extra/X"). Linux only.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
import measure  # noqa: E402
import roofline  # noqa: E402
from measure import nbytes  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402
from sk_softmax._objective import SoftmaxObjective  # noqa: E402

CASES = {
    "dense float64": ("dense", np.float64),
    "dense float32": ("dense", np.float32),
    "sparse float64": ("sparse", np.float64),
}


def probe_memory(name, dtype):
    """Child mode: a 5-iteration fit; prints the peak memory it added."""
    if name == "dense":
        X, _, y, _ = datasets.dense(dtype=np.dtype(dtype))
    else:
        X, _, y, _ = datasets.LOADERS[name]()
    fit = SoftmaxGDClassifier(alpha=1e-4, max_iter=5, tol=0).fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        measure.print_peak_memory(lambda: fit(X, y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--probe-memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_memory:
        probe_memory(*args.probe_memory)
        return
    rows, epochs = [], {}
    with threadpool_limits(args.threads):
        for label, (name, dtype) in CASES.items():
            if name == "dense":
                X, _, y, _ = datasets.dense(dtype=dtype)
            else:
                X, _, y, _ = datasets.LOADERS[name]()
            K = int(y.max()) + 1
            objective = SoftmaxObjective.from_arrays(
                X, y, alpha=1e-4, l1_ratio=0.0, fit_intercept=True
            )
            P = np.random.default_rng(0).standard_normal((K, X.shape[1] + 1))
            P = (0.01 * P).astype(X.dtype)
            bandwidth = roofline.read_bandwidth(dtype=dtype)
            read = nbytes(X) / bandwidth
            epochs[label] = lambda o=objective, P=P: o.smooth_value_and_gradient(P)
            epoch = roofline.median_time(epochs[label], args.repeats)
            W = P[:, :-1]
            forward = roofline.median_time(lambda X=X, W=W: X @ W.T, args.repeats)
            memory = "-"
            if not args.skip_memory:
                argv = [__file__, "--probe-memory", name, np.dtype(dtype).name]
                memory = f"{measure.peak_memory(argv) / nbytes(X):.3f}"
            rows.append((label, X.shape, nbytes(X) / 1e6, read, epoch, forward, memory))
        ratios = [
            roofline.median_time(epochs["dense float32"], 1)
            / roofline.median_time(epochs["dense float64"], 1)
            for _ in range(max(args.repeats, 9))
        ]
    print(f"threads={args.threads}; times are medians of {args.repeats}")
    print(
        f"{'data':<16} {'shape':>17} {'X (MB)':>8} {'read X (s)':>11} "
        f"{'epoch (s)':>10} {'epoch/read':>11} {'fwd/read':>9} {'extra/X':>8}"
    )
    for label, shape, mb, read, epoch, forward, memory in rows:
        print(
            f"{label:<16} {str(shape):>17} {mb:>8.0f} {read:>11.4f} {epoch:>10.4f} "
            f"{epoch / read:>11.2f} {forward / read:>9.2f} {memory:>8}"
        )
    print(
        f"float32 epoch / float64 epoch: {np.median(ratios):.2f} (median of "
        f"{len(ratios)} interleaved pairs; range {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
