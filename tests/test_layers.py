"""SpikingRNN as a Keras RNN: streaming, masking, direction, bidirectional, options."""

import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyReadout, SpikingRNN

NEURONS = ["lif", "alif", "gated"]


def sequences(shape, seed=0):
    return np.random.default_rng(seed).normal(0, 1.0, shape).astype("float32")


@pytest.mark.parametrize("neuron", NEURONS)
def test_stateful_streaming_in_chunks_equals_whole_sequence(neuron):
    x = sequences((3, 30, 4))
    whole = SpikingRNN(16, neuron=neuron, return_sequences=True)
    expected = keras.ops.convert_to_numpy(whole(x))
    stream = SpikingRNN(16, neuron=neuron, return_sequences=True, stateful=True)
    stream.build((3, None, 4))
    stream.set_weights(whole.get_weights())
    chunks = [keras.ops.convert_to_numpy(stream(x[:, i : i + 7])) for i in range(0, 30, 7)]
    np.testing.assert_array_equal(np.concatenate(chunks, 1), expected)
    assert 0 < expected.mean()  # something happened
    stream.reset_state()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(stream(x[:, :7])), expected[:, :7])


def test_streaming_model_with_readout_in_chunks():
    x = sequences((2, 24, 3), seed=1)
    layers = lambda stateful: [  # noqa: E731
        keras.Input(batch_shape=(2, None, 3)),
        SpikingRNN(8, neuron="alif", return_sequences=True, stateful=stateful),
        LeakyReadout(4, output_mode="sequence", stateful=stateful),
    ]
    whole, stream = keras.Sequential(layers(False)), keras.Sequential(layers(True))
    stream.set_weights(whole.get_weights())
    got = np.concatenate([stream(x[:, i : i + 6]) for i in range(0, 24, 6)], 1)
    np.testing.assert_allclose(got, whole(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("neuron", NEURONS)
def test_masking_ignores_padded_steps(neuron):
    x = sequences((2, 20, 4), seed=2)
    padded = x.copy()
    padded[0, 12:] = 0.0
    model = keras.Sequential([keras.Input((20, 4)), keras.layers.Masking(0.0), SpikingRNN(8, neuron=neuron)])
    short = keras.Sequential([keras.Input((12, 4)), SpikingRNN(8, neuron=neuron)])
    short.set_weights(model.get_weights())
    np.testing.assert_array_equal(model(padded)[0], short(x[:1, :12])[0])
    np.testing.assert_array_equal(model(padded)[1], model(x)[1])  # the unpadded row is unaffected


def test_go_backwards_equals_reversed_input():
    x = sequences((2, 15, 3), seed=3)
    forward = SpikingRNN(8, neuron="alif")
    backward = SpikingRNN(8, neuron="alif", go_backwards=True)
    forward(x)
    backward.build(x.shape)
    backward.set_weights(forward.get_weights())
    np.testing.assert_array_equal(backward(x), forward(x[:, ::-1]))


@pytest.mark.parametrize("neuron", NEURONS)
def test_bidirectional(neuron):
    layer = keras.layers.Bidirectional(SpikingRNN(6, neuron=neuron, return_sequences=True))
    out = layer(sequences((2, 10, 3)))
    assert tuple(out.shape) == (2, 10, 12)
    assert layer.backward_layer.go_backwards and isinstance(layer.backward_layer, SpikingRNN)


def test_return_state_and_cell_object():
    from keras_spiking_rnn import ALIFCell

    layer = SpikingRNN(neuron=ALIFCell(5), return_state=True)
    out, potential, eta, spikes = layer(sequences((2, 9, 3)))
    assert tuple(out.shape) == tuple(potential.shape) == (2, 5) and layer.units == 5
    np.testing.assert_array_equal(out, spikes)


def test_cell_arguments_pass_through():
    layer = SpikingRNN(4, neuron="lif", reset="subtract", threshold=0.2, surrogate="slayer", recurrent=False)
    assert layer.cell.reset == "subtract" and layer.cell.threshold == 0.2
    assert type(layer.cell.surrogate).__name__ == "SLayer"
    layer(sequences((1, 3, 2)))
    assert layer.cell.recurrent_kernel is None
    assert {w.name for w in layer.weights} == {"kernel", "bias", "tau_m"}
