"""Random initial glass configurations at a target density.

Atoms are placed by random sequential insertion in a cubic periodic box: each trial
position is accepted when no already-placed atom is closer than the minimum distance of
the pair (minimum image). Neighbour checks use a cell list (cell edge ≥ the largest minimum
distance), so the cost is O(N). Species with the largest exclusion distances go first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from vitreous.composition import GlassModel, Species, species_label
from vitreous.errors import BuildError, CompositionError

__all__ = ["DEFAULT_MIN_DISTANCES_A", "MinDistances", "parse_min_distances", "random_glass"]

#: Default minimum distances (Å) by pair class, for a random start that a displacement-
#: limited first MD stage can relax. Cation–O: a little below the shortest bonds of oxide
#: glasses (P–O 1.5 Å, V=O 1.58 Å); O–O: below the O–O edge of a PO4 tetrahedron (2.5 Å);
#: cation–cation: below typical corner-sharing M–M separations (~3 Å).
DEFAULT_MIN_DISTANCES_A: dict[str, float] = {
    "cation-O": 1.6,
    "O-O": 2.2,
    "cation-cation": 2.6,
}


@dataclass(frozen=True)
class MinDistances:
    """Pair minimum distances (Å): class defaults plus per-element-pair overrides."""

    cation_O: float = DEFAULT_MIN_DISTANCES_A["cation-O"]
    O_O: float = DEFAULT_MIN_DISTANCES_A["O-O"]
    cation_cation: float = DEFAULT_MIN_DISTANCES_A["cation-cation"]
    overrides: tuple[tuple[str, str, float], ...] = ()

    def get(self, a: Species, b: Species) -> float:
        """Minimum distance (Å) between species a and b."""
        for x, y, d in self.overrides:
            if {x, y} == {a.element, b.element} or (x == y == a.element == b.element):
                return d
        oxygens = (a.element == "O") + (b.element == "O")
        return (self.cation_cation, self.cation_O, self.O_O)[oxygens]


def parse_min_distances(items: list[str] | Mapping[str, float] | None) -> MinDistances:
    """Parse overrides such as ``["V-O=1.5", "O-O=2.3"]`` or ``{"V-O": 1.5}``.

    Raises
    ------
    CompositionError
        On malformed pairs, unknown elements or non-positive distances.
    """
    from ase.data import chemical_symbols

    if not items:
        return MinDistances()
    pairs = items.items() if isinstance(items, Mapping) else [_split_eq(s) for s in items]
    overrides = []
    for pair, value in pairs:
        m = re.match(r"^\s*([A-Z][a-z]?)\d*\s*-\s*([A-Z][a-z]?)\d*\s*$", str(pair))
        if not m or not {m.group(1), m.group(2)} <= set(chemical_symbols[1:]):
            raise CompositionError(f"cannot read pair '{pair}'", hint="write pairs as A-B=distance_in_A, e.g. V-O=1.5")
        try:
            d = float(value)
        except (TypeError, ValueError):
            raise CompositionError(f"minimum distance of {pair} is not a number: {value!r}") from None
        if not math.isfinite(d) or d <= 0:
            raise CompositionError(f"minimum distance of {pair} must be positive, got {value!r}")
        overrides.append((m.group(1), m.group(2), d))
    return MinDistances(overrides=tuple(overrides))


def _split_eq(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise CompositionError(f"cannot read '{text}'", hint="write A-B=distance_in_A, e.g. V-O=1.5")
    k, v = text.split("=", 1)
    return k, v


def random_glass(
    model: GlassModel,
    density_g_cm3: float,
    seed: int,
    min_distances: MinDistances | None = None,
    max_attempts_per_atom: int = 100_000,
) -> Atoms:
    """Place the atoms of ``model`` at random in a cube of the given density.

    Parameters
    ----------
    model : GlassModel
        Integer counts per species.
    density_g_cm3 : float
        Mass density (g/cm³); the cube edge follows exactly (:meth:`GlassModel.box_edge_A`).
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical positions.
    min_distances : MinDistances, optional
        Pair minimum distances (Å); defaults in :data:`DEFAULT_MIN_DISTANCES_A`.
    max_attempts_per_atom : int
        Consecutive rejected trial positions, per atom still to place, before the packing
        is declared impossible.

    Returns
    -------
    ase.Atoms
        Periodic cubic cell; per-atom integer array ``valence`` (formal oxidation state,
        O = −2) and ``info["species_labels"]``.

    Raises
    ------
    BuildError
        When an atom cannot be placed (densities or minimum distances too large).
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise CompositionError(f"seed must be an integer, got {seed!r}")
    md = min_distances or MinDistances()
    edge = model.box_edge_A(density_g_cm3)
    species = sorted(model.counts, key=lambda s: (-max(md.get(s, t) for t in model.counts), s))
    dmin = np.array([[md.get(a, b) for b in species] for a in species])
    if dmin.max() >= edge / 2:
        raise BuildError(
            f"minimum distance {dmin.max():.2f} Å is not below half the box edge {edge:.2f} Å",
            hint="build more atoms or lower the minimum distances",
        )
    # Close-packing bound: the self-exclusion spheres of one species cannot fill more
    # than 74 % of space (Kepler); beyond that no configuration exists.
    volume = edge**3
    for i, s in enumerate(species):
        phi = model.counts[s] * math.pi * dmin[i, i] ** 3 / 6 / volume
        if phi > 0.74:
            raise BuildError(
                f"{model.counts[s]} {s.element} atoms with minimum distance {dmin[i, i]:.2f} Å "
                f"fill {phi:.0%} of the box, more than close packing allows",
                hint="lower --density or the minimum distances (--min-distance A-B=Å)",
            )
    rng = np.random.default_rng(seed)
    placed: list[np.ndarray] = [np.empty((0, 3)) for _ in species]
    for i, s in enumerate(species):
        need = model.counts[s]
        got: list[np.ndarray] = []
        trees = [cKDTree(p, boxsize=edge) if len(p) else None for p in placed]
        failures = 0
        while need > 0:
            n_trial = max(4 * need, 1024)
            trial = rng.random((n_trial, 3)) * edge
            ok = np.ones(n_trial, dtype=bool)
            for j, tree in enumerate(trees):
                if tree is not None:
                    dist, _ = tree.query(trial, k=1, distance_upper_bound=dmin[i, j])
                    ok &= ~np.isfinite(dist)
            if got:
                mine = cKDTree(np.concatenate(got), boxsize=edge)
                dist, _ = mine.query(trial, k=1, distance_upper_bound=dmin[i, i])
                ok &= ~np.isfinite(dist)
            trial = trial[ok]
            # sequential acceptance among the surviving trials, in their random order
            accepted = _sequential_accept(trial, dmin[i, i], edge)[:need]
            if len(accepted) == 0:
                failures += n_trial
                if failures > max_attempts_per_atom * max(need, 1):
                    raise BuildError(
                        f"could not place {need} more {s.element} atoms (of {model.counts[s]}) "
                        f"after {failures} random trials: the packing is too dense",
                        hint="lower --density or the minimum distances (--min-distance A-B=Å)",
                    )
                continue
            failures = 0
            got.append(trial[accepted])
            need -= len(accepted)
        placed[i] = np.concatenate(got) if got else np.empty((0, 3))
    kinds = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(placed)])
    pos = np.concatenate(placed)

    # order atoms by species as in the model (cations in formula order, then O)
    order_species = list(model.counts)
    rank = np.array([order_species.index(s) for s in species])
    order = np.argsort(rank[kinds], kind="stable")
    kinds = kinds[order]
    pos = pos[order]
    symbols = [species[k].element for k in kinds]
    atoms = Atoms(symbols=symbols, positions=pos, cell=[edge, edge, edge], pbc=True)
    atoms.set_array("valence", np.array([species[k].valence for k in kinds], dtype=np.int64))
    atoms.info["species_labels"] = " ".join(species_label(s, order_species) for s in order_species)
    atoms.info["seed"] = int(seed)
    atoms.info["density_g_cm3"] = float(density_g_cm3)
    return atoms


def _sequential_accept(points: np.ndarray, d_min: float, edge: float) -> np.ndarray:
    """Indices of ``points`` kept when accepted one by one in order (periodic cube).

    A point is kept when no earlier *kept* point lies closer than ``d_min``: random
    sequential insertion restricted to the batch.
    """
    keep = np.ones(len(points), dtype=bool)
    if len(points) == 0:
        return np.flatnonzero(keep)
    pairs = cKDTree(points, boxsize=edge).query_pairs(d_min, output_type="ndarray")
    if len(pairs) == 0:
        return np.flatnonzero(keep)
    lo = pairs.min(axis=1)
    hi = pairs.max(axis=1)
    order = np.lexsort((lo, hi))
    lo, hi = lo[order], hi[order]
    bounds = np.searchsorted(hi, np.arange(len(points) + 1))
    for j in np.unique(hi):
        if keep[lo[bounds[j] : bounds[j + 1]]].any():
            keep[j] = False
    return np.flatnonzero(keep)
