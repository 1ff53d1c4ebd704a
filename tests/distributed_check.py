"""One training step of a spiking RNN under tf.distribute.MirroredStrategy on two logical CPUs, against the
same step on one device. Run by tests/test_training_at_scale.py in a fresh process."""

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_spiking_rnn import LeakyReadout, SpikingRNN  # noqa: E402


def build():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((None, 6)),
            SpikingRNN(16, neuron="alif", return_sequences=True, threshold=0.05),
            SpikingRNN(16, neuron="lif", return_sequences=True, threshold=0.05),
            LeakyReadout(4, output_mode="mean"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


rng = np.random.default_rng(0)
x = ((rng.random((16, 30, 6)) < 0.4) * 2.0).astype("float32")
y = rng.integers(0, 4, 16)

single = build()
start = [w.copy() for w in single.get_weights()]
single.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = build()
mirrored.set_weights(start)
history = mirrored.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
print("replicas", strategy.num_replicas_in_sync)
assert strategy.num_replicas_in_sync == 2
assert np.isfinite(history.history["loss"]).all()
moved = max(np.abs(a - b).max() for a, b in zip(mirrored.get_weights(), start))
difference = max(np.abs(a - b).max() for a, b in zip(mirrored.get_weights(), single.get_weights()))
print(f"max weight change {moved:.3g}, max weight difference {difference:.3g}")
assert moved > 1e-3, "the step changed the weights"
assert difference < 1e-4 * max(moved, 1.0), "two replicas, each half the batch, take the one-device step"
