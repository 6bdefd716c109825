"""The step rules of ``_optimizers.py``, each against a hand computation:
the L-BFGS two-loop recursion (against the explicit inverse-Hessian update),
FISTA's momentum with restart, the backtracking Lipschitz estimate, the
mini-batch step schedules and the plateau policy, and the round trip of
their state through plain numbers (what ``partial_fit`` keeps)."""

import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_softmax._optimizers import (
    BacktrackingLipschitz,
    LBFGSDirection,
    NesterovMomentum,
    PlateauStopping,
    StepSchedule,
)

# ------------------------------------------------------------------ L-BFGS


def explicit_lbfgs_direction(pairs, g, diagonal):
    """``-H g`` with ``H`` built as a matrix: ``H_0 = gamma D^{-1}``, ``gamma =
    <s, y> / <y, D^{-1} y>`` on the last pair, then the BFGS update
    ``H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T`` for each pair,
    oldest first (Nocedal & Wright, eqs. 6.17 and 7.19-7.20)."""
    n = g.size
    D_inv = np.ones(n) if diagonal is None else 1.0 / np.ravel(diagonal)
    s_last, y_last = (np.ravel(a) for a in pairs[-1])
    gamma = (s_last @ y_last) / (y_last @ (D_inv * y_last))
    H = gamma * np.diag(D_inv)
    for s, y in pairs:
        s, y = np.ravel(s), np.ravel(y)
        rho = 1.0 / (s @ y)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return -(H @ np.ravel(g)).reshape(g.shape)


def curvature_pairs(rng, shape, count):
    """Pairs ``(s, A s)`` of a random symmetric positive definite ``A``."""
    n = int(np.prod(shape))
    B = rng.standard_normal((n, n))
    A = B @ B.T / n + np.eye(n)
    pairs = []
    for _ in range(count):
        s = rng.standard_normal(shape)
        pairs.append((s, (A @ s.ravel()).reshape(shape)))
    return pairs


@pytest.mark.parametrize("use_diagonal", [False, True])
@pytest.mark.parametrize("n_pairs", [1, 3, 5])
def test_lbfgs_two_loop_is_the_explicit_bfgs_update(use_diagonal, n_pairs):
    rng = np.random.default_rng(n_pairs)
    shape = (3, 4)
    diagonal = np.logspace(-1, 1, 4) if use_diagonal else None  # per column
    directions = LBFGSDirection(10, np, diagonal)
    pairs = curvature_pairs(rng, shape, n_pairs)
    for s, y in pairs:
        directions.update(s, y)
    assert len(directions.pairs) == n_pairs
    g = rng.standard_normal(shape)
    g_before = g.copy()
    full_diagonal = None if diagonal is None else np.broadcast_to(diagonal, shape)
    expected = explicit_lbfgs_direction(pairs, g, full_diagonal)
    assert_allclose(directions.direction(g), expected, rtol=1e-10, atol=1e-13)
    assert_array_equal(g, g_before)  # g is not modified


def test_lbfgs_without_pairs_is_scaled_steepest_descent():
    g = np.arange(1.0, 7.0).reshape(2, 3)
    assert_array_equal(LBFGSDirection(5, np).direction(g), -g)
    diagonal = np.array([2.0, 4.0, 8.0])
    assert_allclose(LBFGSDirection(5, np, diagonal).direction(g), -g / diagonal)


def test_lbfgs_keeps_the_last_memory_pairs():
    rng = np.random.default_rng(0)
    pairs = curvature_pairs(rng, (2, 3), 7)
    kept = LBFGSDirection(3, np)
    fresh = LBFGSDirection(3, np)
    for s, y in pairs:
        kept.update(s, y)
    for s, y in pairs[-3:]:
        fresh.update(s, y)
    assert len(kept.pairs) == 3
    g = rng.standard_normal((2, 3))
    assert_allclose(kept.direction(g), fresh.direction(g), rtol=1e-14)
    assert_allclose(
        kept.direction(g), explicit_lbfgs_direction(pairs[-3:], g, None), rtol=1e-10
    )
    kept.reset()
    assert kept.pairs == []
    assert_array_equal(kept.direction(g), -g)


def test_lbfgs_skips_pairs_without_positive_curvature():
    """A pair is kept when ``<s, y> > 1e-10 |s| |y|``: a relative test, so a
    tiny pair along ``s`` is kept, a large nearly orthogonal one is not."""
    directions = LBFGSDirection(5, np)
    s = np.array([[1.0, 2.0]])
    directions.update(s, -s)  # <s, y> < 0
    directions.update(s, np.array([[2.0, -1.0]]))  # <s, y> = 0
    directions.update(s, np.array([[2.0, -1.0 + 1e-12]]))  # 2e-12 < 5e-10
    assert directions.pairs == []
    directions.update(s, 1e-12 * s)  # tiny, but curvature along s
    assert len(directions.pairs) == 1
    g = np.array([[0.5, -1.0]])
    assert np.all(np.isfinite(directions.direction(g)))


