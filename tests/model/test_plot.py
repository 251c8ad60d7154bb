"""Training-curve plots (model/plot.py)."""

import json

from PIL import Image

from model.plot import main


def _result(path, steps, qat):
    hist = [[s, 10.0 + s / 10] for s in range(0, steps, 10)]
    path.write_text(json.dumps({"steps": steps, "qat_steps": qat, "history": hist}))
    return str(path)


def test_plot_writes_a_png(tmp_path, capsys):
    a = _result(tmp_path / "a.json", 200, 50)
    b = _result(tmp_path / "b.json", 200, 0)
    out = tmp_path / "curves.png"
    assert main([a, b, "--labels", "ours", "siren", "--out", str(out)]) == 0
    with Image.open(out) as im:
        im.verify()
        assert im.size[0] > 300


def test_plot_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main([str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "has no training history" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.png")]) == 2
    assert "cannot read" in capsys.readouterr().err
    a = _result(tmp_path / "a.json", 20, 0)
    assert main([a, "--labels", "one", "two", "--out", str(tmp_path / "x.png")]) == 2
    assert "2 labels for 1 results" in capsys.readouterr().err
