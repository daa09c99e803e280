"""Shared fixtures."""

from __future__ import annotations

import pytest

from vitreous.build import random_glass
from vitreous.composition import counts, get_preset


@pytest.fixture(scope="session")
def nvp28_small():
    """A 405-atom NVP28 random model (seed 7)."""
    preset = get_preset("NVP28")
    return random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=7)
