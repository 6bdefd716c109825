"""Hostile Dask input (issue 29, kind 3), public API only: what numpy and
pandas handle must give the same result on Dask.

- Chunks with zero rows (``(0, 75, 0, 75, 0)``, what a filter leaves of a
  sorted array, with unknown chunk sizes, empty DataFrame partitions): the
  fit must equal numpy's, and every prediction method must work on them and
  equal numpy's.
- Column names: a model fitted on named columns (pandas or Dask
  DataFrame), given a Dask DataFrame whose columns are reordered, renamed,
  missing or extra, or a nameless Dask array, must do exactly what
  ``validate_data`` does for the pandas equivalent: the same ValueError, or
  the same warning and the same predictions.
- Uniform sample weights near the largest float: the model of unit weights,
  as on numpy.

Each case runs on the threaded scheduler, and the fits on a
``dask.distributed`` LocalCluster too (the fixture of ``tests/test_dask.py``
with two in-process workers: the same actors and parts, without the
seconds that starting worker processes costs). Every call that raises must leave the estimator
as it was (``call_atomic``).
"""

import warnings

import numpy as np
import pytest
from _dask_cluster import local_client
from _hostile import (  # tests/_hostile.py
    assert_unchanged,
    call_atomic,
    data,
    snapshot,
)
from numpy.testing import assert_allclose, assert_array_equal

from sk_softmax import SoftmaxGDClassifier

da = pytest.importorskip("dask.array", reason="the Dask tests need dask[array]")
dask = pytest.importorskip("dask", reason="the Dask tests need dask")
distributed = pytest.importorskip(
    "distributed", reason="the Dask tests need dask.distributed"
)


def make_model():
    """A fit to the optimum of a well-conditioned problem, so that numpy's
    and Dask's (the same iterates, sums made in another order) agree to
    rounding, not to the last step's tolerance."""
    return SoftmaxGDClassifier(alpha=1e-2, tol=1e-10, max_iter=500, random_state=0)


METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def client():
    with local_client(processes=False) as client:
        yield client


@pytest.fixture(params=["threads", "distributed"])
def scheduler(request):
    """Run the test on the threaded scheduler, or on the cluster."""
    if request.param == "distributed":
        request.getfixturevalue("client")
        yield request.param
    else:
        with dask.config.set(scheduler="threads"):
            yield request.param


@pytest.fixture(scope="module")
def iris():
    return data("iris")


@pytest.fixture(scope="module")
def numpy_model(iris):
    return make_model().fit(*iris)


def assert_same_model(model, expected, X):
    """The same fitted model: classes, and probabilities within 1e-6."""
    assert_array_equal(model.classes_, expected.classes_)
    assert isinstance(model.coef_, np.ndarray)
    assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-6)


def assert_same_predictions(model, X_dask, X, methods=METHODS):
    """Every method on the Dask array computes, and equals numpy's."""
    for method in methods:
        lazy = getattr(model, method)(X_dask)
        assert isinstance(lazy, da.Array), method
        assert_allclose(lazy.compute(), getattr(model, method)(X), atol=1e-12)


# ============================================================================
# Chunks with zero rows
# ============================================================================

ZERO_ROW_CHUNKS = {
    "0-75-0-75-0": (0, 75, 0, 75, 0),
    "0-150": (0, 150),
    "150-0": (150, 0),
    "50-0-0-100-0": (50, 0, 0, 100, 0),
}


@pytest.mark.parametrize("chunks", ZERO_ROW_CHUNKS)
def test_zero_row_chunks_fit_like_numpy(iris, scheduler, chunks):
    X, y = iris
    rows = ZERO_ROW_CHUNKS[chunks]
    expected = make_model().fit(X, y)
    Xd = da.from_array(X, chunks=(rows, -1))
    yd = da.from_array(y, chunks=(rows,))
    model = call_atomic(make_model(), "fit", Xd, yd)
    assert_same_model(model, expected, X)
    assert_same_predictions(model, Xd, X)


def test_zero_row_chunks_with_sample_weight(iris, scheduler):
    """Weights chunked otherwise than ``X`` (rechunked to its rows, zero-row
    chunks included)."""
    X, y = iris
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    expected = make_model().fit(X, y, sample_weight=w)
    rows = (0, 75, 0, 75, 0)
    Xd = da.from_array(X, chunks=(rows, -1))
    yd = da.from_array(y, chunks=(rows,))
    wd = da.from_array(w, chunks=50)
    model = make_model()
    call_atomic(model, "fit", Xd, yd, sample_weight=wd)
    assert_same_model(model, expected, X)


