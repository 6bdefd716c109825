"""Proximal Newton: Newton steps on the smooth part with the L1 part inside
the subproblem, on a working set of features, for any ``l1_ratio``."""

import math
from dataclasses import dataclass, field

import numpy as np

from .._array_ops import as_dtype, positive_part
from .._array_ops import dot as _dot
from .._objective import _fill_non_positive
from .._optimizers import BacktrackingLipschitz
from ._driver import Iteration
from ._line_search import proximal_line_search
from ._newton_cg import forcing_cap
from ._sampling import HessianSample, hessian_sample

#: The steps along a face's Newton step that ``orthant_step`` tries, each
#: projected on the face, before it stops where the first entry reaches zero.
PROJECTED_STEPS = (1.0, 0.5, 0.25, 0.125)


@dataclass(frozen=True)
class ProxNewtonOptions:
    """The proximal Newton solver's tunables.

    ``sample``: the rows of the Hessian (``HessianSample``): fewer per
    feature than Newton-CG's, as the subproblems take more products; the
    sample grows whenever a step shows that it misleads. ``max_products``:
    the Hessian products per iteration, at most. ``first_forcing``: the
    relative accuracy of the first subproblem; ``forcing_bounds``: the
    bounds of the loosest accuracy of the later ones, as Newton-CG's
    (``forcing_cap``). ``cg_forcing``: the relative residual after which
    the conjugate gradients on a face stop where an entry changes sign.
    ``damping``: the model's Hessian gets ``damping * opt / opt_0`` times
    the per-feature curvature added (``opt`` the optimality measure,
    ``opt_0`` its value at the start; more after subproblems cut short by
    ``max_products``, ``Schedule``), which keeps the early steps from
    running far along directions of little curvature and vanishes near the
    optimum.
    ``min_working_set``: the working set's size when no feature is nonzero;
    ``growth``: the working set holds up to this many times the features
    that are nonzero (``working_set``).
    """

    sample: HessianSample = field(
        default_factory=lambda: HessianSample(rows_per_feature=10, min_rows=1000)
    )
    max_products: int = 50
    first_forcing: float = 0.1
    forcing_bounds: tuple[float, float] = (0.1, 0.5)
    cg_forcing: float = 0.3
    damping: float = 1.0
    min_working_set: int = 32
    growth: float = 2.0


def prox_newton(objective, P, f, g, threshold, options, seed):
    """Proximal Newton on a working set of features (``ProxNewtonOptions``).

    Each iteration picks the working set (``working_set``: the nonzero
    features and the ones that most violate optimality), minimises the
    quadratic model of the smooth part plus the L1 part over those features
    and the intercepts (``QuadraticModel``, ``solve_model``) to a relative
    accuracy ``eta`` that tightens as the optimality measure falls (the
    forcing term of Newton-CG), then searches along the step on the whole
    objective (``proximal_line_search``). The model's Hessian is taken on a
    sample of the rows, in its dtype, as Newton-CG's
    (``hessian_sample``), and on the working set's columns only
    (``objective.on_columns``); the sample doubles when a step shows that
    it misleads (``Schedule``). Where every coefficient is zero (the
    start of a fit, or an empty working set) the step is the exact one to
    the best intercepts (``intercept_step``): an all-zero solution is found
    in one iteration.
    """
    xp = objective.xp
    schedule = Schedule(objective, options, seed)
    lipschitz = BacktrackingLipschitz()
    J = f + objective.nonsmooth_value(P)
    opt0 = opt = objective.optimality(P, g)
    eta = options.first_forcing
    while True:
        mask = working_set(objective, P, g, options)
        d, quadratic, exhausted = None, 0.0, False
        if not bool(xp.any(mask)) or _null_model(objective, P, g, threshold):
            d = intercept_step(objective, P, g)
        if d is not None:
            decrease = _dot(g, d, xp)
        else:
            model = schedule.rows.model(objective, P, g, mask)
            model.damping = schedule.damping(opt / opt0)
            lipschitz.relax()
            D, HD, exhausted = solve_model(model, eta, options, lipschitz)
            quadratic = _dot(D, HD, xp)
            D = model.centred(D)
            d, decrease = model.full_step(D), model.decrease(D)
            del model, D, HD
        if not decrease < 0:  # the model sees no decrease: as close as it gets
            return "precision"
        step = proximal_line_search(objective, P, J, d, decrease, opt)
        if step is None:  # no decrease possible in floating point
            return "precision"
        J_before = J
        t, P, f, g, J = step
        del step, d
        opt = objective.optimality(P, g)
        predicted = t * decrease + 0.5 * t * t * quadratic
        misleads = t < 1 or (J - J_before) > 0.25 * predicted
        schedule.update(misleads, exhausted)
        eta = min(schedule.forcing_cap(), math.sqrt(opt / opt0))
        yield Iteration(P, J, opt, t)


