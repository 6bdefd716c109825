"""Measurements shared by the benchmarks: the objective, evaluated alike for
every method, and the peak memory of a fit, measured in a subprocess.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sk_softmax._objective import SoftmaxObjective, objective_value
from sk_softmax._objective import softmax_parameters as _softmax_parameters


def objective(W, b, X, y_index, alpha):
    """``J = mean cross-entropy + alpha / 2 * ||W||_F^2`` at the softmax
    ``(W, b)``: the package's objective, evaluated alike for every method."""
    return objective_value(W, b, X, y_index, alpha=alpha)


class Objective:
    """``objective`` on one data set, for many evaluations: ``J(W, b)``
    (with the elastic net's ``l1_ratio``, 0 by default).

    ``objective_value`` builds the ``SoftmaxObjective`` and copies ``X`` (its
    ``astype``) on every call, which on 1.6M x 200 rows costs as much as the
    pass itself; this builds it once (float64 ``X`` is not copied) and then
    evaluates ``J`` as ``objective_value`` does (``bench_grid`` checks that
    the two agree at its reference fit).
    """

    def __init__(self, X, y_index, alpha, l1_ratio=0.0):
        self.objective = SoftmaxObjective.from_arrays(
            X.astype(np.float64, copy=False),
            y_index,
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=True,
        )

    def __call__(self, W, b):
        W, b = _softmax_parameters(np.asarray(W, float), np.asarray(b, float))
        P = self.objective.join(W, b)
        return self.objective.smooth_value(P) + self.objective.nonsmooth_value(P)


def softmax_parameters(estimator):
    """The softmax ``(W, b)`` of a fitted linear classifier or of a
    ``MLPClassifier(hidden_layer_sizes=())`` (K > 2: its weights as they are)."""
    if hasattr(estimator, "coefs_"):  # MLPClassifier: (d, K) weights
        W, b = estimator.coefs_[0].T, estimator.intercepts_[0]
    else:
        W, b = estimator.coef_, estimator.intercept_
    return _softmax_parameters(np.asarray(W, float), np.asarray(b, float))


class FitTrace:
    """A scikit-learn callback timing a fit iteration by iteration.

    After each iteration (epoch) it calls ``evaluate(fitted_estimator)``, a
    tuple of numbers, and appends ``(seconds, *values)`` to ``records``, the
    seconds being the fit time so far without the evaluations (wall time, or
    the process's CPU time with ``cpu``); a true
    ``stop(*values)`` stops the fit, and so does a fit time past ``budget``
    seconds (None: no limit).

    The stop is the hook's return value, which ``SoftmaxGDClassifier``
    honours. ``LogisticRegression(lbfgs)`` (scikit-learn 1.9) ignores it and
    runs on to its own ``tol`` or ``max_iter``; with ``raise_stop=True`` the
    hook raises ``StopIteration`` instead, which scipy's L-BFGS-B (scipy >=
    1.11) catches as its callback's request to stop: the fit ends there, with
    a ConvergenceWarning (status 99). Only for estimators whose callbacks run
    inside a scipy callback.
    """

    def __init__(self, evaluate, stop, *, budget=None, raise_stop=False, cpu=False):
        self.evaluate, self.stop = evaluate, stop
        self.budget, self.raise_stop, self.cpu = budget, raise_stop, cpu

    def _now(self):
        return time.process_time() if self.cpu else time.perf_counter()

    def setup(self, estimator, context):
        self.start, self.paused, self.records = self._now(), 0.0, []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.parent is None or fitted_estimator is None:
            return False
        now = self._now()
        seconds = now - self.start - self.paused  # the evaluations before this one
        values = self.evaluate(fitted_estimator)
        self.paused += self._now() - now
        self.records.append((seconds, *values))
        stop = bool(self.stop(*values)) or (
            self.budget is not None and seconds > self.budget
        )
        if stop and self.raise_stop:
            raise StopIteration
        return stop


def smallest_max_iter(run, reached, *, limit, max_k):
    """The smallest ``max_iter`` at which a fit reaches a target, for the
    estimators without callbacks, whose ``max_iter=k`` fits (``tol``
    disabled, a fixed seed) stop at the ``k``-th iterate of one path.

    ``run(k)`` fits with ``max_iter=k`` and returns ``(seconds, *values)``
    (memoise it: the search asks for a ``k`` more than once);
    ``reached(*values)`` says whether that fit met the target. ``k`` doubles
    from 1 until the target is met, then is bisected down to the smallest
    ``k`` that meets it. Returns ``(k, None)``, or ``(None, seconds)`` when
    the search gives up: a fit short of the target took more than ``limit``
    seconds, or ``k`` would pass ``max_k``; ``seconds`` is then that last
    fit's time, a lower bound on the time to the target.
    """
    lo, k = 0, 1
    while not reached(*run(k)[1:]):
        if run(k)[0] > limit or 2 * k > max_k:
            return None, run(k)[0]
        lo, k = k, 2 * k
    while k - lo > 1:
        mid = (lo + k) // 2
        lo, k = (lo, mid) if reached(*run(mid)[1:]) else (mid, k)
    return k, None


def nbytes(X):
    """Bytes of the arrays holding ``X`` (dense, or CSR/CSC)."""
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def print_peak_memory(func):
    """In the child: run ``func()`` and print, as JSON, the memory it added
    at its peak, ``extra``: the larger of two measures, also printed,

    - ``traced``: the peak of the bytes allocated through Python's and
      numpy's allocators during ``func`` and alive at once (``tracemalloc``,
      which numpy reports its arrays to);
    - ``rss``: the growth of the peak RSS (``VmHWM``, reset to the current
      RSS through ``/proc/self/clear_refs`` first; Linux only), which also
      sees allocations outside numpy (BLAS buffers, scipy's C++ kernels) but
      misses arrays placed in memory the process had freed before, such as
      that of the data's generation.
    """
    import tracemalloc

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _status("VmRSS")
    tracemalloc.start()
    func()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = _status("VmHWM") - before
    print(json.dumps({"extra": max(traced, rss), "traced": traced, "rss": rss}))


def peak_memory(argv):
    """In the parent: run ``python *argv`` (a script whose child mode calls
    ``print_peak_memory``) in a fresh process; return the bytes it reported."""
    out = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["extra"]


def save_figure(fig, ax, path):
    """The plots' common finish: a light grid, a small legend, then ``fig``
    written to ``path`` (its folder made if needed) and closed."""
    import matplotlib.pyplot as plt

    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
