"""
==================================================
Solvers: objective gap against time and iterations
==================================================

All the full-batch methods of :class:`~sk_softmax.SoftmaxGDClassifier`
minimise the same objective

.. math::

    J(W, b) = \\frac{1}{n} \\sum_i \\mathrm{CE}(\\mathrm{softmax}(W x_i + b), y_i)
              + \\frac{\\alpha}{2} \\|W\\|_F^2,

as does :class:`~sklearn.linear_model.LogisticRegression` with
``C = 1 / (alpha * n)`` (``K > 2`` classes). We compute ``J`` ourselves from
``coef_`` and ``intercept_`` after every iteration and plot its gap to the
optimum ``J*`` for Newton-CG, L-BFGS, FISTA, plain gradient descent with a
constant step (``learning_rate=<float>``) and ``LogisticRegression(lbfgs)``.

The iterates of our solvers are recorded by a scikit-learn callback (called
after every iteration with a copy of the model as it stands); the evaluation
time is left out of the timings. ``LogisticRegression`` has no callbacks, so
its ``k``-th iterate is a fresh fit with ``max_iter=k``, timed alone.
"""

import matplotlib

matplotlib.use("Agg")

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_softmax import SoftmaxGDClassifier

# One thread: on a problem this small, more threads mostly wait on each other
# (and several BLAS and OpenMP pools can oversubscribe a small machine).
threadpool_limits(limits=1)

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
n = X.shape[0]
alpha = 1e-3


def objective(coef, intercept):
    """J = mean cross-entropy + alpha / 2 ||W||^2, for K > 2 classes."""
    Z = X @ coef.T + intercept
    Z -= Z.max(axis=1, keepdims=True)  # a stable log-sum-exp
    ce = np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(n), y])
    return ce + 0.5 * alpha * np.sum(coef**2)


class Trace:
    """A scikit-learn fit callback: after each iteration, the fit time so far
    (without the evaluations) and J of the model as it stands."""

    def setup(self, estimator, context):
        self.start, self.paused, self.times, self.values = (
            time.perf_counter(),
            0,
            [],
            [],
        )

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kwargs):
        if context.parent is None or fitted_estimator is None:
            return False  # the end of the whole fit, not an iteration
        now = time.perf_counter()
        self.times.append(now - self.start - self.paused)
        self.values.append(
            objective(fitted_estimator.coef_, fitted_estimator.intercept_)
        )
        self.paused += time.perf_counter() - now
        return False


def trace(max_iter, **params):
    recorder = Trace()
    clf = SoftmaxGDClassifier(alpha=alpha, max_iter=max_iter, tol=1e-10, **params)
    clf.set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the point
        clf.fit(X, y)
    return np.array(recorder.times), np.array(recorder.values)


runs = {
    "Newton-CG": trace(30, solver="newton-cg"),
    "L-BFGS": trace(150, solver="lbfgs"),
    "FISTA": trace(200, solver="fista"),
    "GD, constant step 1.0": trace(200, learning_rate=1.0),
}

# %%
# ``LogisticRegression`` with the same optimum: ``C = 1 / (alpha * n)``.
lr_iterations = [1, 2, 3, 5, 8, 12, 18, 27, 40, 60, 90]
times, values = [], []
for k in lr_iterations:
    lr = LogisticRegression(C=1 / (alpha * n), max_iter=k, tol=1e-12)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr.fit(X, y)
    times.append(time.perf_counter() - start)
    values.append(objective(lr.coef_, lr.intercept_))
runs["LogisticRegression(lbfgs)"] = (np.array(times), np.array(values))

# %%
# The optimum: the lowest objective any method reached (Newton-CG's, which
# converges quadratically), and the gaps to it.
j_star = min(values.min() for _, values in runs.values())
print(f"J* = {j_star:.10f}")

fig, (ax_iter, ax_time) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for name, (times, values) in runs.items():
    gap = np.maximum(values - j_star, 1e-15)
    iterations = (
        lr_iterations if name.startswith("Logistic") else np.arange(1, len(values) + 1)
    )
    ax_iter.semilogy(iterations, gap, label=name)
    ax_time.loglog(times, gap, label=name)
    print(
        f"{name:28s} {len(values):4d} points, final gap {gap[-1]:.1e}, {times[-1]:.3f} s"
    )
ax_iter.set(xlabel="iteration", ylabel="J - J*", title="gap against iterations")
ax_time.set(xlabel="seconds", title="gap against time")
ax_iter.legend(fontsize=8)
for ax in (ax_iter, ax_time):
    ax.grid(True, which="major", alpha=0.3)
fig.suptitle(f"standardized digits, alpha = {alpha:g}")
fig.tight_layout()
plt.show()

# %%
# Newton-CG reaches machine precision in a few iterations; L-BFGS takes more,
# cheaper ones; FISTA and the constant step are first-order methods whose gap
# falls linearly at best (the constant step far slower). On a problem this
# small, timings of a few milliseconds are noisy; see ``benchmarks/`` for
# larger problems.
