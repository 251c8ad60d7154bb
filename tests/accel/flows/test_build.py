"""``python -m accel.build``: what a build writes, and how bad input fails.

The successful build is a small one (the 24x24 regression model on a 4x4 array, no Yosys)
so the test stays fast; ``test_synth.py`` covers the resource estimate. Every bad input
must end in one line on stderr and exit status 2 before anything is elaborated or written:
the tests replace the elaboration with a function that fails the test if it is reached.
"""

import json
import os
import re

import pytest

from accel.cli.build import main as build_main
from accel.config import CLOCK_HZ
from accel.device import XCVU9P
from accel.flows import build as build_mod
from accel.flows.build import BuildConfig
from accel.flows.export import module_ports
from model.support.errors import UserError
from tests import paths
from tests.tools import needs_verilator, needs_yosys

FIXTURES = os.fspath(paths.FIXTURES)
CAMERA = os.path.join(FIXTURES, "camera24_p2.npz")            # patch 2, 1 channel
ASTRONAUT = os.path.join(FIXTURES, "astronaut24_p3_rgb.npz")   # patch 3, 3 channels


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    lines = []
    report = build_mod.build(weights=CAMERA, array=(4, 4), batch=8, size=(24, 24), out=out,
                             synth=False, progress=lines.append)
    return out, report, lines


def test_writes_core_board_constraints_script_memories_and_report(small_build):
    out, report, lines = small_build
    names = set(os.listdir(out))
    assert {"patchinr_core.v", "top.v", "top.xdc", "top.tcl", "build_top.sh",
            "report.json"} <= names
    mems = {f"{name}.mem" for name in _config(report).memory_geometry}
    assert mems and mems <= names
    assert sorted(report["files"]) == sorted(names)
    assert json.loads((out / "report.json").read_text()) == report
    assert lines and all(re.match(r"\[\s*\d+ s\] ", line) for line in lines)


def _config(report):
    from accel.config import AccelConfig
    from model.config import PatchINRConfig
    c = report["configuration"]
    return AccelConfig(model=PatchINRConfig.from_dict(c["model"]), rows=c["rows"],
                       cols=c["cols"], batch=c["batch"], precision=c["precision"])


def test_xdc_constrains_the_accelerator_clock_to_5ns(small_build):
    out, _, _ = small_build
    xdc = (out / "top.xdc").read_text()
    assert re.search(r"^create_clock -name accel_clk -period 5\.000 \[get_nets \S+\]$", xdc,
                     re.M)
    # The oscillator's period with the 3 decimals Vivado keeps, not Python's float repr.
    assert "-period 3.333 " in xdc
    assert not re.search(r"-period \d+\.\d{4,}", xdc)


def test_board_top_instantiates_the_core_and_tcl_reads_both(small_build):
    out, _, _ = small_build
    top = (out / "top.v").read_text()
    assert re.search(r"^\s*patchinr_core \S+ \(", top, re.M)
    assert "module patchinr_core" not in top          # converted once, in its own file
    tcl = (out / "top.tcl").read_text()
    assert 'add_files "patchinr_core.v"' in tcl and "read_xdc top.xdc" in tcl
    assert "create_project -force -name top -part xcvu9p-flga2104-2L-e" in tcl


