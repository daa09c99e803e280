"""Studies end to end with the real engines: validation, the task graph, kill-and-resume of
the runner, serial vs Dask, and the report in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitreous.cli.main import app
from vitreous.errors import StudyError
from vitreous.study import builtin_study, load_study, run_study
from vitreous.study.graph import build_graph
from vitreous.study.spec import parse_study

TINY = Path(__file__).parent / "data" / "tiny-study.toml"


def _raw():
    return tomllib.loads(TINY.read_text())


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    outcome = run_study(load_study(TINY), out, "serial", log=None)
    return out, outcome


def _comparable(out: Path) -> dict:
    """results.json, checked to hold no wall-clock field (it must not: the same seeds give
    the same results whatever the executor)."""
    text = (out / "results.json").read_text()
    assert "wall" not in text and "time_s" not in text
    return json.loads(text)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"executor": "mpi"}, "unknown executor"),
        ({"potential": "nope"}, "unknown potential"),
        ({"compositions": ["NVP99"]}, "compositions"),
        ({"sizes": [10]}, "sizes"),
        ({"bogus": 1}, "unknown key"),
        ({"melt_quench": {"t_melt_K": 200.0}}, "below t_melt_K"),
        ({"melt_quench": {"hold_ps": -1.0}}, "must be positive"),
        ({"melt_quench": {"speed": 1}}, "unknown key"),
        ({"diffusion": {"temperatures_K": []}}, "non-empty list"),
        ({"analysis": {"arrhenius_form": "vft"}}, "arrhenius_form"),
        ({"experiment": {"NVP10": {}}}, "not one of the compositions"),
        ({"experiment": {"NVP28": {"structure": {"file": "missing.dat"}}}}, "does not exist"),
        ({"cluster": {"kind": "lsf"}}, "slurm or pbs"),
        ({"cluster": {"kind": "slurm", "resources": {"nope": {"GPU": 1}}}}, "unknown task kind 'nope'"),
        ({"cluster": {"kind": "slurm", "resources": {"mlip_label": {"GPU": -1}}}}, "positive amounts"),
        ({"tg_scan": {"step_K": 100.0}}, "replaced by continuous NPT cooling"),
        ({"tg_scan": {"cooling_rate_K_per_ps": 0.0}}, "must be positive"),
        ({"tg_scan": {"window_K": 400.0}}, "fewer than 8 windows"),
        ({"tg_scan": {"t_low_K": 2500.0}}, "below t_high_K"),
        ({"engine": "gromacs"}, "unknown engine"),
    ],
)
def test_study_validation_names_the_key(change, fragment):
    raw = _raw()
    for k, v in change.items():
        if isinstance(v, dict) and isinstance(raw.get(k), dict):
            raw[k] = {**raw[k], **v}
        else:
            raw[k] = v
    with pytest.raises(StudyError, match=fragment):
        parse_study(raw, str(TINY))


def test_recipe_defaults_have_one_home():
    """The CLI's melt-quench/tg-cooling options and a study's [melt_quench]/[tg_scan] take
    their defaults from the recipes' one table."""
    import inspect

    from vitreous.cli.md import melt_quench, tg_cooling
    from vitreous.protocols import MELT_QUENCH_DEFAULTS, TG_COOLING_DEFAULTS
    from vitreous.study.spec import MeltQuenchSpec, TgScanSpec

    mq, tg = MeltQuenchSpec(), TgScanSpec()
    for key in ("t_melt_K", "hold_ps", "quench_rate_K_per_ps", "t_final_K", "anneal_ps", "relax_ps", "timestep_fs"):
        assert getattr(mq, key) == MELT_QUENCH_DEFAULTS[key]
    for key in ("t_high_K", "t_low_K", "cooling_rate_K_per_ps", "equilibrate_ps", "pressure_GPa"):
        assert getattr(tg, key) == TG_COOLING_DEFAULTS[key]
    for cmd, table in ((melt_quench, MELT_QUENCH_DEFAULTS), (tg_cooling, TG_COOLING_DEFAULTS)):
        for name, par in inspect.signature(cmd).parameters.items():
            if name in table:
                assert par.default == table[name], (cmd.__name__, name)


