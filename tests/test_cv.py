"""SoftmaxGDClassifierCV: each fold's path against independent fits, the
scores against the scorer, the attributes' shapes, the grid, the choice
against LogisticRegressionCV's, and the estimator everywhere
SoftmaxGDClassifier goes (weights and their routing, class weights, sparse,
float32, Array API, callbacks, n_jobs, Dask)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from _callbacks import TaskEndCallback
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import get_scorer
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier, SoftmaxGDClassifierCV
from sk_softmax._cv import L2_TOP_RATIO

ALPHAS = [1e-1, 1e-2, 1e-3]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def small():
    """Digits, 400 rows: each fold's fits take milliseconds."""
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:400]), y[:400]


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(300, 8, n_informative=4, random_state=0)
    return StandardScaler().fit_transform(X), np.where(y == 1, "yes", "no")


def folds(X, y, n=3):
    return list(StratifiedKFold(n).split(X, y))


def model(coef, intercept, classes, n_features):
    """A SoftmaxGDClassifier ready to predict with these parameters."""
    clf = SoftmaxGDClassifier()
    clf.coef_, clf.intercept_, clf.classes_ = coef, intercept, classes
    clf.n_features_in_ = n_features
    return clf


# ------------------------------------------------------------------ the path


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_path_equals_independent_fits_in_fewer_iterations(small, l1_ratio):
    """Each fold's model at each alpha is the optimum of a fit from scratch
    on the fold's training rows; the warm-started path needs fewer
    iterations in all than those fits."""
    X, y = small
    cv = folds(X, y)
    clf = SoftmaxGDClassifierCV(
        alphas=ALPHAS, l1_ratios=[l1_ratio], cv=cv, tol=1e-8, max_iter=2000
    ).fit(X, y)
    cold_iterations = 0
    for f, (train, _) in enumerate(cv):
        for a, alpha in enumerate(ALPHAS):
            cold = SoftmaxGDClassifier(
                alpha=alpha, l1_ratio=l1_ratio, tol=1e-8, max_iter=2000
            ).fit(X[train], y[train])
            cold_iterations += cold.n_iter_
            assert_allclose(clf.coefs_paths_[f, 0, a], cold.coef_, atol=1e-5)
            assert_allclose(clf.intercepts_paths_[f, 0, a], cold.intercept_, atol=1e-5)
    assert clf.n_iter_.sum() < cold_iterations


@pytest.mark.parametrize("scoring", ["neg_log_loss", "accuracy"])
def test_scores_are_each_folds_model_scored_on_its_held_out_rows(small, scoring):
    X, y = small
    cv = folds(X, y)
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=cv, scoring=scoring).fit(X, y)
    scorer = get_scorer(scoring)
    for f, (_, test) in enumerate(cv):
        for a in range(len(ALPHAS)):
            fold_model = model(
                clf.coefs_paths_[f, 0, a],
                clf.intercepts_paths_[f, 0, a],
                clf.classes_,
                64,
            )
            expected = scorer(fold_model, X[test], y[test])
            assert clf.scores_[f, 0, a] == pytest.approx(expected, abs=1e-12)
    # The choice is the best mean score, and score() uses the same scorer.
    assert clf.alpha_ == ALPHAS[int(np.argmax(clf.scores_.mean(axis=0)[0]))]
    assert clf.score(X, y) == pytest.approx(scorer(clf, X, y), abs=1e-12)


def test_refit_is_the_optimum_on_all_rows_at_the_chosen_alpha(small):
    X, y = small
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3, tol=1e-8).fit(X, y)
    direct = SoftmaxGDClassifier(alpha=clf.alpha_, tol=1e-8).fit(X, y)
    assert_allclose(clf.coef_, direct.coef_, atol=1e-5)
    assert_allclose(clf.predict_proba(X), direct.predict_proba(X), atol=1e-6)
    assert_array_equal(clf.predict(X), direct.predict(X))


