"""Bad input gets a clear error that names the argument and the expected form."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn import ALIFCell, LIFCell, SpikingRNN


@pytest.mark.parametrize("units", [0, -3, 2.5, None, True])
def test_non_positive_units(units):
    with pytest.raises(ValueError, match="units"):
        SpikingRNN(units, neuron="alif")


def test_unknown_neuron_and_surrogate():
    with pytest.raises(ValueError, match=r"`neuron` must be one of \[.*'lif'.*\] \(register new ones"):
        SpikingRNN(4, neuron="izhikevich")
    with pytest.raises(ValueError, match="Unknown surrogate 'sigmoid'"):
        SpikingRNN(4, neuron="lif", surrogate="sigmoid")


def test_argument_the_cell_does_not_take():
    with pytest.raises(TypeError, match="neuron=.lif.*LIFCell does not take.*adaptation"):
        SpikingRNN(4, neuron="lif", adaptation=1.0)
    with pytest.raises(TypeError, match="cannot be combined with a cell object"):
        SpikingRNN(neuron=LIFCell(4), threshold=0.5)
    with pytest.raises(ValueError, match="differs from the cell's units"):
        SpikingRNN(5, neuron=LIFCell(4))


@pytest.mark.parametrize("shape", [(2, 5), (2, 5, 3, 1)])
def test_wrong_input_rank(shape):
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, timesteps, features\)"):
        SpikingRNN(4)(np.zeros(shape, "float32"))


def test_integer_inputs():
    with pytest.raises(TypeError, match="needs floating-point inputs, got dtype int32"):
        SpikingRNN(4, neuron="alif")(np.zeros((2, 5, 3), "int32"))


def test_nan_inputs():
    x = np.zeros((2, 5, 3), "float32")
    x[1, 2, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="received NaN or Inf in its inputs"):
        SpikingRNN(4, neuron="alif")(x)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tau_m_initializer": keras.initializers.Constant(-5.0)}, "tau_m_initializer"),
        ({"tau_adp_initializer": keras.initializers.Constant(0.0)}, "tau_adp_initializer"),
        ({"min_tau": 0.0}, "min_tau"),
        ({"threshold": 0.0}, "threshold"),
        ({"adaptation": -1.0}, "adaptation"),
        ({"dt": float("nan")}, "dt"),
        ({"initial_potential": "random"}, "initial_potential"),
    ],
)
def test_bad_neuron_constants(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cell = ALIFCell(4, **kwargs)
        cell.build((None, 3))


def test_bad_reset():
    with pytest.raises(ValueError, match="`reset` must be one of"):
        LIFCell(4, reset="hard")
