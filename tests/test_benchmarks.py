"""The bookkeeping of the benchmarks' timing helper (``benchmarks/measure.py``),
on a fake clock: the benchmarks' ratios are only as right as it is;
``bench_all --plot``'s drawing, on fake records; and the memory probe."""

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import measure  # noqa: E402


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_fit_trace_excludes_every_evaluation_and_only_those(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(measure.time, "perf_counter", clock)

    def evaluate(estimator):  # each evaluation takes 5 s of the fake clock
        clock.now += 5.0
        return (estimator,)

    trace = measure.FitTrace(evaluate, stop=lambda value: value == "third")
    trace.setup(None, None)
    epoch = types.SimpleNamespace(parent=object())
    stops = []
    for name, seconds in (("first", 1.0), ("second", 2.0), ("third", 0.5)):
        clock.now += seconds  # the fit's own work
        stops.append(trace.on_fit_task_end(None, epoch, fitted_estimator=name))
    # The root task's end is not an iteration.
    assert trace.on_fit_task_end(None, types.SimpleNamespace(parent=None)) is False
    assert trace.records == [(1.0, "first"), (3.0, "second"), (3.5, "third")]
    assert stops == [False, False, True]


def test_plot_problem_writes_a_png_and_refuses_no_records(tmp_path):
    pytest.importorskip(
        "matplotlib", reason="matplotlib (the test extra) is not installed"
    )
    import bench_all

    J_star = 0.5
    curves = {  # (traced, [(seconds, J), ...]); J below J* is drawn at the floor
        "traced": (True, [(0.1, 0.6), (0.2, 0.5 + 1e-4), (0.3, 0.5 - 1e-9)]),
        "searched": (False, [(0.05, 0.7), (0.4, 0.5 + 1e-7)]),
        "no objective": (False, [(0.1, None)]),
    }
    path = bench_all.plot_problem(tmp_path / "a" / "p.png", "fake", J_star, curves)
    assert path.is_file() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert bench_all.plot_file("dense, alpha=1e-4") == "dense_alpha_1e-4.png"
    with pytest.raises(ValueError, match="no records"):
        bench_all.plot_problem(tmp_path / "q.png", "fake", J_star, {"x": (True, [])})
    assert not (tmp_path / "q.png").exists()


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="the probe reads Linux /proc"
)
def test_peak_memory_reports_the_traced_peak_and_the_larger_measure(capsys):
    """The probe's ``traced`` figure counts a 64 MB array made inside the
    function (whatever memory the process held before), and ``extra`` is the
    larger of it and the RSS growth."""
    import json

    import numpy as np

    size = 64 * 2**20
    measure.print_peak_memory(lambda: np.ones(size // 8).sum())
    report = json.loads(capsys.readouterr().out)
    assert size <= report["traced"] < 1.1 * size
    assert report["extra"] == max(report["traced"], report["rss"])


def test_bench_defaults_compares_both_defaults_on_one_objective():
    """``bench_defaults.compare``: the gaps are measured from the smaller of
    the two tight fits' objectives (neither default fit goes below it), the
    ratios are the two median times', wall and CPU, and a row passes only
    when ours takes no more CPU time and ends no farther from the
    optimum."""
    import bench_defaults

    X, y = bench_defaults.PROBLEMS["iris"]()
    row = bench_defaults.compare(X, y, 1e-2, repeats=1)
    assert row["ours gap"] >= -1e-12 and row["LR gap"] >= -1e-12
    assert row["ratio"] == pytest.approx(row["ours"] / row["LR"])
    assert row["cpu ratio"] == pytest.approx(row["ours cpu"] / row["LR cpu"])
    assert row["ours it"] >= 1 and row["LR it"] >= 1
    expected = row["cpu ratio"] <= 1.0 and row["ours gap"] <= row["LR gap"]
    assert row["ok"] == expected