def _null_model(objective, P, g, threshold):
    """Whether every coefficient of ``P`` is zero and its intercepts are not
    optimal: ``intercept_step`` then goes to the best of the models with
    ``W = 0``, where a fit's path starts (as glmnet's)."""
    if not objective.fit_intercept:
        return False
    xp = objective.xp
    W = objective.split(P)[0]
    return not bool(xp.any(W != 0)) and float(xp.max(xp.abs(g[:, -1]))) > threshold


class Schedule:
    """The Hessian sample of a proximal Newton fit, with the rows it keeps
    for the working set (``rows``, a ``WorkingSetRows``), and its damping.

    The sample doubles (the larger contains the smaller), up to all the
    rows, after a step that the model misled: a step shorter than Newton's
    or a decrease under a quarter of the model's; not after a subproblem
    cut short by its budget of products, which says that the model is hard
    to solve, not that it is wrong, nor (unlike Newton-CG) after a step
    that merely failed to halve the optimality measure: here that is mostly
    the faces still changing, and a larger sample would only make every
    product dearer. The damping is ``options.damping * opt / opt_0`` times
    a factor that quadruples after each subproblem cut short (a damped
    model is better conditioned) and halves back towards 1 after each one
    solved.
    """

    def __init__(self, objective, options, seed):
        self.objective, self.options, self.seed = objective, options, seed
        self.fraction = options.sample.fraction
        self.rows = WorkingSetRows(hessian_sample(objective, options.sample, seed))
        self.factor = 1.0

    def damping(self, progress):
        """The damping at an optimality ``progress = opt / opt_0``."""
        return self.options.damping * self.factor * progress

    def update(self, misleads, exhausted):
        """After a step: whether the model ``misleads`` and whether its
        subproblem was ``exhausted`` (cut short by its budget)."""
        curvature = self.rows.sample
        self.factor = 4 * self.factor if exhausted else max(1.0, self.factor / 2)
        if misleads and not exhausted and curvature is not self.objective:
            self.fraction *= 2
            sample = hessian_sample(
                self.objective,
                self.options.sample,
                self.seed,
                self.fraction,
                2 * curvature.n_rows,
            )
            self.rows = WorkingSetRows(sample)

    def forcing_cap(self):
        """Newton-CG's loosest relative accuracy for this sample."""
        bounds = self.options.forcing_bounds
        return forcing_cap(self.objective, self.rows.sample, bounds)


def working_set(objective, P, g, options):
    """The features an iteration may change, a boolean mask in the
    namespace of ``P``: every feature with a nonzero coefficient, and of the
    others those whose gradient exceeds the L1 strength (they violate
    optimality), the largest violations (each feature's scaled as in
    ``optimality``) first, up to ``growth`` times the nonzero features in
    all, at least ``min_working_set``, and at least one (more on ties).
    Every feature without an L1 part. It stays where ``P`` is: a fit on a
    device moves no array to the host per iteration."""
    xp = objective.xp
    l1 = objective.penalty.l1
    d = objective.n_features
    W, G = objective.split(P)[0], objective.split(g)[0]
    nonzero = xp.any(W != 0, axis=0)
    if l1 == 0:
        return xp.ones_like(nonzero)
    scales = objective.feature_scales()[0][:d]
    excess = positive_part(xp.max(xp.abs(G), axis=0) - l1, xp)
    violation = xp.where(nonzero, 0.0, excess / scales)
    n_support = int(xp.sum(xp.astype(nonzero, xp.int32)))
    n_violating = int(xp.sum(xp.astype(violation > 0, xp.int32)))
    size = max(options.min_working_set, int(options.growth * n_support))
    n_new = max(1, size - n_support)
    chosen = violation > 0
    if n_new < n_violating:  # the n_new largest violations
        chosen = chosen & (violation >= xp.sort(violation)[d - n_new])
    return nonzero | chosen


