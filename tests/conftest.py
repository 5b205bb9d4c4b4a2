"""Hypothesis profiles.

``make test`` (and so CI) uses the ``ci`` profile: derandomised, so a run is repeatable and a
green main stays green. Explore new inputs with ``HYPOTHESIS_PROFILE=explore make test`` (random
seeds on every run); a failure it finds is printed with a reproduction blob and
goes into a regression test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
