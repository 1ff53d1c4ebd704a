"""Converting a StreamingModel to a fully int8 TFLite flatbuffer."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import tensorflow as tf
from tensorflow.lite.tools import flatbuffer_utils

from keras_spiking_rnn.export.capture import captured_output
from keras_spiking_rnn.export.flatbuffer import ModelInfo, read_model
from keras_spiking_rnn.export.streaming import StreamingModel

# The converter flag that quantizes resource variables is private (TF 2.21); tests/test_export.py checks it.
_VARIABLE_QUANTIZATION = "_experimental_variable_quantization"


def representative_frames(sequences: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Yields the calibration frames in time order, one sequence after the other, as the converter expects.

    The converter's calibrator keeps the variables between frames (it cannot reset them), so a sequence
    starts from the previous one's final state. The states' own ranges are measured separately, from
    rest, and pinned in the graph (see ``StreamingModel.measure_state_ranges``).
    """
    for sequence in sequences:
        for frame in sequence:
            yield [np.asarray(frame, np.float32)[None]]


def _quantize_with_ranges(
    calibrated: bytes, ranges: dict[str, tuple[float, float]], required: list[tuple[str, ...]], per_channel: bool
) -> bytes:
    """Quantizes a calibrated float model with the QAT ranges in place of the calibrated ones."""
    from tensorflow.lite.python import convert as lite_convert

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    found = set()
    for tensor in model.subgraphs[0].tensors:
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
        if tensor.quantization is None:
            continue
        # An op the converter fused with the next (ADD + RELU) names its tensor "add;Relu": the last
        # recorded component's range (the fused op's output) applies.
        parts = name.split(";")
        matches = [recorded for recorded in ranges if recorded == name or recorded in parts]
        if matches:
            low, high = ranges[name] if name in ranges else ranges[matches[-1]]
            tensor.quantization.min = np.array([low], np.float32)
            tensor.quantization.max = np.array([high], np.float32)
            found.update(matches)
    missing = [names[0] for names in required if not found.intersection(names)]
    if missing:
        raise RuntimeError(f"The converted model has no tensors {missing} to take the quantization-aware ranges.")
    return lite_convert.mlir_quantize(
        bytes(flatbuffer_utils.convert_object_to_bytearray(model)),
        disable_per_channel=False,
        input_data_type=tf.int8,
        output_data_type=tf.int8,
        enable_variable_quantization=True,
        disable_per_channel_for_dense_layers=not per_channel,
    )


def convert_to_int8(
    stream: StreamingModel, calibration: np.ndarray, per_channel: bool = True
) -> tuple[bytes, ModelInfo]:
    """Converts ``stream`` (batch size 1) to int8 weights, activations, state, input and output.

    ``per_channel=False`` quantizes each weight matrix with one scale instead of one per output neuron:
    about 12 bytes less flash per neuron and layer, at some cost in precision.
    Tensor names and signatures are stripped (TFLite Micro does not read them). For a quantization-aware
    model the converter only calibrates; every tensor QAT rounded then takes its learned range instead of
    the calibrated one before quantization.

    Returns the flatbuffer and its parsed ``ModelInfo``, after checking that TFLite Micro runs every op as int8.
    """
    if stream.batch_size != 1:
        raise ValueError(f"Only a batch-size-1 StreamingModel converts, got batch_size={stream.batch_size}.")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([stream.step.get_concrete_function()], stream)
    converter.experimental_enable_resource_variables = True
    if not hasattr(converter, _VARIABLE_QUANTIZATION):
        raise RuntimeError(
            f"This TensorFlow ({tf.__version__}) has no TFLiteConverter.{_VARIABLE_QUANTIZATION}; "
            "keras-spiking-rnn's export needs it to keep the neuron state in int8."
        )
    setattr(converter, _VARIABLE_QUANTIZATION, True)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: representative_frames(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if not per_channel:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    ranges, required = stream.learned_tensor_ranges() if stream.quantization_aware else ({}, [])
    if ranges:
        converter._experimental_calibrate_only = True
    with captured_output() as log:
        try:
            flatbuffer = converter.convert()
            if ranges:
                flatbuffer = _quantize_with_ranges(flatbuffer, ranges, required, per_channel)
        except Exception as error:
            errors = [line for line in log.text().splitlines() if "error" in line.lower()]
            raise RuntimeError(
                "The TFLite converter failed on the streaming model:\n" + "\n".join(errors[-5:] or [str(error)])
            ) from error
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    flatbuffer_utils.strip_strings(model)
    flatbuffer = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    info = read_model(flatbuffer)
    info.check_tflm_int8()
    return flatbuffer, info