def intercept_step(objective, P, g):
    """The step to the best intercepts where every coefficient is zero, or
    None (no intercept, a class without weight).

    With ``W = 0`` every row has the logits ``b``, so the intercepts'
    gradient is ``softmax(b) sum_i w_i - pi``, ``pi`` the classes' total
    weights, and the best intercepts are ``log(pi)`` (up to a common
    shift, kept: the mean of ``b``; two classes on one row: ``log(pi_1 /
    pi_0)``)."""
    if not objective.fit_intercept:
        return None
    xp = objective.xp
    b, g_b = P[:, -1], g[:, -1]
    total = objective.data.total_weight()
    if objective.n_outputs == 1:
        pi_1 = total / (1.0 + xp.exp(-b)) - g_b
        pi = xp.concat([total - pi_1, pi_1])
    else:
        s = xp.exp(b - xp.max(b))
        pi = s / xp.sum(s) * total - g_b
    if not bool(xp.all(pi > 0)):
        return None
    if objective.n_outputs == 1:
        target = xp.log(pi[1:]) - xp.log(pi[:1])
    else:
        target = xp.log(pi)
        target = target + (xp.mean(b) - xp.mean(target))
    d = xp.zeros_like(P)
    d[:, -1] = target - b
    return d


class WorkingSetRows:
    """The Hessian sample's rows on a working set's columns: a copy of
    those columns (``objective.on_columns``), kept while later working sets
    stay within them; all the columns where the rows cannot be restricted
    (other namespaces, Dask)."""

    def __init__(self, sample):
        self.sample = sample
        self.features = None
        self.restricted = None

    def on(self, mask):
        """``(objective, index)``: the sample on columns that hold the
        features of ``mask`` (``working_set``), ``index`` the columns of
        ``P`` it keeps (None: all)."""
        if not isinstance(mask, np.ndarray):
            return self.sample, None
        features, kept = np.flatnonzero(mask), self.features
        if kept is not None and np.all(np.isin(features, kept)):
            return self.restricted
        found = self.sample.on_columns(features)
        if found is None:
            return self.sample, None
        self.features, self.restricted = features, found
        return found

    def model(self, objective, P, g, mask):
        """The ``QuadraticModel`` of ``objective`` at ``P`` (gradient ``g``)
        on the features of ``mask`` and the intercepts."""
        xp = objective.xp
        rows, index = self.on(mask)
        penalized = np.ones(P.shape[1] if index is None else index.shape[0], bool)
        if index is None:
            allowed, P_m, g_m = mask, P, g
            if objective.fit_intercept:
                allowed = xp.concat([mask, xp.ones_like(mask[:1])])
        else:
            allowed = np.isin(index, np.flatnonzero(mask))
            P_m, g_m = (rows.product_layout(A[:, index]) for A in (P, g))
        if objective.fit_intercept:
            penalized[-1] = False
            if index is not None:
                allowed[-1] = True
        scales = objective.feature_scales()[0]
        return QuadraticModel(
            objective.penalty,
            rows,
            P_m,
            g_m,
            scales if index is None else scales[index],
            _mask(allowed, P, xp),
            _mask(penalized, P, xp),
            (index, P.shape[1]),
        )


def _mask(host, like, xp):
    """The boolean vector ``host`` (on the host or where ``like`` is) as a
    row that broadcasts against ``like``, in its namespace and on its
    device."""
    device = getattr(like, "device", None)
    return xp.reshape(xp.asarray(host, device=device), (1, -1))


