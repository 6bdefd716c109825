"""Fits on Dask arrays (``sk_softmax.dask``): the same model as on numpy,
with ``X`` kept on the workers of a ``dask.distributed`` LocalCluster (two
worker processes, one thread each) or of the threaded scheduler."""

import gc
import pickle
import subprocess
import sys
import textwrap
import time
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _dask_cluster import local_client
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sk_softmax import SoftmaxGDClassifier
from sk_softmax._backend import class_totals, stratified_sample
from sk_softmax._fitting import prepare
from sk_softmax._plan import make_plan

da = pytest.importorskip(
    "dask.array", reason="dask[array] (the test and dask extras) is not installed"
)
dask = pytest.importorskip(
    "dask", reason="dask (the test and dask extras) is not installed"
)
distributed = pytest.importorskip(
    "distributed", reason="distributed (the test and dask extras) is not installed"
)

TIGHT = {"tol": 1e-10, "max_iter": 500, "random_state": 0}


@pytest.fixture(scope="module")
def client():
    with local_client(processes=True) as client:
        yield client


def _data(n=3000, d=10, n_classes=3, seed=0):
    X, y = make_classification(
        n_samples=n,
        n_features=d,
        n_informative=6,
        n_classes=n_classes,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def _chunked(X, y, rows=500):
    return da.from_array(X, chunks=(rows, -1)), da.from_array(y, chunks=rows)


def _sparse_chunks(X, rows=500):
    """A Dask array of CSR chunks (mostly zeros)."""
    X = np.where(np.abs(X) > 1.0, X, 0.0)
    dense = da.from_array(X, chunks=(rows, -1))
    meta = sp.csr_matrix((0, X.shape[1]))
    return X, dense.map_blocks(sp.csr_matrix, dtype=X.dtype, meta=meta)


def _short(**kwargs):
    """A few iterations: below 2000 rows Newton-CG's Hessian is on all the
    rows, so the two backends take the same iterates, up to the rounding of
    sums made in another order, whether or not the fit has converged; each
    pass on a cluster costs a few round trips, so the tests make few."""
    return SoftmaxGDClassifier(max_iter=3, random_state=0, **kwargs)


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def test_same_iterates_as_numpy(client):
    """Sample weights (a Dask array chunked otherwise, rechunked to X's
    rows) and class weights: the same iterates as the numpy fit."""
    X, y = _data(n=1500)
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, size=y.shape[0])
    kwargs = dict(alpha=1e-3, class_weight="balanced")
    expected = _fit(_short(**kwargs), X, y, sample_weight=sample_weight)
    Xd, yd = _chunked(X, y)
    wd = da.from_array(sample_weight, chunks=700)
    model = _fit(_short(**kwargs), Xd, yd, sample_weight=wd)
    assert_array_equal(model.classes_, expected.classes_)
    assert model.n_iter_ == expected.n_iter_
    assert_allclose(model.loss_curve_, expected.loss_curve_, rtol=1e-12)
    assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-8)
    assert isinstance(model.coef_, np.ndarray)


def test_binary_same_iterates_as_numpy(client):
    """Two classes: the workers run the one-vector (logistic) loss, and the
    model is the numpy fit's, with a one-row ``coef_``."""
    X, y = _data(n=1500, n_classes=2, seed=3)
    expected = _fit(_short(alpha=1e-3), X, y)
    model = _fit(_short(alpha=1e-3), *_chunked(X, y))
    assert model.coef_.shape == (1, X.shape[1])
    assert model.n_iter_ == expected.n_iter_
    assert_allclose(model.loss_curve_, expected.loss_curve_, rtol=1e-12)
    assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-8)


def test_sparse_chunks(client):
    X, y = _data(n=1200, seed=1)
    X, Xd = _sparse_chunks(X, rows=300)
    expected = _fit(_short(), sp.csr_matrix(X), y)
    model = _fit(_short(), Xd, da.from_array(y, chunks=300))
    assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-8)
    proba = model.predict_proba(Xd)
    assert isinstance(proba, da.Array)
    assert_allclose(proba.compute(), expected.predict_proba(X), atol=1e-8)


