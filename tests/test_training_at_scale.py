"""Mixed precision and tf.distribute: the spiking layers train with TensorFlow's own machinery."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyReadout, SpikingRNN


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_dtype_policy(request.param)
    yield request.param
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("neuron", ["alif", "lif", "gated"])
def test_mixed_precision_trains_with_surrogate_gradients(policy, neuron):
    compute = policy.split("_")[1]
    model = keras.Sequential(
        [
            keras.Input((None, 5)),
            SpikingRNN(16, neuron=neuron, return_sequences=True),
            SpikingRNN(16, neuron=neuron, return_sequences=True),
            LeakyReadout(3, output_mode="mean", dtype="float32"),  # float32 logits, as Keras recommends
        ]
    )
    assert model.layers[0].compute_dtype == compute and model.layers[0].cell.kernel.dtype == "float32"
    rng = np.random.default_rng(0)
    x = (rng.random((32, 20, 5)) < 0.3).astype("float32") * 2.0
    y = rng.integers(0, 3, 32)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in model.get_weights()]
    spikes = model.layers[0](x)
    assert spikes.dtype == compute and 0 < float(keras.ops.mean(keras.ops.cast(spikes != 0, "float32"))) < 1
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after)
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    assert all(changed), "every weight, including the first layer's, received a gradient"


def test_mirrored_strategy_on_two_devices_equals_one_device():
    """Runs tests/distributed_check.py in its own process: logical devices must be set before TF starts."""
    script = Path(__file__).with_name("distributed_check.py")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "replicas 2" in result.stdout and "max weight difference" in result.stdout