class QuadraticModel:
    """The subproblem of an iteration at ``P`` on the columns of a working
    set: ``q(D) = <g, D> + 1/2 <D, H D> + h(P + D)``, ``g`` the gradient and
    ``H`` the Hessian of the smooth part (on the Hessian sample ``rows``,
    in its dtype), ``h`` the L1 part, ``D`` zero outside the ``allowed``
    columns (the working set and the intercepts) and the L1 part on the
    ``penalized`` ones (not the intercepts); ``columns``: ``(index,
    n_columns)``, the columns of ``P`` (``n_columns`` of them) that the
    model's arrays hold (``index`` None: all of them). ``scales``: the
    features' scales of ``objective.optimality``, for these columns.

    ``M``, the diagonal of ``H`` (``feature_curvature`` per class), is the
    conjugate gradients' preconditioner and the metric of the proximal
    steps. Where the rows carry no curvature in a column (a sparse feature
    that no sampled row uses, without an L2 part) the model would be linear
    along it: ``H`` gets the mean curvature of the others there, so that
    the model has a minimiser, which the line search then checks on the
    whole objective. ``damping`` (set by the solver) adds ``damping *
    M'`` to ``H``, ``M'`` the curvature floored at each class's mean
    curvature per unit of a feature's scale: a feature that is rare in the
    rows has little curvature at ``P`` but much further along.
    """

    def __init__(self, penalty, rows, P, g, scales, allowed, penalized, columns):
        xp = rows.xp
        self.penalty, self.xp = penalty, xp
        self.P, self.g, self.scales = P, g, scales
        self.allowed, self.penalized = allowed, penalized
        self.index, self.n_columns = columns
        self.low = rows.data.dtype  # the products' dtype
        P_low = as_dtype(P, self.low, xp)
        forward = rows.probabilities_t(P_low)
        raw = rows.feature_curvature(P_low, forward, fill=False, per_class=True)
        self.M = as_dtype(_fill_non_positive(raw, xp), P.dtype, xp)
        self.extra, self.shiftable = None, penalized[0, :]
        self.intercepts = ~penalized
        if not bool(xp.all(raw > 0)):
            self.extra = as_dtype(xp.where(raw > 0, 0.0, self.M), P.dtype, xp)
            self.shiftable = self.shiftable & xp.all(raw > 0, axis=0)
        self._hessp = rows.hessp(P_low, forward)
        self.damping = 0.0
        unit = xp.where(penalized, self.M / (scales * scales), 0.0)
        n_penalized = max(int(xp.sum(xp.astype(penalized, xp.int32))), 1)
        level = xp.sum(unit, axis=1, keepdims=True) / n_penalized * scales * scales
        self.floored = xp.where(penalized, xp.maximum(self.M, level), self.M)

    def hessp(self, D):
        """``H D``, in the dtype of ``P``, damping included."""
        xp = self.xp
        HD = as_dtype(self._hessp(as_dtype(D, self.low, xp)), self.P.dtype, xp)
        if self.damping:
            HD = HD + self.damping * self.floored * D
        return HD if self.extra is None else HD + self.extra * D

    def subgradient(self, D, r):
        """The minimal-norm subgradient of ``q`` at ``D``, where ``r = g + H
        D`` is the gradient of its smooth part (zero outside the working
        set)."""
        xp = self.xp
        sub = self.penalty.min_norm_subgradient(self.P + D, r)
        return xp.where(self.allowed, xp.where(self.penalized, sub, r), 0.0)

    def residual(self, D, r):
        """``size`` of ``subgradient``: zero at the model's minimiser."""
        return self.size(self.subgradient(D, r))

    def size(self, A):
        """The 2-norm of ``A`` with each column divided by its feature's
        scale: the inner solves' measure, as in Lee, Sun and Saunders (2014)
        (the outer test's max-norm would keep them going for one entry)."""
        B = A / self.scales
        return math.sqrt(_dot(B, B, self.xp))

    def prox(self, V, step):
        """The proximal step of ``h`` on ``V`` (``step`` per column), zero
        outside the working set."""
        xp = self.xp
        shrunk = xp.where(self.penalized, self.penalty.prox(V, step), V)
        return xp.where(self.allowed, shrunk, 0.0)

    def best_shift(self, D, HD):
        """``D`` with each penalized column of ``P + D`` shifted by the
        constant that minimises the penalty on it, and ``H D`` to match.

        The softmax is unchanged when one number is added to every class's
        coefficient of a feature: the data term's gradient sums to zero
        over the classes and its Hessian maps these shifts to zero. Along
        them the model is the penalty alone, ``l2 / 2 ||U + c||^2 + l1 ||U
        + c||_1`` per column ``U`` (K numbers), a convex function of ``c``,
        piecewise quadratic with kinks at ``-U_k``: its minimiser is the
        first kink where its right slope is not negative, or between that
        kink and the one before. Shifted, a column has about as many
        positive as negative entries, the signs the optimum has; conjugate
        gradients on a face of other signs would go far along the shift
        and cross zero in many entries at once. Two classes on one row
        have no such shifts."""
        xp = self.xp
        K = D.shape[0]
        if K == 1:
            return D, HD
        l2, lam = self.penalty.l2, self.penalty.l1
        U = self.P + D
        v = xp.sort(-U, axis=0)
        mu = self.damping * xp.broadcast_to(self.floored, U.shape)
        a = l2 + xp.mean(mu, axis=0)
        total = (l2 * xp.sum(U, axis=0) + xp.sum(mu * D, axis=0)) / xp.where(
            a > 0, a, 1.0
        )
        i = xp.reshape(
            xp.arange(K, dtype=U.dtype, device=getattr(U, "device", None)), (K, 1)
        )
        right = a * (total + K * v) + lam * (2 * (i + 1) - K)
        first = xp.argmax(xp.astype(right >= 0, xp.int8), axis=0)
        at = xp.take_along_axis(v, first[None, :], axis=0)[0, ...]
        left_slope = xp.take_along_axis(right, first[None, :], axis=0)[0, ...] - 2 * lam
        if bool(xp.any(a > 0)):
            safe = xp.where(a > 0, a, 1.0)
            inside = -(total + lam * (2 * xp.astype(first, U.dtype) - K) / safe) / K
            at = xp.where(left_slope <= 0, at, inside)
        c = xp.where(self.shiftable & ((a > 0) | (lam > 0)), at, 0.0)
        shifted = U + c
        D_new = xp.where(shifted == 0, -self.P, D + c)
        return D_new, HD + l2 * (D_new - D) + mu * (D_new - D)

    def face(self, free):
        """The projection on the directions that move only the ``free``
        entries and, in a penalized column whose K entries are all free,
        leave their sum unchanged (K > 1).

        Such a column's shifts are directions the data term does not see
        (``best_shift``): along them the model is the penalty alone, linear
        on the face (with no L2 part, without curvature), and the conjugate
        gradients would find no minimiser; ``best_shift`` sets them."""
        xp = self.xp
        if free.shape[0] == 1:
            return lambda A: xp.where(free, A, 0.0)
        whole = xp.all(free, axis=0) & self.shiftable
        if not bool(xp.any(whole)):
            return lambda A: xp.where(free, A, 0.0)

        def project(A):
            A = xp.where(free, A, 0.0)
            return A - xp.where(whole, xp.mean(A, axis=0), 0.0)

        return project

    def centred(self, D):
        """``D`` with its intercepts' column shifted to sum to zero over the
        classes (K > 1), a step with the same ``J`` at its end and the same
        ``decrease``. Only the model's damping sees that shift; every other
        solver's steps keep the intercepts' sum where the fit started (the
        smooth part's gradient sums to zero over the classes), and so the
        intercepts found do not depend on the solver or the start. (Left
        inside the subproblem, where the conjugate gradients move along it
        freely: projected out there, they stall on near-singular faces.)"""
        xp = self.xp
        if D.shape[0] == 1:
            return D
        return xp.where(self.intercepts, D - xp.mean(D, axis=0), D)

    def l1_change(self, D, D_new):
        """``h(P + D_new) - h(P + D)``, entry by entry: ``sign (D_new - D)``
        where the sign stays (no cancellation between the large ``|P|``),
        so that it is exact to rounding even far below ``h``'s rounding,
        where a solve near the optimum changes it."""
        xp = self.xp
        U, U_new = self.P + D, self.P + D_new
        same = (xp.sign(U) == xp.sign(U_new)) & (U != 0)
        change = xp.where(same, xp.sign(U) * (D_new - D), xp.abs(U_new) - xp.abs(U))
        return self.penalty.l1 * float(xp.sum(xp.where(self.penalized, change, 0.0)))

    def decrease(self, D):
        """``<g, D> + h(P + D) - h(P)``: the line search's predicted change."""
        return _dot(self.g, D, self.xp) + self.l1_change(self.xp.zeros_like(D), D)

    def full_step(self, D):
        """``D`` as a step on every column of ``P`` (zero elsewhere)."""
        if self.index is None:
            return D
        d = np.zeros((D.shape[0], self.n_columns), dtype=D.dtype)
        d[:, self.index] = D
        return d