def test_builtin_study_is_the_shipped_example():
    spec = builtin_study()
    example = load_study(Path(__file__).parents[1] / "examples" / "nvp28-quick.toml")
    assert spec.to_dict() == example.to_dict()
    assert "not for publication" in spec.note
    paper = load_study(Path(__file__).parents[1] / "examples" / "nvp-paper.toml")
    assert set(paper.compositions) == {"NVP0", "NVP10", "NVP28"}


def test_task_graph_of_the_tiny_study():
    tasks = build_graph(load_study(TINY))
    kinds = [t.kind for t in tasks]
    assert kinds.count("diffusion") == 2 and kinds.count("dynamics") == 2 and kinds[-1] == "report"
    keys = {t.key: t for t in tasks}
    assert len(keys) == len(tasks)  # unique content keys
    order = {t.key: i for i, t in enumerate(tasks)}
    for t in tasks:  # topological
        assert all(order[d] < order[t.key] for d in t.deps)
    arr = next(t for t in tasks if t.kind == "arrhenius")
    assert {keys[d].kind for d in arr.deps} == {"dynamics", "tg"}  # Tg flags extrapolations across it
    # a changed input changes the keys downstream of it only
    raw = _raw()
    raw["diffusion"]["production_ps"] = 0.7
    other = {t.label: t.key for t in build_graph(parse_study(raw, str(TINY)))}
    mine = {t.label: t.key for t in tasks}
    assert other["melt_quench"] == mine["melt_quench"] and other["diffusion-1500K"] != mine["diffusion-1500K"]


def test_serial_run_completes_and_reports(serial_run):
    out, outcome = serial_run
    assert outcome["counts"] == {"complete": len(build_graph(load_study(TINY)))}
    res = json.loads((out / "results.json").read_text())
    assert set(res["NVP28-120-s3"]) == {"cmd"}  # no [mlip]: the classical column only
    g = res["NVP28-120-s3"]["cmd"]
    for key in ("n_V", "vo_units", "Tg_K", "Ea_eV", "sigma_S_cm", "sigma_extrapolated_S_cm"):
        assert g[key] is not None, key
    assert set(g["sigma_S_cm"]) == {"1500", "2000"} and "473" in g["sigma_extrapolated_S_cm"]
    assert (out / "report" / "index.html").is_file()
    assert list((out / "report").glob("*.svg"))


def test_rerun_skips_finished_tasks(serial_run, tmp_path):
    out, _ = serial_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    t0 = time.perf_counter()
    outcome = run_study(load_study(TINY), copy, "serial", log=None)
    assert time.perf_counter() - t0 < 5 and outcome["counts"] == {"complete": 11}
    with sqlite3.connect(copy / "runs.sqlite") as con:
        assert con.execute("SELECT MAX(attempts) FROM tasks").fetchone()[0] == 1


def test_dask_gives_identical_results(serial_run, tmp_path):
    out, _ = serial_run
    outcome = run_study(load_study(TINY), tmp_path / "dask", "dask", workers=2, log=None)
    assert outcome["counts"] == {"complete": 11}
    assert _comparable(tmp_path / "dask") == _comparable(out)


def test_kill_the_runner_mid_task_and_resume(tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vitreous.cli", "run", str(TINY), "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "runs.sqlite"
    deadline = time.time() + 120
    killed_during = None
    while time.time() < deadline and proc.poll() is None:
        if db.is_file():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    rows = dict(con.execute("SELECT label, status FROM tasks").fetchall())
            except sqlite3.OperationalError:
                rows = {}
            if rows.get("NVP28-120-s3/melt_quench") == "complete" and "running" in rows.values():
                killed_during = next(k for k, v in rows.items() if v == "running")
                time.sleep(0.3)
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.05)
    proc.wait()
    assert killed_during is not None, "the runner was not caught mid-task"
    with sqlite3.connect(db) as con:
        before = dict(con.execute("SELECT label, attempts FROM tasks WHERE status='complete'").fetchall())
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT label, status, attempts FROM tasks").fetchall()
    assert len(rows) == len({r[0] for r in rows}) == 11  # no duplicate rows
    assert all(r[1] == "complete" for r in rows)
    attempts = {r[0]: r[2] for r in rows}
    for label in before:  # finished tasks were not redone
        assert attempts[label] == 1, label
    assert attempts[killed_during] == 2


