"""The fit plan: every choice a fit makes from the estimator's parameters,
the data's shape and ``incremental`` (``partial_fit``), made once, in
``make_plan`` and ``FitPlan.for_data``, and frozen. The rest of the fit
reads the plan and decides nothing again."""

from dataclasses import dataclass, field, replace

from ._solvers import SOLVERS, GDOptions

#: The step schedules of the mini-batch solver (``learning_rate``).
SCHEDULES = ("constant", "invscaling", "adaptive")

#: The parameters a saved mini-batch state (its step size and plateau
#: counts) was derived from: when any of them changes between
#: ``partial_fit`` calls, the step size is derived anew.
OPTIMIZER_PARAMETERS = (
    "alpha",
    "l1_ratio",
    "fit_intercept",
    "batch_size",
    "learning_rate",
    "power_t",
    "n_iter_no_change",
    "tol",
)


@dataclass(frozen=True)
class PlateauRules:
    """When a mini-batch or early-stopping fit is on a plateau: after
    ``n_iter_no_change`` epochs that fail to improve its score by ``tol``.
    ``shrink``: the "adaptive" schedule then shrinks its step rather than
    stop; ``act``: False for ``partial_fit``, which keeps the counts but
    never stops on them."""

    n_iter_no_change: int
    tol: float
    shrink: bool
    act: bool


@dataclass(frozen=True)
class FitPlan:
    """How a fit runs.

    ``incremental``: a ``partial_fit`` call (one epoch). ``resume``: the fit
    starts from the fitted model (``warm_start``, or ``partial_fit`` after
    the first call) and checks the data against it. ``stochastic``:
    mini-batch epochs; otherwise a full-batch ``method`` (a key of
    ``_solvers.SOLVERS``) with its ``options``, on the one-row logistic
    form when ``binary``. ``schedule``, ``learning_rate`` (the float step
    of "constant", or None: derived from the data), ``power_t``,
    ``batch_size`` (None: all the rows) and ``shuffle`` drive the
    mini-batch steps; ``resume_optimizer``: ``partial_fit`` continues the
    saved step size and plateau counts (their parameters unchanged).
    ``plateau``: the plateau rules of mini-batch and early-stopping fits.
    ``parameters``: the values of ``OPTIMIZER_PARAMETERS``, saved with a
    mini-batch state.
    """

    incremental: bool
    resume: bool
    stochastic: bool
    early_stopping: bool
    validation_fraction: float
    max_iter: int
    tol: float
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    solver: str
    method: str | None = None
    options: object = None
    binary: bool = False
    schedule: str | None = None
    learning_rate: float | None = None
    power_t: float = 0.5
    batch_size: int | None = None
    shuffle: bool = True
    plateau: PlateauRules | None = None
    resume_optimizer: bool = False
    parameters: dict = field(default_factory=dict)

    def for_data(self, n_classes):
        """The plan completed for data of ``n_classes`` classes: the
        full-batch method and whether it fits the one-row binary form."""
        if self.stochastic:
            return self
        method, options = self.method, self.options
        if method is None:
            method = _full_batch_method(self.solver, self.l1_ratio)
            options = SOLVERS[method][1]()
        # Two classes: the full-batch solvers work on the one vector coef_
        # (half the products); the constant-step update (a float
        # learning_rate: the derivation's own, whose step is on W) keeps
        # the softmax's two rows.
        binary = n_classes == 2 and method != "gd"
        return replace(self, method=method, options=options, binary=binary)

    def with_penalty(self, alpha, l1_ratio):
        """The same plan for another penalty (a point of a path): the
        full-batch method is chosen again for it."""
        return replace(self, alpha=alpha, l1_ratio=l1_ratio, method=None, options=None)


def make_plan(params, *, incremental, fitted, saved=None):
    """The plan of a fit (``FitPlan``) from the estimator's ``params``
    (``get_params()``), whether it is a ``partial_fit`` call
    (``incremental``), whether the estimator is ``fitted`` and its saved
    mini-batch state ``saved`` (None if none). Checks that the solver can
    handle the penalty, as scikit-learn's ``_check_solver`` does."""
    learning_rate = params["learning_rate"]
    stochastic = (
        incremental or params["batch_size"] is not None or learning_rate in SCHEDULES
    )
    resume = fitted and (incremental or params["warm_start"])
    early_stopping = params["early_stopping"] and not incremental
    parameters = {name: params[name] for name in OPTIMIZER_PARAMETERS}
    plan = dict(
        incremental=incremental,
        resume=resume,
        stochastic=stochastic,
        early_stopping=early_stopping,
        validation_fraction=params["validation_fraction"],
        max_iter=1 if incremental else params["max_iter"],
        tol=params["tol"],
        alpha=params["alpha"],
        l1_ratio=params["l1_ratio"],
        fit_intercept=params["fit_intercept"],
        solver=params["solver"],
        parameters=parameters,
    )
    if not stochastic:
        if not isinstance(learning_rate, str):  # the derivation's constant step
            plan.update(method="gd", options=GDOptions(float(learning_rate)))
        else:
            _full_batch_method(params["solver"], params["l1_ratio"])  # the check
        if early_stopping:
            plan["plateau"] = _plateau(params, shrink=False, act=True)
        return FitPlan(**plan)
    if isinstance(learning_rate, str):
        schedule = "adaptive" if learning_rate == "auto" else learning_rate
        eta0 = None
    else:
        schedule, eta0 = "constant", float(learning_rate)
    same = saved is not None and saved.get("parameters") == parameters
    return FitPlan(
        **plan,
        schedule=schedule,
        learning_rate=eta0,
        power_t=params["power_t"],
        batch_size=params["batch_size"],
        shuffle=params["shuffle"],
        plateau=_plateau(
            params,
            shrink=not (early_stopping and learning_rate == "auto"),
            act=not incremental,
        ),
        resume_optimizer=incremental and resume and same,
    )


def _plateau(params, *, shrink, act):
    return PlateauRules(params["n_iter_no_change"], params["tol"], shrink, act)


def _full_batch_method(solver, l1_ratio):
    """The key in ``SOLVERS`` of the method ``solver`` names for this
    penalty; raises if that method cannot handle it."""
    smooth = l1_ratio == 0
    if solver == "auto":
        return "newton-cg" if smooth else "prox-newton"
    if not smooth and solver in ("newton-cg", "lbfgs"):
        raise ValueError(
            f"solver={solver!r} handles a smooth penalty only "
            f"(l1_ratio=0); got l1_ratio={l1_ratio}. Use solver='prox-newton', "
            "'fista' or 'auto'."
        )
    return solver