def solve_model(model, eta, options, lipschitz):
    """An approximate minimiser ``D`` of the ``QuadraticModel``, ``H D``, and
    whether the budget ran out first: the model's residual (``residual``)
    ``eta`` times that of ``D = 0``, within ``options.max_products`` Hessian
    products.

    Each round first shifts the columns along the directions the data term
    does not see (``best_shift``), then takes a Newton step on an orthant
    face of the model (``orthant_step``): the entries nonzero in ``P + D``,
    those at zero whose gradient exceeds the L1 strength and the intercepts
    are free, with the signs they have or are about to take; on that face
    the L1 part is linear, and conjugate gradients minimise the model there;
    the step is projected back on the face (entries that would change sign
    are set to zero). A round whose step fails to lower the model takes a
    proximal gradient step instead (``prox_gradient_step``), which always
    does: the model decreases at every round.
    """
    xp = model.xp
    D, HD = xp.zeros_like(model.P), xp.zeros_like(model.P)
    residual = model.residual(D, model.g)
    tol = eta * residual
    budget = options.max_products
    while budget > 1 and residual > tol:
        D, HD = model.best_shift(D, HD)
        loose = max(tol, options.cg_forcing * residual)
        D_new, HD_new, used = orthant_step(model, D, HD, tol, loose, budget - 1)
        budget -= used
        if D_new is None:
            D_new, HD_new, used = prox_gradient_step(
                model, D, HD, lipschitz, max(budget, 1)
            )
            budget -= used
        D, HD = D_new, HD_new
        residual = model.residual(D, model.g + HD)
    return D, HD, residual > tol


