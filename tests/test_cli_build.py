"""`vitreous compositions` and `vitreous build` through the real CLI, bad input included."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from vitreous.cli.main import app

runner = CliRunner()


def test_compositions_lists_presets():
    res = runner.invoke(app, ["compositions"])
    assert res.exit_code == 0
    for name in ("NVP0", "NVP10", "NVP28"):
        assert name in res.output


def test_build_writes_structure_and_summary(tmp_path):
    out, js = tmp_path / "m.extxyz", tmp_path / "s.json"
    res = runner.invoke(app, ["build", "NVP28", "--atoms", "405", "-o", str(out), "--json", str(js), "--seed", "5"])
    assert res.exit_code == 0, res.output
    assert "V4+ fraction" in res.output
    summary = json.loads(js.read_text())
    for key in (
        "counts",
        "achieved_mol_percent",
        "v4_fraction",
        "density_g_cm3",
        "box_edge_A",
        "n_atoms",
        "seed",
    ):
        assert key in summary
    assert summary["counts"]["V4"] + summary["counts"]["V5"] > 0
    assert summary["seed"] == 5
    assert out.stat().st_size > 0


def test_build_custom_composition_with_min_distance(tmp_path):
    out = tmp_path / "m.data"
    res = runner.invoke(
        app,
        ["build", "50V2O5-50P2O5", "--atoms", "203", "--density", "2.8", "--min-distance", "V-O=1.5", "-o", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "atom types" in out.read_text()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["50Xx2O5-50P2O5", "--atoms", "100", "--density", "2"], "unknown element"),
        (["50V2O5-50PCl5", "--atoms", "100", "--density", "2"], "not an oxide formula"),
        (["0V2O5-100P2O5", "--atoms", "100", "--density", "2"], "must be positive"),
        (["xV2O5-100P2O5", "--atoms", "100", "--density", "2"], "cannot read"),
        (["40V2O5-50P2O5", "--atoms", "100", "--density", "2"], "add up to 90"),
        (["NVP28", "--atoms", "6"], "cannot represent"),
        (["NVP28", "--atoms", "405", "--density", "0"], "density must be positive"),
        (["NVP28", "--atoms", "405", "--density", "-2"], "density must be positive"),
        (["50V2O5-50P2O5", "--atoms", "100"], "no density"),
        (["NVP28", "--atoms", "405", "--min-distance", "V-O=x"], "not a number"),
        (["NVP28", "--atoms", "405", "--min-distance", "O-O=4"], "close packing"),
        (["NOPE", "--atoms", "405"], "cannot read"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, args, fragment):
    res = runner.invoke(app, ["build", *args, "-o", str(tmp_path / "m.xyz")])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines[0].startswith("error:"), res.output  # the message comes first, on its own line
    assert fragment in res.output
    assert "Traceback" not in res.output


def test_non_numeric_atoms_is_a_usage_error(tmp_path):
    res = runner.invoke(app, ["build", "NVP28", "--atoms", "abc", "-o", str(tmp_path / "m.xyz")])
    assert res.exit_code == 2


def test_unwritable_paths(tmp_path):
    res = runner.invoke(app, ["build", "NVP28", "--atoms", "405", "-o", str(tmp_path / "nope" / "m.xyz")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(app, ["build", "NVP28", "--atoms", "405", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "is a folder" in res.output
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        res = runner.invoke(app, ["build", "NVP28", "--atoms", "405", "-o", str(ro / "m.xyz")])
        assert res.exit_code == 2


def test_debug_shows_traceback_in_a_real_process(tmp_path):
    exe = [
        sys.executable,
        "-m",
        "vitreous.cli",
        "--debug",
        "build",
        "NVP28",
        "--atoms",
        "405",
        "--density",
        "0",
        "-o",
        str(tmp_path / "m.xyz"),
    ]
    res = subprocess.run(exe, capture_output=True, text=True)
    assert res.returncode != 0 and "Traceback" in res.stderr
    exe.remove("--debug")
    res = subprocess.run(exe, capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error:")