def test_no_refit_averages_the_folds_models_at_their_best_values(small):
    X, y = small
    clf = SoftmaxGDClassifierCV(
        alphas=ALPHAS, l1_ratios=[0.0, 0.5], cv=3, refit=False
    ).fit(X, y)
    best = [np.unravel_index(np.argmax(s), s.shape) for s in clf.scores_]
    coefs = [clf.coefs_paths_[f, r, a] for f, (r, a) in enumerate(best)]
    assert_allclose(clf.coef_, np.mean(coefs, axis=0))
    alphas = [clf.alphas_[r, a] for r, a in best]
    assert clf.alpha_ == pytest.approx(np.exp(np.mean(np.log(alphas))))
    assert clf.l1_ratio_ == pytest.approx(np.mean([clf.l1_ratios_[r] for r, _ in best]))


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("refit", [True, False])
@pytest.mark.parametrize("l1_ratios", [(0.0,), (0.0, 0.5)])
@pytest.mark.parametrize("problem", ["binary", "small"])
def test_attribute_shapes_depend_on_neither_classes_nor_refit(
    problem, l1_ratios, refit, request
):
    X, y = request.getfixturevalue(problem)
    n_rows = 1 if problem == "binary" else 10
    clf = SoftmaxGDClassifierCV(alphas=4, l1_ratios=l1_ratios, cv=3, refit=refit)
    clf.fit(X, y)
    n_l1, d = len(l1_ratios), X.shape[1]
    assert clf.alphas_.shape == (n_l1, 4)
    assert clf.l1_ratios_.shape == (n_l1,)
    assert clf.scores_.shape == clf.n_iter_.shape == (3, n_l1, 4)
    assert clf.coefs_paths_.shape == (3, n_l1, 4, n_rows, d)
    assert clf.intercepts_paths_.shape == (3, n_l1, 4, n_rows)
    assert clf.coef_.shape == (n_rows, d) and clf.intercept_.shape == (n_rows,)
    assert isinstance(clf.alpha_, float) and isinstance(clf.l1_ratio_, float)
    assert clf.predict_proba(X).shape == (X.shape[0], len(clf.classes_))
    assert set(clf.predict(X)) <= set(clf.classes_)
    assert np.all(np.diff(clf.alphas_, axis=1) < 0)  # from the largest down


def test_cv_results_read_by_pandas(small):
    pd = pytest.importorskip("pandas")
    X, y = small
    clf = SoftmaxGDClassifierCV(alphas=3, l1_ratios=[0.0, 1.0], cv=3).fit(X, y)
    frame = pd.DataFrame(clf.cv_results_)
    assert len(frame) == 6
    assert_allclose(frame["mean_test_score"], clf.scores_.mean(axis=0).ravel())
    assert_allclose(frame["split2_test_score"], clf.scores_[2].ravel())
    assert_allclose(frame["param_alpha"], clf.alphas_.ravel())
    best = frame.loc[frame["rank_test_score"] == 1].iloc[0]
    assert best["params"] == {"alpha": clf.alpha_, "l1_ratio": clf.l1_ratio_}
    assert (frame["mean_fit_time"] > 0).all()
    assert_allclose(frame["mean_n_iter"], clf.n_iter_.mean(axis=0).ravel())


# ------------------------------------------------------------------ the grid


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_grid_starts_at_the_smallest_alpha_that_zeroes_every_coefficient(
    small, l1_ratio
):
    X, y = small
    clf = SoftmaxGDClassifierCV(alphas=5, eps=1e-3, l1_ratios=[l1_ratio], cv=3)
    clf.fit(X, y)
    alphas = clf.alphas_[0]
    assert_allclose(alphas[-1] / alphas[0], 1e-3)
    assert_allclose(np.diff(np.log(alphas)), np.log(1e-3) / 4)
    at_max = SoftmaxGDClassifier(alpha=alphas[0], l1_ratio=l1_ratio, tol=1e-8)
    assert np.abs(at_max.fit(X, y).coef_).max() < 1e-10
    below = SoftmaxGDClassifier(alpha=0.9 * alphas[0], l1_ratio=l1_ratio, tol=1e-8)
    assert np.abs(below.fit(X, y).coef_).max() > 1e-4


def test_l2_grid_starts_two_decades_above_the_lassos(small):
    X, y = small
    lasso = SoftmaxGDClassifierCV(alphas=3, l1_ratios=[1.0], cv=3).fit(X, y).alphas_[0]
    ridge = SoftmaxGDClassifierCV(alphas=3, cv=3).fit(X, y).alphas_[0]
    assert_allclose(ridge[0], lasso[0] / L2_TOP_RATIO)
    assert_allclose(ridge[-1], lasso[-1])  # the same bottom, eps times it
    # At the top, every L2-penalised coefficient is about 0.01 or less.
    top = SoftmaxGDClassifier(alpha=ridge[0]).fit(X, y)
    assert np.abs(top.coef_).max() < 0.011