def _prepared(X, y, **params):
    """The prepared problem of a default fit on ``X, y`` and its objective."""
    estimator = SoftmaxGDClassifier(**params)
    plan = make_plan(estimator.get_params(), incremental=False, fitted=False)
    problem = prepare(estimator, X, y, None, None, plan)
    return problem, problem.objective(plan.for_data(problem.n_classes))


def _stored_in_float32(xp, X, y, w):
    """Per block: (X in float32, w in float32, 1), summed by ``map_sum``."""
    return np.array([X.dtype == np.float32, w.dtype == np.float32, 1])


def test_hessian_sample_within_chunks(client):
    """Newton-CG's Hessian sample is drawn on the workers, in every chunk,
    with each class weighing what it weighs in the data."""

    X, y = _data(n=6000, seed=6)
    y = np.where(np.arange(y.shape[0]) < 300, 2, y)  # class 2 more frequent
    _, objective = _prepared(*_chunked(X, y, rows=1000))
    data = objective.data
    # the 6 parts spread 3 and 3 over the 2 workers, their places known
    assert sorted(np.unique(data.where, return_counts=True)[1]) == [3, 3]
    sample = stratified_sample(data, 0.1, 1000, 3, "float32")
    assert sample.where == data.where  # drawn where the parts are
    counts, class_weight = class_totals(sample)
    assert 1000 <= sample.n_rows == counts.sum() <= 1000 + 3 * 6
    assert_allclose(class_weight, class_totals(data)[1], rtol=1e-6)
    # Every block stored in float32 (as ArrayBackend.sample), sums too.
    in_float32, in_float32_w, blocks = sample.map_sum(_stored_in_float32)
    assert in_float32 == in_float32_w == blocks >= 6
    assert sample.dtype == np.float32
    assert_array_equal(sample.part_rows() > 100, True)
    larger = stratified_sample(data, 0.2, 1000, 3, "float32")
    assert larger.n_rows > sample.n_rows
    assert stratified_sample(data, 0.5, 6000, 3, "float32") is None  # all rows


def test_converges_to_numpy_optimum_threaded():
    """The threaded scheduler (no cluster), labels that are strings, a
    column-vector y (raveled, with scikit-learn's warning), and a tight fit
    with Newton-CG's Hessian sample (3000 rows): the numpy fit's optimum."""
    X, y = _data(n=3000, n_classes=4, seed=2)
    labels = np.array(["a", "b", "c", "d"])[y]
    expected = SoftmaxGDClassifier(**TIGHT).fit(X, labels)
    Xd = da.from_array(X, chunks=(500, -1))
    yd = da.from_array(labels[:, None], chunks=(500, 1))
    with dask.config.set(scheduler="threads"):
        with pytest.warns(Warning, match="column-vector y"):
            model = SoftmaxGDClassifier(**TIGHT).fit(Xd, yd)
        predicted = model.predict(Xd)
        assert isinstance(predicted, da.Array)
        assert_array_equal(predicted.compute(), expected.predict(X))
    assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-8)


def test_prox_newton_reaches_the_numpy_optimum_threaded():
    """Elastic net (the default solver for it, proximal Newton, whose
    Hessian products stay on every column of Dask rows): the numpy fit's
    optimum and support."""
    X, y = _data(n=3000, n_classes=4, seed=2)
    params = dict(alpha=1e-2, l1_ratio=0.5, **TIGHT)
    expected = SoftmaxGDClassifier(**params).fit(X, y)
    with dask.config.set(scheduler="threads"):
        model = _fit(SoftmaxGDClassifier(**params), *_chunked(X, y))
    assert np.any(expected.coef_ == 0)
    assert_array_equal(model.coef_ == 0, expected.coef_ == 0)
    assert_allclose(model.coef_, expected.coef_, atol=1e-6)


def test_float32_threaded():
    X, y = _data(n=800, seed=7)
    X = X.astype(np.float32)
    with dask.config.set(scheduler="threads"):
        model = _fit(_short(), *_chunked(X, y, rows=200))
    expected = _fit(_short(), X, y)
    assert model.coef_.dtype == np.float32
    assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-5)


