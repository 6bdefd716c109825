"""The machine's roofline, measured on the spot: memory bandwidth and GEMM rate.

Usage::

    python benchmarks/roofline.py [--threads 1] [--mbytes 512]

- read bandwidth: ``x @ ones`` (a BLAS dot product) over an array much larger
  than the caches, which streams it from memory once; float64 and float32;
- copy bandwidth: ``np.copyto`` between two such arrays (read + write);
- GEMM rate: a 2000 x 2000 x 2000 matrix product (float64 and float32), in
  GFLOP/s.

``time_to_read(nbytes)`` is what the other benchmarks divide by: the time one
pass over that many bytes of memory takes at the measured read bandwidth.
Medians of ``repeats`` runs.
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def median_time(func, repeats):
    """Median wall time of ``repeats`` calls of ``func``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def read_bandwidth(mbytes=512, dtype=np.float64, repeats=7):
    """Bytes per second of a streaming read (BLAS dot with a vector of ones)."""
    n = mbytes * 2**20 // np.dtype(dtype).itemsize
    x = np.random.default_rng(0).random(n).astype(dtype)
    ones = np.ones(n, dtype=dtype)
    x @ ones  # warm up: page the arrays in
    # A dot product reads both arrays: 2 * nbytes per pass.
    return 2 * x.nbytes / median_time(lambda: x @ ones, repeats)


def copy_bandwidth(mbytes=512, repeats=7):
    n = mbytes * 2**20 // 8
    src = np.random.default_rng(0).random(n)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    return 2 * src.nbytes / median_time(lambda: np.copyto(dst, src), repeats)


def gemm_rate(size=2000, dtype=np.float64, repeats=5):
    """FLOP per second of a square matrix product."""
    rng = np.random.default_rng(0)
    A = rng.random((size, size)).astype(dtype)
    B = rng.random((size, size)).astype(dtype)
    A @ B
    return 2 * size**3 / median_time(lambda: A @ B, repeats)


def time_to_read(nbytes, bandwidth=None):
    """Seconds one streaming pass over ``nbytes`` takes at ``bandwidth`` B/s."""
    return nbytes / (bandwidth or read_bandwidth())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mbytes", type=int, default=512)
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
        print(f"BLAS: {blas}")
        for dtype in (np.float64, np.float32):
            bw = read_bandwidth(args.mbytes, dtype)
            print(f"read bandwidth ({np.dtype(dtype).name}): {bw / 1e9:6.1f} GB/s")
        print(f"copy bandwidth: {copy_bandwidth(args.mbytes) / 1e9:6.1f} GB/s")
        for dtype in (np.float64, np.float32):
            rate = gemm_rate(dtype=dtype)
            print(f"GEMM ({np.dtype(dtype).name}): {rate / 1e9:6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