@pytest.mark.parametrize("chunks", ZERO_ROW_CHUNKS)
@pytest.mark.parametrize("method", METHODS)
def test_predict_on_zero_row_chunks(numpy_model, iris, method, chunks):
    """A model fitted on numpy predicts on Dask chunks with zero rows (one
    task per chunk: an empty chunk gives an empty block)."""
    X, _ = iris
    Xd = da.from_array(X, chunks=(ZERO_ROW_CHUNKS[chunks], -1))
    with dask.config.set(scheduler="threads"):
        assert_same_predictions(numpy_model, Xd, X, methods=[method])


def _sorted_and_filtered(X, y):
    """``X`` sorted by petal length, then the rows with petal length above
    the mean: the first chunks filter to nothing, and the chunk sizes are
    unknown (NaN) until computed."""
    order = np.argsort(X[:, 2], kind="stable")
    X, y = X[order], y[order]
    keep = X[:, 2] > 0
    Xd = da.from_array(X, chunks=(30, -1))
    yd = da.from_array(y, chunks=30)
    mask = Xd[:, 2] > 0
    return Xd[mask], yd[mask], X[keep], y[keep]


def test_filtered_array_with_unknown_chunk_sizes(iris, scheduler):
    Xd, yd, X, y = _sorted_and_filtered(*iris)
    assert any(np.isnan(c) for c in Xd.chunks[0])
    expected = make_model().fit(X, y)
    model = call_atomic(make_model(), "fit", Xd, yd)
    assert_same_model(model, expected, X)
    assert_same_predictions(model, Xd, X)


def test_filtered_dask_dataframe_with_empty_partitions(iris, scheduler):
    """The same rows as a filtered Dask DataFrame (empty partitions), named
    columns, the labels a column of the same frame."""
    pd = pytest.importorskip("pandas", reason="DataFrame input needs pandas")
    dd = pytest.importorskip("dask.dataframe", reason="needs dask.dataframe")
    X, y = iris
    order = np.argsort(X[:, 2], kind="stable")
    frame = pd.DataFrame(X[order], columns=COLUMNS).assign(target=y[order])
    ddf = dd.from_pandas(frame, npartitions=5)
    ddf = ddf[ddf["petal_length"] > 0]
    kept = frame[frame["petal_length"] > 0]
    expected = make_model().fit(kept[COLUMNS], kept["target"])
    model = make_model()
    call_atomic(model, "fit", ddf[COLUMNS], ddf["target"])
    assert_array_equal(model.feature_names_in_, COLUMNS)
    assert_same_model(model, expected, kept[COLUMNS])
    for method in METHODS:
        lazy = getattr(model, method)(ddf[COLUMNS])
        assert_allclose(
            np.asarray(lazy.compute()),
            getattr(expected, method)(kept[COLUMNS]),
            atol=1e-6,
        )


# ============================================================================
# Column names: as validate_data does for pandas
# ============================================================================


def _outcome(call):
    """What ``call()`` does: ``("raise", type, message)``, or ``("ok",
    feature-name warnings, result)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as error:  # the outcome under test
            return "raise", type(error), str(error)
    messages = [
        (w.category, str(w.message))
        for w in caught
        if "feature names" in str(w.message)
    ]
    return "ok", messages, np.asarray(result)


def _frames(case, X):
    """``case``'s input: (the pandas input, the Dask input)."""
    pd = pytest.importorskip("pandas", reason="DataFrame input needs pandas")
    dd = pytest.importorskip("dask.dataframe", reason="needs dask.dataframe")
    frame = pd.DataFrame(X, columns=COLUMNS)
    if case == "nameless":
        return X, da.from_array(X, chunks=(50, -1))
    if case == "reordered":
        frame = frame[COLUMNS[::-1]]
    elif case == "renamed":
        frame = frame.rename(columns={"petal_length": "petal_len"})
    elif case == "missing":
        frame = frame[COLUMNS[:3]]
    elif case == "extra":
        frame = frame.assign(petal_area=frame["petal_length"] * frame["petal_width"])
    elif case == "swapped_names":  # the same names, on the wrong columns
        frame.columns = ["sepal_width", "sepal_length", *COLUMNS[2:]]
    return frame, dd.from_pandas(frame, npartitions=3)


@pytest.fixture(scope="module")
def named_models(iris):
    """Models fitted on named columns: on pandas, on a Dask DataFrame."""
    pd = pytest.importorskip("pandas", reason="DataFrame input needs pandas")
    dd = pytest.importorskip("dask.dataframe", reason="needs dask.dataframe")
    X, y = iris
    frame = pd.DataFrame(X, columns=COLUMNS)
    on_pandas = make_model().fit(frame, y)
    with dask.config.set(scheduler="threads"):
        on_dask = make_model().fit(
            dd.from_pandas(frame, npartitions=3), da.from_array(y, chunks=50)
        )
    return {"pandas": on_pandas, "dask_dataframe": on_dask}


