"""Quantization-aware training (QAT) of spiking models for the int8 TFLite Micro export.

>>> from keras_spiking_rnn.quantization import quantize_model
>>> qat_model = quantize_model(model)            # the same layers, fake-quantized as the int8 model computes
>>> qat_model.compile(...); qat_model.fit(...)   # fine-tune
>>> export_tflite_micro(qat_model, ...)          # the int8 model takes the ranges learned in training

Every neuron with an int8 form gets a quantization-aware twin (``quantization_aware``); the twins of the
built-in neurons keep their names (``QuantizedLIFCell``, ...).

tf-keras (Keras 2) users quantize with tensorflow-model-optimization instead: see
``keras_spiking_rnn.quantization.tfmot`` (under ``TF_USE_LEGACY_KERAS=1``).
"""

from keras_spiking_rnn.cells import ALIFCell, GatedSpikingCell, LeakyIntegratorCell, LIFCell
from keras_spiking_rnn.quantization.cells import QuantizationAwareCell, TrainingOps, quantization_aware
from keras_spiking_rnn.quantization.layers import (
    QuantizedDense,
    QuantizedLeakyReadout,
    QuantizedSpikeCountReadout,
    QuantizedSpikingRNN,
)
from keras_spiking_rnn.quantization.model import calibrate, is_quantized, quantize_model

# The built-in neurons' twins, under the names saved models know them by.
QuantizedLIFCell = quantization_aware(LIFCell)
QuantizedALIFCell = quantization_aware(ALIFCell)
QuantizedGatedSpikingCell = quantization_aware(GatedSpikingCell)
QuantizedLeakyIntegratorCell = quantization_aware(LeakyIntegratorCell)

__all__ = [
    "QuantizationAwareCell",
    "QuantizedDense",
    "QuantizedLeakyReadout",
    "QuantizedSpikeCountReadout",
    "QuantizedSpikingRNN",
    "TrainingOps",
    "calibrate",
    "is_quantized",
    "quantization_aware",
    "quantize_model",
]
