"""Structure files: extxyz (valence kept), LAMMPS data (one type per species), and
anything ASE reads or writes (CIF, POSCAR, ...). Writes are atomic (temporary file, fsync,
rename) so an interrupted write never leaves a half file under the final name.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.lammps.coordinatetransform import Prism

from vitreous.composition import Species
from vitreous.errors import InputFileError
from vitreous.species import type_map

__all__ = [
    "atomic_write",
    "read_lammps_data",
    "read_structure",
    "write_lammps_data",
    "write_structure",
]

_LAMMPS_SUFFIXES = {".data", ".lmp", ".lammps"}


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator:
    """Open a temporary file beside ``path``; on success fsync and rename it to ``path``."""
    path = Path(path)
    if not path.parent.exists():
        raise InputFileError(f"folder {path.parent} does not exist", hint="create it first")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_path(path: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` then fsync and rename the result to ``path``."""
    path = Path(path)
    if not path.parent.exists():
        raise InputFileError(f"folder {path.parent} does not exist", hint="create it first")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        writer(Path(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_lammps_data(
    atoms: Atoms,
    path: str | os.PathLike,
    charges: Sequence[float] | None = None,
    species: Sequence[Species] | None = None,
) -> list[Species]:
    """Write a LAMMPS data file, ``atom_style charge``, one atom type per species.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic structure; a general cell is rotated to LAMMPS' lower-triangular form.
    path : path
        Output file.
    charges : sequence of float, optional
        Charge (e) per atom type; default the formal valences.
    species : sequence of Species, optional
        Type order; default the species in order of first appearance.

    Returns
    -------
    list of Species
        The species of types 1, 2, ...
    """
    found, types, labels = type_map(atoms)
    if species is not None:
        missing = [s for s in found if s not in species]
        if missing:
            raise InputFileError(f"type order lacks species {missing}")
        index = {s: i + 1 for i, s in enumerate(species)}
        types = np.array([index[found[t - 1]] for t in types])
        found = list(species)
        from vitreous.composition import species_label

        labels = [species_label(s, found) for s in found]
    q = [float(s.valence) for s in found] if charges is None else [float(c) for c in charges]
    prism = Prism(atoms.get_cell())
    xhi, yhi, zhi, xy, xz, yz = prism.get_lammps_prism()
    pos = prism.vector_to_lammps(atoms.get_positions(), wrap=True)
    names = " ".join(f"{i + 1}={lab}({s.valence:+d})" for i, (lab, s) in enumerate(zip(labels, found, strict=True)))
    lines = [
        f"# vitreous LAMMPS data file; types: {names}",
        "",
        f"{len(atoms)} atoms",
        f"{len(found)} atom types",
        "",
        f"0.0 {xhi:.10f} xlo xhi",
        f"0.0 {yhi:.10f} ylo yhi",
        f"0.0 {zhi:.10f} zlo zhi",
    ]
    if prism.is_skewed() or any(t != 0.0 for t in (xy, xz, yz)):  # is_skewed ignores tilts below 1e-8·L-ish
        lines.append(f"{xy:.10f} {xz:.10f} {yz:.10f} xy xz yz")
    lines += ["", "Masses", ""]
    lines += [f"{i + 1} {s.mass_amu:.6f} # {lab}" for i, (s, lab) in enumerate(zip(found, labels, strict=True))]
    lines += ["", "Atoms # charge", ""]
    lines += [
        f"{i + 1} {t} {q[t - 1]:.6f} {x:.10f} {y:.10f} {z:.10f}"
        for i, (t, (x, y, z)) in enumerate(zip(types, pos, strict=True))
    ]
    with atomic_write(path) as fh:
        fh.write("\n".join(lines) + "\n")
    return found


def read_lammps_data(path: str | os.PathLike) -> Atoms:
    """Read a LAMMPS data file written by :func:`write_lammps_data` (species from its header)."""
    path = Path(path)
    text = path.read_text()
    m = re.search(r"types: (.*)", text.splitlines()[0] if text else "")
    if not m:
        raise InputFileError(f"{path} has no vitreous type header", hint="read it with ASE instead")
    table = {}
    for item in m.group(1).split():
        t, rest = item.split("=")
        mm = re.match(r"([A-Z][a-z]?)\d*\(([+-]\d+)\)", rest)
        if not mm:
            raise InputFileError(f"cannot read type '{item}' in {path}")
        table[int(t)] = (mm.group(1), int(mm.group(2)))
    atoms = ase.io.read(path, format="lammps-data", atom_style="charge", units="metal")
    types = atoms.arrays["type"]
    atoms.set_chemical_symbols([table[int(t)][0] for t in types])
    atoms.set_array("valence", np.array([table[int(t)][1] for t in types], dtype=np.int64))
    return atoms


def write_structure(atoms: Atoms, path: str | os.PathLike, fmt: str | None = None) -> None:
    """Write a structure atomically; format from ``fmt`` or the suffix.

    ``.data``/``.lmp``/``.lammps`` → LAMMPS data (:func:`write_lammps_data`); ``.xyz``/
    ``.extxyz`` → extended XYZ with the ``valence`` column; anything else → :func:`ase.io.write`.
    """
    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{path} is a folder", hint="give a file name such as model.extxyz")
    if not path.parent.exists():
        raise InputFileError(f"folder {path.parent} does not exist", hint="create it first")
    if not os.access(path.parent, os.W_OK):
        raise InputFileError(f"cannot write to folder {path.parent}", hint="choose a writable path")
    suffix = path.suffix.lower()
    if fmt in {"lammps-data", "lammps"} or (fmt is None and suffix in _LAMMPS_SUFFIXES):
        write_lammps_data(atoms, path)
        return
    if fmt is None and suffix in {".xyz", ".extxyz"}:
        fmt = "extxyz"
    try:
        atomic_path(
            path,
            lambda tmp: ase.io.write(tmp, atoms, format=fmt or ase.io.formats.filetype(path, read=False)),
        )
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(f"cannot write {path}: {exc}", hint="use .extxyz, .data, .cif or POSCAR") from None


def read_structure(path: str | os.PathLike, index: int | str = -1) -> Atoms:
    """Read one structure from any ASE-readable file or a vitreous LAMMPS data file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file", hint="check the path")
    try:
        if path.suffix.lower() in _LAMMPS_SUFFIXES:
            return read_lammps_data(path)
        atoms = ase.io.read(path, index=index)
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(f"cannot read {path}: {exc}", hint="is it a structure file?") from None
    if isinstance(atoms, list):  # pragma: no cover - index slices
        atoms = atoms[-1]
    if "valence" in atoms.arrays:
        atoms.arrays["valence"] = atoms.arrays["valence"].astype(np.int64)
    return atoms
