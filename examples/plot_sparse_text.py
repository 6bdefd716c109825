"""
==========================================
Sparse, text-like data
==========================================

Bag-of-words features are sparse: each document uses a few of many words.
:class:`~sk_softmax.SoftmaxGDClassifier` takes scipy CSR matrices as they are,
never densifying them. No corpus is downloaded here: we generate documents from
topic-specific word frequencies (a Zipf-like vocabulary in which each of the
four topics favours its own words), count the words with
:class:`~sklearn.feature_extraction.text.CountVectorizer`, apply TF-IDF, and
compare with :class:`~sklearn.linear_model.LogisticRegression` at the same
penalty (``C = 1 / (alpha * n)``).
"""

import matplotlib

matplotlib.use("Agg")

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from sk_softmax import SoftmaxGDClassifier

rng = np.random.default_rng(0)
topics = ["space", "sport", "cooking", "music"]
vocabulary = np.array([f"w{i}" for i in range(3000)])
common = 1.0 / np.arange(1, vocabulary.size + 1)  # Zipf's law for everyday words
frequencies, own_words = [], {}
for topic in topics:
    favoured = rng.choice(vocabulary.size, size=60, replace=False)
    own_words[topic] = set(vocabulary[favoured])
    weights = common.copy()
    weights[favoured] += 0.02  # the topic's own words
    frequencies.append(weights / weights.sum())


def document(topic):
    length = rng.integers(20, 120)
    return " ".join(rng.choice(vocabulary, size=length, p=frequencies[topic]))


labels = rng.integers(len(topics), size=4000)
docs = [document(t) for t in labels]
y = np.array(topics)[labels]
docs_train, docs_test, y_train, y_test = train_test_split(docs, y, random_state=0)

vectorizer = TfidfVectorizer()
X_train = vectorizer.fit_transform(docs_train)
X_test = vectorizer.transform(docs_test)
print(
    f"{X_train.shape[0]} documents x {X_train.shape[1]} words, "
    f"{X_train.nnz / np.prod(X_train.shape):.2%} nonzero"
)

# %%
# Same optimum for both: ``C = 1 / (alpha * n)`` (four classes).
alpha = 1e-3
n = X_train.shape[0]
models = {
    "SoftmaxGDClassifier": SoftmaxGDClassifier(alpha=alpha),
    "LogisticRegression": LogisticRegression(C=1 / (alpha * n), tol=1e-6),
}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    print(
        f"{name:20s} {seconds:.2f} s, held-out accuracy {model.score(X_test, y_test):.3f}"
    )
difference = np.abs(
    models["SoftmaxGDClassifier"].predict_proba(X_test)
    - models["LogisticRegression"].predict_proba(X_test)
).max()
print(f"largest difference between their probabilities: {difference:.1e}")

# %%
# The words with the largest coefficient for each topic are the topic's own.
clf = models["SoftmaxGDClassifier"]
words = vectorizer.get_feature_names_out()
fig, axes = plt.subplots(1, len(topics), figsize=(11, 3.2), sharex=True)
for ax, label, coef in zip(axes, clf.classes_, clf.coef_, strict=True):
    top = np.argsort(coef)[-8:]
    ax.barh(words[top], coef[top])
    ax.set_title(label)
    hits = sum(word in own_words[label] for word in words[top])
    print(f"{label:8s}: {hits} of its top 8 words are the topic's own")
fig.suptitle("Largest coefficients per topic")
fig.tight_layout()
plt.show()