def test_given_alphas_are_sorted_from_the_largest(small):
    X, y = small
    clf = SoftmaxGDClassifierCV(alphas=[1e-3, 1e-1, 1e-2], cv=3).fit(X, y)
    assert_array_equal(clf.alphas_, [[1e-1, 1e-2, 1e-3]])


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(alphas=[1e-2, -1.0]), "non-negative"),
        (dict(alphas=[]), "at least one"),
        (dict(l1_ratios=[0.5, 1.5]), r"\[0, 1\]"),
    ],
)
def test_bad_grids_raise_and_leave_the_estimator_as_it_was(small, params, match):
    X, y = small
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).fit(X, y)
    before = {k: v for k, v in vars(clf).items()}
    with pytest.raises(ValueError, match=match):
        clf.set_params(**params).fit(X, y)
    assert set(vars(clf)) == set(before)
    assert_array_equal(clf.coef_, before["coef_"])


# ------------------------------------------------------------ the choice


def test_chooses_the_same_alpha_as_logistic_regression_cv(digits):
    """On standardized digits the best C of LogisticRegressionCV stands out
    (its neighbours score 0.04 and 0.06 worse); with the same folds and the
    same grid (alpha = 1 / (C n)), the same value is chosen."""
    X, y = digits
    cv = folds(X, y, 5)
    Cs = np.logspace(-4, 4, 10)
    lrcv = LogisticRegressionCV(
        Cs=Cs,
        cv=cv,
        l1_ratios=(0.0,),
        scoring="neg_log_loss",
        use_legacy_attributes=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lrcv.fit(X, y)
    clf = SoftmaxGDClassifierCV(alphas=1 / (Cs * X.shape[0]), cv=cv).fit(X, y)
    assert clf.alpha_ == pytest.approx(1 / (lrcv.C_ * X.shape[0]))


def test_early_stop_skips_the_smallest_alphas_and_keeps_the_choice(small):
    X, y = small
    grid = np.logspace(0, -7, 12)
    full = SoftmaxGDClassifierCV(alphas=grid, cv=3, n_alphas_no_change=None)
    full.fit(X, y)
    assert not np.isnan(full.scores_).any()
    early = SoftmaxGDClassifierCV(alphas=grid, cv=3).fit(X, y)  # 2 by default
    assert early.alpha_ == full.alpha_
    skipped = np.isnan(early.scores_)
    assert skipped.any() and not skipped[:, :, 0].any()
    assert np.all(early.n_iter_[skipped] == 0)
    assert np.all(np.isnan(early.coefs_paths_[skipped]))
    computed = ~skipped
    assert_array_equal(early.scores_[computed], full.scores_[computed])
    # Each path stopped after two alphas below its best.
    for path in early.scores_.reshape(-1, grid.shape[0]):
        done = path[~np.isnan(path)]
        if done.shape[0] < grid.shape[0]:
            assert np.all(done[-2:] < done.max())
    frame = early.cv_results_
    assert np.all(frame["rank_test_score"][np.isnan(frame["mean_test_score"])] > 1)


# ------------------------------------------------- weights and their routing


def test_sample_weight_weighs_the_fits_and_the_scores(small):
    X, y = small
    cv = folds(X, y)
    rng = np.random.RandomState(0)
    sw = rng.uniform(0, 3, size=X.shape[0])
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=cv, tol=1e-8).fit(
        X, y, sample_weight=sw
    )
    plain = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=cv, tol=1e-8).fit(X, y)
    scorer = get_scorer("neg_log_loss")
    for f, (train, test) in enumerate(cv):
        fold = SoftmaxGDClassifier(alpha=ALPHAS[1], tol=1e-8)
        fold.fit(X[train], y[train], sample_weight=sw[train])
        assert_allclose(clf.coefs_paths_[f, 0, 1], fold.coef_, atol=1e-5)
        expected = scorer(fold, X[test], y[test], sample_weight=sw[test])
        assert clf.scores_[f, 0, 1] == pytest.approx(expected, abs=1e-6)
    assert not np.allclose(clf.scores_, plain.scores_)


