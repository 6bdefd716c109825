"""Test-session set-up shared by tests/ and the doctests of sk_softmax/."""

import os

# scikit-learn's check_array_api_input runs only when scipy was imported with
# its array-API support on; scipy reads this variable once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
