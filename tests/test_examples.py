"""The examples run end to end in a short setting."""

import json

from tests.conftest import load_script


def load(name):
    return load_script(f"examples/{name}.py")


def test_train_mnist1d_short_run(tmp_path):
    example = load("train_mnist1d")
    results = example.main(["--epochs", "1", "--units", "16", "--layers", "1", "--output-dir", str(tmp_path)])
    assert (tmp_path / "model.keras").exists()
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert results["epochs"] == 1 and results["parameters"] == example.build_model("alif", 16, 1, 8).count_params()
    assert 0.0 < results["firing_rates"]["alif_1"] < 1.0
    # ALIF 1 x 16 on 8 real inputs: 8 x 16 input MACs, 4 x 16 update MACs, 2 x 10 readout MACs per step
    assert results["operations_per_step"]["macs"] == 8 * 16 + 4 * 16 + 2 * 10
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figures == [
        "accuracy_over_time.png",
        "firing_rates_alif_1.png",
        "raster.png",
        "tau_m.png",
        "traces.png",
    ]
    assert all((tmp_path / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in figures)
    # the run ends with the int8 export, verified in the TFLM interpreter on the 1000 test sequences
    report = json.loads((tmp_path / "tflm" / "report.json").read_text())
    assert report["verification"]["sequences"] == 1000
    assert report["verification"]["float_accuracy"] == results["tflm"]["float_accuracy"]
    assert abs(results["tflm"]["float_accuracy"] - results["test_accuracy"]) < 1e-6