def test_metadata_routing_of_weights_and_groups(small):
    X, y = small
    sw = np.random.RandomState(0).uniform(0, 3, size=X.shape[0])
    groups = np.arange(X.shape[0]) % 4
    with sklearn.config_context(enable_metadata_routing=True):
        weighted = get_scorer("neg_log_loss").set_score_request(sample_weight=True)
        scored = SoftmaxGDClassifierCV(
            alphas=ALPHAS, cv=GroupKFold(4), scoring=weighted
        )
        scored.fit(X, y, sample_weight=sw, groups=groups)
        ignoring = get_scorer("neg_log_loss").set_score_request(sample_weight=False)
        unscored = SoftmaxGDClassifierCV(
            alphas=ALPHAS, cv=GroupKFold(4), scoring=ignoring
        )
        unscored.fit(X, y, sample_weight=sw, groups=groups)
        with pytest.raises(ValueError, match="groups"):  # GroupKFold needs them
            SoftmaxGDClassifierCV(alphas=ALPHAS, cv=GroupKFold(4)).fit(X, y)
    # The fits are weighted in both; only the scorer that asks gets the weights.
    assert_allclose(scored.coefs_paths_, unscored.coefs_paths_)
    for f, (_, test) in enumerate(GroupKFold(4).split(X, y, groups)):
        fold_model = model(
            unscored.coefs_paths_[f, 0, 0],
            unscored.intercepts_paths_[f, 0, 0],
            scored.classes_,
            64,
        )
        assert scored.scores_[f, 0, 0] == pytest.approx(
            weighted(fold_model, X[test], y[test], sample_weight=sw[test]), abs=1e-12
        )
        assert unscored.scores_[f, 0, 0] == pytest.approx(
            weighted(fold_model, X[test], y[test]), abs=1e-12
        )


def test_balanced_class_weight_is_computed_on_each_folds_rows(small):
    X, y = small
    keep = (y != 3) | (np.arange(y.shape[0]) % 4 == 0)  # class 3 rarer
    X, y = X[keep], y[keep]
    cv = folds(X, y)
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=cv, class_weight="balanced", tol=1e-8)
    clf.fit(X, y)
    for f, (train, _) in enumerate(cv):
        fold = SoftmaxGDClassifier(alpha=ALPHAS[2], class_weight="balanced", tol=1e-8)
        fold.fit(X[train], y[train])
        assert_allclose(clf.coefs_paths_[f, 0, 2], fold.coef_, atol=1e-5)


# ------------------------------------------------------------ other inputs


@pytest.mark.parametrize("container", [sp.csr_array, sp.csc_matrix])
def test_sparse_gives_the_dense_result(small, container):
    X, y = small
    dense = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3, tol=1e-8).fit(X, y)
    sparse = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3, tol=1e-8).fit(container(X), y)
    assert_allclose(sparse.coefs_paths_, dense.coefs_paths_, atol=1e-5)
    assert_allclose(sparse.scores_, dense.scores_, atol=1e-6)
    assert sparse.alpha_ == dense.alpha_


def test_float32_is_kept(small):
    X, y = small
    wide = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).fit(X, y)
    narrow = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).fit(X.astype(np.float32), y)
    assert narrow.coef_.dtype == narrow.coefs_paths_.dtype == np.float32
    assert_allclose(narrow.scores_, wide.scores_, atol=1e-3)
    assert narrow.alpha_ == wide.alpha_


@pytest.mark.parametrize("namespace", ["torch", "array_api_strict"])
def test_array_api_inputs_give_the_numpy_result_in_their_namespace(small, namespace):
    xp = pytest.importorskip(namespace)
    from sklearn.utils._array_api import _convert_to_numpy, get_namespace

    X, y = small
    reference = SoftmaxGDClassifierCV(alphas=4, cv=3, tol=1e-8).fit(X, y)
    X_xp, y_xp = xp.asarray(X), xp.asarray(y)
    with sklearn.config_context(array_api_dispatch=True):
        clf = SoftmaxGDClassifierCV(alphas=4, cv=3, tol=1e-8).fit(X_xp, y_xp)
        proba = clf.predict_proba(X_xp)
        assert (
            get_namespace(clf.coef_, clf.coefs_paths_, proba)[0]
            is get_namespace(X_xp)[0]
        )
        coefs = _convert_to_numpy(clf.coefs_paths_, get_namespace(X_xp)[0])
    # At the grid's smallest alpha the curvature is about alpha: the
    # coefficients are determined to about tol / alpha, whatever the path.
    assert_allclose(coefs, reference.coefs_paths_, atol=1e-4)
    assert_allclose(clf.scores_, reference.scores_, atol=1e-6)
    assert_allclose(clf.alphas_, reference.alphas_)
    assert clf.alpha_ == pytest.approx(reference.alpha_)


