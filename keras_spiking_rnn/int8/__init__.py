"""The int8 model's arithmetic, below both quantization-aware training and the export.

* :mod:`keras_spiking_rnn.int8.arithmetic`: the building blocks of a step in the int8 model's op order
  (the synaptic products, a running mean) and the interface, ``Int8Ops``, through which a neuron's
  ``int8_step`` asks its stage (QAT or the export) to quantize, compare and fold constants.
* :mod:`keras_spiking_rnn.int8.rounding`: TFLite Micro's rounding (int8 grids, the converter's weight and
  constant quantization, ``MultiplyByQuantizedMultiplier``), for fake quantization in training.
"""

from keras_spiking_rnn.int8.arithmetic import SIGMOID_RANGE, TANH_RANGE, Int8Ops, Synapse, synaptic_current

__all__ = ["SIGMOID_RANGE", "TANH_RANGE", "Int8Ops", "Synapse", "synaptic_current"]
