"""Quantization-aware training (QAT) of spiking models for the int8 TFLite Micro export.

>>> from keras_spiking_rnn.quantization import quantize_model
>>> qat_model = quantize_model(model)            # the same layers, fake-quantized as the int8 model computes
>>> qat_model.compile(...); qat_model.fit(...)   # fine-tune
>>> export_tflite_micro(qat_model, ...)          # the int8 model takes the ranges learned in training

tf-keras (Keras 2) users quantize with tensorflow-model-optimization instead: see
``keras_spiking_rnn.quantization.tfmot`` (under ``TF_USE_LEGACY_KERAS=1``).
"""

from keras_spiking_rnn.quantization.layers import (
    QuantizedALIFCell,
    QuantizedDense,
    QuantizedGatedSpikingCell,
    QuantizedLeakyIntegratorCell,
    QuantizedLeakyReadout,
    QuantizedLIFCell,
    QuantizedSpikeCountReadout,
    QuantizedSpikingRNN,
)
from keras_spiking_rnn.quantization.model import calibrate, is_quantized, quantize_model

__all__ = [
    "QuantizedALIFCell",
    "QuantizedDense",
    "QuantizedGatedSpikingCell",
    "QuantizedLIFCell",
    "QuantizedLeakyIntegratorCell",
    "QuantizedLeakyReadout",
    "QuantizedSpikeCountReadout",
    "QuantizedSpikingRNN",
    "calibrate",
    "is_quantized",
    "quantize_model",
]