def orthant_step(model, D, HD, tol, loose, budget):
    """A Newton step on the model's orthant face at ``D`` (``solve_model``):
    conjugate gradients to the residual ``tol``, stopped early where the
    iterate leaves the face's orthant once the residual is below ``loose``
    (``face_cg``), the step then projected on the face
    (``projected_step``). Returns ``(D, HD, products)``, ``D`` None if the
    step does not lower the model."""
    xp = model.xp
    U, r = model.P + D, model.g + HD
    l1 = model.penalty.l1
    free = model.allowed & (~model.penalized | (U != 0) | (xp.abs(r) > l1))
    sigma = xp.where(U != 0, xp.sign(U), -xp.sign(r))
    v = xp.where(free, r + xp.where(model.penalized, l1 * sigma, 0.0), 0.0)
    face = model.face(free)
    signed = free & model.penalized

    def inside(E):
        return not bool(xp.any(signed & (sigma * (U + E) < 0)))

    E, HE, used = face_cg(model, face(v), face, (tol, loose), budget, inside)
    if used == 0:
        return None, HD, 0
    D_new, HD_new, extra = projected_step(model, D, HD, E, HE, signed, sigma)
    return D_new, HD_new, used + extra


def projected_step(model, D, HD, E, HE, signed, sigma):
    """``D + a E`` for the first ``a`` of ``PROJECTED_STEPS`` whose
    projection on the orthant of signs ``sigma`` (the ``signed`` entries
    that change sign set to zero) lowers the model, each trial a Hessian
    product; else the step to where the first entry reaches zero along
    ``E``, which lowers the model: the model is convex along ``E`` and
    lower at its end (conjugate gradients from ``D``). Returns ``(D, HD,
    products)``, ``D`` None if that point is ``D`` itself."""
    xp = model.xp
    U, r = model.P + D, model.g + HD
    if not bool(xp.any(signed & (sigma * (U + E) < 0))):
        return D + E, HD + HE, 0
    for trial, a in enumerate(PROJECTED_STEPS, 1):
        crossing = signed & (sigma * (U + a * E) < 0)
        D_new = xp.where(crossing, -model.P, D + a * E)
        E_new = D_new - D
        HE_new = model.hessp(E_new)
        change = _dot(r, E_new, xp) + 0.5 * _dot(E_new, HE_new, xp)
        if change + model.l1_change(D, D_new) < 0:
            return D_new, HD + HE_new, trial
    back = signed & (sigma * E < 0)
    room = xp.where(back, sigma * U, 0.0)
    limits = xp.where(back, room / xp.where(back, -sigma * E, 1.0), math.inf)
    a = float(xp.min(limits))
    if not a > 0:
        return None, HD, len(PROJECTED_STEPS)
    D_new = xp.where(back & (limits <= a), -model.P, D + a * E)
    return D_new, HD + a * HE, len(PROJECTED_STEPS)


