"""MD and DFT engines: one MD driver (:mod:`.driver`) with LAMMPS and ASE backends, CP2K."""

from typing import Literal, get_args

#: engines a classical force field can run on (see :func:`vitreous.engines.factory.classical_md`)
EngineName = Literal["lammps", "ase"]
ENGINES: tuple[str, ...] = get_args(EngineName)

__all__ = ["ENGINES", "EngineName"]