CASES = [
    "same",
    "reordered",
    "renamed",
    "swapped_names",
    "missing",
    "extra",
    "nameless",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fitted_on", ["pandas", "dask_dataframe"])
def test_columns_checked_as_for_pandas(named_models, iris, fitted_on, method, case):
    """The pandas path raises scikit-learn's ValueError on reordered,
    renamed, missing or extra columns, and warns on a nameless array; the
    Dask path must raise or warn the same, never predict from misaligned
    columns (issue: accuracy 0.37 instead of 0.96)."""
    model = named_models[fitted_on]
    frame, dask_frame = _frames(case, iris[0])
    expected = _outcome(lambda: getattr(model, method)(frame))
    before = snapshot(model)
    with dask.config.set(scheduler="threads"):
        got = _outcome(lambda: getattr(model, method)(dask_frame).compute())
    if expected[0] == "raise":  # the same error and message
        assert got == expected
    else:  # the same warnings, and the same result
        assert got[:2] == expected[:2]
        assert_allclose(got[2], expected[2], atol=1e-6)
    assert_unchanged(model, before)  # a prediction changes nothing


def test_named_dask_dataframe_on_a_model_fitted_without_names(numpy_model, iris):
    """A model fitted on numpy given named columns: scikit-learn warns that
    it was fitted without feature names; the Dask path must too."""
    frame, dask_frame = _frames("same", iris[0])
    expected = _outcome(lambda: numpy_model.predict_proba(frame))
    assert expected[1], "pandas path: a warning expected"
    with dask.config.set(scheduler="threads"):
        got = _outcome(lambda: numpy_model.predict_proba(dask_frame).compute())
    assert got[:2] == expected[:2]
    assert_allclose(got[2], expected[2], atol=1e-12)


def test_columns_checked_on_the_cluster(named_models, iris, client):
    """On the cluster too: reordered columns raise before anything runs."""
    model = named_models["dask_dataframe"]
    frame, dask_frame = _frames("reordered", iris[0])
    expected = _outcome(lambda: model.predict(frame))
    got = _outcome(lambda: model.predict(dask_frame).compute())
    assert got[:2] == expected[:2] and got[0] == "raise"


@pytest.mark.parametrize(
    "names",
    [COLUMNS, [0, 1, 2, 3], ["a", 1, "c", "d"]],
    ids=["strings", "integers", "mixed"],
)
def test_fit_on_dask_dataframe_names_like_pandas(iris, names):
    """``feature_names_in_`` from a Dask DataFrame's columns as from
    pandas': set for string names, absent for integers, the same TypeError
    for mixed types; a failed fit leaves the estimator as it was."""
    pd = pytest.importorskip("pandas", reason="DataFrame input needs pandas")
    dd = pytest.importorskip("dask.dataframe", reason="needs dask.dataframe")
    X, y = iris
    frame = pd.DataFrame(X, columns=names)
    expected = _outcome(lambda: make_model().fit(frame, y))
    model = make_model()
    with dask.config.set(scheduler="threads"):
        got = _outcome(
            lambda: (
                call_atomic(model, "fit", dd.from_pandas(frame, npartitions=3), y).coef_
            )
        )
    assert got[0] == expected[0]
    if expected[0] == "raise":
        assert got[1:] == expected[1:]
        assert not hasattr(model, "coef_")
        return
    pandas_model = make_model().fit(frame, y)
    assert hasattr(model, "feature_names_in_") == hasattr(
        pandas_model, "feature_names_in_"
    )
    if hasattr(pandas_model, "feature_names_in_"):
        assert_array_equal(model.feature_names_in_, pandas_model.feature_names_in_)
    assert_same_model(model, pandas_model, frame)


# ============================================================================
# Uniform weights near the largest float
# ============================================================================


@pytest.mark.parametrize(
    "weight", [1e307, 1e308, np.finfo(np.float64).max], ids=["1e307", "1e308", "max"]
)
def test_huge_uniform_sample_weights(iris, scheduler, weight):
    """Uniform weights are unit weights, however large: numpy's fit with
    them is the unweighted model, and so must Dask's be (today: "sum to
    inf")."""
    X, y = iris
    w = np.full(len(y), weight)
    expected = make_model().fit(X, y, sample_weight=w)
    assert_same_model(expected, make_model().fit(X, y), X)
    Xd = da.from_array(X, chunks=(50, -1))
    yd = da.from_array(y, chunks=50)
    wd = da.from_array(w, chunks=50)
    model = make_model()
    call_atomic(model, "fit", Xd, yd, sample_weight=wd)
    assert_same_model(model, expected, X)
