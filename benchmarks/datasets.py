"""Data sets of the benchmarks, generated reproducibly (nothing is downloaded).

- ``digits``: scikit-learn's digits (1797 x 64, 10 classes), standardized;
- ``breast_cancer``: scikit-learn's breast cancer (569 x 30, 2 classes),
  standardized;
- ``dense``: ``make_classification(n_samples=200_000, n_features=200,
  n_informative=50, n_classes=10, random_state=0)``, standardized (320 MB);
  ``n_features``, ``n_classes`` and ``n_informative`` can be changed;
- ``sparse``: a text-like CSR matrix, 100_000 x 50_000 with 50 nonzeros a row
  drawn from a Zipf-like feature distribution (rare features, as in text),
  tf-idf-like positive values with unit-norm rows, 20 classes from a planted
  sparse softmax model.

Each loader returns ``X_train, X_test, y_train, y_test`` (a stratified 80/20
split, ``random_state=0``); the scaler is fit on the training part only.
With ``split=False`` the loaders return the whole data set as ``X, y``
(standardized, but for ``sparse``).
"""

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def _split_standardize(X, y, dtype=np.float64, split=True):
    if not split:  # the whole data set, standardized: X, y
        return StandardScaler().fit_transform(X).astype(dtype, copy=False), y
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    scaler = StandardScaler(with_mean=not sp.issparse(X)).fit(X_train)
    X_train = scaler.transform(X_train).astype(dtype, copy=False)
    X_test = scaler.transform(X_test).astype(dtype, copy=False)
    return X_train, X_test, y_train, y_test


def digits(dtype=np.float64, split=True):
    X, y = load_digits(return_X_y=True)
    return _split_standardize(X, y, dtype, split)


def breast_cancer(dtype=np.float64, split=True):
    X, y = load_breast_cancer(return_X_y=True)
    return _split_standardize(X, y, dtype, split)


def dense(
    n_samples=200_000,
    dtype=np.float64,
    split=True,
    *,
    n_features=200,
    n_classes=10,
    n_informative=50,
):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_classes=n_classes,
        random_state=0,
    )
    return _split_standardize(X, y, dtype, split)


def sparse(
    n_samples=100_000, n_features=50_000, nnz_per_row=50, n_classes=20, split=True
):
    rng = np.random.default_rng(0)
    # Zipf-like feature frequencies: a few common features, many rare ones.
    p = 1.0 / np.arange(1, n_features + 1) ** 1.1
    p /= p.sum()
    indices = rng.choice(n_features, size=(n_samples, nnz_per_row), p=p)
    indices.sort(axis=1)
    values = rng.exponential(size=(n_samples, nnz_per_row))
    indptr = np.arange(0, n_samples * nnz_per_row + 1, nnz_per_row)
    X = sp.csr_array((values.ravel(), indices.ravel(), indptr), (n_samples, n_features))
    X.sum_duplicates()
    X = X.multiply(1.0 / np.sqrt(X.multiply(X).sum(axis=1)).reshape(-1, 1)).tocsr()
    # 32-bit indices, as scikit-learn's own solvers (saga) require.
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    W = rng.standard_normal((n_classes, n_features)) * (
        rng.random((n_classes, n_features)) < 0.05
    )
    scores = X @ W.T * 10 + rng.gumbel(size=(n_samples, n_classes))
    y = np.argmax(scores, axis=1)
    if not split:  # the whole data set: X, y
        return X, y
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    return X_train.tocsr(), X_test.tocsr(), y_train, y_test


LOADERS = {
    "digits": digits,
    "breast_cancer": breast_cancer,
    "dense": dense,
    "sparse": sparse,
}
