"""Distributed full-batch fits on Dask arrays (``sk_softmax.dask``).

Two tables, each on a ``LocalCluster`` of 2 worker processes with 1 thread
each (``--workers``, ``--threads``):

1. **Pass**: one value-and-gradient pass (``_loss.cross_entropy_gradient``
   summed over the rows) on the 200k x 200 dense problem of ``datasets.py``
   (10 classes, float64) in 8 row chunks, against the same pass on numpy
   in this process with 1 and with 2 BLAS threads; and the overhead of a
   pass: the same pass on 8 chunks of 8 rows, where the arithmetic is
   nothing, with the client's default ``direct_to_workers=None`` (the
   scheduler relays the calls to the workers' actors) and with a client
   made with ``direct_to_workers=True`` (the client calls the workers
   itself). Medians of ``--repeats`` passes at a random small ``W``.
   Goals: pass <= 0.7 x the 1-thread numpy pass, overhead <= 20 ms.

2. **Fit**: ``--rows`` x 100 float32 (20M rows, 8 GB, by default),
   generated on the workers in chunks of ``--chunk-rows`` (a planted
   softmax model, 10 classes, labels drawn from its probabilities), with a
   held-out set of a tenth of the rows, also on the workers: the time to
   prepare the fit (generate and persist the data, one pass for the
   labels), then the time for Newton-CG to reach a held-out log-loss within
   1% of the optimum's (the optimum: the same fit run to ``tol=1e-8``), and
   the peak memory (RSS)
   of the client, over its RSS before the fit, and of each worker.
   The iterates are recorded during the fit and scored afterwards, so
   scoring is not timed.

    python benchmarks/bench_dask.py                       # both, 20M rows
    python benchmarks/bench_dask.py --only fit --rows 2000000
"""

import argparse
import os
import resource
import statistics
import sys
import threading
import time

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from sklearn.utils._array_api import get_namespace
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))
import datasets  # noqa: E402

from sk_softmax import SoftmaxGDClassifier, _loss  # noqa: E402
from sk_softmax._backend import ArrayBackend  # noqa: E402
from sk_softmax._solvers import minimize  # noqa: E402
from sk_softmax.dask import prepare_dask  # noqa: E402


def _median_time(f, repeats):
    f()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _dask_pass(X, y, repeats, W, b):
    """The median wall time of a pass, and the CPU time per pass of this
    process (the client and the LocalCluster's scheduler, which runs in
    it): the overhead that does not depend on the machine's load."""
    fit = prepare_dask(SoftmaxGDClassifier(), X, y, None, None, False)
    data = fit.objective.data
    cpu = time.process_time()
    wall = _median_time(
        lambda: data.map_sum(_loss.cross_entropy_gradient, W, b), repeats
    )
    return wall, (time.process_time() - cpu) / (repeats + 1)


