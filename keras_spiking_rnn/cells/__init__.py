"""Neuron models, one module each, as Keras RNN cells; each steps one timestep and plugs into ``keras.layers.RNN``.

``neuron.py`` holds the protocol the library's stages ask a neuron through and the registry
(``register_neuron``); ``base.py`` what the spiking cells share; then one module per neuron.
"""

from keras_spiking_rnn.cells.adlif import AdLIFCell, SEAdLIFCell
from keras_spiking_rnn.cells.alif import ALIFCell
from keras_spiking_rnn.cells.base import LeakyCell, MinValue, SpikingCell, ValueRange, add_time_constant
from keras_spiking_rnn.cells.gated import GatedSpikingCell, multi_level_spikes
from keras_spiking_rnn.cells.lif import LIFCell
from keras_spiking_rnn.cells.neuron import Neuron, available_neurons, get_neuron, register_neuron
from keras_spiking_rnn.cells.readout import LeakyIntegratorCell

__all__ = [
    "ALIFCell",
    "AdLIFCell",
    "GatedSpikingCell",
    "LIFCell",
    "LeakyCell",
    "LeakyIntegratorCell",
    "MinValue",
    "Neuron",
    "SEAdLIFCell",
    "SpikingCell",
    "ValueRange",
    "add_time_constant",
    "available_neurons",
    "get_neuron",
    "multi_level_spikes",
    "register_neuron",
]
