"""Reading and writing structures and trajectories."""

from vitreous.io.structures import read_structure, write_lammps_data, write_structure

__all__ = ["read_structure", "write_lammps_data", "write_structure"]
