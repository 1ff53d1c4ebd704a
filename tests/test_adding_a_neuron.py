"""docs/adding-a-neuron.md: its example neuron (examples/custom_neuron.py, included in the page) trains, is
quantized, exported and verified in TFLM, follows its NumPy reference, and runs bit-exact in the firmware."""

from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import load_script
from tests.test_firmware import require_toolchain, tflm_root

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def example():
    return load_script("examples/custom_neuron.py")


def run_synaptic_lif(x, W, R, b, tau_m, tau_syn, threshold):
    """The example neuron's equations in NumPy (its docstring)."""
    alpha, beta = np.exp(-1.0 / tau_m), np.exp(-1.0 / tau_syn)
    i = np.zeros((x.shape[0], W.shape[1]))
    u, s = np.zeros_like(i), np.zeros_like(i)
    out = {"synaptic": [], "potential": [], "spikes": []}
    for t in range(x.shape[1]):
        i = beta * i + (1 - beta) * (x[:, t] @ W + b + s @ R)
        u = alpha * u + (1 - alpha) * i - threshold * s
        s = (u > threshold).astype(float)
        for name, value in zip(out, (i, u, s)):
            out[name].append(value)
    return {k: np.stack(v, 1) for k, v in out.items()}


def test_the_page_shows_the_example_file():
    page = (ROOT / "docs" / "adding-a-neuron.md").read_text()
    assert '--8<-- "examples/custom_neuron.py"' in page


def test_the_example_neuron_follows_its_numpy_reference(example):
    cell = example.SynapticLIFCell(5, threshold=0.05, dtype="float64")
    cell.build((None, 3))
    rng = np.random.default_rng(0)
    for weight in (cell.kernel, cell.recurrent_kernel, cell.bias):
        weight.assign(rng.normal(0, 1.0, weight.shape))
    x = rng.normal(0.5, 1.0, (2, 15, 3))
    outputs, *states = keras.layers.RNN(cell, return_sequences=True, return_state=True, dtype="float64")(x)
    w = {v.name: np.asarray(v.numpy()) for v in cell.weights}
    expected = run_synaptic_lif(x, w["kernel"], w["recurrent_kernel"], w["bias"], w["tau_m"], w["tau_syn"], 0.05)
    np.testing.assert_allclose(np.asarray(outputs), expected["spikes"], atol=1e-12)
    for name, state in zip(cell.state_names, states):
        np.testing.assert_allclose(np.asarray(state), expected[name][:, -1], rtol=1e-9, atol=1e-12)
    assert 0 < expected["spikes"].sum() < expected["spikes"].size


def test_the_example_trains_quantizes_exports_and_runs_bit_exact_in_firmware(example, tmp_path):
    out = tmp_path / "synaptic_lif"
    summary = example.main(["--epochs", "1", "--train", "512", "--units", "16", "--out", str(out)])
    assert summary["agreement"] >= 0.98  # measured: 1.0
    assert (out / "model.tflite").exists() and (out / "test_vectors.h").exists()
    require_toolchain("host")
    from keras_spiking_rnn.export.firmware import build_and_run

    result = build_and_run(out, target="host", tflm_root=tflm_root())
    assert result.steps > 0 and result.mismatched == 0, str(result)
