"""Sphinx configuration: numpydoc API reference, sphinx-gallery of
../examples, Markdown pages through myst-parser.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (warnings are
errors; the gallery's examples are executed, a few seconds each).
"""

import os
import re
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's sk_softmax, installed or not

import sk_softmax  # noqa: E402

# The examples run in this process: one BLAS/OpenMP thread keeps their small
# problems from oversubscribing a small machine (and their timings honest).
threadpool_limits(limits=1)
os.environ.setdefault("MPLBACKEND", "Agg")

project = "sk_softmax"
author = "the sk_softmax developers"
copyright = "2026, the sk_softmax developers"
version = release = sk_softmax.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
]
myst_enable_extensions = ["dollarmath"]
templates_path = []

# numpydoc: the class page lists its methods itself; no per-member stub pages.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autosummary_generate = False

autodoc_default_options = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every plot_*.py
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "reference_url": {"sk_softmax": None},
}

html_theme = "pydata_sphinx_theme"
html_title = f"sk_softmax {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
}
html_static_path = []


# In a numpydoc type such as "ndarray of shape (n_features_in_,)", docutils
# reads ``n_features_in_`` as a reference to a link target, which does not
# exist (an error under -W). Quote such names before numpydoc sees them.
_TYPE_LINE = re.compile(r"^(\s*\w+ : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)])")


def _quote_names_in_types(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            head, rest = match.groups()
            lines[i] = head + _TRAILING_UNDERSCORE.sub(r"``\1``", rest)


def setup(app):
    app.connect("autodoc-process-docstring", _quote_names_in_types, priority=400)
