"""``--no-skips`` (conftest.py), which CI's run with every extra uses: a
test or a test module that skips fails, but for scikit-learn's array-API
checks on devices a CPU machine cannot have."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

TESTS = """
import unittest

import pytest


def test_passes():
    pass


def test_missing_package():
    pytest.importorskip("no_such_package_here", reason="an extra is missing")


def test_cuda():
    raise unittest.SkipTest("PyTorch test requires cuda, which is not available")


def test_cupy():
    raise unittest.SkipTest("cupy is not installed: not checking array_api input")


@pytest.mark.xfail(reason="expected")
def test_xfail():
    raise AssertionError
"""

MODULE_SKIP = """
import pytest

pytest.importorskip("no_such_package_here", reason="a module's extra is missing")


def test_never_collected():
    pass
"""


@pytest.fixture
def project(pytester):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makepyfile(test_cases=TESTS, test_module_skip=MODULE_SKIP)
    return pytester


def test_without_the_option_skips_are_skips(project):
    result = project.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)


def test_with_the_option_only_device_skips_remain(project):
    result = project.runpytest("-rs", "--no-skips")
    result.stdout.fnmatch_lines(["*Interrupted: 1 error during collection*"])
    assert result.ret != 0
    result = project.runpytest("-rs", "--no-skips", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, skipped=2, failed=1, errors=1, xfailed=1)
    for reason in ("an extra is missing", "a module's extra is missing"):
        result.stdout.fnmatch_lines(
            [f"skipped under --no-skips (install every extra): {reason}"]
        )
    assert result.ret != 0