def face_cg(model, v, face, targets, budget, inside):
    """Conjugate gradients for ``H E = -v`` on a face of the model, ``face``
    the projection on it (``QuadraticModel.face``; ``v`` on it), from ``E =
    0``, preconditioned by the curvature ``M``. ``targets = (tol, loose)``:
    stops once the residual (``QuadraticModel.size``) is at most ``tol``,
    or at most ``loose`` with ``inside(E)`` false (the iterate has left the
    face's orthant: going on would solve on a face the step leaves), after
    ``budget`` products, or on a direction without positive curvature.
    Returns ``(E, H E, products)``, ``H E`` on every entry."""
    xp = model.xp
    tol, loose = targets
    E, HE = xp.zeros_like(v), xp.zeros_like(v)
    residual = -v
    z = face(residual / model.M)
    p, rz = z, _dot(residual, z, xp)
    for used in range(1, budget + 1):
        Hp = model.hessp(p)
        curvature = _dot(p, Hp, xp)
        if not curvature > 0:
            return E, HE, used
        a = rz / curvature
        E, HE = E + a * p, HE + a * Hp
        residual = residual - a * face(Hp)
        size = model.size(residual)
        if size <= tol or (size <= loose and not inside(E)):
            return E, HE, used
        z = face(residual / model.M)
        rz_new = _dot(residual, z, xp)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return E, HE, budget


def prox_gradient_step(model, D, HD, lipschitz, budget):
    """One proximal gradient step on the model from ``D`` (``HD = H D``),
    each entry's step ``1 / (L M)``, ``L`` doubled until ``<E, H E> <= L
    <E, M E>`` for the step ``E`` (the model then decreases). Entries the
    step sets to zero are exactly zero in ``P + D``. Returns ``(D, HD,
    products)``; ``D`` unchanged if no trial succeeds within ``budget``."""
    xp = model.xp
    U = model.P + D
    r = model.g + HD
    for trial in range(budget):
        step = 1.0 / (lipschitz.L * model.M)
        U_new = model.prox(U - step * r, step)
        D_new = xp.where(U_new == 0, -model.P, D + (U_new - U))
        E = D_new - D
        HE = model.hessp(E)
        if _dot(E, HE, xp) <= lipschitz.L * _dot(E, model.M * E, xp):
            return D_new, HD + HE, trial + 1
        lipschitz.reject()
    return D, HD, budget
