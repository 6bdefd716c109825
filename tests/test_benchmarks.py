"""The bookkeeping of the benchmarks' timing helper (``benchmarks/measure.py``),
on a fake clock: the benchmarks' ratios are only as right as it is."""

import sys
import types
from pathlib import Path

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
