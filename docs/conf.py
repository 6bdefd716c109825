"""Sphinx configuration: numpydoc API reference, sphinx-gallery of
../examples, Markdown pages through myst-parser.

Build with ``pip install -e ".[docs]" && sphinx-build -W -b html docs
docs/_build/html`` (README.md; warnings are errors). The gallery's examples
are executed, a few seconds each, but for ``plot_gpu.py``: it needs torch,
which the docs leave out (a plain torch requirement pulls a multi-GB CUDA
build), so its page shows the code without output. MathJax is served from
the built pages (``sphinx-mathjax-offline``), not from a CDN.
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
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: math offline
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
    # run every plot_*.py but plot_gpu.py (torch is not a docs requirement)
    "filename_pattern": r"/plot_(?!gpu)",
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
    # One line of top bar at 1400 px and narrower: the search field is a
    # button at the end (Ctrl+K still opens it), not a field of its own.
    "navbar_persistent": [],
    "navbar_end": ["search-button", "theme-switcher", "navbar-icon-links"],
}
# The pages at the top of the toctree have no sub-pages: pydata's left
# sidebar ("Section Navigation") would be empty there, so they have none
# (the examples keep theirs, the list of examples).
html_sidebars = {
    page: []
    for page in ("index", "user_guide", "derivation", "api", "benchmarks", "changelog")
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
