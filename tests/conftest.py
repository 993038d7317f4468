"""Test-session setup: the one hypothesis profile every property test runs under.

``HYPOTHESIS_PROFILE=thorough`` runs ten times as many examples, not derandomized (a longer
local or CI soak of the same properties); test modules scale their counts from the loaded
profile, never set their own.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=150,
    deadline=None,  # shared 2-core machines: timing says nothing about correctness here
    derandomize=True,  # the same examples on every run: a red CI run reproduces locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", parent=settings.get_profile("default"), max_examples=1500, derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
