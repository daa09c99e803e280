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


def collect_results(rows: Iterable[dict[str, Any]], out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Headline numbers per model group from the stored task rows (dicts with ``kind``,
    ``label``, ``status``, ``result``, ``outputs``; output paths resolved against the study
    folder ``out_dir``). The report reads stored results only: it never imports the study."""
    out: dict[str, dict[str, Any]] = {}
    measured: dict[str, dict[str, Any]] = {}
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
        g = out.setdefault(group, {"status": {}, "sigma_S_cm": {}, "D_cm2_s": {}})
        g["status"][label] = row["status"]
        res = row.get("result") or {}
        if row["status"] != "complete":
            continue
        if res.get("stages"):
            g.setdefault("stages", {})[label] = res["stages"]
        if row["kind"] == "build":
            g["composition_name"] = res.get("composition_name")
            g["v4_fraction_source"] = res.get("v4_fraction_source")
            g["counts"] = res["counts"]
            g["achieved_mol_percent"] = res["achieved_mol_percent"]
            g["v4_fraction"] = res["v4_fraction"]
            g["seed"] = res["seed"]
        elif row["kind"] == "melt_quench":
            g["final_density_g_cm3"] = res.get("density_g_cm3")
            g["final_pressure_GPa"] = res.get("pressure_GPa")
        elif row["kind"] == "structure":
            g.update(
                {
                    k: res.get(k)
                    for k in (
                        "n_V",
                        "n_V_cutoff_A",
                        "vo_units",
                        "vo_units_std",
                        "bond_lengths_A",
                        "oxygen",
                        "bridges",
                        "qn",
                        "rw_percent",
                    )
                }
            )
            g["structure_json"] = row["outputs"]["json"]
        elif row["kind"] == "tg":
            g["Tg_K"] = res["Tg_K"]
            g["Tg_quantity"] = res.get("Tg_quantity", "volume")
            g["Tg_cooling_rate_K_per_ps"] = res.get("cooling_rate_K_per_ps")
            g["Tg_by_quantity"] = res.get("by_quantity", {})
            g["Tg_interval_K"] = res["Tg_interval_K"]
            g["tg_json"] = row["outputs"]["json"]
        elif row["kind"] == "dynamics":
            t = f"{res['target_temperature_K']:g}"
            g["sigma_S_cm"][t] = {
                "value": res["sigma_S_cm"],
                "err": res["sigma_err_S_cm"],
                "temperature_K": res["temperature_K"],
                "collective": res["collective_S_cm"],
                "trapped_fraction": res["trapped_fraction"],
                "percolates": res["percolates"],
                "warnings": res.get("warnings", []),
            }
            g["D_cm2_s"][t] = {"value": res["D_cm2_s"], "err": res["D_err_cm2_s"]}
            g.setdefault("dynamics_json", {})[t] = row["outputs"]["json"]
        elif row["kind"] == "arrhenius":
            g["Ea_eV"] = res["Ea_eV"]
            g["Ea_err_eV"] = res["Ea_err_eV"]
            g["arrhenius_form"] = res["form"]
            g["sigma_extrapolated"] = res["sigma_at"]
            g["arrhenius_json"] = row["outputs"]["json"]
    for g in out.values():
        name = g.get("composition_name")
        safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in name) if name else None
        if safe in measured:
            g["measured"] = measured[safe]
    return out


def _figures(group: str, g: dict[str, Any], folder: Path) -> list[tuple[str, Path]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: list[tuple[str, Path]] = []

    def save(fig: Any, name: str, caption: str) -> None:
        fig.tight_layout()
        png = folder / f"{group}_{name}.png"
        fig.savefig(png, dpi=100)
        fig.savefig(png.with_suffix(".svg"))
        plt.close(fig)
        figs.append((caption, png))

    if g.get("structure_json"):
        from vitreous.analysis.structure import StructureResult

        structure = StructureResult.from_dict(json.loads(Path(g["structure_json"]).read_text()))
        for name, caption in (
            ("sk", "Total structure factors S(k) (Faber–Ziman, Lorch window)"),
            ("Gr", "Reduced pair distribution functions G(r), from S(k) and from g(r)"),
            ("gVO", "Partial g_VO(r) and the running V–O coordination"),
            ("vo_units", "Distribution of VO_l units (error bars: frame-to-frame standard deviation)"),
        ):
            if name in structure.plot_names():
                fig, ax = plt.subplots(figsize=(6, 3.6))
                structure.plot(ax, name)
                save(fig, name, caption)
    if g.get("tg_json"):
        from vitreous.analysis.thermal import TgFit

        stored = json.loads(Path(g["tg_json"]).read_text())
        dsc = (g.get("measured") or {}).get("dsc")
        for q, d in stored.items():
            fit = TgFit.from_dict(d)  # the stored fit and interval, not a refit
            fig, ax = plt.subplots(figsize=(6, 3.6))
            fit.plot(ax)
            if dsc:
                ax.axvline(dsc["result"]["Tg_midpoint_K"], color="k", ls=":", label="DSC Tg (midpoint)")
                ax.legend(frameon=False, fontsize=8)
            save(
                fig,
                f"tg_{q}",
                f"{q.capitalize()} on cooling ({fit.averaging}) and the two-line Tg fit"
                + (", with the DSC Tg" if dsc else ""),
            )
    for t, path in sorted((g.get("dynamics_json") or {}).items(), key=lambda x: float(x[0])):
        from vitreous.analysis.dynamics import DynamicsResult

        dyn = DynamicsResult.from_dict(json.loads(Path(path).read_text()))
        fig, ax = plt.subplots(figsize=(6, 3.6))
        dyn.plot(ax)
        save(fig, f"msd_{t}K", f"Na MSD at {t} K: all ions, mobile and trapped classes, fit window shaded")
    if g.get("arrhenius_json"):
        from vitreous.analysis.arrhenius import ArrheniusFit

        d = json.loads(Path(g["arrhenius_json"]).read_text())
        fit = ArrheniusFit.from_dict(d)  # the stored fit, not a refit
        fig, ax = plt.subplots(figsize=(6, 3.6))
        # measured points: "value" (older files: "sigma_S_cm")
        points = [(e["temperature_K"], e.get("value", e.get("sigma_S_cm"))) for e in d.get("experiment", [])]
        fit.plot(ax, points, label="MD (Nernst–Einstein)")
        save(fig, "arrhenius", "Arrhenius plot of the Na+ conductivity (squares: measured points)")
    m = g.get("measured") or {}
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


def _held_rows(stages: dict[str, list[dict]]) -> list[list[str]]:
    """Rows of the 'Temperatures held' table (thermostatted stages only)."""
    rows = []
    for run, lst in stages.items():
        for st in lst:
            if st.get("held") is None:
                continue
            flag = "" if st["held"] else "  OFF TARGET"
            sem = f" ± {st['sem_T_K']:.0f}" if "sem_T_K" in st else ""
            rows.append(
                [
                    run,
                    st["name"],
                    f"{st['target_K']:.0f}",
                    f"{st['mean_T_K']:.0f}{sem} (sd {st['std_T_K']:.0f})",
                    f"{st['offset_percent']:+.1f} %{flag}",
                    st.get("thermostat", ""),
                ]
            )
    return rows


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
        "status": g["status"],
        "measured": {k: v["result"] for k, v in (g.get("measured") or {}).items() if k != "status"},
    }


def _vanadium_section(g: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    """The V environment of the model beside the study's NVP10 columns."""
    vo = g.get("vo_units") or {}
    refv = ref["NVP10"]["vanadium"]
    vo_rows = [["n_V", _fmt(g.get("n_V"), ".2f"), *refv["n_V"]]]
    for lvl, key in (("3", "VO3"), ("4", "VO4"), ("5", "VO5"), ("6", "VO6")):
        vo_rows.append([f"{key} %", _fmt(100 * vo[lvl], ".1f") if lvl in vo else "–", *refv[key]])
    bl = (g.get("bond_lengths_A") or {}).get("V-O", [])
    vo_rows.append(
        [
            "V–O peak(s) (Å)",
            ", ".join(_fmt(x, ".2f") for x in bl) or "–",
            *[f"{a} / {b}" for a, b in zip(refv["short_VO_A"], refv["long_VO_A"], strict=True)],
        ]
    )
    return [
        f"<h3>Vanadium environment (V–O cutoff {_fmt(g.get('n_V_cutoff_A'), '.2f')} Å)</h3>",
        _table(vo_rows, ["", "this run", *[f"NVP10 {c} (ref.)" for c in refv["columns"]]]),
        f"<p class='src'>Reference columns: {html.escape(ref['source'])}, NVP10 (shown for orientation; "
        "compare like compositions).</p>",
    ]


def _oxygen_section(g: dict[str, Any]) -> list[str]:
    if not g.get("oxygen"):
        return []
    ox, qn = g["oxygen"], g.get("qn") or {}
    rows = [["BO / NBO / free", f"{100 * ox['BO']:.1f} / {100 * ox['NBO']:.1f} / {100 * ox['free']:.1f} %"]]
    rows += [
        [f"Qn of {el}", "  ".join(f"{k} {100 * v:.0f}%" for k, v in q.items() if k.startswith("Q"))]
        for el, q in qn.items()
    ]
    return ["<h3>Oxygen and Qn</h3>" + _table(rows, ["quantity", "value"])]


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


def _group_section(group: str, g: dict[str, Any], ref: dict[str, Any], figs: list[tuple[str, Path]]) -> str:
    """The HTML section of one model group: tables, then its figures embedded as PNG."""
    parts = [f"<h2>{html.escape(group)}</h2>"]
    if g.get("counts"):
        parts.append(
            "<p>Model: "
            + ", ".join(f"{k} {v}" for k, v in g["counts"].items())
            + f"; V4+/V = {_fmt(g.get('v4_fraction'), '.3f')}; final density "
            f"{_fmt(g.get('final_density_g_cm3'), '.3f')} g/cm³.</p>"
        )
    parts += _vanadium_section(g, ref)
    parts += _oxygen_section(g)
    trows = _tg_rows(g, ref) + _transport_rows(g, ref)
    parts.append("<h3>Thermal and transport</h3>" + _table(trows, ["quantity", "this run", "reference"]))
    held = _held_rows(g.get("stages") or {})
    if held:
        parts.append(
            "<h3>Temperatures held</h3><p>Mean T (± block standard error; sd of T about "
            "the target) over the second half of each thermostatted stage against its target; "
            "OFF TARGET: more than 1 % and more than two standard errors away.</p>"
            + _table(held, ["run", "stage", "target (K)", "measured (K)", "offset", "thermostat"])
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
    sections = [_group_section(group, g, ref, _figures(group, g, folder)) for group, g in results.items()]
    public = {group: _public(g) for group, g in results.items()}
    html_path = folder / "index.html"
    html_path.write_text(_document(spec, sections, rows))
    res_path = out_dir / "results.json"
    res_path.write_text(json.dumps(public, indent=2, default=float))
    return {"html": html_path, "results": res_path, "folder": folder}
