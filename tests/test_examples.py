"""Every script of examples/ (the sphinx-gallery) runs headless and exits 0,
and opens with the reST title sphinx-gallery needs."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_has_a_title(script):
    docstring = ast.get_docstring(ast.parse(script.read_text()), clean=False)
    assert docstring, f"{script.name} has no module docstring"
    lines = docstring.strip("\n").splitlines()
    # "=====" / "Title" / "=====" (over- and underlined) or "Title" / "====="
    if set(lines[0]) == {"="}:
        title, rule = lines[1], lines[2]
    else:
        title, rule = lines[0], lines[1]
    assert title.strip() and set(rule) == {"="} and len(rule) >= len(title.strip())


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    # One BLAS/OpenMP thread: the examples are small, and on a small machine
    # several thread pools oversubscribe the cores (a 10x slow-down seen on 2).
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "the example printed nothing"
