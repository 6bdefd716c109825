"""SoftmaxGDClassifier inside scikit-learn's machinery: pipelines, model
selection, cloning, pickling and pandas input."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sk_softmax import SoftmaxGDClassifier

LOADERS = {"iris": load_iris, "wine": load_wine, "digits": load_digits}


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_pipeline_with_scaler(name):
    X, y = LOADERS[name](return_X_y=True)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("clf", SoftmaxGDClassifier(alpha=1e-3))]
    )
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.95
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(y), len(np.unique(y)))
    assert_allclose(proba.sum(axis=1), 1.0)
    # the pipeline is the classifier applied to the scaled data
    scaled = pipe.named_steps["scale"].transform(X)
    assert_array_equal(pipe.predict(X), pipe.named_steps["clf"].predict(scaled))
    assert_array_equal(pipe.classes_, np.unique(y))


def test_pipeline_routes_sample_weight():
    X, y = load_iris(return_X_y=True)
    sw = np.random.RandomState(0).uniform(0.2, 3.0, len(y))
    pipe = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-2))
    pipe.fit(X, y, softmaxgdclassifier__sample_weight=sw)
    direct = SoftmaxGDClassifier(alpha=1e-2).fit(
        StandardScaler().fit_transform(X), y, sample_weight=sw
    )
    assert_allclose(pipe[-1].coef_, direct.coef_, rtol=1e-12, atol=1e-14)
    unweighted = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-2))
    unweighted.fit(X, y)
    assert not np.allclose(unweighted[-1].coef_, pipe[-1].coef_)


def test_grid_search_over_alpha():
    X, y = load_iris(return_X_y=True)
    grid = [1e-4, 1e-2, 1.0]
    search = GridSearchCV(
        make_pipeline(StandardScaler(), SoftmaxGDClassifier()),
        {"softmaxgdclassifier__alpha": grid},
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    best_alpha = search.best_params_["softmaxgdclassifier__alpha"]
    assert best_alpha in grid
    assert len(search.cv_results_["mean_test_score"]) == len(grid)
    assert search.best_score_ == np.max(search.cv_results_["mean_test_score"])
    best = search.best_estimator_
    check_is_fitted(best[-1])
    assert best[-1].alpha == best_alpha
    # a very strong penalty underfits: it cannot be the best
    assert best_alpha != 1.0
    assert search.score(X, y) > 0.9


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_cross_val_score(name):
    X, y = LOADERS[name](return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-3))
    scores = cross_val_score(
        pipe, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0)
    )
    assert scores.shape == (5,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert scores.mean() > 0.9


def test_cross_val_predict_proba():
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-2))
    proba = cross_val_predict(pipe, X, y, cv=3, method="predict_proba")
    assert proba.shape == (len(y), 3)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(proba.argmax(axis=1) == y) > 0.9


def test_clone_is_unfitted_with_the_same_parameters():
    X, y = load_iris(return_X_y=True)
    clf = SoftmaxGDClassifier(alpha=0.3, tol=1e-6, max_iter=77, class_weight="balanced")
    clf.fit(X, y)
    cloned = clone(clf)
    assert cloned is not clf
    assert cloned.get_params() == clf.get_params()
    assert not hasattr(cloned, "coef_")
    with pytest.raises(NotFittedError):
        cloned.predict(X)
    # the clone fits to the same model
    cloned.fit(X, y)
    assert_allclose(cloned.coef_, clf.coef_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_pickle_round_trip(name):
    X, y = LOADERS[name](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = np.array(["a", "b", "c"])[y]
    clf = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.get_params() == clf.get_params()
    assert np.array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(restored.predict(X), clf.predict(X))
    assert_array_equal(restored.classes_, clf.classes_)
    assert restored.n_iter_ == clf.n_iter_
    assert restored.loss_curve_ == clf.loss_curve_
    # and the restored model can be warm-started from where it was
    restored.set_params(warm_start=True).fit(X, y)
    assert restored.n_iter_ <= 2


def test_pickle_unfitted():
    clf = SoftmaxGDClassifier(alpha=0.5, l1_ratio=0.2)
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.get_params() == clf.get_params()
    assert not hasattr(restored, "coef_")


def test_pandas_dataframe_input():
    pd = pytest.importorskip(
        "pandas", reason="pandas (the test extra) is not installed"
    )
    data = load_iris(as_frame=True)
    X, y = data.data, data.target.map(dict(enumerate(data.target_names)))
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)  # str labels
    pipe = make_pipeline(StandardScaler(), SoftmaxGDClassifier(alpha=1e-3))
    pipe.fit(X, y)
    assert_array_equal(pipe.feature_names_in_, X.columns)
    clf = pipe[-1]
    assert_array_equal(clf.classes_, sorted(data.target_names))
    assert clf.n_features_in_ == X.shape[1]

    direct = SoftmaxGDClassifier(alpha=1e-3).fit(X, y)
    assert_array_equal(direct.feature_names_in_, X.columns)
    proba = direct.predict_proba(X)
    assert set(direct.predict(X)) <= set(data.target_names)
    # an array has no feature names: scikit-learn warns, and the result is the same
    with pytest.warns(UserWarning, match="feature names"):
        assert_array_equal(direct.predict_proba(X.to_numpy()), proba)
    # a pandas Series of categories as target
    direct_cat = SoftmaxGDClassifier(alpha=1e-3).fit(X, y.astype("category"))
    assert_allclose(direct_cat.predict_proba(X), proba, rtol=1e-12, atol=1e-14)


def test_text_classification_pipeline_on_sparse_tfidf():
    docs = [
        "the cat sat on the mat",
        "a cat and a kitten purr",
        "the dog barked at the mailman",
        "dogs and puppies bark loudly",
        "stocks fell as markets closed",
        "the market rallied and stocks rose",
    ] * 5
    y = np.array(["cat", "cat", "dog", "dog", "finance", "finance"] * 5)
    pipe = make_pipeline(TfidfVectorizer(), SoftmaxGDClassifier(alpha=1e-3))
    pipe.fit(docs, y)
    assert sp.issparse(pipe[0].transform(docs))
    assert pipe.score(docs, y) == 1.0
    assert_array_equal(
        pipe.predict(["a kitten on a mat", "puppies barked", "markets rose"]),
        ["cat", "dog", "finance"],
    )