def test_memory_files_hold_the_weights(small_build):
    from accel.host.weights import memory_images
    from model import export
    out, report, _ = small_build
    config = _config(report)
    images = memory_images(config, export.load(CAMERA))
    for name, (depth, bits) in config.memory_geometry.items():
        words = (out / f"{name}.mem").read_text().split()
        assert len(words) == depth and all(len(w) == -(-bits // 4) for w in words)
        assert [int(w, 16) for w in words] == images[name]


def test_report_fields(small_build):
    _, report, _ = small_build
    assert report["params"] == 2 * 16 + 16 + 2 * (16 * 16 + 16) + 16 * 4 + 4
    assert report["weight_buffer_bits"] > 0
    assert report["cycles_per_frame"] > 0
    assert report["clock_hz"] == CLOCK_HZ == 200_000_000
    assert report["fps"] == pytest.approx(report["clock_hz"] / report["cycles_per_frame"])
    # The key before the clock was a field, kept one release and said so.
    assert report["fps_at_200mhz"] == report["fps"] and "fps_at_200mhz" in report["deprecated"]
    assert report["build"] == BuildConfig(weights=CAMERA, array=(4, 4), batch=8, size=(24, 24),
                                          synth=False).to_dict()
    assert 0 < report["pe_utilization"] <= 1
    assert report["resources"] is None and "--no-synth" in report["note"]
    c = report["configuration"]
    assert c["part"] == XCVU9P["part"] and c["board"] == "vcu118"
    assert (c["patch"], c["precision"], c["array"], c["batch"]) == (2, "int8", "4x4", 8)
    assert c["weights"] == CAMERA
    summary = build_mod.summary(report, "out")
    assert "cycles" in summary and "fps at 200 MHz" in summary
    # A chosen array says what --array auto would build on the same device: larger, and
    # faster on every frame the report gives.
    auto = report["auto"]
    rows, cols = map(int, auto["array"].split("x"))
    assert rows * cols > 16 and auto["batch"] > 0
    mine = report["throughput"]["frames"]
    assert set(auto["throughput"]["frames"]) == set(mine)
    for name, f in auto["throughput"]["frames"].items():
        assert f["fps"] > mine[name]["fps"]
        assert f"{f['fps']:,.1f} fps at {name}" in summary
    assert f"--array auto builds {auto['array']}" in summary


def test_build_without_weights_leaves_zero_memories_uninitialised(tmp_path):
    # Every memory is zero without --weights: no initial blocks (block RAM starts at zero,
    # UltraRAM cannot be initialised), so Yosys and Vivado read the core quickly.
    build_mod.build(array=(4, 4), batch=8, size=(24, 24), out=tmp_path, synth=False,
                    progress=lambda line: None)
    core = (tmp_path / "patchinr_core.v").read_text()
    # The only initial statements start the comb processes (accel.flows.export): one
    # register each, no memory contents.
    initials = [line.strip() for line in core.splitlines() if "initial" in line]
    assert initials and all(re.fullmatch(r"initial \\\$auto\$verilog_backend\S+\s+= 1'h0;", i)
                            for i in initials), initials[:3]
    # The INT8 array: two identical column groups of packed pairs, one shared module that
    # holds its PEs once each (two wide rows of 2, two rows of one pair), itself shared.
    for name, count in (("column_pair4w2", 2), ("pe_wide16x16", 4), ("pe_pair", 2)):
        assert f"module patchinr_core_{name}(" in core
        assert len(re.findall(rf"^\s*patchinr_core_{name} \S+ \(", core, re.M)) == count


@needs_verilator
@needs_yosys
def test_check_lints_and_elaborates_the_written_core(tmp_path, capsys):
    # The default model without weights (Yosys 0.23 reads initial blocks slowly).
    rc = build_main(["--array", "4x4", "--batch", "8", "--size", "24x24",
                         "--out", str(tmp_path), "--no-synth", "--check"])
    out = capsys.readouterr().out
    assert rc == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["checks"] == {"verilator_lint": "clean", "yosys": "clean"}
    assert "check      verilator_lint: clean" in out


# Bad input ---------------------------------------------------------------------------------

@pytest.fixture
def no_elaboration(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("elaborated despite bad input")
    monkeypatch.setattr("accel.flows.export.elaborate_core", fail)


@pytest.mark.parametrize("argv, message", [
    (["--board", "zedboard"], r"unknown board 'zedboard' \(choose vcu118, ulx3s-85f, ecp5-evn, ulx3s-12f\)"),
    (["--board", "generic"], r"board 'generic' has no buttons"),
    (["--board", "ulx3s-85f", "--array", "8x8"],
     r"more than the LFE5U-85F's 3.8 Mbit .*\(the default 7 x 256 model does not fit the "
     r"LFE5U-85F; --hidden 128 does"),
    (["--board", "ulx3s-85f", "--hidden", "128", "--precision", "fp32"],
     r"fp32 builds are for the XCVU9P"),
    (["--hidden", "0"], r"hidden \(of the default model\) must be a positive integer, not 0"),
    (["--precision", "int4"], r"unknown precision 'int4' \(choose int8, fp32 or dual\)"),
    (["--patch", "0"], r"patch size must be a positive integer, not 0"),
    (["--patch", "-2"], r"patch size must be a positive integer, not -2"),
    (["--patch", "two"], r"argument --patch: invalid int value: 'two'"),
    (["--patch", "2.5"], r"argument --patch: invalid int value: '2.5'"),
    (["--array", "224x224"], r"array 224x224 \(int8\) does not fit the XCVU9P: .* 6,840"),
    (["--array", "64x64", "--precision", "fp32"], r"array 64x64 \(fp32\) does not fit the XCVU9P"),
    (["--array", "4by4"], r"array shape must be ROWSxCOLS"),
    (["--array", "4x8"], r"the column count must divide the row count"),
    (["--weights", CAMERA, "--patch", "4"], r"--patch 4 disagrees with the model file .*"
                                            r"patch size 2"),
    (["--weights", ASTRONAUT, "--array", "2x2"], r"needs at least 3 columns"),
    (["--weights", CAMERA, "--size", "25x24"], r"not divisible by the model's patch size 2"),
    (["--weights", "no-such-model.npz"], r"does not exist"),
    (["--size", "4000x4000"], r"exceeds the build's maximum"),
    (["--max-frame", "640x480", "--size", "1280x720"], r"frame width 1280 exceeds the build's maximum 640"),
    (["--max-frame", "3x256", "--patch", "4"], r"largest frame 3x256 holds no whole 4x4 patch"),
    (["--max-frame", "0x256"], r"frame size must be two positive integers, not .0x256."),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys, no_elaboration):
    out = tmp_path / "out"
    rc = build_main([*argv, "--out", str(out), "--no-synth"])
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("accel.build: error: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()        # nothing written for bad input


def test_unwritable_output_directory(tmp_path, capsys, no_elaboration):
    # A path under a regular file cannot be created, whoever runs the test (root included).
    blocker = tmp_path / "file"
    blocker.write_text("")
    for out in (blocker, blocker / "sub"):
        rc = build_main(["--out", str(out), "--no-synth"])
        err = capsys.readouterr().err
        assert rc == 2 and len(err.splitlines()) == 1
        assert err.startswith(f"accel.build: error: cannot write to the output directory "
                              f"{str(out)!r}")


def test_command_line_runs_as_a_module(tmp_path):
    # The real entry point: no traceback for bad input, exit status 2.
    import subprocess
    import sys
    root = os.fspath(paths.ROOT)
    proc = subprocess.run([sys.executable, "-m", "accel.build", "--board", "nope",
                           "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=root, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.path.abspath(root)})
    assert proc.returncode == 2
    assert proc.stderr == "accel.build: error: unknown board 'nope' (choose vcu118, ulx3s-85f, ecp5-evn, ulx3s-12f)\n"


def test_video_build_reports_its_clip_and_takes_three_coordinates(tmp_path):
    # A video model file: the report adds the clip (the file's 5 frames, one job), the core
    # takes 64-bit coordinate beats, and the IP-XACT component says so.
    from accel.config import AccelConfig
    from accel.cycles import frame_cycles
    from model import export
    from tests.accel.models import random_model
    mf = random_model(patch=2, hidden=6, layers=1, seed=2, coords=3)
    weights = tmp_path / "v.npz"
    export.save(weights, config=mf.config, fp32=mf.fp32, quant=mf.quant,
                meta={"video": "bikes", "width": 8, "height": 8, "frames": 5})
    report = build_mod.build(weights=weights, array=(2, 2), batch=8, size=(8, 8),
                             out=tmp_path / "b", synth=False, progress=lambda line: None)
    top = report["configuration"]["max_frame"]
    config = AccelConfig(model=mf.config, rows=2, cols=2, batch=8, max_width=top["width"],
                         max_height=top["height"])
    assert report["clip"] == {"frames": 5,
                              "cycles": frame_cycles(config, 8, 8, frames=5)["total"],
                              "fps": frame_cycles(config, 8, 8, frames=5)["fps"]}
    verilog = (tmp_path / "b" / "patchinr_core.v").read_text()
    assert "input [63:0] s_axis_coord_tdata" in verilog
    assert "s_axis_coord_tdata" in (tmp_path / "b" / "component.xml").read_text()


_FAILING_YOSYS = """#!/bin/sh
# A Yosys that answers the probe (accel.flows.synth._probe_yosys) and fails every synthesis
# with an error line in its log, as Yosys does on an internal assertion.
case "$1" in
  -V) echo "Yosys 0.0 (failing stand-in)"; exit 0;;
  -p) echo "    -family <family>"; exit 0;;
esac
while [ $# -gt 0 ]; do
  if [ "$1" = "-l" ]; then echo "ERROR: Assert failed in the stand-in" > "$2"; fi
  shift
done
exit 1
"""


def test_a_failed_estimate_keeps_every_file_and_exits_1(tmp_path, monkeypatch, capsys):
    # A synthesis that fails is a fault the job found (exit 1), not bad input (2): the
    # Verilog, the board files and report.json stay, the report says which part failed and
    # why, and stderr has one line saying the same.
    fake = tmp_path / "yosys"
    fake.write_text(_FAILING_YOSYS)
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    out = tmp_path / "out"
    status = build_main(["--weights", CAMERA, "--array", "4x4", "--batch", "8",
                         "--size", "24x24", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    # Progress lines, then the error as the one last line.
    errors = [line for line in err if "error" in line]
    assert errors == err[-1:] and err[-1].startswith("accel.build: error: Yosys failed on ")
    assert "Assert failed in the stand-in" in err[-1]
    report = json.loads((out / "report.json").read_text())
    assert report["resources"] is None
    assert "Assert failed in the stand-in" in report["synthesis_error"]
    assert {"patchinr_core.v", "top.v", "top.xdc", "component.xml"} <= set(os.listdir(out))
    assert sorted(report["files"]) == sorted(set(os.listdir(out)) - {"synth"})


def test_a_report_replays_its_build_byte_for_byte(small_build, tmp_path):
    # The build is a value in its report: --config builds exactly it again.
    out, report, _ = small_build
    assert build_main(["--config", str(out / "report.json"), "--out", str(tmp_path / "b")]) == 0
    again = tmp_path / "b"
    assert sorted(os.listdir(again)) == sorted(os.listdir(out))
    for name in os.listdir(out):
        a, b = (out / name).read_bytes(), (again / name).read_bytes()
        if name == "report.json":
            a, b = (dict(json.loads(x), seconds=None) for x in (a, b))
        assert a == b, name


def test_config_takes_no_other_build_flag(small_build, capsys):
    out, _, _ = small_build
    assert build_main(["--config", str(out / "report.json"), "--patch", "3",
                       "--out", str(out / "x")]) == 2
    assert "leave out --patch" in capsys.readouterr().err


def test_the_clock_is_one_field(tmp_path):
    # 100 MHz: the frame rate halves, the MMCM makes it, the XDC and the IP say it.
    report = build_mod.build(weights=CAMERA, array=(4, 4), batch=8, size=(24, 24),
                             out=tmp_path, synth=False, clock_hz=100_000_000,
                             progress=lambda line: None)
    assert report["fps"] == pytest.approx(1e8 / report["cycles_per_frame"])
    assert report["build"]["clock_hz"] == report["clock_hz"] == 100_000_000
    assert re.search(r"^create_clock -name accel_clk -period 10\.000 ", (tmp_path / "top.xdc")
                     .read_text(), re.M)
    assert "<ipxact:value>100000000</ipxact:value>" in (tmp_path / "component.xml").read_text()
    with pytest.raises(UserError, match="no integer MMCM setting|MHz"):
        build_mod.build(weights=CAMERA, array=(4, 4), batch=8, size=(24, 24),
                        out=tmp_path / "x", synth=False, clock_hz=199_999_999)


def test_the_default_frame_is_whole_patches(tmp_path):
    # 256x256 is not whole 3x3 patches: the default frame of an n = 3 build is 255x255,
    # as its largest frame (1920x1080) is 1920x1080 rounded down the same way.
    report = build_mod.build(patch=3, array=(4, 4), batch=8, out=tmp_path, synth=False,
                             progress=lambda line: None)
    assert report["frame"] == {"width": 255, "height": 255}
    assert report["build"]["size"] is None
    assert report["configuration"]["max_frame"] == {"width": 1920, "height": 1080}


def test_pixels_per_beat_is_chosen_or_given_and_recorded(tmp_path):
    # auto: the fewest pixels per beat that keep up (one on a small array at n = 2); given:
    # the core's pixel port that wide (two RGB pixels), the build recording it.
    request = build_mod.resolve(array=(4, 4), batch=8, out=tmp_path / "a")
    assert request.config.pixels_per_beat == 1
    job = BuildConfig(array=(8, 8), batch=8, size=(24, 24), synth=False, pixels_per_beat=2)
    assert BuildConfig.from_dict(job.to_dict()) == job
    assert "pixels_per_beat" not in BuildConfig(array=(4, 4)).to_dict()
    report = build_mod.build(job, out=tmp_path / "b")
    assert report["configuration"]["pixels_per_beat"] == 2
    assert report["build"]["pixels_per_beat"] == 2
    verilog = (tmp_path / "b" / "patchinr_core.v").read_text()
    assert re.search(r"output \[47:0\] m_axis_pix_tdata", verilog)
    assert "#define PATCHINR_BUILD_PIXELS_PER_BEAT 2u" in (
        tmp_path / "b" / "patchinr_core.h").read_text()
    assert "2 pixels per beat" in build_mod.summary(report, "b")


def test_a_build_with_its_dsps_at_twice_the_clock(tmp_path):
    # --dsp-clock 2: the core takes aclk2x, the board's MMCM makes it from the same VCO at
    # half the fabric clock's divider (CLKOUT1), the XDC constrains both clocks, and the IP
    # declares the second clock at twice the first.
    job = BuildConfig(array=(9, 3), batch=12, size=(24, 24), synth=False, dsp_clock=2)
    assert BuildConfig.from_dict(job.to_dict()) == job
    report = build_mod.build(job, out=tmp_path)
    assert report["configuration"]["dsp_clock"] == 2 and report["build"]["dsp_clock"] == 2
    assert report["clocks"] == {"aclk": 200_000_000, "aclk2x": 400_000_000}
    assert "aclk2x" in module_ports((tmp_path / "patchinr_core.v").read_text())
    top = (tmp_path / "top.v").read_text()
    assert re.search(r"\.CLKOUT0_DIVIDE_F\(32'd6\)|CLKOUT0_DIVIDE_F\(6", top)
    assert re.search(r"\.CLKOUT1_DIVIDE\(32'd3\)|CLKOUT1_DIVIDE\(3", top)
    xdc = (tmp_path / "top.xdc").read_text()
    assert re.search(r"create_clock \S+ \S+ -period 5\.000 ", xdc)
    assert re.search(r"create_clock \S+ \S+ -period 2\.500 ", xdc)
    component = (tmp_path / "component.xml").read_text()
    assert re.search(r"<ipxact:name>aclk2x</ipxact:name>", component)
    assert "<ipxact:value>400000000</ipxact:value>" in component
    with pytest.raises(UserError, match="INT8 builds on the XCVU9P"):
        build_mod.resolve(array=(4, 4), precision="fp32", dsp_clock=2, out=tmp_path / "x")
