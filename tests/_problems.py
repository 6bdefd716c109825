"""Small random problems and numerical helpers shared by the tests of the
internals (``test_backend``, ``test_loss``, ``test_objective``,
``test_solvers``, ``test_prox_newton``, ``test_minibatch``), and a solver
run from a start point with the measures its tests assert on. Labels are label indices ``y``, as in
the package; ``one_hot`` builds the derivation's ``Y`` for the reference
formulas."""

import numpy as np
import pytest
import scipy.sparse as sp

from sk_softmax._objective import SoftmaxObjective
from sk_softmax._solvers import SOLVERS, minimize

# Float64 steps for central differences: truncation error O(h^2 f''') and
# rounding error O(eps |f| / h) are both around 1e-11 with h = 1e-5.
FD_STEP = 1e-5

#: Options a method cannot do without (``run``).
REQUIRED_OPTIONS = {"gd": {"learning_rate": 1.0}}


def make_data(seed, n=30, d=4, K=3, dtype=np.float64, uniform_weights=False):
    """Random ``X, W, b``, label indices ``y`` (every class present) and
    normalised (non-uniform unless asked) sample weights ``w``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = 0.5 * rng.standard_normal((K, d))
    b = 0.5 * rng.standard_normal(K)
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)  # every class present
    w = np.ones(n) if uniform_weights else rng.uniform(0.1, 3.0, size=n)
    w = w / w.sum()
    X, W, b, w = (a.astype(dtype) for a in (X, W, b, w))
    return X, W, b, y, w


def one_hot(y, K, dtype=np.float64):
    """The derivation's ``Y``: ``Y[i, k] = 1`` iff ``k == y[i]``."""
    return np.eye(K, dtype=dtype)[y]


def objective(X, y, w, *, K=None, alpha=0.0, l1_ratio=0.0, fit_intercept=True):
    """``SoftmaxObjective.from_arrays`` on numpy/scipy arrays."""
    K = int(np.max(y)) + 1 if K is None else K
    return SoftmaxObjective.from_arrays(
        X,
        y,
        w,
        n_classes=K,
        xp=np,
        alpha=alpha,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
    )


def several_blocks(obj):
    """The same objective evaluated in row blocks of 256 samples (the minimum)."""
    obj.data.block_bytes = 1
    assert len(obj.data.blocks()) > 1
    return obj


def central_differences(f, P, h=FD_STEP):
    """Gradient of the scalar function ``f`` at the float64 array ``P``."""
    P = np.asarray(P, dtype=np.float64)
    grad = np.zeros_like(P)
    for idx in np.ndindex(P.shape):
        Pp, Pm = P.copy(), P.copy()
        Pp[idx] += h
        Pm[idx] -= h
        grad[idx] = (f(Pp) - f(Pm)) / (2 * h)
    return grad


def hessian_matrix(obj, P):
    """The Hessian of the smooth objective at ``P``, column by column."""
    hessp = obj.hessp(P)
    basis = np.eye(P.size).reshape(P.size, *P.shape)
    return np.stack([hessp(E).ravel() for E in basis])


def solver_problem(
    seed=0,
    n=200,
    d=5,
    K=3,
    alpha=1e-2,
    l1_ratio=0.0,
    fit_intercept=True,
    dtype=np.float64,
    sparse=False,
):
    """A small, well-conditioned random problem with non-uniform weights:
    ``(objective, (X, y, w))``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W_true = rng.standard_normal((K, d))
    Z = X @ W_true.T + 0.3 * rng.standard_normal((n, K))
    y = np.argmax(Z, axis=1)
    w = rng.uniform(0.5, 2.0, size=n)
    w = w / w.sum()
    X, w = X.astype(dtype), w.astype(dtype)
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    obj = objective(
        X, y, w, K=K, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    )
    return obj, (X, y, w)


def generic_namespace():
    """An array namespace whose arrays are not numpy arrays
    (array_api_strict): the generic branches of the package's helpers."""
    return pytest.importorskip(
        "array_api_strict", reason="array-api-strict is not installed"
    )


# ------------------------------------------------------------ the solvers


def never_stop(iteration, state):
    return False


def run(
    name,
    obj,
    P0,
    *,
    max_iter=10_000,
    tol=1e-10,
    scale=None,
    report=never_stop,
    seed=0,
    options=None,
    **fields,
):
    """``minimize`` with ``options``, or the method's options class built
    from ``fields`` (its defaults otherwise); returns the ``SolverResult``."""
    if options is None:
        options = SOLVERS[name][1](**{**REQUIRED_OPTIONS.get(name, {}), **fields})
    return minimize(
        obj,
        P0,
        method=name,
        max_iter=max_iter,
        tol=tol,
        scale=scale,
        report=report,
        seed=seed,
        options=options,
    )


def total_value(obj, P):
    return obj.smooth_value(P) + obj.nonsmooth_value(P)


def optimality_at(obj, P):
    return obj.optimality(P, obj.smooth_value_and_gradient(P)[1])
