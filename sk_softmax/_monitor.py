"""What a fit reports after each iteration (epoch): the loss curve, the
validation scores, the verbose lines and scikit-learn's callbacks, and the
plateau policy's decision (``_optimizers.PlateauStopping``) it passes on."""

import time

from . import _loss


class ValidationSet:
    """Held-out rows scored by weighted accuracy: ``data``, a backend of the
    validation rows with their (unnormalized) sample weights."""

    def __init__(self, data, fit_intercept):
        self.data, self.fit_intercept = data, fit_intercept
        self.total = float(data.map_sum(lambda xp, X, y, w: xp.sum(w)))

    def score(self, P):
        d = self.data.n_features
        W, b = P[:, :d], (P[:, d] if self.fit_intercept else None)
        return float(self.data.map_sum(_loss.correct, W, b)) / self.total


class FitMonitor:
    """The ``report`` of ``_solvers.drive``: records and announces each
    iteration, and says whether to stop.

    Parameters
    ----------
    callback_ctx : scikit-learn callback context of the fit
    fit_args : dict
        ``estimator``, ``X``, ``y`` and ``metadata`` for the callbacks.
    reconstruct : callable
        ``P -> {attribute: value}``, the fitted attributes of a model, for
        the callbacks that need a model (e.g. a scoring monitor).
    verbose : int
    plateau : PlateauStopping or None
        Told each epoch's score; decides whether to shrink the step or stop.
    validation : ValidationSet or None
        Scored each epoch (early stopping); otherwise the plateau is told the
        negated training loss.
    """

    def __init__(
        self, callback_ctx, fit_args, reconstruct, *, verbose, plateau, validation
    ):
        self.callback_ctx, self.fit_args = callback_ctx, fit_args
        self.reconstruct = reconstruct
        self.verbose, self.plateau, self.validation = verbose, plateau, validation
        self.loss_curve, self.validation_scores = [], []
        self.plateau_stopped = False  # whether the plateau policy stopped the fit
        self.start = time.perf_counter()

    def __call__(self, iteration, state):
        self.loss_curve.append(state.value)
        message = f"-- Epoch {iteration}, loss = {state.value:.8f}"
        stop = False
        if self.validation is not None:
            score = self.validation.score(state.P)
            self.validation_scores.append(score)
            message += f", validation score = {score:.6f}"
        else:  # the training loss, in nats so that tol needs no scaling (as MLP)
            score = -state.value
        if self.plateau is not None:
            stop, note = self.plateau.update(score, state.P)
            self.plateau_stopped = stop
            message += note
        if state.optimality is not None:
            message += f", optimality = {state.optimality:.3e}"
        if self.verbose:
            elapsed = time.perf_counter() - self.start
            print(
                f"{message}, step size = {state.step_size:.3e}, "
                f"elapsed = {elapsed:.2f} s"
            )
        return self._callbacks(state.P) or stop

    def _callbacks(self, P):
        """One "epoch" subtask of the fit's callback context; True if a
        callback asks to stop."""
        epoch_ctx = self.callback_ctx.subcontext(task_name="epoch")
        epoch_ctx.call_on_fit_task_begin(**self.fit_args)
        return bool(
            epoch_ctx.call_on_fit_task_end(
                **self.fit_args,
                reconstruction_attributes=lambda: self.reconstruct(P),
            )
        )
