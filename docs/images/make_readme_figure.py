"""Regenerate the README's figure, docs/images/solver_convergence.png, from the
gallery example examples/plot_solver_convergence.py:

    python docs/images/make_readme_figure.py
"""

import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
plt.show = lambda *args, **kwargs: None  # the example ends with plt.show()
runpy.run_path(
    str(ROOT / "examples" / "plot_solver_convergence.py"), run_name="__main__"
)
plt.gcf().savefig(Path(__file__).with_name("solver_convergence.png"), dpi=72)
