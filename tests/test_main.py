"""``python -m sk_softmax`` (the README's main job) prints both comparisons:
each estimator at its defaults, and the time each takes to the same
objective gap, which its fit there does reach."""

import contextlib
import io
import re

import numpy as np
import pytest

import sk_softmax.__main__ as main_job


@pytest.fixture(scope="module")
def output():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(main_job, "N_FITS", 1)  # the tables, not the timings
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            main_job.main()
    return buffer.getvalue()


def table(output, number):
    """The rows of table ``number`` as ``{model: [columns]}``."""
    part = output.split(f"\n{number}. ")[1].split("\n\n")[1]
    rows = {}
    for line in part.splitlines()[2:]:
        if not line.strip():
            break
        model, rest = line[:33].strip(), line[33:].split()
        rows[model.split("(")[0]] = rest
    return rows


def test_both_tables_have_both_estimators(output):
    assert "J* = " in output
    for number in (1, 2):
        assert set(table(output, number)) == {
            "SoftmaxGDClassifier",
            "LogisticRegression",
        }


def test_defaults_are_the_estimators_defaults(output):
    rows = table(output, 1)
    # tol, max_iter as each estimator has them by default
    assert rows["SoftmaxGDClassifier"][:2] == ["0.0001,", "200"]
    assert rows["LogisticRegression"][:2] == ["0.0001,", "100"]
    for row in rows.values():
        gap, fit_time = float(row[3]), float(row[4])
        assert gap >= -1e-12 and fit_time > 0


def test_the_second_table_reaches_the_target_gap(output):
    rows = table(output, 2)
    for row in rows.values():
        tol, max_iter, gap = float(row[0].rstrip(",")), int(row[1]), float(row[3])
        assert max_iter == main_job.MAX_ITER
        assert -1e-12 <= gap <= main_job.TARGET_GAP
        # a power of ten at or below the default tol
        assert tol <= 1e-4 and np.log10(tol) == pytest.approx(round(np.log10(tol)))
    assert re.search(r"Time to the same gap, 1e-06", output)
