"""What each stage of a finished run actually held: mean and spread of T and P against the
thermostat's target, from the observables an engine recorded (any engine)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from vitreous.protocols import Protocol

__all__ = ["ThermostatWarning", "stage_statistics"]

#: A thermostatted stage whose mean temperature is off its target by more than this (relative)
#: triggers a :class:`ThermostatWarning`.
TOLERANCE = 0.01


class ThermostatWarning(UserWarning):
    """A thermostatted stage did not hold its target temperature."""


def _block_sem(x: np.ndarray, n_blocks: int = 5) -> float:
    """Standard error of the mean of a correlated series from the spread of ``n_blocks``
    block means (Flyvbjerg & Petersen, J. Chem. Phys. 91 (1989) 461); 0 for a constant."""
    blocks = [b for b in np.array_split(np.asarray(x, dtype=float), n_blocks) if len(b)]
    if len(blocks) < 2:
        return float("inf")
    means = np.array([b.mean() for b in blocks])
    return float(means.std(ddof=1) / np.sqrt(len(means)))


def stage_statistics(protocol: Protocol, observables: dict[str, np.ndarray], warn: bool = True) -> list[dict[str, Any]]:
    """Per-stage mean and standard deviation of T (K) and P (GPa) over the stage's second
    half (the first half may still be relaxing from the previous stage), with the target.

    For a ramp the target is the thermostat's linear ramp at each recorded step, and the
    offset is the mean of T − T_target. Stages without a target (``nve``) and the
    displacement-limited ``limit`` stage (hot by design) are reported without a check. A stage
    counts as held when its mean is within 1 % of the target or within two standard errors of
    it (block averages over 5 blocks): a 1 % claim cannot be checked with fewer samples
    than that.

    Parameters
    ----------
    protocol : Protocol
        The protocol that was run.
    observables : dict
        ``step``, ``temperature`` (K) and ``pressure`` (GPa) arrays as recorded.
    warn : bool
        Issue a :class:`ThermostatWarning` for each stage off by more than 1 %.

    Returns
    -------
    list of dict
        One dict per stage: name, ensemble, thermostat (with thermostat_chain for a
        Nosé–Hoover thermostat and thermostat_damping_fs), target_K (mean target over the
        rows used), mean_T_K, std_T_K (of T − target where there is a target, so a ramp's
        own range is left out), sem_T_K (block standard error of the mean), offset_percent,
        mean_P_GPa, std_P_GPa, rows, held (None when there is nothing to check); where the
        observables hold each element's kinetic temperature (``temperature_<El>``),
        by_element ({element: mean_T_K, sem_T_K, offset_percent, held}) and held_by_element.
    """
    steps = np.asarray(observables["step"])
    temp = np.asarray(observables["temperature"], dtype=float)
    press = np.asarray(observables["pressure"], dtype=float)
    out = []
    for stage, (first, last) in zip(protocol.stages, protocol.stage_bounds(), strict=True):
        half = first + stage.steps / 2
        sel = (steps > half) & (steps <= last)
        row: dict[str, Any] = {"name": stage.name, "ensemble": stage.ensemble, "rows": int(sel.sum())}
        if stage.ensemble in ("nvt", "npt"):
            row["thermostat"] = stage.thermostat
            if stage.thermostat == "nose-hoover":
                row["thermostat_chain"] = stage.thermostat_chain
        elif stage.ensemble == "langevin":
            row["thermostat"] = "langevin"
        if stage.ensemble in ("nvt", "npt", "langevin"):
            row["thermostat_damping_fs"] = stage.thermostat_damping_fs
        if not sel.any():
            out.append(row | {"held": None})
            continue
        t_sel = temp[sel]
        row |= {
            "mean_T_K": float(t_sel.mean()),
            "std_T_K": float(t_sel.std()),  # about the target for thermostatted stages (below)
            "mean_P_GPa": float(press[sel].mean()),
            "std_P_GPa": float(press[sel].std()),
        }
        if stage.ensemble in ("nve", "limit") or stage.t_start_K is None:
            out.append(row | {"held": None})
            continue
        t_end = stage.t_end_K if stage.t_end_K is not None else stage.t_start_K
        frac = (steps[sel] - first) / stage.steps
        target = stage.t_start_K + (t_end - stage.t_start_K) * frac
        dev = t_sel - target
        offset = float(np.mean(dev) / np.mean(target))
        sem = _block_sem(dev)
        # held: within 1 % of the target, or not distinguishable from it (2 standard errors)
        held = abs(offset) <= TOLERANCE or abs(float(np.mean(dev))) <= 2 * sem
        row |= {
            "target_K": float(target.mean()),
            "offset_percent": 100 * offset,
            "std_T_K": float(np.std(dev)),  # a ramp's own spread left out
            "sem_T_K": sem,
            "held": held,
        }
        by_element = {}
        for name in sorted(k for k in observables if k.startswith("temperature_")):
            t_el = np.asarray(observables[name], dtype=float)[sel]
            if not np.isfinite(t_el).all():
                continue
            dev_el = t_el - target
            sem_el = _block_sem(dev_el)
            off_el = float(np.mean(dev_el) / np.mean(target))
            by_element[name.removeprefix("temperature_")] = {
                "mean_T_K": float(t_el.mean()),
                "sem_T_K": sem_el,
                "offset_percent": 100 * off_el,
                "held": abs(off_el) <= TOLERANCE or abs(float(np.mean(dev_el))) <= 2 * sem_el,
            }
        if by_element:
            row["by_element"] = by_element
            row["held_by_element"] = all(e["held"] for e in by_element.values())
        if warn and not held:
            warnings.warn(
                f"stage '{stage.name}' held {row['mean_T_K']:.0f} ± {sem:.0f} K against a target of "
                f"{row['target_K']:.0f} K ({100 * offset:+.1f} %, mean over its second half)",
                ThermostatWarning,
                stacklevel=2,
            )
        off = [
            f"{el} {e['mean_T_K']:.0f} K ({e['offset_percent']:+.1f} %)"
            for el, e in by_element.items()
            if not e["held"]
        ]
        if warn and off:
            warnings.warn(
                f"stage '{stage.name}': element(s) off the target of {row['target_K']:.0f} K: {', '.join(off)} "
                "(kinetic temperature per element, mean over the second half)",
                ThermostatWarning,
                stacklevel=2,
            )
        out.append(row)
    return out
