"""benchmarks/compare_models.py, quick setting: every row and column filled, the counts equal hand counts."""

import json

import pytest

from keras_spiking_rnn.analysis import lstm_operations
from tests.conftest import load_script
from tests.test_datasets import _samples, _write_shd


@pytest.fixture(scope="module")
def compare():
    return load_script("benchmarks/compare_models.py")


def test_quick_run_fills_the_table_the_ablations_and_the_int8_columns(compare, tmp_path):
    results = compare.main(["--quick", "--datasets", "mnist1d", "--output-dir", str(tmp_path)])
    rows = results["tables"]["MNIST-1D (8-sample frames)"]
    assert [r["model"] for r in rows] == [
        "LIF 2x16",
        "ALIF 2x16",
        "gated 1x16, rate-regularized",
        "LSTM 16",
        "GRU 16",
    ]
    lstm = rows[3]
    # LSTM(16) on 8 features, and Dense(10) on the last step once per 40-step sequence
    assert lstm["macs_per_step"] == pytest.approx(lstm_operations(8, 16).macs + (16 + 1) * 10 / 40)
    assert lstm["energy_vs_lstm"] == 1.0 and lstm["nonzero_outputs"] is None
    for row in rows[:3]:
        assert 0.0 < row["nonzero_outputs"] < 1.0
        assert 0.0 <= row["int8_tflm_accuracy"] <= 1.0 and row["flash_bytes"] > 5_000
        assert row["acs_per_step"] > 0 and row["energy_vs_lstm"] < 1.0
        assert (tmp_path / "tflm" / f"mnist-1d_{row['model'].split()[0].lower()}" / "model.tflite").exists()
    assert [r["variant"] for r in results["ablations"]] == [
        "surrogate=multi_gaussian",
        "surrogate=gaussian",
        "fixed time constants",
    ]
    table = (tmp_path / "comparison.md").read_text()
    assert "python benchmarks/compare_models.py --quick --datasets mnist1d" in table
    assert "| ALIF 2x16 |" in table and "### Ablations" in table and results["target"] in table
    assert json.loads((tmp_path / "comparison.json").read_text())["target"] == results["target"]
    png = (tmp_path / "comparison.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "comparison.png").unlink()
    assert compare.main(["--replot", str(tmp_path / "comparison.json")]) == results  # redrawn from the JSON alone
    assert (tmp_path / "comparison.png").read_bytes()[:8] == png[:8]


def test_shd_files_in_the_published_format_are_counted_as_spikes(compare, tmp_path):
    _write_shd(tmp_path / "shd_train.h5", _samples() * 4)
    _write_shd(tmp_path / "shd_test.h5", _samples())
    results = compare.main(
        ["--quick", "--datasets", "--shd", str(tmp_path), "--no-ablations", "--no-export"]
        + ["--output-dir", str(tmp_path / "out")]
    )
    rows = results["tables"]["SHD (100 steps)"]
    lif = rows[0]
    # spike input: every synapse of the spiking layers costs ACs, so the MACs are the neuron updates: two LIF
    # layers of 16 and a readout of 17 classes (the labels go up to 16), 2 MACs each
    assert lif["macs_per_step"] == pytest.approx(2 * 16 + 2 * 16 + 2 * 17)
    assert rows[3]["macs_per_step"] == pytest.approx(lstm_operations(700, 16).macs + (16 + 1) * 17 / 100)
    assert results["target"].startswith("target: not measured")


def test_bad_arguments_are_refused(compare, tmp_path):
    with pytest.raises(SystemExit):
        compare.main(["--epochs", "0", "--output-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        compare.main(["--datasets", "mnist2d", "--output-dir", str(tmp_path)])


def test_target_needs_an_srnn_near_the_gru_and_an_lstm_no_better_than_it(compare):
    def results(gated_accuracy, lstm_accuracy, ratio):
        rows = [
            {"model": "gated 1x128", "test_accuracy": gated_accuracy, "lstm_macs_over_macs": ratio},
            {"model": "LSTM 128", "test_accuracy": lstm_accuracy, "lstm_macs_over_macs": 1.0},
            {"model": "GRU 128", "test_accuracy": 0.976, "lstm_macs_over_macs": 1.3},
        ]
        return {"tables": {"MNIST-1D (8-sample frames)": rows}}

    assert compare.target_met(results(0.988, 0.972, 17.8)).startswith("target met: gated 1x128 98.8%")
    assert compare.target_met(results(0.960, 0.972, 17.8)) == "target not met on MNIST-1D"  # 1.6 below the GRU
    assert compare.target_met(results(0.970, 0.990, 17.8)) == "target not met on MNIST-1D"  # the LSTM is better
    assert compare.target_met(results(0.988, 0.972, 9.0)) == "target not met on MNIST-1D"  # too many MACs
