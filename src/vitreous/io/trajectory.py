"""One trajectory API over H5MD, extxyz and LAMMPS dump files.

:func:`open_trajectory` returns an object with ``len()``, ``[i]`` → ``ase.Atoms``,
``symbols``, ``valence``, ``times_ps``, ``positions(frames, atoms)`` and ``cells(frames)``;
H5MD files are read lazily, text formats are read once into memory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from vitreous.errors import InputFileError
from vitreous.io.h5md import H5MDTrajectory
from vitreous.species import ensure_valence

__all__ = ["FrameTrajectory", "open_trajectory", "parse_frames"]


class FrameTrajectory:
    """An in-memory trajectory from a list of ``ase.Atoms`` (extxyz, LAMMPS dump, ...).

    Frame times come from ``atoms.info["time_ps"]`` when every frame has it, else from
    ``frame_interval_ps``, else they are unknown (``times_ps`` is None).
    """

    def __init__(
        self, frames: list[Atoms], path: str | os.PathLike | None = None, frame_interval_ps: float | None = None
    ) -> None:
        if not frames:
            raise InputFileError(f"{path or 'trajectory'} holds no frames")
        n = len(frames[0])
        if any(len(f) != n for f in frames):
            raise InputFileError(f"{path or 'trajectory'}: frames have different numbers of atoms")
        self.path = Path(path) if path else None
        self._frames = frames
        self._valence = ensure_valence(frames[0])
        if all("time_ps" in f.info for f in frames):
            self._times = np.array([float(f.info["time_ps"]) for f in frames])
        elif frame_interval_ps is not None:
            self._times = np.arange(len(frames)) * float(frame_interval_ps)
        else:
            self._times = None
        self._pos = np.stack([f.positions for f in frames])
        self._cells = np.stack([f.cell.array for f in frames])

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i: int) -> Atoms:
        atoms = self._frames[i].copy()
        atoms.set_array("valence", self._valence)
        return atoms

    def close(self) -> None:
        """Nothing to close (kept for API symmetry)."""

    def __enter__(self) -> FrameTrajectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self._frames[0])

    @property
    def symbols(self) -> list[str]:
        """Chemical symbols."""
        return self._frames[0].get_chemical_symbols()

    @property
    def valence(self) -> np.ndarray:
        """Formal valences."""
        return self._valence

    @property
    def masses(self) -> np.ndarray:
        """Masses (amu)."""
        return self._frames[0].get_masses()

    @property
    def times_ps(self) -> np.ndarray | None:
        """Frame times (ps) or None when unknown."""
        return self._times

    def positions(
        self, frames: slice | np.ndarray = slice(None), atoms: slice | np.ndarray = slice(None)
    ) -> np.ndarray:
        """Positions (F, n, 3) Å as stored (unwrapped only if the file was)."""
        return self._pos[frames][:, atoms]

    def cells(self, frames: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Cells (F, 3, 3) Å."""
        return self._cells[frames]


def open_trajectory(
    path: str | os.PathLike, frame_interval_ps: float | None = None
) -> H5MDTrajectory | FrameTrajectory:
    """Open a trajectory by its suffix: ``.h5``/``.h5md`` (H5MD), ``.dump``/``.lammpstrj``
    (LAMMPS text dump, with ``xu yu zu`` unwrapped columns when present), anything else
    that ASE reads (extxyz, ...).

    Raises
    ------
    InputFileError
        Missing or unreadable files.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file", hint="check the path")
    suffix = path.suffix.lower()
    if suffix in {".h5", ".h5md", ".hdf5"}:
        return H5MDTrajectory(path)
    try:
        if suffix in {".dump", ".lammpstrj"}:
            frames = ase.io.read(path, index=":", format="lammps-dump-text")
        else:
            frames = ase.io.read(path, index=":")
    except Exception as exc:
        raise InputFileError(f"cannot read {path}: {exc}", hint="is it a trajectory file?") from None
    if isinstance(frames, Atoms):
        frames = [frames]
    for f in frames:
        if "valence" in f.arrays:
            f.arrays["valence"] = f.arrays["valence"].astype(np.int64)
    return FrameTrajectory(frames, path, frame_interval_ps)


def parse_frames(spec: str | None, n_frames: int) -> np.ndarray:
    """Frame indices from ``"START:STOP:STEP"`` (Python slice semantics) or None (all).

    Raises
    ------
    InputFileError
        On a malformed spec or one that selects no frame.
    """
    if spec is None or spec.strip() in {"", ":"}:
        return np.arange(n_frames)
    m = re.match(r"^\s*(-?\d*)\s*(?::\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?)?$", spec)
    if not m:
        raise InputFileError(f"cannot read frame range '{spec}'", hint="use START:STOP:STEP, e.g. 10::2")
    if ":" not in spec:
        i = int(m.group(1))
        sel = np.arange(n_frames)[i : i + 1 if i != -1 else None]
    else:
        parts = [int(g) if g not in (None, "") else None for g in m.groups()]
        if parts[2] == 0:
            raise InputFileError("frame step cannot be 0")
        sel = np.arange(n_frames)[slice(*parts)]
    if sel.size == 0:
        raise InputFileError(f"frame range '{spec}' selects no frame of {n_frames}")
    return sel
