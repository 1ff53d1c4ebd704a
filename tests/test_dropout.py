"""``dropout`` and ``recurrent_dropout`` on the spiking cells, as Keras's RNN cells have them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn import LIFCell, SpikingRNN


def _input_gradients(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=True) * np.linspace(1, 2, 8, dtype="float32"))
    return tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("bptt", ["fused", "autodiff"])
@pytest.mark.parametrize("neuron", ["lif", "alif", "gated"])
def test_input_dropout_drops_whole_features_of_a_sequence_at_every_step(neuron, bptt):
    """The gradient reaches a dropped feature at no step and a kept feature at every step, sequence by sequence."""
    keras.utils.set_random_seed(1)
    kwargs = {} if neuron == "gated" else {"threshold": 0.05, "tau_m_initializer": keras.initializers.Constant(4.0)}
    layer = SpikingRNN(8, neuron=neuron, dropout=0.5, seed=3, return_sequences=True, bptt=bptt, **kwargs)
    x = np.random.default_rng(0).uniform(0.5, 1.5, (16, 12, 6)).astype("float32")
    reached = np.abs(_input_gradients(layer, x)) > 0  # (batch, time, features)
    per_feature = reached.any(axis=1)  # a feature kept for that sequence
    assert np.array_equal(reached[:, :-1], np.repeat(per_feature[:, None], 11, axis=1))  # the last step may be cut
    assert 0.3 < 1 - per_feature.mean() < 0.7  # about half of the (sequence, feature) pairs dropped
    assert not np.array_equal(per_feature[0], per_feature[1])  # each sequence has its own mask
    # Outside training, nothing is dropped, and the outputs do not change from call to call.
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    assert not np.array_equal(layer(x).numpy(), layer(x, training=True).numpy())


def test_recurrent_dropout_trains_with_keras_loop_and_masks_the_fed_back_spikes():
    keras.utils.set_random_seed(2)
    tau = keras.initializers.Constant(4.0)
    layer = SpikingRNN(8, neuron="lif", recurrent_dropout=0.99, threshold=0.05, tau_m_initializer=tau, seed=0)
    without = SpikingRNN(8, neuron="lif", recurrent=False, threshold=0.05, tau_m_initializer=tau)
    x = np.random.default_rng(1).normal(0, 1, (4, 20, 3)).astype("float32")
    trained = layer(x, training=True).numpy()
    assert "_runners" not in layer.__dict__  # Keras's loop ran: the fused adjoint has no mask
    without(x)
    without.cell.kernel.assign(layer.cell.kernel)
    # With 99% of the fed-back spikes dropped (and the rest scaled by 100), training differs from inference ...
    assert not np.array_equal(trained, layer(x).numpy())
    # ... and a recurrent kernel of zeros makes the mask irrelevant: training equals the feed-forward layer.
    layer.cell.recurrent_kernel.assign(np.zeros((8, 8), "float32"))
    np.testing.assert_array_equal(layer(x, training=True).numpy(), without(x).numpy())


def test_cells_in_keras_rnn_use_dropout_and_configs_round_trip():
    cell = LIFCell(8, dropout=0.25, recurrent_dropout=0.5, seed=7)
    restored = LIFCell.from_config(cell.get_config())
    assert (restored.dropout, restored.recurrent_dropout, restored.seed) == (0.25, 0.5, 7)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.ones((4, 6, 3), "float32")
    assert not np.array_equal(layer(x, training=True).numpy(), layer(x).numpy())
    assert "seed_generator" not in LIFCell(4).__dict__  # no dropout, no generator state in the weights


@pytest.mark.parametrize(
    "argument, value", [("dropout", 1.0), ("dropout", -0.1), ("recurrent_dropout", "0.5"), ("dropout", True)]
)
def test_dropout_rates_are_checked(argument, value):
    with pytest.raises(ValueError, match=rf"LIFCell: `{argument}` must be a number in \[0, 1\), got {value!r}"):
        SpikingRNN(4, neuron="lif", **{argument: value})
