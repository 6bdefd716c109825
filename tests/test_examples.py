"""Every script of examples/ (the sphinx-gallery) runs headless and exits 0,
and opens with the reST title sphinx-gallery needs. A script that imports a
package the ``test`` extra leaves out (``OPTIONAL``) is skipped where that
package is not installed."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))

# The packages that examples may import and the ``test`` extra does not
# install, and the extra that has each.
OPTIONAL = {"torch": "array-api"}


def imported_modules(script):
    """The top-level names of the modules that ``script`` imports, anywhere
    in it."""
    names = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.partition(".")[0])
    return names


def test_there_are_examples():
    assert len(EXAMPLES) >= 6


def test_optional_imports_are_found(tmp_path):
    script = tmp_path / "plot_x.py"
    script.write_text(
        "import os\nimport torch.nn as nn\n"
        "def main():\n    from dask.array import ones\n    from . import y\n"
    )
    assert imported_modules(script) == {"os", "torch", "dask"}
    gpu = next(path for path in EXAMPLES if path.name == "plot_gpu.py")
    assert "torch" in imported_modules(gpu)


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
    for module in sorted(imported_modules(script) & OPTIONAL.keys()):
        pytest.importorskip(
            module,
            reason=f"{script.name} needs {module} (the {OPTIONAL[module]} extra), "
            "which is not installed",
        )
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
