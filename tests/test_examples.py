"""The examples run end to end in a short setting."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn import surrogates
from tests.conftest import load_script

PNG = b"\x89PNG\r\n\x1a\n"


def load(name):
    return load_script(f"examples/{name}.py")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """train_mnist1d's short run (1 x 16 ALIF, one epoch, with figures and export): (directory, results, module).

    The export and QAT tests reuse its model.
    """
    directory = tmp_path_factory.mktemp("mnist1d")
    example = load("train_mnist1d")
    results = example.main(["--epochs", "1", "--units", "16", "--layers", "1", "--output-dir", str(directory)])
    return directory, results, example


def test_train_mnist1d_short_run(trained):
    directory, results, example = trained
    assert (directory / "model.keras").exists()
    assert json.loads((directory / "results.json").read_text()) == results
    assert results["epochs"] == 1 and results["parameters"] == example.build_model("alif", 16, 1, 8).count_params()
    assert 0.0 < results["firing_rates"]["alif_1"] < 1.0
    # ALIF 1 x 16 on 8 real inputs: 8 x 16 input MACs, 4 x 16 update MACs, 2 x 10 readout MACs per step
    assert results["operations_per_step"]["macs"] == 8 * 16 + 4 * 16 + 2 * 10
    figures = sorted(p.name for p in (directory / "figures").iterdir())
    assert figures == [
        "accuracy_over_time.png",
        "firing_rates_alif_1.png",
        "raster.png",
        "tau_m.png",
        "traces.png",
    ]
    assert all((directory / "figures" / name).read_bytes()[:8] == PNG for name in figures)
    # the run ends with the int8 export, verified in the TFLM interpreter on the 1000 test sequences
    report = json.loads((directory / "tflm" / "report.json").read_text())
    assert report["verification"]["sequences"] == 1000
    assert report["verification"]["float_accuracy"] == results["tflm"]["float_accuracy"]
    assert abs(results["tflm"]["float_accuracy"] - results["test_accuracy"]) < 1e-6


def multi_gaussian_yin(v, sigma=0.5, h=0.15, s=6.0):
    """Eq. 1 of Yin, Corradi & Bohte (2021) with the paper's constants, in NumPy."""

    def normal(x, mean, std):
        return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))

    return (1.0 + h) * normal(v, 0.0, sigma) - h * normal(v, sigma, s * sigma) - h * normal(v, -sigma, s * sigma)


def test_plot_surrogates_draws_the_autodiff_gradients(tmp_path):
    pytest.importorskip("matplotlib")
    example = load("plot_surrogates")
    output = tmp_path / "figures" / "surrogates.png"
    gradients = example.main(["--output", str(output)])
    assert output.read_bytes()[:8] == PNG
    assert sorted(gradients) == surrogates.available()
    v = example.potentials(2.0)
    assert v.shape == (example.POINTS,) and v.min() == -2.0 and v.max() == 2.0 and 0.0 in v
    for name, gradient in gradients.items():
        expected = surrogates.get(name).spike_gradient(tf.constant(v, tf.float64)).numpy()
        np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(gradients["multi_gaussian"], multi_gaussian_yin(v), rtol=1e-5, atol=1e-12)
    assert gradients["multi_gaussian"][v == 0.0] == pytest.approx(0.878, abs=5e-4)  # the documented peak
    assert gradients["multi_gaussian"][0] < 0.0  # the negative side lobes


def test_export_mnist1d_exports_a_saved_model(trained, tmp_path):
    directory, results, _ = trained
    out = tmp_path / "tflm"
    exported = load("export_mnist1d").main([str(directory / "model.keras"), "--out", str(out)])
    assert (out / "model.tflite").read_bytes()[4:8] == b"TFL3"  # the TFLite flatbuffer identifier
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["sequences"] == 1000
    assert report["verification"]["float_accuracy"] == exported.verification.float_accuracy
    assert 0.0 <= report["verification"]["int8_accuracy"] <= 1.0
    # the window came from results.json beside the model, so Keras scores the test set as in training
    assert abs(exported.verification.float_accuracy - results["test_accuracy"]) < 1e-6


def test_qat_mnist1d_without_fine_tuning(trained, tmp_path):
    # --epochs 0: quantize, calibrate, export and verify, without the fine-tuning (one epoch adds ~30 s of tracing)
    directory, results, _ = trained
    out = tmp_path / "qat"
    summary = load("qat_mnist1d").main([str(directory / "model.keras"), "--epochs", "0", "--out", str(out)])
    assert json.loads((out / "qat_results.json").read_text()) == summary
    assert (out / "model.tflite").read_bytes()[4:8] == b"TFL3"
    assert summary["float_accuracy"] == pytest.approx(results["test_accuracy"], abs=1e-6)
    # not fine-tuned: the exported QAT model is the one evaluated before fit
    assert summary["qat_accuracy"] == pytest.approx(summary["qat_accuracy_before_fit"], abs=1e-6)
    assert 0.0 <= summary["int8_accuracy"] <= 1.0
    assert summary["qat_tflm_agreement"] >= 0.95  # the fake-quantized model predicts what TFLM's int8 model does
