"""benchmarks/accuracy_panel.py in its quick setting, and the UCR loader it reads (keras_spiking_rnn.data.load_ucr)."""

import json
import shlex

import numpy as np
import pytest

from keras_spiking_rnn.cells.neuron import available_neurons
from keras_spiking_rnn.data import PAD_VALUE, load_ucr
from tests.conftest import load_script


def test_quick_run_has_a_row_per_model_and_replots_the_same_table(tmp_path):
    panel = load_script("benchmarks/accuracy_panel.py")
    results = panel.main(["--quick", "--output-dir", str(tmp_path)])
    assert shlex.split(results["command"])[2:] == ["--quick", "--output-dir", str(tmp_path)]  # reruns as printed
    models = [*available_neurons(spiking=True), "gru", "lstm"]
    assert [(r["dataset"], r["model"], r["seed"]) for r in results["runs"]] == [
        ("ItalyPowerDemand", model, 0) for model in models
    ]
    for run in results["runs"]:
        assert 0.0 <= run["test_accuracy"] <= 1.0 and 0.0 <= run["train_accuracy"] <= 1.0
        assert run["parameters"] > 0 and run["macs_per_step"] > 0 and run["train_seconds"] > 0
    rows = results["summary"]["ItalyPowerDemand"]["models"]
    assert list(rows) == models
    assert rows["gru"]["test_sd"] == 0.0 and rows["gru"]["acs_per_step"] == 0.0  # one seed; a GRU only multiplies
    best = results["summary"]["ItalyPowerDemand"]["best_spiking"]
    gap = results["summary"]["ItalyPowerDemand"]["gru_gap_points"]
    assert gap == pytest.approx(100 * (rows[best]["test_mean"] - rows["gru"]["test_mean"]))

    table = (tmp_path / "panel.md").read_text()
    assert "| dataset | " + " | ".join(models) + " | GRU gap (points) |" in table
    assert table.count("| ItalyPowerDemand |") == 1 + len(models)  # the accuracy row and one cost row per model
    assert (tmp_path / "panel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    recorded = json.loads((tmp_path / "panel.json").read_text())
    assert recorded["runs"] == results["runs"]

    (tmp_path / "panel.md").unlink()
    panel.main(["--replot", str(tmp_path / "panel.json")])
    assert (tmp_path / "panel.md").read_text() == table
    # resuming a finished panel trains nothing and keeps every run
    assert panel.main(["--quick", "--resume", "--output-dir", str(tmp_path)])["runs"] == results["runs"]


def test_load_ucr_shapes_labels_normalization_and_padding():
    (x, y), (x_test, y_test) = load_ucr("GunPoint")
    assert x.shape == (50, 150, 1) and x_test.shape == (150, 150, 1)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert set(y.tolist()) == set(y_test.tolist()) == {0, 1}
    np.testing.assert_allclose(x.mean(axis=(0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=(0, 1)), 1.0, atol=1e-4)
    (raw, _), _ = load_ucr("GunPoint", normalize=False)
    np.testing.assert_allclose(x, (raw - raw.mean()) / raw.std(), atol=1e-4)

    (x, y), (x_test, _) = load_ucr("PickupGestureWiimoteZ")  # 29 to 361 steps per gesture
    assert x.shape[1] == x_test.shape[1] == 361 and not np.isnan(x).any() and not np.isnan(x_test).any()
    padded = x[..., 0] == PAD_VALUE
    lengths = (~padded).sum(axis=1)
    assert lengths.min() < 361 and set(y.tolist()) == set(range(10))
    for sequence, length in zip(padded, lengths):  # the padding is one block at the end
        assert not sequence[:length].any() and sequence[length:].all()
    real = x[~padded]
    assert abs(real.mean()) < 1e-4 and abs(real.std() - 1.0) < 1e-4  # the padding does not enter the statistics


def test_load_ucr_refuses_an_unknown_name():
    with pytest.raises(ValueError, match=r"`name`.*GunPoint.*'MNIST'"):
        load_ucr("MNIST")


def test_cell_args_reach_every_spiking_layer_and_are_recorded_as_budget(tmp_path):
    panel = load_script("benchmarks/accuracy_panel.py")
    model = panel.build("alif", 1, 2, 4, 2, False, {"adaptation": 1.8, "threshold": 0.05})
    cells = [layer.cell for layer in model.layers if hasattr(layer, "cell") and hasattr(layer.cell, "adaptation")]
    assert len(cells) == 2 and all((c.adaptation, c.threshold) == (1.8, 0.05) for c in cells)
    assert panel.parse_args(["--neurons", "alif", "--cell-args", '{"adaptation": 0}']).cell_args == {"adaptation": 0}
    assert "cell_args" in panel.BUDGET  # --resume refuses to mix runs trained with other cell arguments
    for bad in ("[1, 2]", "adaptation=1.8"):
        with pytest.raises(SystemExit):
            panel.parse_args(["--cell-args", bad])


def test_cell_args_a_neuron_does_not_take_are_refused_before_training(capsys):
    panel = load_script("benchmarks/accuracy_panel.py")
    with pytest.raises(SystemExit):
        panel.parse_args(["--neurons", "alif,lif", "--cell-args", '{"adaptation": 1.8}'])
    message = capsys.readouterr().err
    assert "--cell-args" in message and "'lif'" in message and "adaptation" in message
    with pytest.raises(SystemExit):
        panel.parse_args(["--neurons", "alif", "--cell-args", '{"adaptation": -1}'])
    assert "'alif'" in capsys.readouterr().err
