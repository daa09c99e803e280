"""What the engines need from an interaction model: the :class:`Potential` interface.

A potential says what it is (``describe``: name, reference, parameters — written into every
run's inputs hash and summary, so a trajectory always names the reference behind its
forces), refuses structures it does not cover (``check_covers``) before anything runs, and
names the engines that can run it (``engines``). How an engine gets it is the engine
factory's business (:mod:`vitreous.engines.factory`): a classical :class:`ForceField` gives
LAMMPS commands to the LAMMPS backend, and the same commands wrapped in an ASE calculator to
the ASE backend; a DFT preset reaches the ASE backend as a CP2K calculator; a machine-learned
model will give whichever its format allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from vitreous.composition import Species

__all__ = ["Potential"]


@runtime_checkable
class Potential(Protocol):
    """The interface every interaction model implements for the MD driver."""

    name: str
    #: engines that can run this potential (see :data:`vitreous.engines.ENGINES`)
    engines: tuple[str, ...]

    def describe(self) -> dict[str, Any]:
        """JSON-able description: name, reference (what produced the model or its labels),
        parameters."""
        ...

    def check_covers(self, species: Sequence[Species]) -> None:
        """Raise :class:`~vitreous.errors.PotentialError` naming every species (element and
        valence) the potential does not describe."""
        ...
