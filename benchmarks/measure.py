"""Measurements shared by the benchmarks: the objective, evaluated alike for
every method, and the peak memory of a fit, measured in a subprocess.
"""

import json
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

from sk_softmax._objective import objective_value
from sk_softmax._objective import softmax_parameters as _softmax_parameters


def objective(W, b, X, y_index, alpha):
    """``J = mean cross-entropy + alpha / 2 * ||W||_F^2`` at the softmax
    ``(W, b)``: the package's objective, evaluated alike for every method."""
    return objective_value(W, b, X, y_index, alpha=alpha)


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
    seconds being the fit time so far without the evaluations; a true
    ``stop(*values)`` stops the fit.
    """

    def __init__(self, evaluate, stop):
        self.evaluate, self.stop = evaluate, stop

    def setup(self, estimator, context):
        self.start, self.paused, self.records = time.perf_counter(), 0.0, []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.parent is None or fitted_estimator is None:
            return False
        now = time.perf_counter()
        seconds = now - self.start - self.paused  # the evaluations before this one
        values = self.evaluate(fitted_estimator)
        self.paused += time.perf_counter() - now
        self.records.append((seconds, *values))
        return self.stop(*values)


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
    """In the child: run ``func()`` and print, as JSON, the growth of the peak
    RSS it caused (``VmHWM`` reset to the current RSS through
    ``/proc/self/clear_refs`` first). Linux only."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _status("VmRSS")
    func()
    print(json.dumps({"extra": _status("VmHWM") - before}))


def peak_memory(argv):
    """In the parent: run ``python *argv`` (a script whose child mode calls
    ``print_peak_memory``) in a fresh process; return the bytes it reported."""
    out = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["extra"]
