"""Test-session set-up shared by tests/ and the doctests of sk_softmax/."""

import os

from threadpoolctl import threadpool_limits

# scikit-learn's check_array_api_input runs only when scipy was imported with
# its array-API support on; scipy reads this variable once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


def pytest_configure(config):
    """BLAS runs single-threaded during the tests. Their problems are small
    (the largest dense one is digits, 1797 x 64): a second BLAS thread gains
    nothing there, and its spin-waiting on a 2-core machine shared with other
    work multiplied the suite's CPU time by about three (113 s against 39 s),
    most of it in the tight LogisticRegression references of
    ``test_logreg_agreement`` (25 s against 0.8 s). Results do not depend on
    it: the suite passes either way. The limits are kept on ``config`` so
    that they hold for the whole session; numpy's and scipy's BLAS are
    loaded first, as threadpoolctl limits only the libraries loaded."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401  (after SCIPY_ARRAY_API is set)

    config._sk_softmax_blas_limits = threadpool_limits(limits=1, user_api="blas")
