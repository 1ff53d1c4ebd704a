"""keras-spiking-rnn: spiking recurrent neural networks for Keras 3, from training to microcontrollers."""

from keras_spiking_rnn import surrogates
from keras_spiking_rnn.cells import (
    ALIFCell,
    GatedSpikingCell,
    LeakyIntegratorCell,
    LIFCell,
    available_neurons,
    register_neuron,
)
from keras_spiking_rnn.layers import LeakyReadout, SpikeCountReadout, SpikingRNN
from keras_spiking_rnn.regularizers import FiringRateRegularizer

__version__ = "0.1.0"

__all__ = [
    "ALIFCell",
    "FiringRateRegularizer",
    "GatedSpikingCell",
    "LIFCell",
    "LeakyIntegratorCell",
    "LeakyReadout",
    "SpikeCountReadout",
    "SpikingRNN",
    "available_neurons",
    "register_neuron",
    "surrogates",
    "__version__",
]
