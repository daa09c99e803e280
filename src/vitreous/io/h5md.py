"""The canonical trajectory: an H5MD 1.1 file written with h5py.

Layout (de Buyl et al., Comput. Phys. Commun. 185 (2014) 1546; H5MD 1.1)::

    h5md/                      version = [1, 1]; author/, creator/
    particles/all/
        species                (N,)  atomic numbers
        valence                (N,)  formal oxidation states (vitreous extension)
        mass                   (N,)  amu
        box/                   dimension = 3, boundary = periodic
            edges/{value (F,3,3) Å, step (F,), time (F,) ps}
        position/{value (F,N,3) Å unwrapped, step, time}
        velocity/{value (F,N,3) Å/ps, step, time}          (optional)
    observables/<name>/{value (T,), step (T,), time (T,)}  temperature K, pressure GPa,
        potential_energy eV, kinetic_energy eV, volume Å³, density g/cm³, enthalpy eV
    parameters/vitreous        attribute "metadata" (JSON)

Cells are stored as full 3×3 matrices (rows = cell vectors, ASE convention); H5MD allows
this for non-orthogonal boxes. Frames are appended in blocks; :meth:`H5MDWriter.truncate`
cuts a file back to a checkpointed length so a resumed run never duplicates frames.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase import Atoms

from vitreous.errors import InputFileError

__all__ = ["OBSERVABLES", "H5MDTrajectory", "H5MDWriter"]

OBSERVABLES: dict[str, str] = {
    "temperature": "K",
    "pressure": "GPa",
    "potential_energy": "eV",
    "kinetic_energy": "eV",
    "volume": "angstrom^3",
    "density": "g cm-3",
    "enthalpy": "eV",
}


def _timeseries(group: h5py.Group, name: str, shape: tuple[int, ...], unit: str) -> None:
    g = group.create_group(name)
    chunk = max(1, min(64, 2**20 // max(1, int(np.prod(shape)) * 8)))
    v = g.create_dataset("value", shape=(0, *shape), maxshape=(None, *shape), dtype="f8", chunks=(chunk, *shape))
    v.attrs["unit"] = unit
    g.create_dataset("step", shape=(0,), maxshape=(None,), dtype="i8", chunks=(1024,))
    t = g.create_dataset("time", shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,))
    t.attrs["unit"] = "ps"


def _append(group: h5py.Group, values: np.ndarray, steps: np.ndarray, times: np.ndarray) -> None:
    n = len(steps)
    if n == 0:
        return
    for name, data in (("value", values), ("step", steps), ("time", times)):
        ds = group[name]
        old = ds.shape[0]
        ds.resize(old + n, axis=0)
        ds[old:] = data


class H5MDWriter:
    """Create or append to an H5MD trajectory.

    Parameters
    ----------
    path : path
        File to create (``mode="w"``) or append to (``mode="a"``).
    atoms : ase.Atoms, optional
        Needed when creating: species, valence and masses of the particles.
    velocities : bool
        Create a velocity group.
    metadata : dict, optional
        JSON-able run metadata stored under ``parameters/vitreous``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        mode: str = "w",
        atoms: Atoms | None = None,
        velocities: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        if mode == "w":
            if atoms is None:
                raise ValueError("atoms are needed to create an H5MD file")
            self._f = h5py.File(self.path, "w")
            self._create(atoms, velocities, metadata or {})
        elif mode == "a":
            try:
                self._f = h5py.File(self.path, "a")
            except OSError as exc:
                raise InputFileError(f"cannot open trajectory {self.path}: {exc}") from None
        else:
            raise ValueError(f"mode must be 'w' or 'a', not {mode!r}")
        self._all = self._f["particles/all"]

    def _create(self, atoms: Atoms, velocities: bool, metadata: dict[str, Any]) -> None:
        f = self._f
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1])
        h5.create_group("author").attrs["name"] = "vitreous"
        creator = h5.create_group("creator")
        creator.attrs["name"] = "vitreous"
        from vitreous import __version__

        creator.attrs["version"] = __version__
        part = f.create_group("particles/all")
        n = len(atoms)
        part.create_dataset("species", data=atoms.get_atomic_numbers().astype("i4"))
        valence = atoms.arrays.get("valence", np.zeros(n, dtype=int))
        part.create_dataset("valence", data=np.asarray(valence, dtype="i4"))
        part.create_dataset("mass", data=atoms.get_masses()).attrs["unit"] = "amu"
        box = part.create_group("box")
        box.attrs["dimension"] = 3
        box.attrs["boundary"] = np.array([b"periodic"] * 3)
        _timeseries(box, "edges", (3, 3), "angstrom")
        _timeseries(part, "position", (n, 3), "angstrom")
        if velocities:
            _timeseries(part, "velocity", (n, 3), "angstrom ps-1")
        obs = f.create_group("observables")
        for name, unit in OBSERVABLES.items():
            _timeseries(obs, name, (), unit)
        for element in sorted(set(atoms.get_chemical_symbols())):
            _timeseries(obs, f"temperature_{element}", (), "K")
        f.create_group("parameters/vitreous").attrs["metadata"] = json.dumps(metadata)

    @property
    def n_frames(self) -> int:
        """Frames written so far."""
        return int(self._all["position/step"].shape[0])

    @property
    def n_thermo(self) -> int:
        """Observable rows written so far."""
        return int(self._f["observables/temperature/step"].shape[0])

    def append_frames(
        self,
        steps: np.ndarray,
        times_ps: np.ndarray,
        positions: np.ndarray,
        cells: np.ndarray,
        velocities: np.ndarray | None = None,
    ) -> None:
        """Append frames: positions (F, N, 3) Å, cells (F, 3, 3) Å, velocities Å/ps."""
        steps = np.asarray(steps, dtype="i8")
        times_ps = np.asarray(times_ps, dtype="f8")
        _append(self._all["position"], np.asarray(positions), steps, times_ps)
        _append(self._all["box/edges"], np.asarray(cells), steps, times_ps)
        if velocities is not None and "velocity" in self._all:
            _append(self._all["velocity"], np.asarray(velocities), steps, times_ps)

    def append_observables(self, steps: np.ndarray, times_ps: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Append observable rows: one value per name in :data:`OBSERVABLES` (required) and
        per element's kinetic temperature ``temperature_<El>`` (NaN where not given)."""
        obs = self._f["observables"]
        n = len(np.asarray(steps))
        for name in obs:
            if name not in values and name in OBSERVABLES:
                raise KeyError(f"observable '{name}' missing")
            _append(
                obs[name],
                np.asarray(values.get(name, np.full(n, np.nan)), dtype="f8"),
                np.asarray(steps),
                np.asarray(times_ps),
            )

    def truncate(self, n_frames: int, n_thermo: int) -> None:
        """Cut the file back to ``n_frames`` frames and ``n_thermo`` observable rows."""
        groups = [self._all["position"], self._all["box/edges"]]
        if "velocity" in self._all:
            groups.append(self._all["velocity"])
        for g in groups:
            for name in ("value", "step", "time"):
                if g[name].shape[0] > n_frames:
                    g[name].resize(n_frames, axis=0)
        for name in self._f["observables"]:
            g = self._f["observables"][name]
            for ds in ("value", "step", "time"):
                if g[ds].shape[0] > n_thermo:
                    g[ds].resize(n_thermo, axis=0)

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace the JSON metadata."""
        self._f["parameters/vitreous"].attrs["metadata"] = json.dumps(metadata)

    def flush(self) -> None:
        """Flush HDF5 buffers and fsync the file."""
        self._f.flush()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Flush and close."""
        if self._f.id.valid:
            self.flush()
            self._f.close()

    def __enter__(self) -> H5MDWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hyperslab(index: slice | np.ndarray | int, n: int) -> tuple[slice | np.ndarray, np.ndarray | None]:
    """An index as a slice when it is regular, else a sorted unique array plus the
    permutation that restores the requested order."""
    if isinstance(index, slice):
        return index, None
    idx = np.atleast_1d(np.asarray(index))
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    idx = np.where(idx < 0, idx + n, idx).astype(np.int64)
    if idx.size == 0:
        return slice(0, 0), None
    if idx.size == 1:
        return slice(int(idx[0]), int(idx[0]) + 1), None
    step = idx[1] - idx[0]
    if step > 0 and np.all(np.diff(idx) == step):
        return slice(int(idx[0]), int(idx[-1]) + 1, int(step)), None
    uniq, inverse = np.unique(idx, return_inverse=True)
    return uniq, inverse


class H5MDTrajectory:
    """Read an H5MD trajectory lazily (frames are read on demand).

    Examples
    --------
    >>> traj = H5MDTrajectory("run/trajectory.h5")        # doctest: +SKIP
    >>> len(traj), traj.times_ps[:3], traj[-1]            # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputFileError(f"cannot read {self.path}: no such file", hint="check the path")
        try:
            self._f = h5py.File(self.path, "r")
            self._all = self._f["particles/all"]
            self._all["position/value"]
        except (OSError, KeyError) as exc:
            raise InputFileError(f"{self.path} is not a readable H5MD trajectory: {exc}") from None

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def __enter__(self) -> H5MDTrajectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self._all["position/value"].shape[0])

    @property
    def n_atoms(self) -> int:
        """Number of particles."""
        return int(self._all["species"].shape[0])

    @property
    def numbers(self) -> np.ndarray:
        """Atomic numbers (N,)."""
        return self._all["species"][()]

    @property
    def symbols(self) -> list[str]:
        """Chemical symbols (N,)."""
        from ase.data import chemical_symbols

        return [chemical_symbols[z] for z in self.numbers]

    @property
    def valence(self) -> np.ndarray:
        """Formal valences (N,)."""
        return self._all["valence"][()].astype(np.int64)

    @property
    def masses(self) -> np.ndarray:
        """Masses (amu)."""
        return self._all["mass"][()]

    @property
    def steps(self) -> np.ndarray:
        """MD step of each frame."""
        return self._all["position/step"][()]

    @property
    def times_ps(self) -> np.ndarray:
        """Time of each frame (ps)."""
        return self._all["position/time"][()]

    @property
    def has_velocities(self) -> bool:
        """Whether velocities were stored."""
        return "velocity" in self._all and self._all["velocity/value"].shape[0] > 0

    @property
    def metadata(self) -> dict[str, Any]:
        """Run metadata (JSON)."""
        return json.loads(self._f["parameters/vitreous"].attrs.get("metadata", "{}"))

    def cells(self, frames: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Cells (F, 3, 3) Å."""
        return self._all["box/edges/value"][frames]

    def positions(
        self, frames: slice | np.ndarray = slice(None), atoms: slice | np.ndarray = slice(None)
    ) -> np.ndarray:
        """Unwrapped positions (F, n, 3) Å for frames and an atom subset (any index arrays;
        regular ones are read as HDF5 hyperslabs, others through a bounding range)."""
        ds = self._all["position/value"]
        f_sel, f_post = _hyperslab(frames, ds.shape[0])
        a_sel, a_post = _hyperslab(atoms, ds.shape[1])
        if isinstance(f_sel, np.ndarray) and isinstance(a_sel, np.ndarray):  # h5py: one fancy index at most
            lo, hi = int(f_sel.min()), int(f_sel.max()) + 1
            data = ds[lo:hi, a_sel, :][f_sel - lo]
        else:
            data = ds[f_sel, a_sel, :]
        if f_post is not None:
            data = data[f_post]
        if a_post is not None:
            data = data[:, a_post]
        return data

    def velocities(self, frames: slice = slice(None)) -> np.ndarray:
        """Velocities (F, N, 3) Å/ps."""
        if not self.has_velocities:
            raise InputFileError(f"{self.path} has no velocities")
        return self._all["velocity/value"][frames]

    def observables(self) -> dict[str, np.ndarray]:
        """All observables plus ``step`` and ``time_ps`` (rows of the thermo log)."""
        obs = self._f["observables"]
        out = {name: obs[name]["value"][()] for name in obs}
        first = next(iter(obs))
        out["step"] = obs[first]["step"][()]
        out["time_ps"] = obs[first]["time"][()]
        return out

    def __getitem__(self, i: int) -> Atoms:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range ({n} frames)")
        i %= n
        atoms = Atoms(
            numbers=self.numbers,
            positions=self._all["position/value"][i],
            cell=self._all["box/edges/value"][i],
            pbc=True,
        )
        atoms.set_array("valence", self.valence)
        atoms.set_masses(self.masses)
        atoms.info["time_ps"] = float(self._all["position/time"][i])
        atoms.info["step"] = int(self._all["position/step"][i])
        if self.has_velocities:
            from vitreous.units import A_PS_PER_ASE_VELOCITY

            atoms.set_velocities(self._all["velocity/value"][i] / A_PS_PER_ASE_VELOCITY)
        return atoms

    def __iter__(self) -> Iterator[Atoms]:
        for i in range(len(self)):
            yield self[i]
