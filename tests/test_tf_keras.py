"""The tf-keras (Keras 2) + tensorflow-model-optimization path.

This process stays Keras 3; the tf-keras checks run in a child process with
``TF_USE_LEGACY_KERAS=1`` (``tests/legacy_keras_check.py``), which prints its
measurements as JSON on its last line, checked here.
"""

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_spiking_rnn._keras import LEGACY

# Only looked up, never imported here: importing tensorflow_model_optimization sets TF_USE_LEGACY_KERAS=1 in
# os.environ (its compat module does), which every later subprocess of this test run would inherit.
_MISSING = [
    name
    for name in ("tensorflow_model_optimization", "tf_keras", "mnist1d", "tflite_micro")
    if importlib.util.find_spec(name) is None
]
needs_tfmot = pytest.mark.skipif(bool(_MISSING), reason=f"needs {_MISSING} (pip install keras-spiking-rnn[dev])")

SCRIPT = Path(__file__).with_name("legacy_keras_check.py")


@pytest.fixture(scope="module")
def legacy_report(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("tf_keras")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(output_dir)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@needs_tfmot
def test_child_process_runs_tf_keras_and_this_one_keras_3(legacy_report):
    assert legacy_report["legacy"] is True and legacy_report["keras_module"] == "tf_keras"
    assert legacy_report["tf_keras_is_legacy"] is True
    assert not LEGACY and os.environ.get("TF_USE_LEGACY_KERAS", "0") != "1"
    import keras

    assert keras.__version__.startswith("3.")


@pytest.mark.slow
@needs_tfmot
def test_every_layer_fits_saves_and_reloads_under_tf_keras(legacy_report):
    models = legacy_report["layers_round_trip"]
    assert set(models) == {"lif", "alif", "gated", "rnn_alif_count"}
    for name, entry in models.items():
        assert 0.0 < entry["loss"] < 100.0, name
        for suffix in (".keras", ".h5"):
            assert entry[suffix]["same_types"], (name, suffix)
            assert entry[suffix]["max_difference"] == 0.0, (name, suffix, entry[suffix])


@pytest.mark.slow
@needs_tfmot
def test_qat_on_mnist1d_trains_fake_quantizes_and_reloads(legacy_report):
    r = legacy_report
    assert r["qat_layers"] == ["QuantizeLayer", "QuantizeWrapperV2", "QuantizeWrapperV2"]
    assert 0.0 < r["loss"] < 2.5  # finite, below chance's ln(10) = 2.30 plus slack for one epoch
    assert r["qat_test_accuracy"] > 0.12  # chance is 0.1
    # The QAT model reloads (h5, inside quantize_scope) and predicts exactly the same.
    assert r["reload_layers"] == r["qat_layers"] and r["reload_max_difference"] == 0.0
    # The stripped kernels lie on the int8 grid of their quantizer: <= 255 values, multiples of max / 127.
    for name in ("kernel", "recurrent_kernel"):
        grid = r["grids"][name]
        assert grid["distinct"] <= 255 and grid["off_grid"] < 1e-3, (name, grid)
    assert r["grids"]["recurrent_kernel"]["size"] == 24 * 24  # large enough for the 255 bound to mean something
    assert r["readout_kernel_distinct"] <= 255
    assert r["stripped_layers"] == ["SpikingRNN", "LeakyReadout"]
    assert r["stripped_vs_qat_top1"] >= 0.8


@pytest.mark.slow
@needs_tfmot
def test_stripped_qat_model_exports_to_tflm_and_agrees(legacy_report):
    r = legacy_report
    assert r["agreement"] >= 0.8, r
    assert r["int8_accuracy"] is not None and r["float_accuracy"] is not None
    assert abs(r["int8_accuracy"] - r["float_accuracy"]) <= 0.1
    assert "FULLY_CONNECTED" in r["ops"] and "model.tflite" in r["files"] and "report.json" in r["files"]


@pytest.mark.slow
@needs_tfmot
def test_gated_and_spike_count_configs_and_error_messages(legacy_report):
    other = legacy_report["other_configs"]
    assert 0.0 < other["loss"] < 100.0
    # QuantizeLayer, gated (output quantizer), LIF (spikes: none), Dropout, SpikeCountReadout (output).
    assert other["output_quantizers"] == [0, 1, 0, 0, 1]
    assert other["stripped_layers"] == ["SpikingRNN", "SpikingRNN", "Dropout", "SpikeCountReadout"]
    errors = legacy_report["errors"]
    assert errors["not_a_model"].startswith("TypeError") and "tf-keras" in errors["not_a_model"]
    assert errors["bidirectional"].startswith("ValueError") and "'bidirectional'" in errors["bidirectional"]
    assert errors["strip_plain"].startswith("ValueError") and "QuantizeWrapper" in errors["strip_plain"]


@pytest.mark.skipif(LEGACY, reason="checks the Keras 3 process")
def test_tfmot_module_refuses_keras_3_with_a_clear_message():
    with pytest.raises(ImportError, match="TF_USE_LEGACY_KERAS=1") as caught:
        importlib.import_module("keras_spiking_rnn.quantization.tfmot")
    assert "pip install tensorflow-model-optimization tf-keras" in str(caught.value)
    assert os.environ.get("TF_USE_LEGACY_KERAS", "0") != "1"  # refused before tfmot (which sets it) was imported