def test_lbfgs_direction_from_the_exact_diagonal_is_newtons():
    """On a quadratic with a diagonal Hessian ``h``, the recursion started
    from ``D = h`` gives Newton's direction ``-g / h`` (BFGS keeps an exact
    inverse Hessian exact), before and after a pair; from the identity it
    does not."""
    rng = np.random.default_rng(0)
    h = np.logspace(-3, 2, 12).reshape(3, 4)
    g = rng.standard_normal(h.shape)
    s = rng.standard_normal(h.shape)
    scaled, plain = LBFGSDirection(5, np, h), LBFGSDirection(5, np)
    assert_allclose(scaled.direction(g), -g / h, rtol=1e-12)
    assert_allclose(plain.direction(g), -g, rtol=1e-12)
    for directions in (scaled, plain):
        directions.update(s, h * s)
    assert_allclose(scaled.direction(g), -g / h, rtol=1e-10)
    assert not np.allclose(plain.direction(g), -g / h, rtol=1e-2)


# -------------------------------------------------------------- momentum


def test_nesterov_momentum_sequence_by_hand():
    """``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2``, ``beta = (t_k - 1) /
    t_{k+1}``, ``Y = P_new + beta (P_new - P_old)``, starting from t = 1."""
    momentum = NesterovMomentum(np)
    P0 = np.array([0.0, 0.0])
    P1 = np.array([1.0, 0.5])
    # Along the momentum (Y_old = P0: <P0 - P1, P1 - P0> < 0): no restart.
    Y1 = momentum.extrapolate(P1, P0, P0)
    t1 = (1 + math.sqrt(5)) / 2
    assert momentum.t == pytest.approx(t1, rel=1e-15)
    assert_array_equal(Y1, P1)  # beta = (1 - 1) / t1 = 0
    P2 = np.array([2.0, 1.0])
    Y2 = momentum.extrapolate(P2, P1, Y1)
    t2 = (1 + math.sqrt(1 + 4 * t1 * t1)) / 2
    assert momentum.t == pytest.approx(t2, rel=1e-15)
    assert_allclose(Y2, P2 + (t1 - 1) / t2 * (P2 - P1), rtol=1e-15)


def test_nesterov_momentum_restarts_against_the_step():
    """When the step went against the momentum, ``<Y_old - P_new, P_new -
    P_old> > 0``, the sequence restarts: ``t = 1`` and ``Y = P_new``."""
    momentum = NesterovMomentum(np)
    momentum.t = 5.0
    P_old = np.array([0.0, 0.0])
    P_new = np.array([1.0, 0.0])
    Y_old = np.array([3.0, 0.0])  # beyond P_new: the step overshot
    Y = momentum.extrapolate(P_new, P_old, Y_old)
    assert momentum.t == 1.0
    assert_array_equal(Y, P_new)
    # The same step without the overshoot keeps the momentum.
    momentum.t = 5.0
    Y = momentum.extrapolate(P_new, P_old, np.array([0.5, 0.0]))
    assert momentum.t > 5.0
    assert Y[0] > P_new[0]


def test_backtracking_lipschitz_by_hand():
    lipschitz = BacktrackingLipschitz(L0=3.0)
    lipschitz.relax()
    assert lipschitz.L == pytest.approx(2.7)
    lipschitz.reject()
    lipschitz.reject()
    assert lipschitz.L == pytest.approx(10.8)
    custom = BacktrackingLipschitz(L0=1.0, increase=3.0, decrease=0.5)
    custom.reject()
    custom.relax()
    assert custom.L == pytest.approx(1.5)


# --------------------------------------------------------------- schedules


def test_constant_schedule():
    schedule = StepSchedule("constant", 0.25)
    for epoch in range(1, 4):
        schedule.end_epoch()
        assert schedule.eta == 0.25 and schedule.epoch == epoch
    assert schedule.trigger_stopping() is True  # a plateau stops it
    assert schedule.eta == 0.25


@pytest.mark.parametrize("power_t", [0.5, 0.7])
def test_invscaling_schedule(power_t):
    schedule = StepSchedule("invscaling", 2.0, power_t)
    etas = [schedule.eta]
    for _ in range(5):
        schedule.end_epoch()
        etas.append(schedule.eta)
    # epoch t (from 0) uses eta0 / (t + 1) ** power_t
    assert_allclose(etas, 2.0 / np.arange(1, 7) ** power_t, rtol=1e-15)
    assert schedule.epoch == 5
    assert schedule.trigger_stopping() is True


def test_adaptive_schedule_divides_by_five_until_exhausted():
    """Each plateau divides the step by 5 and goes on, until it has shrunk
    below ``1e-6 eta0``: ``eta0 / 5**9 < 1e-6 eta0 <= eta0 / 5**8``, so the
    ninth plateau stops."""
    schedule = StepSchedule("adaptive", 0.5)
    schedule.end_epoch()
    assert schedule.eta == 0.5  # epochs alone do not change it
    decisions = [schedule.trigger_stopping() for _ in range(9)]
    assert decisions == [False] * 8 + [True]
    assert schedule.eta == pytest.approx(0.5 / 5**9, rel=1e-14)