def test_a_failed_task_does_not_stop_independent_work(serial_run, tmp_path):
    """Break the Tg scan output of a finished study and rerun the Tg analysis: it fails,
    its error is recorded, the Arrhenius fit that had used the old Tg is skipped (its input
    is gone), and the report (a soft dependent) is still written."""
    out = tmp_path / "fail"
    shutil.copytree(serial_run[0], out)
    spec = load_study(TINY)
    scan = next(out.glob("*/tg_scan/trajectory.h5"))
    scan.write_bytes(b"not hdf5")
    with sqlite3.connect(out / "runs.sqlite") as con:
        con.execute("UPDATE tasks SET status='pending' WHERE kind IN ('tg', 'report')")
    (out / "report" / "index.html").unlink()
    outcome = run_study(spec, out, "serial", log=None)
    assert outcome["counts"] == {"complete": 9, "failed": 1, "skipped": 1}
    assert outcome["failed"][0]["label"].endswith("/tg") and "H5MD" in outcome["failed"][0]["error"]
    assert outcome["failed"][1]["label"].endswith("/arrhenius") and "tg failed" in outcome["failed"][1]["error"]
    assert (out / "report" / "index.html").is_file()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(serial_run, tmp_path):
    out, _ = serial_run
    html = out / "report" / "index.html"
    cmd = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        html.as_uri(),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)))
    assert res.returncode == 0, res.stderr[-2000:]
    import re

    m = re.search(r'data-images-ok="(\d+)/(\d+)"', res.stdout)
    assert m and int(m.group(2)) >= 6 and m.group(1) == m.group(2), m and m.group(0)
    console = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console


def test_cli_run_and_report_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["run", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "no such file" in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncompositions = ["NVP28"]\nsizes = [405]\nexecutor = "mpi"\n')
    r = runner.invoke(app, ["run", str(bad)])
    assert r.exit_code == 2 and "unknown executor" in r.output and "serial, dask" in r.output
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "no study run" in r.output


@pytest.mark.slow
def test_builtin_quick_study_end_to_end(tmp_path):
    """`vitreous run` on the built-in NVP28 quick study (~15 min on 2 cores): every task
    completes and the headline numbers of both columns exist. Run with `pytest -m slow`."""
    outcome = run_study(builtin_study(), tmp_path / "quick", log=None)
    assert outcome["counts"] == {"complete": len(build_graph(builtin_study()))}
    res = json.loads((tmp_path / "quick" / "results.json").read_text())["NVP28-405-s1"]
    for g in (res["cmd"], res["mlip"]):
        assert 3.5 < g["n_V"] < 6.5 and "473" in g["sigma_extrapolated_S_cm"]
    assert res["cmd"]["Tg_K"] > 0
    assert res["mlip"]["model"]["reference"] == "teacher:chgnet" and len(res["mlip"]["active_learning"]) >= 1


def test_an_edited_task_does_not_reuse_the_folder_of_the_old_one(tmp_path):
    """A task whose inputs changed (same label, new key) gets a clean folder; the old run is
    moved aside, not deleted and not resumed (its engine would refuse a different run)."""
    from vitreous.study.tasks import _task_folder

    folder = _task_folder(tmp_path / "g" / "diffusion-1300K", "aaaa")
    (folder / "trajectory.h5").write_text("old run")
    assert _task_folder(tmp_path / "g" / "diffusion-1300K", "aaaa") == folder  # same task: resumes
    assert (folder / "trajectory.h5").is_file()
    again = _task_folder(tmp_path / "g" / "diffusion-1300K", "bbbb")
    assert again == folder and not (again / "trajectory.h5").exists()
    assert (tmp_path / "g" / "diffusion-1300K.aaaa" / "trajectory.h5").read_text() == "old run"


def test_report_orders_vo_unit_levels_including_open_ended_ones():
    """VO_l keys come as "4", "7+" (l and above) and "<3" (below 3, where a V has fewer
    neighbours than the lowest level counted); the report's figure placed them with int(),
    which failed on "<3" and lost the whole report of a study whose MLIP glass had such V."""
    from vitreous.report.html import _level_position

    levels = sorted(["5", "<3", "7+", "3", "4", "6"], key=_level_position)
    assert levels == ["<3", "3", "4", "5", "6", "7+"]
    assert [_level_position(lv) for lv in levels] == [2, 3, 4, 5, 6, 7]
