"""Test-session set-up shared by tests/ and the doctests of sk_softmax/."""

import os
import re

import pytest
from threadpoolctl import threadpool_limits

# scikit-learn's check_array_api_input runs only when scipy was imported with
# its array-API support on; scipy reads this variable once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# The skips that ``--no-skips`` lets through: scikit-learn's array-API checks
# on a device or a library that a CPU machine cannot have (CUDA, MPS, XPU,
# CuPy, dpnp). Every other skip means that an optional package is missing.
DEVICE_SKIPS = re.compile(
    r"PyTorch test requires cuda"
    r"|Skipping MPS device test|MPS is not available"
    r"|XPU is not available|Skipping XPU device test"
    r"|CuPy test requires cuda|cupy is not installed"
    r"|dpnp is not installed|Skipping dpnp test"
)


def pytest_addoption(parser):
    parser.addoption(
        "--no-skips",
        action="store_true",
        help=(
            "fail every test (and test module) that skips, but for "
            "scikit-learn's array-API checks on devices a CPU machine lacks "
            "(CUDA, MPS, XPU, CuPy, dpnp): CI's run with every extra installed"
        ),
    )


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


def _skip_reason(report):
    """The reason of a skipped report (its ``longrepr`` is ``(path, line,
    "Skipped: reason")``)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def _fail_a_skip(config, report):
    """Under ``--no-skips``, turn a skip that is not a device skip into a
    failure that says why it skipped."""
    if not (config.getoption("no_skips") and report.skipped):
        return
    if hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if DEVICE_SKIPS.search(reason):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped under --no-skips (install every extra): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_a_skip(item.config, outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_a_skip(collector.config, outcome.get_result())