def pass_table(args, client):
    X, y = datasets.dense(split=False)
    rng = np.random.default_rng(0)
    K, d = 10, X.shape[1]
    W, b = 0.01 * rng.standard_normal((K, d)), np.zeros(K)
    y_index = np.searchsorted(np.unique(y), y)
    w = np.full(X.shape[0], 1.0 / X.shape[0])
    local = ArrayBackend(X, y_index, w, K, get_namespace(X)[0])
    rows = {}
    for threads in (1, 2):
        with threadpool_limits(threads):
            rows[f"numpy, {threads} BLAS thread(s)"] = _median_time(
                lambda: local.map_sum(_loss.cross_entropy_gradient, W, b),
                args.repeats,
            )
    chunk = -(-X.shape[0] // 8)
    Xd = da.from_array(X, chunks=(chunk, -1))
    yd = da.from_array(y, chunks=chunk)
    cpu = {}
    rows["dask, 8 chunks"], cpu["dask, 8 chunks"] = _dask_pass(
        Xd, yd, args.repeats, W, b
    )
    tiny = da.from_array(X[:64], chunks=(8, -1)), da.from_array(y[:64], chunks=8)
    name = "dask overhead (8 chunks x 8 rows)"
    rows[name], cpu[name] = _dask_pass(*tiny, args.repeats, W, b)
    # The same, with the actor calls sent to the workers by the client
    # itself rather than relayed by the scheduler (a second client, made
    # current for the pass only).
    with Client(client.cluster, direct_to_workers=True, set_as_default=False) as direct:
        with direct.as_current():
            name = "  same, direct_to_workers=True"
            rows[name], cpu[name] = _dask_pass(*tiny, args.repeats, W, b)
    one = rows["numpy, 1 BLAS thread(s)"]
    print(f"\nPass over 200k x 200 float64 (10 classes), median of {args.repeats}")
    print(f"{'':38s} {'ms':>8s} {'x numpy 1 thread':>17s} {'client CPU ms':>14s}")
    for name, seconds in rows.items():
        client = f"{1e3 * cpu[name]:14.1f}" if name in cpu else f"{'':14s}"
        print(f"{name:38s} {1e3 * seconds:8.1f} {seconds / one:17.2f} {client}")


def _planted(rows, chunk_rows, d, K, seed):
    """``X`` standard normal float32 and labels drawn from a softmax model
    (Gumbel-max), generated on the workers."""
    rs = da.random.RandomState(seed)
    X = rs.standard_normal((rows, d), chunks=(chunk_rows, d)).astype(np.float32)
    B = np.random.default_rng(1).standard_normal((d, K)).astype(np.float32) / 4
    gumbel = -da.log(-da.log(rs.uniform(size=(rows, K), chunks=(chunk_rows, K))))
    return X, da.argmax(X @ B + gumbel.astype(np.float32), axis=1)


class _PeakRSS:
    """The client's peak RSS above its value at the start, sampled."""

    def __init__(self):
        import psutil

        self.process, self.peak, self.stop = psutil.Process(), 0, False
        self.base = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            self.peak = max(self.peak, self.process.memory_info().rss - self.base)
            time.sleep(0.01)

    def close(self):
        self.stop = True
        self.thread.join()
        return self.peak


def _worker_peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fit_table(args, client):
    d, K = 100, 10
    X, y = _planted(args.rows, args.chunk_rows, d, K, seed=0)
    n_test = max(args.rows // 10, K * 100)
    X_test, y_test = _planted(n_test, args.chunk_rows, d, K, seed=1)
    peak = _PeakRSS()
    start = time.perf_counter()
    fit = prepare_dask(SoftmaxGDClassifier(alpha=1e-6), X, y, None, None, False)
    prepared = time.perf_counter() - start
    iterates = []

    def record(iteration, state):  # times from the solver's start
        iterates.append((time.perf_counter() - prepared - start, state.P.copy()))
        return False

    P = fit.objective.zeros()
    minimize(
        fit.objective,
        P,
        method="newton-cg",
        max_iter=100,
        tol=1e-8,
        scale=None,
        report=record,
        seed=0,
    )
    client_peak = peak.close()
    test = prepare_dask(SoftmaxGDClassifier(), X_test, y_test, None, None, False)
    losses = [
        float(test.objective.data.map_sum(_loss.cross_entropy, *fit.objective.split(P)))
        for _, P in iterates
    ]
    best = losses[-1]
    within = next(i for i, loss in enumerate(losses) if loss <= 1.01 * best)
    worker_peaks = client.run(_worker_peak)
    gb = args.rows * d * 4 / 1e9
    print(
        f"\nFit on {args.rows:,} x {d} float32 ({gb:.2f} GB), {K} classes, "
        f"chunks of {args.chunk_rows:,} rows, held-out {n_test:,} rows"
    )
    print(f"  preparation (generate, persist, labels): {prepared:.1f} s")
    print(
        f"  fit, to 1% of optimal held-out log-loss: {iterates[within][0]:.1f} s "
        f"({within + 1} iterations; optimum {best:.5f})"
    )
    print(f"  fit, to tol=1e-8: {iterates[-1][0]:.1f} s ({len(iterates)} iterations)")
    print(f"  client peak RSS over start: {client_peak / 1e6:.0f} MB")
    for address, value in worker_peaks.items():
        print(f"  worker {address} peak RSS: {value / 1e6:.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["pass", "fit"])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.uname().nodename)
    print("load average:", os.getloadavg(), "cores:", os.cpu_count())
    print("BLAS:", [(i["internal_api"], i["num_threads"]) for i in threadpool_info()])
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=args.threads,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"LocalCluster: {args.workers} workers x {args.threads} thread(s)")
        if args.only in (None, "pass"):
            pass_table(args, client)
        if args.only in (None, "fit"):
            fit_table(args, client)


if __name__ == "__main__":
    main()
