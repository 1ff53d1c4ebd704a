"""Export of trained spiking models to int8 TensorFlow Lite Micro, verified in the TFLM interpreter.

>>> from keras_spiking_rnn.export import export_tflite_micro
>>> result = export_tflite_micro(model, x_train[:256], "build/mnist1d", validation_data=(x_test, y_test))
"""

from keras_spiking_rnn.export.api import ExportResult, ExportVerificationError, Verification, export_tflite_micro
from keras_spiking_rnn.export.flatbuffer import UnsupportedOpError, read_model
from keras_spiking_rnn.export.streaming import StreamingModel, UnsupportedLayerError
from keras_spiking_rnn.export.tflm import TFLMModel, smallest_arena

__all__ = [
    "ExportResult",
    "ExportVerificationError",
    "StreamingModel",
    "TFLMModel",
    "UnsupportedLayerError",
    "UnsupportedOpError",
    "Verification",
    "export_tflite_micro",
    "read_model",
    "smallest_arena",
]
