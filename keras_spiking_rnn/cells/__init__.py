"""Keras RNN cells of spiking neurons; each steps one timestep and plugs into ``keras.layers.RNN``."""

from keras_spiking_rnn.cells.alif import ALIFCell
from keras_spiking_rnn.cells.base import LeakyCell, MinValue, SpikingCell
from keras_spiking_rnn.cells.gated import GatedSpikingCell, multi_level_spikes
from keras_spiking_rnn.cells.lif import LIFCell
from keras_spiking_rnn.cells.readout import LeakyIntegratorCell

__all__ = [
    "ALIFCell",
    "GatedSpikingCell",
    "LIFCell",
    "LeakyCell",
    "LeakyIntegratorCell",
    "MinValue",
    "SpikingCell",
    "multi_level_spikes",
]