def test_predictions_are_lazy_both_ways(client):
    """A model fitted on Dask predicts on numpy and on Dask (lazily, all
    four methods, binary included); one fitted on numpy predicts on Dask;
    the fitted model pickles without Dask state."""
    X, y = _data(n=1000, n_classes=2, seed=3)
    Xd, yd = _chunked(X, y, rows=250)
    on_dask = _fit(_short(), Xd, yd)
    on_numpy = _fit(_short(), X, y)
    for method in (
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
    ):
        lazy = getattr(on_numpy, method)(Xd)
        assert isinstance(lazy, da.Array), method
        computed = lazy.compute()
        assert computed.shape == getattr(on_numpy, method)(X).shape
        assert_allclose(computed, getattr(on_numpy, method)(X), atol=1e-7)
        assert_allclose(
            getattr(on_dask, method)(X), getattr(on_numpy, method)(X), atol=1e-6
        )
    copy = pickle.loads(pickle.dumps(on_dask))
    for name, value in vars(copy).items():
        assert not dask.is_dask_collection(value), name
        assert "dask" not in type(value).__module__, name
    assert_allclose(copy.predict_proba(X), on_dask.predict_proba(X))


def test_x_stays_on_the_workers(client):
    """Data generated on the workers, larger than a chunk: the client's
    memory grows by far less than X (traced allocations and RSS)."""
    psutil = pytest.importorskip(
        "psutil",
        reason="psutil (the test and dask extras, through distributed) is not installed",
    )
    n, d = 100_000, 40
    X = da.random.RandomState(0).standard_normal((n, d), chunks=(25_000, -1))
    B = np.random.default_rng(0).standard_normal((d, 3))
    y = da.argmax(X @ B, axis=1)
    rss = psutil.Process().memory_info().rss
    tracemalloc.start()
    try:
        model = _fit(SoftmaxGDClassifier(max_iter=2, random_state=0), X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    x_bytes = n * d * 8
    assert peak < 0.1 * x_bytes, (peak, x_bytes)
    assert psutil.Process().memory_info().rss - rss < 0.5 * x_bytes
    assert model.n_iter_ == 2
    assert model.score(X[:2000].compute(), y[:2000].compute()) > 0.9


def _eventually(condition, seconds=60):
    """Whether ``condition()`` holds within ``seconds``: the client releases
    its futures in messages that the scheduler handles in its own time."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _scheduler_tasks(client):
    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def _held_on_workers(client):
    """The actors on each worker, and the parts and results each holds."""

    def held(dask_worker):
        return [len(actor.held) for actor in dask_worker.state.actors.values()]

    return client.run(held)


def test_nothing_left_on_the_cluster_after_fit(client):
    """After a fit, the actors that held the parts are gone from the
    workers, and nothing of the fit is left on the scheduler."""
    X, y = _data(n=1000, seed=4)
    Xd, yd = _chunked(X, y)
    before = _scheduler_tasks(client)
    _fit(_short(), Xd, yd)
    gc.collect()
    assert _eventually(lambda: _scheduler_tasks(client) <= before)
    assert _eventually(
        lambda: all(held == [] for held in _held_on_workers(client).values())
    )


def test_passes_make_no_tasks_and_keep_no_garbage(client):
    """On a cluster a pass is one actor call per worker: however many
    passes, the scheduler makes no task (its transition count stays put).
    The actors hold the parts and the kept forward passes the client still
    refers to, no more: the count does not grow with the iterations. The
    passes give what the numpy backend gives."""
    from sk_softmax._backend import ArrayBackend

    X, y = _data(n=1000, seed=11)
    _, objective = _prepared(*_chunked(X, y, rows=250))
    w = np.full(y.shape[0], 1.0 / y.shape[0])
    local = objective._on(ArrayBackend(X, y, w, 3, np))  # y: 0, 1, 2
    P = 0.1 * np.random.default_rng(0).standard_normal(objective.zeros().shape)

    def transitions():
        return client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.transition_counter
        )

    before = transitions()
    counts = []
    for _ in range(4):
        forward = objective.probabilities_t(P)  # kept in the actors
        HP = objective.hessp(P, forward)(P)
        value, grad = objective.smooth_value_and_gradient(P)
        del forward
        counts.append(sorted(sum(_held_on_workers(client).values(), [])))
    assert transitions() == before
    assert counts[1:] == counts[:-1]  # flat from one iteration to the next
    assert sum(counts[-1]) <= 2 * 4  # each part, and one kept pass of it
    expected_value, expected_grad = local.smooth_value_and_gradient(P)
    assert_allclose(value, expected_value, rtol=1e-12)
    assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)
    assert_allclose(HP, local.hessp(P)(P), rtol=1e-10, atol=1e-14)


def test_parts_are_aligned(client):
    """Chunks of a numpy X travel inside the task graph (``from_array``)
    and can arrive at odd addresses, where numpy's products skip BLAS; the
    parts the actors hold are aligned."""

    X, y = _data(n=2000, d=50, seed=12)
    _, objective = _prepared(*_chunked(X, y, rows=500))

    def aligned(dask_worker):
        return [
            bool(part[0].flags.aligned)
            for actor in dask_worker.state.actors.values()
            for part in actor.held.values()
        ]

    flags = sum(client.run(aligned).values(), [])
    assert len(flags) >= len(objective.data.parts) and all(flags)


def _never_computed(shape, chunks):
    def fail(block):
        raise AssertionError("X was computed")

    return da.zeros(shape, chunks=chunks).map_blocks(fail, dtype=float)


@pytest.mark.parametrize(
    "params, call",
    [
        ({"batch_size": 100}, "fit"),
        ({"learning_rate": "adaptive"}, "fit"),
        ({"early_stopping": True}, "fit"),
        ({}, "partial_fit"),
    ],
)
def test_mini_batch_and_early_stopping_refused(params, call):
    """Mini-batch training, partial_fit and early stopping on Dask input
    raise a ValueError pointing to dask_ml's Incremental, before anything
    is computed."""
    X = _never_computed((400, 5), (100, 5))
    y = da.zeros(400, chunks=100, dtype=int)
    model = SoftmaxGDClassifier(**params)
    kwargs = {"classes": [0, 1]} if call == "partial_fit" else {}
    with pytest.raises(ValueError, match="dask_ml.wrappers.Incremental"):
        getattr(model, call)(X, y, **kwargs)
    assert not hasattr(model, "coef_")


def test_incremental_wrapper_runs_partial_fit_per_chunk():
    """The pointed-to alternative works: dask_ml's Incremental feeds numpy
    chunks to partial_fit."""
    wrappers = pytest.importorskip(
        "dask_ml.wrappers", reason="dask-ml (the test and dask extras) is not installed"
    )
    X, y = _data(n=1200, seed=5)
    Xd, yd = _chunked(X, y, rows=300)
    with dask.config.set(scheduler="threads"):
        inc = wrappers.Incremental(SoftmaxGDClassifier(batch_size=50, random_state=0))
        inc.fit(Xd, yd, classes=[0, 1, 2])
    assert inc.estimator_.score(X, y) > 0.5  # 3 classes: chance is 1/3


def test_input_errors_without_computing_x():
    X = _never_computed((400, 5), (100, 5))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SoftmaxGDClassifier().fit(X, da.zeros(300, chunks=100, dtype=int))
    with pytest.raises(ValueError, match="1d array"):
        SoftmaxGDClassifier().fit(X, da.zeros((400, 2), chunks=100, dtype=int))
    X_nan = da.from_array(np.full((40, 2), np.nan), chunks=(10, -1))
    with dask.config.set(scheduler="threads"):
        with pytest.raises(ValueError, match="NaN or infinity"):
            SoftmaxGDClassifier().fit(X_nan, np.arange(40) % 2)


def test_package_imports_without_dask(tmp_path):
    """With dask unimportable, the package imports and fits numpy data;
    importing it never imports dask."""
    code = textwrap.dedent(
        """
        import sys
        import sk_softmax
        assert "dask" not in sys.modules, "importing sk_softmax imported dask"
        sys.modules["dask"] = None  # `import dask` now raises ImportError
        import numpy as np
        X = np.random.default_rng(0).standard_normal((60, 3))
        y = (X[:, 0] > 0).astype(int)
        model = sk_softmax.SoftmaxGDClassifier().fit(X, y)
        assert model.predict(X).shape == (60,)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _blas_threads(xp, X, y, w):
    from threadpoolctl import threadpool_info

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return np.array([1.0, max(blas)])


def test_one_blas_thread_per_task(client):
    """Each task on the workers runs with BLAS limited to one thread."""

    X, y = _data(n=600, seed=8)
    _, objective = _prepared(*_chunked(X, y, rows=100))
    blocks, threads = objective.data.map_sum(_blas_threads)
    assert threads == blocks  # one thread in every block of every part


def test_take_and_warm_start_threaded():
    """``take`` brings a few rows to the client; ``warm_start`` continues
    a Dask fit from its model."""

    X, y = _data(n=900, seed=9)
    Xd, yd = _chunked(X, y, rows=200)
    with dask.config.set(scheduler="threads"):
        _, objective = _prepared(Xd, yd)
        rows = np.array([0, 199, 200, 555, 899])
        batch = objective.data.take(rows, scale=2.0)
        assert_allclose(batch.X, X[rows])
        assert_array_equal(batch.y, y[rows])
        assert_allclose(batch.w, 2.0 / 900)
        model = SoftmaxGDClassifier(warm_start=True, **TIGHT).fit(Xd, yd)
        n_iter = model.n_iter_
        model.fit(Xd, yd)
    assert model.n_iter_ < n_iter


def test_dask_dataframe_threaded():
    """A Dask DataFrame's columns become ``feature_names_in_``; the model
    predicts on pandas without a feature-name warning."""
    dd = pytest.importorskip(
        "dask.dataframe",
        reason="dask[dataframe] (the test and dask extras, with pandas) is not installed",
    )
    pd = pytest.importorskip(
        "pandas", reason="pandas (the test extra) is not installed"
    )
    X, y = _data(n=600, seed=10)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    with dask.config.set(scheduler="threads"):
        model = _fit(
            _short(), dd.from_pandas(df, npartitions=3), dd.from_pandas(pd.Series(y), 3)
        )
    expected = _fit(_short(), df, y)
    assert_array_equal(model.feature_names_in_, expected.feature_names_in_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_allclose(model.predict_proba(df), expected.predict_proba(df), atol=1e-8)


@pytest.mark.parametrize(
    "weights, class_weight",
    [("huge", None), (None, "balanced"), ("uneven", None), ("uneven", "balanced")],
)
def test_same_model_as_numpy_for_any_weights(client, weights, class_weight):
    """The preparation is the in-memory one: uniform weights of 1e307 (whose
    sum overflows, rescaled as on numpy), "balanced" class weights and
    uneven sample weights give the numpy fit's model, on 6000 rows (the
    Hessian sample then a part of them, drawn within the chunks)."""
    X, y = _data(n=6000, seed=14)
    y = np.where(np.arange(y.shape[0]) < 600, 2, y)  # unequal class sizes
    rng = np.random.default_rng(14)
    sample_weight = {
        None: None,
        "huge": np.full(y.shape[0], 1e307),
        "uneven": rng.uniform(0.0, 3.0, size=y.shape[0]) ** 3,
    }[weights]
    kwargs = dict(alpha=1e-3, class_weight=class_weight, tol=1e-8, max_iter=100)
    expected = SoftmaxGDClassifier(**kwargs).fit(X, y, sample_weight=sample_weight)
    Xd, yd = _chunked(X, y, rows=1500)
    wd = None if sample_weight is None else da.from_array(sample_weight, chunks=1500)
    model = SoftmaxGDClassifier(**kwargs).fit(Xd, yd, sample_weight=wd)
    assert np.all(np.isfinite(model.coef_))
    assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-6)


def test_fits_without_random_state_are_identical(client):
    """``random_state=None``: two fits on the 2-process cluster give the same
    model, bit for bit (the Hessian sample's seed is fixed, and the same
    parts are summed together on every fit, in the same order)."""
    X, y = _data(n=8000, seed=15)
    Xd, yd = _chunked(X, y, rows=1000)
    a = SoftmaxGDClassifier(alpha=1e-4).fit(Xd, yd)
    b = SoftmaxGDClassifier(alpha=1e-4).fit(Xd, yd)
    assert a.n_iter_ >= 3
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)
