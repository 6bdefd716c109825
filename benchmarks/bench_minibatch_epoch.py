"""Mini-batch epoch time: ours against SGDClassifier's epoch and torch CPU loops.

Usage::

    python benchmarks/bench_minibatch_epoch.py [--n-samples 200000] [--repeats 5]
                                               [--batch-size 256] [--threads 1]

Data: the 200k x 200, 10-class problem of ``datasets.dense`` (160k training
rows), float64 and float32. One epoch, batch 256, of:

- ours: ``SoftmaxGDClassifier(batch_size=256)``, the median epoch of a
  3-epoch fit, timed by a callback (setup and evaluation excluded);
- ``SGDClassifier(loss="log_loss")``: one ``partial_fit`` over the data
  (one-vs-rest, per-sample updates; float64 only, it converts float32);
- torch, manual: the same update written with torch tensors on the CPU
  (logits, softmax, ``G = (S - Y) / B``, ``W -= eta (G^T X_B + alpha W)``);
- torch, autograd: ``nn.Linear`` + ``cross_entropy`` + ``optim.SGD``
  (weight decay ``alpha``), the usual way to write it.

Methods are interleaved within each repeat; the table gives the median over
``--repeats`` and the ratios of ours to each reference (medians of the
per-repeat ratios, so that both sides of a ratio come from the same load).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
import measure  # noqa: E402

from sk_softmax import SoftmaxGDClassifier  # noqa: E402

ALPHA = 1e-4


def epoch_ours(X, y, batch_size, seed):
    trace = measure.FitTrace(lambda fitted: (), lambda: False)
    clf = SoftmaxGDClassifier(
        alpha=ALPHA, batch_size=batch_size, max_iter=3, random_state=seed
    ).set_callbacks(trace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    elapsed = np.diff([0.0] + [r[0] for r in trace.records])
    return float(np.median(elapsed[1:]))


def epoch_sgd(X, y, seed):
    sgd = SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=seed)
    classes = np.unique(y)
    t = time.perf_counter()
    sgd.partial_fit(X, y, classes=classes)
    return time.perf_counter() - t


def epoch_torch_manual(torch, X, y, batch_size, seed):
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    n, d = X.shape
    K = int(y.max()) + 1
    W = torch.zeros((K, d), dtype=Xt.dtype)
    b = torch.zeros(K, dtype=Xt.dtype)
    eta = 0.1
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    t = time.perf_counter()
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        Xb, yb = Xt[idx], yt[idx]
        S = torch.softmax(Xb @ W.T + b, dim=1)
        S[torch.arange(idx.shape[0]), yb] -= 1.0
        G = S / idx.shape[0]
        W -= eta * (G.T @ Xb + ALPHA * W)
        b -= eta * G.sum(dim=0)
    return time.perf_counter() - t


def epoch_torch_autograd(torch, X, y, batch_size, seed):
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    n, d = X.shape
    K = int(y.max()) + 1
    model = torch.nn.Linear(d, K).to(Xt.dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=ALPHA)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    t = time.perf_counter()
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    B = args.batch_size
    with threadpool_limits(args.threads):
        for dtype in (np.float64, np.float32):
            X, _, y, _ = datasets.dense(args.n_samples, dtype=dtype)
            times = {"ours": [], "torch manual": [], "torch autograd": []}
            if dtype == np.float64:
                times["SGDClassifier"] = []
            for seed in range(args.repeats):
                times["ours"].append(epoch_ours(X, y, B, seed))
                if "SGDClassifier" in times:
                    times["SGDClassifier"].append(epoch_sgd(X, y, seed))
                times["torch manual"].append(epoch_torch_manual(torch, X, y, B, seed))
                times["torch autograd"].append(
                    epoch_torch_autograd(torch, X, y, B, seed)
                )
            ours = np.array(times["ours"])
            print(
                f"\n{np.dtype(dtype).name}, X_train {X.shape}, batch {B}, "
                f"threads={args.threads}, torch {torch.__version__}"
            )
            print(f"{'method':<16} {'epoch (ms)':>11} {'ours / it':>10}")
            for name, values in times.items():
                values = np.array(values)
                ratio = np.median(ours / values)
                print(f"{name:<16} {1e3 * np.median(values):>11.1f} {ratio:>10.3f}")


if __name__ == "__main__":
    main()