def test_dask_arrays_raise_an_error_that_names_grid_search():
    da = pytest.importorskip("dask.array")
    X, y = make_classification(100, 4, random_state=0)
    with pytest.raises(TypeError, match="GridSearchCV"):
        SoftmaxGDClassifierCV().fit(
            da.from_array(X, chunks=50), da.from_array(y, chunks=50)
        )


# ----------------------------------------------------- callbacks and jobs


class Recorder(TaskEndCallback):
    """Counts the tasks by name, and the models of the "alpha" tasks."""

    def __init__(self):
        self.ends, self.models = {}, []

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.ends[context.task_name] = self.ends.get(context.task_name, 0) + 1
        if context.task_name == "alpha":
            self.models.append(fitted_estimator.coef_.copy())


def test_callbacks_see_one_task_per_fold_and_alpha(small):
    X, y = small
    recorder = Recorder()
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, l1_ratios=[0.0, 0.5], cv=3)
    clf.set_callbacks(recorder).fit(X, y)
    assert recorder.ends["path"] == 3 * 2
    assert recorder.ends["alpha"] == 3 * 2 * 3
    assert recorder.ends["refit"] == recorder.ends["fit"] == 1
    assert recorder.ends["epoch"] >= clf.n_iter_.sum()  # and the refit's
    # Each "alpha" task's model is that fold's model at that alpha.
    models = np.reshape(recorder.models, clf.coefs_paths_.shape)
    assert_array_equal(models, clf.coefs_paths_)


def test_progress_bar(small, capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = small
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).set_callbacks(ProgressBar())
    clf.fit(X, y)
    out = capsys.readouterr().out
    assert "SoftmaxGDClassifierCV - fit" in out and "100%" in out
    plain = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).fit(X, y)
    assert_array_equal(clf.coef_, plain.coef_)


def test_results_do_not_depend_on_n_jobs(small):
    X, y = small
    params = dict(alphas=ALPHAS, l1_ratios=[0.0, 0.5], cv=3, random_state=0)
    one = SoftmaxGDClassifierCV(n_jobs=1, **params).fit(X, y)
    two = SoftmaxGDClassifierCV(n_jobs=2, **params).fit(X, y)
    assert_array_equal(one.scores_, two.scores_)
    assert_array_equal(one.coefs_paths_, two.coefs_paths_)
    assert_array_equal(one.coef_, two.coef_)
    assert_array_equal(one.n_iter_, two.n_iter_)


def test_iris_string_labels_and_binary_mapping():
    """Labels of any type; for two classes coef_ is one row, as
    SoftmaxGDClassifier's."""
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).fit(X, names)
    assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    assert clf.score(X, names) > -0.3


def test_score_is_the_scorers_and_rejects_unknown_labels(small):
    X, y = small
    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).fit(X, y)
    sw = np.random.RandomState(0).uniform(0, 2, size=X.shape[0])
    scorer = get_scorer("neg_log_loss")
    assert clf.score(X, y, sample_weight=sw) == pytest.approx(
        scorer(clf, X, y, sample_weight=sw), abs=1e-12
    )
    accuracy = clf.set_params(scoring=None).score(X, y)
    assert accuracy == pytest.approx(np.mean(clf.predict(X) == y), abs=1e-12)
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.score(X, np.where(y == 3, 11, y))


def test_verbose_prints_a_line_per_fit(small, capsys):
    X, y = small
    SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3, verbose=1).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if "alpha=" in line]
    assert len(lines) == 3 * len(ALPHAS)
    assert "fold 2, l1_ratio=0, alpha=0.001" in lines[-1]


def test_a_callbacks_request_stops_that_path(small):
    X, y = small

    class StopAtSecondAlpha(Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            return context.task_name == "alpha" and context.task_id == 1

    clf = SoftmaxGDClassifierCV(alphas=ALPHAS, cv=3).set_callbacks(StopAtSecondAlpha())
    clf.fit(X, y)
    assert not np.isnan(clf.scores_[:, :, :2]).any()
    assert np.isnan(clf.scores_[:, :, 2]).all()
    assert clf.alpha_ in ALPHAS[:2]
