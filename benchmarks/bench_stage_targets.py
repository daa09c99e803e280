"""Do the quick study's classical stages hold their target temperatures? Runs the built-in
study's melt–quench (and optionally its diffusion equilibration + production and its Tg
cooling ramp) on one 405-atom NVP28 model with BMP + PPPM, once per thermostat variant,
and prints each stage's mean T over its second half against its target (the engine's own
check, ``vitreous.engines.stage_stats``) and each element's kinetic temperature, with thermo
rows every 10 steps.

Usage: python benchmarks/bench_stage_targets.py [--variants 3,1,1e] [--diffusion 1900] [--tg]
(a variant is the Nosé–Hoover chain length of the nvt/npt stages, ``e``: one thermostat per
element in the nvt stages; the melt–quench's Langevin anneal is left as it is)
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import warnings
from pathlib import Path

from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.lammps import LammpsMD
from vitreous.potentials import load_forcefield
from vitreous.protocols import Protocol, diffusion, melt_quench, tg_cooling
from vitreous.study.spec import builtin_study


def with_variant(protocol: Protocol, variant: str) -> Protocol:
    """The protocol with every Nosé–Hoover stage at the variant's chain length (one thermostat
    per element in nvt stages for ``<n>e``) and thermo rows every 10 steps."""
    chain, per_element = int(variant.rstrip("e")), variant.endswith("e")
    stages = tuple(
        dataclasses.replace(
            s,
            thermostat_chain=chain,
            thermostat_per_element=per_element and s.ensemble == "nvt",
            thermo_every=10,
        )
        for s in protocol.stages
    )
    return Protocol(protocol.name, stages)


def show(label: str, summary: dict, seconds: float) -> None:
    print(f"  {label} ({seconds:.0f} s)")
    for st in summary["stages"]:
        if st.get("held") is None:
            continue
        flag = "" if st["held"] else "  OFF TARGET"
        print(
            f"    {st['name']:12s} target {st['target_K']:7.1f} K  mean {st['mean_T_K']:7.1f} ± {st['sem_T_K']:4.1f} K "
            f"({st['offset_percent']:+5.2f} %, sd {st['std_T_K']:5.1f} K, {st['rows']} rows){flag}; "
            + ", ".join(f"{el} {e['offset_percent']:+.1f} %" for el, e in st.get("by_element", {}).items()),
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="3,1,1e")
    ap.add_argument("--diffusion", type=float, nargs="*", default=[])
    ap.add_argument("--tg", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    study = builtin_study()
    m = study.melt_quench
    mq = melt_quench(
        m.t_melt_K, m.hold_ps, m.quench_rate_K_per_ps, m.t_final_K, m.anneal_ps, m.ensemble, relax_ps=m.relax_ps
    )
    preset = get_preset("NVP28")
    ff = load_forcefield(study.potential)
    print(f"NVP28 405 atoms, {study.potential} + {study.coulomb}; quick-study protocols; variants {args.variants}")
    for variant in args.variants.split(","):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            atoms = random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=args.seed)
            t0 = time.perf_counter()
            res = LammpsMD(atoms, ff, with_variant(mq, variant), tmp / "mq", seed=args.seed).run(False)
            show(f"variant {variant}: melt-quench {mq.name}", res.summary, time.perf_counter() - t0)
            glass = res.final_atoms
            if args.diffusion:
                dif = study.diffusion
                for proto in diffusion(args.diffusion, dif.equilibrate_ps, dif.production_ps):
                    t0 = time.perf_counter()
                    r = LammpsMD(glass, ff, with_variant(proto, variant), tmp / proto.name, seed=args.seed).run(False)
                    show(f"variant {variant}: {proto.name}", r.summary, time.perf_counter() - t0)
            if args.tg:
                g = study.tg_scan
                proto = tg_cooling(g.t_high_K, g.t_low_K, g.cooling_rate_K_per_ps, g.equilibrate_ps, g.pressure_GPa)
                t0 = time.perf_counter()
                r = LammpsMD(glass, ff, with_variant(proto, variant), tmp / "tg", seed=args.seed).run(False)
                show(f"variant {variant}: {proto.name}", r.summary, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
