"""The study report: one self-contained HTML file (figures embedded as base64 PNG), the same
figures as PNG and SVG files, and ``results.json`` with the headline numbers per model."""

from __future__ import annotations

import base64
import html
import json
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["collect_results", "write_report"]


def _reference() -> dict[str, Any]:
    return tomllib.loads(resources.files("vitreous.data").joinpath("reference.toml").read_text())


#: method of a task row: the MLIP leg's labels start with ``mlip-``
METHODS = {"cmd": "CMD", "mlip": "MLIP"}


def _method(label: str) -> tuple[str, str]:
    return ("mlip", label.removeprefix("mlip-")) if label.startswith("mlip-") else ("cmd", label)


def collect_results(rows: Iterable[dict[str, Any]], out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Headline numbers per model group and method from the stored task rows (dicts with
    ``kind``, ``label``, ``status``, ``result``, ``outputs``; output paths resolved against the
    study folder ``out_dir``): ``{group: {"cmd": {...}, "mlip": {...}}}``, the MLIP entry
    with its model card and active-learning history. The report reads stored results only:
    it never imports the study."""
    out: dict[str, dict[str, Any]] = {}
    measured: dict[str, dict[str, Any]] = {}
    learning: dict[str, dict[str, Any]] = {}
    for row in [dict(r) for r in rows]:
        row["outputs"] = {k: str(Path(out_dir) / v) for k, v in (row.get("outputs") or {}).items()}
        if row["kind"] == "report" or "/" not in row["label"]:
            continue
        group, label = row["label"].split("/", 1)
        if row["kind"].startswith("exp_"):
            m = measured.setdefault(group.removeprefix("experiment-"), {"status": {}})
            m["status"][label] = row["status"]
            if row["status"] == "complete":
                m[label] = {"result": row.get("result") or {}, "outputs": row["outputs"]}
            continue
        if row["kind"].startswith("mlip_"):
            al = learning.setdefault(group.removeprefix("mlip-"), {"status": {}})
            al["status"][label] = row["status"]
            if row["kind"] == "mlip_model" and row["status"] == "complete":
                al["model"] = row.get("result") or {}
            continue
        method, label = _method(label)
        g = out.setdefault(group, {}).setdefault(method, {"status": {}, "sigma_S_cm": {}, "D_cm2_s": {}})
        g["status"][label] = row["status"]
        res = row.get("result") or {}
        if row["status"] != "complete":
            continue
        if res.get("stages"):
            g.setdefault("stages", {})[label] = res["stages"]
        _collect_row(g, row["kind"], res, row["outputs"])
    for entry in out.values():
        cmd = entry.setdefault("cmd", {"status": {}, "sigma_S_cm": {}, "D_cm2_s": {}})
        name = cmd.get("composition_name")
        safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in name) if name else None
        if safe in measured:
            for g in entry.values():
                g["measured"] = measured[safe]
        if "mlip" in entry:
            for k in (
                "composition_name",
                "counts",
                "achieved_mol_percent",
                "v4_fraction",
                "v4_fraction_source",
                "seed",
            ):
                entry["mlip"][k] = cmd.get(k)
            entry["mlip"]["learning"] = learning.get(safe, {})
    return out


def _collect_row(g: dict[str, Any], kind: str, res: dict[str, Any], outputs: dict[str, str]) -> None:
    """One complete task row's numbers into its method entry ``g``."""
    if kind == "build":
        g["composition_name"] = res.get("composition_name")
        g["v4_fraction_source"] = res.get("v4_fraction_source")
        g["counts"] = res["counts"]
        g["achieved_mol_percent"] = res["achieved_mol_percent"]
        g["v4_fraction"] = res["v4_fraction"]
        g["seed"] = res["seed"]
    elif kind == "melt_quench":
        g["final_density_g_cm3"] = res.get("density_g_cm3")
        g["final_pressure_GPa"] = res.get("pressure_GPa")
    elif kind == "structure":
        keys = ("n_V", "n_V_cutoff_A", "vo_units", "vo_units_std", "bond_lengths_A", "oxygen", "bridges", "qn")
        g.update({k: res.get(k) for k in (*keys, "rw_percent")})
        g["structure_json"] = outputs["json"]
    elif kind == "tg":
        g["Tg_K"] = res["Tg_K"]
        g["Tg_quantity"] = res.get("Tg_quantity", "volume")
        g["Tg_cooling_rate_K_per_ps"] = res.get("cooling_rate_K_per_ps")
        g["Tg_by_quantity"] = res.get("by_quantity", {})
        g["Tg_interval_K"] = res["Tg_interval_K"]
        g["tg_json"] = outputs["json"]
    elif kind == "dynamics":
        t = f"{res['target_temperature_K']:g}"
        g["sigma_S_cm"][t] = {
            "value": res["sigma_S_cm"],
            "err": res["sigma_err_S_cm"],
            "temperature_K": res["temperature_K"],
            "collective": res["collective_S_cm"],
            "trapped_fraction": res["trapped_fraction"],
            "msd_trapped_A2": res.get("msd_trapped_A2"),
            "msd_mobile_A2": res.get("msd_mobile_A2"),
            "class_lag_ps": res.get("class_lag_ps"),
            "percolates": res["percolates"],
            "warnings": res.get("warnings", []),
        }
        g["D_cm2_s"][t] = {"value": res["D_cm2_s"], "err": res["D_err_cm2_s"]}
        g.setdefault("dynamics_json", {})[t] = outputs["json"]
    elif kind == "arrhenius":
        g["Ea_eV"] = res["Ea_eV"]
        g["Ea_err_eV"] = res["Ea_err_eV"]
        g["arrhenius_form"] = res["form"]
        g["sigma_extrapolated"] = res["sigma_at"]
        g["arrhenius_json"] = outputs["json"]


def _figures(group: str, entry: dict[str, dict[str, Any]], folder: Path) -> list[tuple[str, Path]]:
    """The figures of one model group, both methods drawn together where they share axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: list[tuple[str, Path]] = []
    methods = [(METHODS[m], entry[m]) for m in METHODS if m in entry]

    def save(fig: Any, name: str, caption: str) -> None:
        fig.tight_layout()
        png = folder / f"{group}_{name}.png"
        fig.savefig(png, dpi=100)
        fig.savefig(png.with_suffix(".svg"))
        plt.close(fig)
        figs.append((caption, png))

    structures = []
    for name, g in methods:
        if g.get("structure_json"):
            from vitreous.analysis.structure import StructureResult

            structures.append((name, StructureResult.from_dict(json.loads(Path(g["structure_json"]).read_text()))))
    if structures:
        _structure_figures(structures, methods, save, plt)
    for name, g in methods:
        _tg_figures(name, g, save, plt)
    for name, g in methods:
        for t, path in sorted((g.get("dynamics_json") or {}).items(), key=lambda x: float(x[0])):
            from vitreous.analysis.dynamics import DynamicsResult

            dyn = DynamicsResult.from_dict(json.loads(Path(path).read_text()))
            fig, ax = plt.subplots(figsize=(6, 3.6))
            dyn.plot(ax)
            measured = g["sigma_S_cm"][t]["temperature_K"]  # what the run held, the target beside it
            ax.set_title(f"{name}, {measured:.0f} K (target {t} K)", fontsize=9)
            save(
                fig,
                f"{name.lower()}_msd_{t}K",
                f"{name}: Na MSD at {measured:.0f} K (target {t} K): all ions, mobile and trapped classes, "
                "fit window shaded",
            )
    fits = [(name, g) for name, g in methods if g.get("arrhenius_json")]
    if fits:
        from vitreous.analysis.arrhenius import ArrheniusFit

        fig, ax = plt.subplots(figsize=(6, 3.6))
        for k, (name, g) in enumerate(fits):
            d = json.loads(Path(g["arrhenius_json"]).read_text())
            # measured points: "value" (older files: "sigma_S_cm"), drawn once
            points = [(e["temperature_K"], e.get("value", e.get("sigma_S_cm"))) for e in d.get("experiment", [])]
            ArrheniusFit.from_dict(d).plot(ax, points if k == 0 else None, label=f"{name} (Nernst–Einstein)")
        save(
            fig,
            "arrhenius",
            "Arrhenius plot of the Na+ conductivity, "
            + " and ".join(n for n, _ in fits)
            + " (squares: measured points)",
        )
    mlip = entry.get("mlip") or {}
    history = ((mlip.get("learning") or {}).get("model") or {}).get("active_learning")
    if history:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 3.4))
        it = [h["iteration"] for h in history]
        acc = [h["accurate_fraction"] for h in history]
        cand = [h["candidate_fraction"] for h in history]
        beyond = [h["beyond_trust_fraction"] for h in history]
        ax.bar(it, acc, color="C2", label="accurate (σ_F < lo)")
        ax.bar(it, cand, bottom=acc, color="C1", label="candidates (in the trust window)")
        ax.bar(it, beyond, bottom=[a + c for a, c in zip(acc, cand, strict=True)], color="C3", label="beyond trust")
        ax.set_xlabel("iteration")
        ax.set_ylabel("fraction of explored frames")
        ax.set_ylim(0, 1.3)
        ax.set_xticks(it)
        ax.legend(frameon=False, fontsize=7, loc="upper left", ncol=2)
        ax2.plot(it, [h["forces_rmse_eV_A"] for h in history], "o-")
        for h in history:
            ax2.annotate(
                f"{h['n_frames']} frames",
                (h["iteration"], h["forces_rmse_eV_A"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax2.set_xlabel("iteration")
        ax2.set_ylabel("test force RMSE (eV/Å)")
        ax2.set_xticks(it)
        save(
            fig,
            "active_learning",
            "Active learning: explored frames by committee force deviation σ_F (left) and the force error "
            "of committee member 0 on its held-out frames (right; the test set grows with the data, so "
            "iterations are not measured on the same frames)",
        )
    m = (entry.get("cmd") or {}).get("measured") or {}
    for label, caption in (
        ("xps", "Measured XPS V 2p3/2 fit (Shirley background, components)"),
        ("dsc", "Measured DSC heating curve with the Tg constructions"),
    ):
        if label in m and m[label]["outputs"].get("png"):
            figs.append((caption, Path(m[label]["outputs"]["png"])))
    if "eis" in m:
        for key, png in sorted(m["eis"]["outputs"].items()):
            if key.startswith("nyquist_"):
                figs.append((f"Measured impedance and its fit: {Path(png).stem.removeprefix('nyquist_')}", Path(png)))
    return figs


def _structure_figures(structures: list[tuple[str, Any]], methods: list, save: Any, plt: Any) -> None:
    """g_VO(r), S(k), G(r) and the VO_l distribution of every method on shared axes."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, st in structures:
        if "V-O" in st.rdf.partials:
            ax.plot(st.rdf.r_A, st.rdf.get("V-O"), label=f"{name}: g_VO(r)")
    ax.axvspan(1.55, 1.70, color="0.9", label="short V=O (1.55–1.70 Å)")
    ax.set_xlim(1.2, 4)
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g_VO(r)")
    ax.legend(frameon=False, fontsize=8)
    save(
        fig,
        "gVO",
        "Partial g_VO(r) of " + " and ".join(n for n, _ in structures) + ": is there a separate short V=O peak?",
    )
    fig, ax = plt.subplots(figsize=(6, 3.6))
    exp = next((st for _, st in structures if st.experiment is not None and st.rw_quantity == "S"), None)
    for name, st in structures:
        rw = f" (Rw {st.rw:.1f} %)" if st.experiment is not None and st.rw_quantity == "S" else ""
        st.xray.plot(ax, label=f"{name} X-ray{rw}")
    if exp is not None:
        ax.plot(exp.experiment.x, exp.experiment.y, "k.", ms=2, label="experiment")
    ax.legend(frameon=False, fontsize=8)
    save(fig, "sk", "X-ray S(k) (Faber–Ziman, Lorch window)" + (" against the measured one" if exp else ""))
    fig, ax = plt.subplots(figsize=(6, 3.6))
    exp = next((st for _, st in structures if st.experiment is not None and st.rw_quantity in ("G", "T")), None)
    for name, st in structures:
        rs = st.real_space
        ax.plot(rs["r"], rs["G"], label=f"{name}: X-ray G(r) from S(k) (kmax {rs['k_max']:g} 1/Å)")
    if exp is not None:
        ax.plot(exp.experiment.x, exp.experiment.y, "k.", ms=2, label="experiment")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("G(r) (1/Å²)")
    ax.legend(frameon=False, fontsize=8)
    save(fig, "Gr", "Reduced pair distribution function G(r) from S(k)")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    width = 0.8 / len(methods)
    for k, (name, g) in enumerate(methods):
        vo, sd = g.get("vo_units") or {}, g.get("vo_units_std") or {}
        levels = sorted(vo, key=_level_position)  # "7+" collects the highest, "<3" the lowest
        x = [_level_position(lv) + (k - (len(methods) - 1) / 2) * width for lv in levels]
        ax.bar(x, [100 * vo[lv] for lv in levels], width, yerr=[100 * sd.get(lv, 0) for lv in levels], label=name)
    ax.set_xlabel("l in VO_l (the last bar: l and above)")
    ax.set_ylabel("fraction of V (%)")
    ax.legend(frameon=False)
    save(fig, "vo_units", "Distribution of VO_l units (error bars: frame-to-frame standard deviation)")


def _level_position(level: str) -> float:
    """Bar position of a VO_l level key: "5" → 5, "7+" → 7, "<3" → 2 (the bar below 3)."""
    return int(level[1:]) - 1 if level.startswith("<") else int(level.rstrip("+"))


def _tg_figures(name: str, g: dict[str, Any], save: Any, plt: Any) -> None:
    if not g.get("tg_json"):
        return
    from vitreous.analysis.thermal import TgFit

    stored = json.loads(Path(g["tg_json"]).read_text())
    dsc = (g.get("measured") or {}).get("dsc")
    for q, d in stored.items():
        fit = TgFit.from_dict(d)  # the stored fit and interval, not a refit
        fig, ax = plt.subplots(figsize=(6, 3.6))
        fit.plot(ax)
        ax.set_title(name, fontsize=9)
        if dsc:
            ax.axvline(dsc["result"]["Tg_midpoint_K"], color="k", ls=":", label="DSC Tg (midpoint)")
            ax.legend(frameon=False, fontsize=8)
        save(
            fig,
            f"{name.lower()}_tg_{q}",
            f"{name}: {q} on cooling ({fit.averaging}) and the two-line Tg fit" + (", with the DSC Tg" if dsc else ""),
        )


def _held_rows(stages: dict[str, list[dict]]) -> list[list[str]]:
    """Rows of the 'Temperatures held' table (thermostatted stages only)."""
    rows = []
    for run, lst in stages.items():
        for st in lst:
            if st.get("held") is None:
                continue
            flag = "" if st["held"] else "  OFF TARGET"
            sem = f" ± {st['sem_T_K']:.0f}" if "sem_T_K" in st else ""
            elements = ", ".join(
                f"{el} {e['offset_percent']:+.1f} %" + ("" if e["held"] else " OFF TARGET")
                for el, e in (st.get("by_element") or {}).items()
            )
            rows.append(
                [
                    run,
                    st["name"],
                    f"{st['target_K']:.0f}",
                    f"{st['mean_T_K']:.0f}{sem} (sd {st['std_T_K']:.0f})",
                    f"{st['offset_percent']:+.1f} %{flag}",
                    elements or "not recorded",
                    _thermostat_label(st),
                ]
            )
    return rows


def _thermostat_label(st: dict[str, Any]) -> str:
    """e.g. 'nose-hoover (chain 1, 25 fs)' or 'langevin (5 fs)'."""
    name = st.get("thermostat", "")
    extra = [f"chain {st['thermostat_chain']}"] if "thermostat_chain" in st else []
    extra += [f"{st['thermostat_damping_fs']:g} fs"] if "thermostat_damping_fs" in st else []
    return f"{name} ({', '.join(extra)})" if name and extra else name


def _extrapolation_note(p: dict[str, Any]) -> str:
    """Flags of an Arrhenius prediction (outside the fitted range, across Tg)."""
    notes = []
    if p.get("extrapolated"):
        lo, hi = p["fitted_range_K"]
        notes.append(f"EXTRAPOLATED outside the fitted {lo:.0f}–{hi:.0f} K")
    if p.get("crosses_tg"):
        notes.append(f"ACROSS the model's Tg ({p['tg_K']:.0f} K): the line need not hold there")
    return "; ".join(notes)


def _measured_rows(g: dict[str, Any]) -> list[list[str]]:
    """Rows of the 'Measurements' table: what the fits of the study's measured files give."""
    m = g.get("measured") or {}
    rows = []
    if "xps" in m:
        r = m["xps"]["result"]
        rows.append(
            [
                "V4+/V (XPS)",
                f"{r['V4_fraction']:.3f} ± {r['V4_fraction_err']:.3f}",
                f"model {_fmt(g.get('v4_fraction'), '.3f')} (from {g.get('v4_fraction_source') or 'preset'})",
            ]
        )
    if "dsc" in m:
        r = m["dsc"]["result"]
        rows.append(
            [
                "Tg (DSC) onset / midpoint / endset (K)",
                f"{r['Tg_onset_K']:.0f} / {r['Tg_midpoint_K']:.0f} / {r['Tg_endset_K']:.0f}",
                f"simulated {_fmt(g.get('Tg_K'), '.0f')} K",
            ]
        )
    if "eis" in m:
        r = m["eis"]["result"]
        for t, sig, err in r["points"]:
            rows.append([f"σ (impedance, total) at {t:g} K (S/cm)", f"{sig:.3e} ± {err:.1e}", r["circuit"]])
        if r.get("Ea_eV") is not None:
            rows.append(["Ea (impedance) (eV)", f"{r['Ea_eV']:.3f} ± {r['Ea_err_eV']:.3f}", "σT = A exp(−Ea/kT)"])
    for label, status in (m.get("status") or {}).items():
        if status != "complete":
            rows.append([f"{label} fit", status, "see the provenance table"])
    return rows


def _subdiffusive(entry: dict[str, Any]) -> bool:
    return any("sub-diffusive" in w for w in entry.get("warnings", []))


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(x: Any, spec: str = ".3g") -> str:
    if x is None:
        return "–"
    try:
        return format(float(x), spec)
    except (TypeError, ValueError):
        return str(x)


def _public(g: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one model group, as written to ``results.json``."""
    return {
        "counts": g.get("counts"),
        "v4_fraction": g.get("v4_fraction"),
        "n_V": g.get("n_V"),
        "n_V_cutoff_A": g.get("n_V_cutoff_A"),
        "vo_units": g.get("vo_units") or {},
        "bond_lengths_A": g.get("bond_lengths_A"),
        "oxygen": g.get("oxygen"),
        "qn": g.get("qn"),
        "Tg_K": g.get("Tg_K"),
        "Tg_interval_K": g.get("Tg_interval_K"),
        "Tg_quantity": g.get("Tg_quantity"),
        "Tg_cooling_rate_K_per_ps": g.get("Tg_cooling_rate_K_per_ps"),
        "Tg_by_quantity": g.get("Tg_by_quantity"),
        "Ea_eV": g.get("Ea_eV"),
        "Ea_err_eV": g.get("Ea_err_eV"),
        "sigma_S_cm": {t: v["value"] for t, v in g["sigma_S_cm"].items()},
        "sigma_err_S_cm": {t: v["err"] for t, v in g["sigma_S_cm"].items()},
        "sigma_measured_temperature_K": {t: v["temperature_K"] for t, v in g["sigma_S_cm"].items()},
        "temperatures_held": g.get("stages", {}),
        "sigma_extrapolated_S_cm": {t: v for t, v in (g.get("sigma_extrapolated") or {}).items()},
        "D_cm2_s": g["D_cm2_s"],
        "rw_percent": g.get("rw_percent"),
        "short_VO_peak_A": short_vo_peak(g),
        "na_classes": {
            t: {k: v.get(k) for k in ("trapped_fraction", "msd_trapped_A2", "msd_mobile_A2", "class_lag_ps")}
            for t, v in g["sigma_S_cm"].items()
        },
        "ionic_share": ionic_share(g),
        "status": g["status"],
        "measured": {k: v["result"] for k, v in (g.get("measured") or {}).items() if k != "status"},
    }


def _public_entry(entry: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``results.json`` of one model group: a ``cmd`` and (with ``[mlip]``) an ``mlip`` entry;
    the MLIP entry adds its model card (reference and kind, test errors) and the
    active-learning history (per iteration: ``n_frames``, ``candidate_fraction``,
    ``forces_rmse_eV_A``, ...)."""
    out = {m: _public(entry[m]) for m in METHODS if m in entry}
    if "mlip" in entry:
        learning = entry["mlip"].get("learning") or {}
        model = dict(learning.get("model") or {})
        # no wall-clock numbers in results.json (the same inputs give the same file)
        out["mlip"]["active_learning"] = [
            {k: v for k, v in h.items() if "wall" not in k} for h in model.pop("active_learning", [])
        ]
        out["mlip"]["model"] = {k: v for k, v in model.items() if k != "task_wall_s"}
        out["mlip"]["learning_status"] = learning.get("status", {})
    return out


def short_vo_peak(g: dict[str, Any]) -> float | None:
    """Position (Å) of a separate short V=O peak of g_VO: the first of two or more first-shell
    peaks when it lies below 1.70 Å; None when g_VO has a single first-shell peak."""
    peaks = sorted((g.get("bond_lengths_A") or {}).get("V-O", []))
    return peaks[0] if len(peaks) >= 2 and peaks[0] < 1.70 else None


def ionic_share(g: dict[str, Any]) -> dict[str, float]:
    """σ(Na+) from the Arrhenius line at each measured temperature, divided by the measured
    (total) conductivity there: the ionic share of the measured σ, keyed by the temperature."""
    if not g.get("arrhenius_json"):
        return {}
    d = json.loads(Path(g["arrhenius_json"]).read_text())
    out = {}
    for e in d.get("experiment", []):
        t = float(e["temperature_K"])
        pred = (g.get("sigma_extrapolated") or {}).get(f"{t:g}")
        value = e.get("value", e.get("sigma_S_cm"))
        if pred is not None and value:
            out[f"{t:g}"] = pred["value"] / value
    return out


def _vanadium_section(methods: list[tuple[str, dict[str, Any]]], ref: dict[str, Any]) -> list[str]:
    """The V environment of every method beside the study's NVP10 columns."""
    refv = ref["NVP10"]["vanadium"]
    rows = [["n_V", *[_fmt(g.get("n_V"), ".2f") for _, g in methods], *refv["n_V"]]]
    for lvl, key in (("3", "VO3"), ("4", "VO4"), ("5", "VO5"), ("6", "VO6")):
        cells = []
        for _, g in methods:
            vo = g.get("vo_units") or {}
            cells.append(_fmt(100 * vo[lvl], ".1f") if lvl in vo else "–")
        rows.append([f"{key} %", *cells, *refv[key]])
    rows.append(
        [
            "V–O peak(s) (Å)",
            *[
                ", ".join(_fmt(x, ".2f") for x in (g.get("bond_lengths_A") or {}).get("V-O", [])) or "–"
                for _, g in methods
            ],
            *[f"{a} / {b}" for a, b in zip(refv["short_VO_A"], refv["long_VO_A"], strict=True)],
        ]
    )
    rows.append(
        [
            "separate short V=O peak",
            *[f"yes, {_fmt(short_vo_peak(g), '.2f')} Å" if short_vo_peak(g) else "no" for _, g in methods],
            *["yes" if x not in ("none", "-") else "no" for x in refv["short_VO_A"]],
        ]
    )
    cut = "; ".join(f"{n} {_fmt(g.get('n_V_cutoff_A'), '.2f')} Å" for n, g in methods)
    return [
        f"<h3>Vanadium environment (V–O cutoff: {html.escape(cut)})</h3>",
        _table(rows, ["", *[f"{n} (this run)" for n, _ in methods], *[f"NVP10 {c} (ref.)" for c in refv["columns"]]]),
        f"<p class='src'>Reference columns: {html.escape(ref['source'])}, NVP10 (shown for orientation; "
        "compare like compositions).</p>",
    ]


def _oxygen_section(methods: list[tuple[str, dict[str, Any]]]) -> list[str]:
    present = [(n, g) for n, g in methods if g.get("oxygen")]
    if not present:
        return []
    rows = [
        [
            "BO / NBO / free",
            *[
                f"{100 * g['oxygen']['BO']:.1f} / {100 * g['oxygen']['NBO']:.1f} / {100 * g['oxygen']['free']:.1f} %"
                for _, g in present
            ],
        ]
    ]
    elements = sorted({el for _, g in present for el in (g.get("qn") or {})})
    for el in elements:
        rows.append(
            [
                f"Qn of {el}",
                *[
                    "  ".join(
                        f"{k} {100 * v:.0f}%"
                        for k, v in ((g.get("qn") or {}).get(el) or {}).items()
                        if k.startswith("Q")
                    )
                    for _, g in present
                ],
            ]
        )
    return ["<h3>Oxygen and Qn</h3>" + _table(rows, ["quantity", *[n for n, _ in present]])]


def _headline_rows(methods: list[tuple[str, dict[str, Any]]], ref: dict[str, Any]) -> list[list[str]]:
    """The side-by-side summary: one column per method, the study's values beside."""
    r28 = ref["NVP28"]
    tg = r28["tg_K"]

    def each(fn: Any) -> list[str]:
        return [fn(g) for _, g in methods]

    def vo(g: dict[str, Any]) -> str:
        v = g.get("vo_units") or {}
        return " / ".join(_fmt(100 * v[k], ".0f") if k in v else "–" for k in ("4", "5", "6"))

    def sigmas(g: dict[str, Any]) -> str:
        items = sorted(g["sigma_S_cm"].items(), key=lambda x: float(x[0]))
        return "; ".join(f"{v['temperature_K']:.0f} K (target {t}): {v['value']:.1e}" for t, v in items) or "–"

    def classes(g: dict[str, Any]) -> str:
        items = sorted(g["sigma_S_cm"].items(), key=lambda x: abs(float(x[0]) - 1200))
        if not items:
            return "–"
        t, v = items[0]
        msd = (
            f"; MSD {_fmt(v.get('msd_trapped_A2'), '.1f')} / {_fmt(v.get('msd_mobile_A2'), '.1f')} Å² "
            f"at {_fmt(v.get('class_lag_ps'), '.1f')} ps"
            if v.get("class_lag_ps") is not None
            else ""
        )
        return f"{v['temperature_K']:.0f} K (target {t}): {100 * v['trapped_fraction']:.0f} % trapped{msd}"

    def extrap(g: dict[str, Any]) -> str:
        p = (g.get("sigma_extrapolated") or {}).get("473")
        share = ionic_share(g).get("473")
        if p is None:
            return "–"
        if share is None:
            return f"{p['value']:.1e}"
        if share > 1:  # an ionic part larger than the measured total cannot be right
            return f"{p['value']:.1e} ({share:.3g}× the measured total: the extrapolation is not credible)"
        return f"{p['value']:.1e} ({100 * share:.2g} % of the measured total)"

    msd_ref = r28.get("na_msd_1200K_A2", {})
    refv = ref["NVP10"]["vanadium"]  # the study's columns, as reference.toml holds them

    def cols(row: str, keep: tuple[str, ...] = ("Exp", "CMD", "MLIP")) -> str:
        return "NVP10: " + ", ".join(f"{c} {v}" for c, v in zip(refv["columns"], refv[row], strict=True) if c in keep)

    vo_ref = "NVP10: " + ", ".join(
        f"{c} {' / '.join(refv[k][i] for k in ('VO4', 'VO5', 'VO6'))}"
        for i, c in enumerate(refv["columns"])
        if c in ("CMD", "MLIP")
    )
    return [
        ["n_V", *each(lambda g: _fmt(g.get("n_V"), ".2f")), cols("n_V")],
        ["VO4 / VO5 / VO6 (%)", *each(vo), vo_ref],
        [
            "separate short V=O peak",
            *each(lambda g: f"yes, {short_vo_peak(g):.2f} Å" if short_vo_peak(g) else "no"),
            "short V=O (Å) " + cols("short_VO_A"),
        ],
        [
            "Tg (K)",
            *each(lambda g: _fmt(g.get("Tg_K"), ".0f") if g.get("Tg_K") is not None else "not run"),
            f"NVP28: exp {tg['experiment']}, MLIP {tg['MLIP']}, CMD {tg['CMD']}",
        ],
        ["σ(Na+) (S/cm)", *each(sigmas), ""],
        [
            "Ea (eV)",
            *each(lambda g: f"{g['Ea_eV']:.2f} ± {g['Ea_err_eV']:.2f}" if g.get("Ea_eV") is not None else "–"),
            "",
        ],
        [
            "Na classes nearest 1200 K",
            *each(classes),
            f"NVP28 MLIP, {msd_ref.get('atoms', '?')} atoms, 1200 K: trapped ~{msd_ref.get('trapped', '?')} Å², "
            f"mobile ~{msd_ref.get('mobile', '?')} Å²",
        ],
        [
            "σ(Na+) at 473 K, extrapolated (S/cm)",
            *each(extrap),
            f"measured total {r28['conductivity_473K_S_cm']:.1e} S/cm; Na+ share from MLIP MD "
            f"~{100 * r28.get('ionic_share_473K', float('nan')):.0f} %",
        ],
        [
            "Rw (%)",
            *each(lambda g: _fmt(g.get("rw_percent"), ".1f")),
            "NVP28 X-ray: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r28["rw_xray_percent"].items()),
        ],
    ]


def _tg_rows(g: dict[str, Any], ref: dict[str, Any]) -> list[list[str]]:
    if g.get("Tg_K") is None:
        return []
    iv = g["Tg_interval_K"]
    tgref = ref["NVP28"]["tg_K"]
    rate = g.get("Tg_cooling_rate_K_per_ps")
    how = f"{g.get('Tg_quantity', 'volume')}" + (f", cooled at {rate:g} K/ps" if rate else "")
    wide = (iv[1] - iv[0]) / 2 > 100
    rows = [
        [
            f"Tg (K), 95 % interval ({how})",
            f"{g['Tg_K']:.0f} [{iv[0]:.0f}, {iv[1]:.0f}]",
            f"exp. {tgref['experiment']}, MLIP {tgref['MLIP']}, CMD {tgref['CMD']} (NVP28); "
            "MD cooling rates are ~1e12 times DSC's, which raises Tg"
            + ("; WIDE interval (> ±100 K): too small a model or too short a cooling to pin Tg" if wide else ""),
        ]
    ]
    for q, v in (g.get("Tg_by_quantity") or {}).items():
        if q != g.get("Tg_quantity"):
            interval = f"{v['Tg_K']:.0f} [{v['Tg_interval_K'][0]:.0f}, {v['Tg_interval_K'][1]:.0f}]"
            rows.append([f"Tg (K) from {q}", interval, "same run"])
    return rows


def _transport_rows(g: dict[str, Any], ref: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t, v in sorted(g["sigma_S_cm"].items(), key=lambda x: float(x[0])):
        rows.append(
            [
                f"σ(Na+) at {v['temperature_K']:.0f} K measured (target {t} K) (S/cm)",
                f"{v['value']:.2e} ± {v['err']:.1e}",
                f"collective {v['collective']:.1e}; trapped {100 * v['trapped_fraction']:.0f} %"
                + ("; SUB-DIFFUSIVE run: D is an upper bound" if _subdiffusive(v) else ""),
            ]
        )
    if g.get("Ea_eV") is not None:
        n_sub = sum(_subdiffusive(v) for v in g["sigma_S_cm"].values())
        caveat = f"; fit includes {n_sub} sub-diffusive run(s): not reliable" if n_sub else ""
        rows.append(["E_a (eV)", f"{g['Ea_eV']:.2f} ± {g['Ea_err_eV']:.2f}", g.get("arrhenius_form", "") + caveat])
        for t, p in (g.get("sigma_extrapolated") or {}).items():
            measured = ref["NVP28"]["conductivity_473K_S_cm"] if float(t) == 473 else None
            notes = (
                f"measured total {measured:.1e} S/cm (mostly electronic)" if measured else "",
                _extrapolation_note(p),
            )
            rows.append(
                [
                    f"σ(Na+) extrapolated to {t} K (S/cm)",
                    f"{p['value']:.1e} (95 %: {p['low']:.1e}–{p['high']:.1e})",
                    "; ".join(x for x in notes if x),
                ]
            )
    if g.get("rw_percent") is not None:
        rows.append(["Rw (%)", _fmt(g["rw_percent"], ".1f"), "against the given experiment"])
    return rows


def _group_section(
    group: str, entry: dict[str, dict[str, Any]], ref: dict[str, Any], figs: list[tuple[str, Path]]
) -> str:
    """The HTML section of one model group: the methods side by side, then per-method tables
    and the figures embedded as PNG."""
    methods = [(METHODS[m], entry[m]) for m in METHODS if m in entry]
    g = entry["cmd"]
    parts = [f"<h2>{html.escape(group)}</h2>"]
    if g.get("counts"):
        dens = "; ".join(f"{n} {_fmt(x.get('final_density_g_cm3'), '.3f')}" for n, x in methods)
        parts.append(
            "<p>Model: "
            + ", ".join(f"{k} {v}" for k, v in g["counts"].items())
            + f"; V4+/V = {_fmt(g.get('v4_fraction'), '.3f')}; final density (g/cm³) {html.escape(dens)}.</p>"
        )
    if "mlip" in entry:
        parts += _mlip_intro(entry["mlip"])
    parts.append(
        "<h3>Side by side</h3>"
        + _table(_headline_rows(methods, ref), ["quantity", *[n for n, _ in methods], f"study ({ref['source']})"])
    )
    parts += _vanadium_section(methods, ref)
    parts += _oxygen_section(methods)
    trows = [[n, *r] for n, x in methods for r in _tg_rows(x, ref) + _transport_rows(x, ref)]
    parts.append("<h3>Thermal and transport</h3>" + _table(trows, ["method", "quantity", "this run", "reference"]))
    held = [[n, *r] for n, x in methods for r in _held_rows(x.get("stages") or {})]
    if held:
        parts.append(
            "<h3>Temperatures held</h3><p>Mean T (± block standard error; sd of T about "
            "the target) over the second half of each thermostatted stage against its target, and "
            "each element's kinetic temperature against the same target; "
            "OFF TARGET: more than 1 % and more than two standard errors away.</p>"
            + _table(
                held, ["method", "run", "stage", "target (K)", "measured (K)", "offset", "by element", "thermostat"]
            )
        )
    mrows = _measured_rows(g)
    if mrows:
        parts.append(
            "<h3>Measurements (fitted from the study's files)</h3>" + _table(mrows, ["quantity", "measured", "beside"])
        )
    for caption, png in figs:
        data = base64.b64encode(png.read_bytes()).decode()
        parts.append(
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    return "\n".join(parts)


def _mlip_intro(g: dict[str, Any]) -> list[str]:
    """Which MLIP, trained on what reference, how well, after how many iterations."""
    learning = g.get("learning") or {}
    model = learning.get("model")
    if not model:
        bad = {k: v for k, v in (learning.get("status") or {}).items() if v != "complete"}
        return [f"<p class='warn'>MLIP leg: no model ({html.escape(str(bad))}; see the provenance table).</p>"]
    t = model["test"]
    kind = model["reference_kind"]
    warn = "" if "DFT" in kind and "not DFT" not in kind else " class='warn'"
    rows = [
        [
            h["iteration"],
            h["n_frames"],
            f"{h['forces_rmse_eV_A']:.3f}",
            f"{h['energy_rmse_meV_atom']:.1f}",
            h["n_explored"],
            f"{h['candidate_fraction']:.2f}",
            f"{h['accurate_fraction']:.2f}",
            f"{h['beyond_trust_fraction']:.2f}",
            "; ".join(h.get("exploration_failures") or []) or "–",
        ]
        for h in model["active_learning"]
    ]
    return [
        f"<p{warn}>MLIP: {html.escape(model['model'])}, labels from <b>{html.escape(model['reference'])}</b> "
        f"({html.escape(kind)}); {model['n_frames']} frames after {model['iterations']} active-learning "
        f"iteration(s), stopped by: {html.escape(str(model['stopped_by']))}. Test RMSE "
        f"{t['energy_rmse_meV_atom']:.1f} meV/atom, {t['forces_rmse_eV_A']:.3f} eV/Å "
        f"(against {html.escape(model['reference'])}, not against experiment).</p>",
        "<h3>Active learning</h3>"
        + _table(
            rows,
            [
                "iteration",
                "frames",
                "test F RMSE (eV/Å)",
                "test E RMSE (meV/atom)",
                "explored",
                "candidates",
                "accurate",
                "beyond trust",
                "exploration stops",
            ],
        ),
    ]


def _document(spec: dict[str, Any], sections: list[str], rows: list[dict[str, Any]]) -> str:
    """The whole self-contained HTML page: sections, provenance, study inputs."""
    prov_rows = [
        [
            r["label"],
            r["status"],
            _fmt((r.get("result") or {}).get("task_wall_s"), ".1f"),
            (r.get("error") or "").splitlines()[0] if r.get("error") else "",
        ]
        for r in rows
    ]
    versions = next((r["versions"] for r in rows if r.get("versions")), {})
    note = spec.get("note", "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vitreous report: {html.escape(spec.get("name", ""))}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:90%}}figure{{margin:1em 0}}img{{max-width:100%}}
.warn{{background:#fff3cd;padding:.6em;border:1px solid #e0c060}}.src{{font-size:80%;color:#666}}</style></head>
<body>
<h1>vitreous report: {html.escape(spec.get("name", ""))}</h1>
{f'<p class="warn">{html.escape(note)}</p>' if note else ""}
{"".join(sections)}
<h2>Provenance</h2>
<p>Study file: {html.escape(str(spec.get("source", "")))}; potential {html.escape(str(spec.get("potential", "")))},
Coulomb {html.escape(str(spec.get("coulomb", "")))}, seeds {html.escape(str(spec.get("seeds", "")))}.</p>
<p>Versions: {html.escape(", ".join(f"{k} {v}" for k, v in versions.items()))}</p>
{_table(prov_rows, ["task", "status", "wall (s)", "error"])}
<details><summary>Study inputs (JSON)</summary><pre>{html.escape(json.dumps(spec, indent=1, default=str))}</pre></details>
<script>
(function(){{var imgs=document.images,ok=0;for(var i=0;i<imgs.length;i++){{if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;}}
document.body.setAttribute('data-images-ok', ok+'/'+imgs.length);}})();
</script>
</body></html>
"""


def write_report(out_dir: str | Path, rows: Iterable[dict[str, Any]]) -> dict[str, Path]:
    """Write ``report/index.html``, figures and ``results.json`` under ``out_dir`` from the
    stored task rows (see :func:`collect_results`)."""
    out_dir = Path(out_dir)
    folder = out_dir / "report"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [dict(r) for r in rows]
    results = collect_results(rows, out_dir)
    ref = _reference()
    spec = json.loads((out_dir / "study.json").read_text()) if (out_dir / "study.json").is_file() else {}
    sections = [_group_section(group, entry, ref, _figures(group, entry, folder)) for group, entry in results.items()]
    public = {group: _public_entry(entry) for group, entry in results.items()}
    html_path = folder / "index.html"
    html_path.write_text(_document(spec, sections, rows))
    res_path = out_dir / "results.json"
    res_path.write_text(json.dumps(public, indent=2, default=float))
    return {"html": html_path, "results": res_path, "folder": folder}
