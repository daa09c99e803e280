"""Simulation engines: LAMMPS (in-process), later ASE and CP2K."""
