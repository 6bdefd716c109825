"""The Dask tests' cluster: a ``LocalCluster`` of two one-thread workers
and its client, the workers' scikit-learn imported before the first test
(a second or more, rather than in that test's time)."""

import contextlib


@contextlib.contextmanager
def local_client(processes):
    """A client of two one-thread workers, each its own process when
    ``processes`` (the workers then share nothing, as on a cluster)."""
    import distributed

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as cluster:
        with distributed.Client(cluster) as client:
            client.run(__import__, "sk_softmax.dask")
            yield client