@pytest.mark.parametrize("kind", ["constant", "invscaling", "adaptive"])
def test_schedule_state_round_trip(kind):
    """``state`` is plain numbers (JSON-serialisable); ``from_state`` gives a
    schedule that continues exactly as the original."""
    schedule = StepSchedule(kind, 0.3, 0.6)
    for _ in range(3):
        schedule.end_epoch()
    if kind == "adaptive":
        schedule.trigger_stopping()
    state = schedule.state()
    assert json.loads(json.dumps(state)) == state
    assert state == {
        "kind": kind,
        "eta0": 0.3,
        "power_t": 0.6,
        "eta": schedule.eta,
        "epoch": 3,
    }
    copy = StepSchedule.from_state(state)
    for _ in range(4):
        schedule.end_epoch()
        copy.end_epoch()
        assert copy.eta == schedule.eta and copy.epoch == schedule.epoch
        assert copy.trigger_stopping() == schedule.trigger_stopping()
        assert copy.eta == schedule.eta


# ---------------------------------------------------------------- plateau


def test_plateau_counts_epochs_without_improvement_by_tol():
    """MLP's rule: an epoch improves if it beats the best score so far by
    ``tol``; after ``n_iter_no_change`` consecutive epochs without one, the
    fit stops (no schedule)."""
    plateau = PlateauStopping(2, 0.1)
    P = [np.full(2, float(i)) for i in range(6)]
    assert plateau.update(1.0, P[0]) == (False, "")  # the first sets the best
    assert plateau.update(1.05, P[1]) == (False, "")  # better, not by tol
    assert plateau.best == 1.05 and plateau.best_P is P[1] and plateau.count == 1
    assert plateau.update(1.2, P[2]) == (False, "")  # by tol: count reset
    assert plateau.count == 0
    assert plateau.update(1.2, P[3]) == (False, "")  # a tie: best_P kept
    assert plateau.best_P is P[2]
    stop, note = plateau.update(0.5, P[4])
    assert stop and note == "; no improvement, stopping"
    assert plateau.best == 1.2 and plateau.best_P is P[2]


def test_plateau_shrinks_the_adaptive_step_and_goes_on():
    schedule = StepSchedule("adaptive", 1.0)
    plateau = PlateauStopping(1, 0.0, schedule)
    plateau.update(2.0, None)
    stop, note = plateau.update(1.0, None)
    assert not stop
    assert note == "; no improvement, step size now 2.000e-01"
    assert schedule.eta == pytest.approx(0.2)
    assert plateau.count == 0  # the count restarts after a decision
    # The non-adaptive schedules stop on a plateau.
    plateau = PlateauStopping(1, 0.0, StepSchedule("constant", 1.0))
    plateau.update(2.0, None)
    assert plateau.update(1.0, None)[0] is True


def test_plateau_without_shrink_stops_and_keeps_the_step():
    """Early stopping with the "auto" schedule: the plateau stops the fit
    rather than shrinking the step."""
    schedule = StepSchedule("adaptive", 1.0)
    plateau = PlateauStopping(2, 0.0, schedule, shrink=False)
    stops = [plateau.update(score, None)[0] for score in (3.0, 2.0, 1.0)]
    assert stops == [False, False, True]
    assert schedule.eta == 1.0


def test_plateau_that_does_not_act_only_counts():
    """``partial_fit``: the counts are kept for later calls, never acted upon."""
    schedule = StepSchedule("adaptive", 1.0)
    plateau = PlateauStopping(2, 0.0, schedule, act=False)
    results = [plateau.update(score, None) for score in (3.0, 2.0, 1.0, 0.5)]
    assert results == [(False, "")] * 4
    assert plateau.count == 3 and plateau.best == 3.0
    assert schedule.eta == 1.0


def test_plateau_state_round_trip():
    plateau = PlateauStopping(3, 0.01)
    for score in (1.0, 0.9, 0.95):
        plateau.update(score, None)
    state = plateau.state()
    assert state == {"best": 1.0, "count": 2}
    assert json.loads(json.dumps(state)) == state
    resumed = PlateauStopping(3, 0.01, state=state)
    assert (resumed.best, resumed.count) == (1.0, 2)
    assert resumed.update(0.99, None)[0] is True  # the third in a row
    assert plateau.update(0.99, None)[0] is True
    # A fresh plateau (no state) would not stop there.
    assert PlateauStopping(3, 0.01).update(0.99, None)[0] is False


def test_plateau_improvement_by_exactly_tol_counts():
    """As MLP's ``loss > best_loss - tol``: beating the best by exactly
    ``tol`` is an improvement, and with ``tol = 0`` so is a tie."""
    plateau = PlateauStopping(1, 0.25)
    plateau.update(1.0, None)
    assert plateau.update(1.25, None) == (False, "")
    assert plateau.count == 0
    plateau = PlateauStopping(1, 0.0)
    plateau.update(1.0, None)
    assert plateau.update(1.0, None) == (False, "")
    assert plateau.update(0.5, None)[0] is True
