"""``export_tflite_micro``: a trained Keras spiking model to an int8 TFLite Micro model, C sources and a report."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.export import csource
from keras_spiking_rnn.export.convert import convert_to_int8
from keras_spiking_rnn.export.flatbuffer import ModelInfo
from keras_spiking_rnn.export.streaming import StreamingModel
from keras_spiking_rnn.export.tflm import TESTED_TFLITE_MICRO, TFLMModel, dequantize, quantize, smallest_arena

ARENA_HEADROOM = 1024  # bytes added to the measured arena in model_settings.h
CONFIDENT_MARGIN_LSB = 16  # a Keras decision this many output quantization steps ahead counts as confident


class ExportVerificationError(RuntimeError):
    """Under ``strict=True``: the int8 model agrees with the Keras model less often than required.

    [`export_tflite_micro`][keras_spiking_rnn.export.api.export_tflite_micro] raises it before writing anything; the
    message gives the agreement and ``min_agreement``.

    Examples:
        >>> try:
        ...     export_tflite_micro(model, x_train[:256], "build/m", validation_data=(x_test, y_test), strict=True)
        ... except ExportVerificationError as error:
        ...     print(error)
        The int8 model's top-1 class agrees with the Keras model's on only ...% of ... validation sequences
        (min_agreement=98.00%). Nothing was written.
    """


@dataclass
class Verification:
    """How the int8 model, run in the TFLM interpreter, compares with the Keras float model.

    "Float one-step model" is the [`StreamingModel`][keras_spiking_rnn.export.streaming.StreamingModel] the export
    converts, run in float with the export's state clipping.

    Attributes:
        sequences: the number of validation sequences compared.
        agreement: fraction of sequences whose final top-1 class is the same.
        confident_fraction: fraction of sequences where Keras's top-1 leads the runner-up by >= 16
            output LSBs.
        confident_agreement: top-1 agreement on those sequences; None if there are none.
        input_rounding_agreement: top-1 agreement of Keras on the int8-rounded inputs with Keras on the
            inputs: the ceiling that input rounding sets.
        float_accuracy: the Keras model's accuracy on the labels; None without labels.
        int8_accuracy: the int8 model's accuracy on the labels; None without labels.
        clipped_float_max_error: the largest difference between the final outputs of the float one-step
            model and of Keras.
        step_error_mean: mean ``|int8 - float one-step|`` over all steps and outputs, in output units.
        step_error_max: the largest such difference.
        step_error_lsb_mean: ``step_error_mean`` in units of the output's quantization step.
        final_error_mean: mean ``|int8 - Keras|`` of the final outputs.

    Examples:
        >>> result = export_tflite_micro(model, x_train[:256], "build/mnist1d", validation_data=(x_test, y_test))
        >>> result.verification.agreement, result.verification.step_error_lsb_mean
    """

    sequences: int
    agreement: float  # fraction of sequences whose final top-1 class is the same
    confident_fraction: float  # fraction of sequences where Keras's top-1 leads the runner-up by >= 16 output LSBs
    confident_agreement: float | None  # top-1 agreement on those sequences
    input_rounding_agreement: float  # Keras on int8-rounded inputs vs on the inputs: the ceiling rounding sets
    float_accuracy: float | None
    int8_accuracy: float | None
    clipped_float_max_error: float  # the float one-step model with the export's state clipping vs Keras
    step_error_mean: float  # mean |int8 - float| over all steps and outputs, in output units
    step_error_max: float
    step_error_lsb_mean: float  # the same in units of the output's quantization step
    final_error_mean: float


@dataclass
class ExportResult:
    """What ``export_tflite_micro`` wrote and measured. ``str(result)`` is a short summary.

    Attributes:
        output_dir: the directory written.
        files: ``{file name: path}`` of every file written, ``report.json`` included.
        ops: the builtin ops of the int8 model, sorted.
        flash_bytes: size of ``model.tflite``, i.e. of the C array.
        weight_bytes: int8 weights and int32 biases of the FULLY_CONNECTED ops inside it.
        constant_bytes: all constants inside it (weights, biases, per-neuron factors, initial values).
        state_bytes: bytes of the int8 state variables.
        arena_bytes: smallest arena with which TFLM allocates the model (bisection, on this host).
        arena_recorded: TFLM's RecordingMicroAllocator figures (``print_allocations``) in bytes, by
            ``"total"``, ``"head"`` and ``"tail"``.
        verification: the comparison on ``validation_data``
            ([`Verification`][keras_spiking_rnn.export.api.Verification]); None without it.
        warnings: what the export warned about (an agreement below ``min_agreement``).

    Examples:
        >>> result = export_tflite_micro(model, x_train[:256], "build/mnist1d", validation_data=(x_test, y_test))
        >>> print(result)  # ops, flash and arena bytes, agreement
    """

    output_dir: Path
    files: dict[str, str]
    ops: list[str]
    flash_bytes: int  # size of model.tflite, i.e. of the C array
    weight_bytes: int  # int8 weights and int32 biases of the FULLY_CONNECTED ops inside it
    constant_bytes: int  # all constants inside it (weights, biases, per-neuron factors, initial values)
    state_bytes: int  # bytes of the int8 state variables
    arena_bytes: int  # smallest arena with which TFLM allocates the model (bisection, this host)
    arena_recorded: dict[str, int]  # TFLM's RecordingMicroAllocator figures (print_allocations)
    verification: Verification | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-serializable dict, as ``report.json`` holds it.

        Returns:
            Every field, nested dataclasses as dicts and ``output_dir`` as a string.

        Examples:
            >>> result = export_tflite_micro(model, x_train[:256], "build/mnist1d", validation_data=(x_test, y_test))
            >>> result.to_json()["flash_bytes"] == result.flash_bytes
            True
        """
        data = asdict(self)
        data["output_dir"] = str(self.output_dir)
        return data

    def __str__(self) -> str:
        lines = [
            f"int8 TFLite Micro model written to {self.output_dir}",
            f"  ops ({len(self.ops)}): {', '.join(self.ops)}",
            f"  flash: {self.flash_bytes:,} bytes ({self.flash_bytes / max(self.weight_bytes, 1):.2f} x the "
            f"{self.weight_bytes:,} bytes of quantized weights and biases)",
            f"  tensor arena: {self.arena_bytes:,} bytes on this host (state {self.state_bytes:,} bytes, "
            f"activations {self.arena_recorded.get('head', 0):,} bytes)",
        ]
        v = self.verification
        if v is not None:
            accuracy = ""
            if v.float_accuracy is not None:
                accuracy = f", accuracy float {v.float_accuracy:.4f} / int8 {v.int8_accuracy:.4f}"
            lines.append(
                f"  TFLM vs Keras on {v.sequences} sequences: top-1 agreement {v.agreement:.4f}{accuracy}, "
                f"mean step error {v.step_error_lsb_mean:.2f} LSB"
            )
            lines.append(f"  Keras itself on int8-rounded inputs: agreement {v.input_rounding_agreement:.4f}")
            if v.confident_agreement is not None:
                lines.append(
                    f"  where Keras leads by >= {CONFIDENT_MARGIN_LSB} output LSBs ({v.confident_fraction:.0%} of "
                    f"sequences): agreement {v.confident_agreement:.4f}"
                )
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


def _sequences(name: str, data: Any, features: int, length: int | None = None) -> np.ndarray:
    array = np.asarray(data)
    if array.ndim != 3 or array.shape[-1] != features:
        raise ValueError(f"`{name}` must be an array of sequences (n, timesteps, {features}), got shape {array.shape}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"`{name}` is empty (shape {array.shape}); it needs at least one sequence of one step.")
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must hold numbers, got dtype {array.dtype}.")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` contains NaN or Inf.")
    if length is not None and array.shape[1] != length:
        raise ValueError(
            f"`{name}` has sequences of {array.shape[1]} steps; the export is for {length} steps "
            "(`sequence_length`, by default the calibration sequences' length)."
        )
    return array


def _allocations(report: str) -> dict[str, int]:
    figures = {}
    for key in ("total", "head", "tail"):
        match = re.search(rf"Arena allocation {key} (\d+) bytes", report)
        if match:
            figures[key] = int(match.group(1))
    return figures


def _verify(
    model: keras.Model, tflm: TFLMModel, info: ModelInfo, stream_float: StreamingModel, x: np.ndarray, y
) -> Verification:
    keras_out = np.asarray(model.predict(x, batch_size=256, verbose=0))
    rounded_inputs = dequantize(quantize(x, info.inputs[0]), info.inputs[0])
    keras_rounded = np.asarray(model.predict(rounded_inputs, batch_size=256, verbose=0))
    float_steps = stream_float.run(x)
    int8_steps = dequantize(tflm.run(quantize(x, info.inputs[0])), info.outputs[0])
    error = np.abs(int8_steps - float_steps)
    lsb = info.outputs[0].scales[0]
    keras_top, int8_top = keras_out.argmax(-1), int8_steps[:, -1].argmax(-1)
    labels = None if y is None else np.asarray(y).reshape(-1)
    ranked = np.sort(keras_out, axis=-1)
    margin = (ranked[:, -1] - ranked[:, -2]) / lsb if keras_out.shape[-1] > 1 else np.full(len(x), np.inf)
    confident = margin >= CONFIDENT_MARGIN_LSB
    return Verification(
        sequences=len(x),
        agreement=float(np.mean(keras_top == int8_top)),
        input_rounding_agreement=float(np.mean(keras_rounded.argmax(-1) == keras_top)),
        confident_fraction=float(np.mean(confident)),
        confident_agreement=float(np.mean(keras_top[confident] == int8_top[confident])) if confident.any() else None,
        float_accuracy=None if labels is None else float(np.mean(keras_top == labels)),
        int8_accuracy=None if labels is None else float(np.mean(int8_top == labels)),
        clipped_float_max_error=float(np.max(np.abs(float_steps[:, -1] - keras_out))),
        step_error_mean=float(error.mean()),
        step_error_max=float(error.max()),
        step_error_lsb_mean=float(error.mean() / lsb),
        final_error_mean=float(np.abs(int8_steps[:, -1] - keras_out).mean()),
    )


def export_tflite_micro(
    model: keras.Model,
    calibration_data: np.ndarray,
    output_dir: str | Path,
    validation_data: tuple[np.ndarray, np.ndarray] | np.ndarray | None = None,
    *,
    sequence_length: int | None = None,
    state_ranges: dict[str, tuple[float, float]] | None = None,
    min_agreement: float = 0.98,
    strict: bool = False,
    per_channel: bool | None = None,
    test_sequences: int = 4,
    array_name: str = "g_model",
) -> ExportResult:
    """Exports a trained spiking model as a streaming int8 TFLite Micro model, verified in the TFLM interpreter.

    The model becomes one timestep: each invoke takes one int8 input frame
    ``(1, features)`` and returns that step's int8 output ``(1, outputs)``;
    the neuron state stays in int8 resource variables between invokes, and
    ``reset()`` (TFLM's ``MicroInterpreter::Reset``) starts a new sequence.
    State ranges are measured by running ``calibration_data`` step by step
    from rest; weights are int8 (per matrix by default), biases int32. A model
    from [`quantize_model`][keras_spiking_rnn.quantization.model.quantize_model] keeps the ranges
    it learned in training for every tensor it quantized (the calibration then
    only serves the report and the converter's required pass).

    Files written to ``output_dir`` (all or none): ``model.tflite``,
    ``model_data.cc``/``.h`` (16-byte-aligned C array), ``model_ops.h``
    (a ``MicroMutableOpResolver`` of exactly the model's ops),
    ``model_settings.h`` (shapes, arena size, quantization), ``test_vectors.h``
    (int8 inputs and outputs for checking firmware) and ``report.json``.

    Args:
        model: a trained Keras model: a linear stack of ``SpikingRNN`` (lif, alif, gated),
            ``LeakyReadout``, ``SpikeCountReadout``, ``Dense`` and inference no-ops such as ``Dropout``.
        calibration_data: float sequences (n, timesteps, features), e.g. 100-500 training sequences.
        output_dir: directory to write; its parent must exist. Existing files of the same names are replaced.
        validation_data: ``(x, y)`` (y: integer labels) or ``x`` alone: sequences on which the TFLM
            int8 model is compared with the Keras model.
        sequence_length: frames per sequence (scales running means); default: the calibration sequences'.
        state_ranges: ``{state_name: (min, max)}`` to clip states to (see
            [`StreamingModel.state_names`][keras_spiking_rnn.export.streaming.StreamingModel.state_names]).
        min_agreement: the top-1 agreement below which the export warns (or, if ``strict``, fails).
        strict: raise ``ExportVerificationError`` instead of warning; nothing is written then.
        per_channel: one weight scale per output neuron (TFLite's default) instead of one per matrix. Default:
            a quantization-aware model's own setting, else False (on MNIST-1D ALIF, 1.24x instead of 1.42x
            the weight bytes in flash, a 20% smaller arena, int8
            accuracy 0.5 point lower and agreement 0.9 point higher, both within noise).
        test_sequences: how many sequences (validation, else calibration) ``test_vectors.h`` holds, with
            the TFLM interpreter's int8 output at every step, for checking firmware bit for bit.
        array_name: the C symbol of the model array.

    Returns:
        The [`ExportResult`][keras_spiking_rnn.export.api.ExportResult]: the paths, ops, flash and arena bytes and the
            verification figures.

    Raises:
        TypeError: ``model`` not a ``keras.Model``.
        ValueError: a model without a known input; ``calibration_data`` or ``validation_data`` that are
            not finite numeric (n, timesteps, features) sequences (validation: of ``sequence_length``
            steps, one label per sequence); ``test_sequences`` < 1; ``per_channel`` other than a
            quantization-aware model's; unknown ``state_ranges`` names; a layer without a streaming
            int8 form ([`UnsupportedLayerError`][keras_spiking_rnn.export.streaming.UnsupportedLayerError]) or an
            op TFLite Micro cannot run as int8
            ([`UnsupportedOpError`][keras_spiking_rnn.export.flatbuffer.UnsupportedOpError]).
        FileNotFoundError: the parent directory of ``output_dir`` does not exist.
        FileExistsError: ``output_dir`` exists and is not a directory.
        ExportVerificationError: with ``strict``, an agreement below ``min_agreement``; nothing is written.
        RuntimeError: the TFLite converter fails, or TFLite Micro cannot allocate the model.
        ImportError: the ``tflite-micro`` package is missing.

    Examples:
        >>> result = export_tflite_micro(model, x_train[:256], "build/mnist1d", validation_data=(x_test, y_test))
        >>> print(result)
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    if not model.inputs:
        raise ValueError("`model` must be built with a known input (start it with keras.Input((None, features))).")
    features = int(model.inputs[0].shape[-1])
    calibration = _sequences("calibration_data", calibration_data, features)
    length = int(sequence_length) if sequence_length is not None else calibration.shape[1]
    x_val, y_val = validation_data if isinstance(validation_data, tuple) else (validation_data, None)
    if x_val is not None:
        x_val = _sequences("validation_data", x_val, features, length)
        if y_val is not None and len(np.asarray(y_val).reshape(-1)) != len(x_val):
            raise ValueError(
                f"`validation_data`: {len(x_val)} sequences but {len(np.asarray(y_val).reshape(-1))} labels."
            )
    if not isinstance(test_sequences, int) or isinstance(test_sequences, bool) or test_sequences < 1:
        raise ValueError(f"`test_sequences` must be a positive integer, got {test_sequences!r}.")
    output_dir = Path(output_dir)
    if not output_dir.parent.is_dir():
        raise FileNotFoundError(f"`output_dir`: the parent directory {str(output_dir.parent)!r} does not exist.")
    if output_dir.exists() and not output_dir.is_dir():
        raise FileExistsError(f"`output_dir` {str(output_dir)!r} exists and is not a directory.")

    per_channel = _weight_granularity(model, per_channel)
    # 1. Measure the states' ranges from rest, many sequences at a time, in float.
    batch = min(len(calibration), 256)
    probe = StreamingModel(model, length, batch_size=batch, state_ranges=state_ranges)
    measured = probe.measure_state_ranges(calibration)
    pinned = {name: measured[name] for name in probe.accumulators}
    pinned.update(state_ranges or {})
    # 2. Convert the one-frame model with the running sums pinned to their calibrated ranges.
    stream = StreamingModel(model, length, batch_size=1, state_ranges=pinned)
    flatbuffer, info = convert_to_int8(stream, calibration, per_channel=per_channel)
    # 3. Measure the arena and verify in the TFLM interpreter.
    arena = smallest_arena(flatbuffer)
    tflm = TFLMModel(flatbuffer, info.inputs[0], info.outputs[0])
    tflm.run(np.zeros((1, 1, features), np.int8))
    recorded = _allocations(tflm.allocation_report())
    vector_source = x_val if x_val is not None else calibration
    test_inputs = quantize(vector_source[:test_sequences], info.inputs[0])
    test_outputs = tflm.run(test_inputs)
    state_bytes = sum(int(np.prod(v.shape)) for v in stream.state_variables)  # int8: one byte per value
    verification, notes = None, []
    if x_val is not None:
        reference = StreamingModel(model, length, batch_size=min(len(x_val), 256), state_ranges=pinned)
        verification = _verify(model, tflm, info, reference, x_val, y_val)
        if verification.agreement < min_agreement:
            message = (
                f"the int8 model's top-1 class agrees with the Keras model's on only {verification.agreement:.2%} "
                f"of {verification.sequences} validation sequences (min_agreement={min_agreement:.2%})."
            )
            if strict:
                raise ExportVerificationError(message[0].upper() + message[1:] + " Nothing was written.")
            warnings.warn("keras-spiking-rnn export: " + message, stacklevel=2)
            notes.append(message)

    # 4. Write everything to a scratch directory beside output_dir, then move it in.
    input_q = (info.inputs[0].scales[0], info.inputs[0].zero_points[0])
    output_q = (info.outputs[0].scales[0], info.outputs[0].zero_points[0])
    header, source = csource.model_data_files(flatbuffer, array_name)
    contents: dict[str, str | bytes] = {
        "model.tflite": flatbuffer,
        "model_data.h": header,
        "model_data.cc": source,
        "model_ops.h": csource.op_resolver_header(info.ops),
        "test_vectors.h": csource.test_vectors_header(test_inputs, test_outputs),
        "model_settings.h": csource.model_settings_header(
            features,
            int(info.outputs[0].shape[-1]),
            length,
            arena + ARENA_HEADROOM,
            input_q,
            output_q,
            len(stream.state_variables),
        ),
    }
    result = ExportResult(
        output_dir=output_dir,
        files={name: str(output_dir / name) for name in [*contents, "report.json"]},
        ops=list(info.ops),
        flash_bytes=len(flatbuffer),
        weight_bytes=info.weight_bytes,
        constant_bytes=info.constant_bytes,
        state_bytes=state_bytes,
        arena_bytes=arena,
        arena_recorded=recorded,
        verification=verification,
        warnings=notes,
    )
    report = {
        **result.to_json(),
        "model": model.name,
        "sequence_length": length,
        "features": features,
        "macs_per_step": info.macs,
        "input": info.inputs[0].to_json(),
        "output": info.outputs[0].to_json(),
        "op_sequence": list(info.op_sequence),
        "tensors": [tensor.to_json() for tensor in info.tensors],
        "state_ranges_measured": measured,
        "state_ranges_clipped": stream.state_limits,
        "arena_method": "smallest arena_size that allocates (bisection, 16-byte steps) in the Python TFLM "
        "interpreter on this host; arena_recorded is TFLM's RecordingMicroAllocator (print_allocations)",
        "arena_lower_bound": state_bytes + recorded.get("head", 0),
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tflite_micro": _tflite_micro_version(),
            "tflite_micro_tested": TESTED_TFLITE_MICRO,
        },
    }
    contents["report.json"] = json.dumps(report, indent=2) + "\n"
    _write_all(output_dir, contents)
    return result


def _weight_granularity(model: keras.Model, per_channel: bool | None) -> bool:
    """The export's ``per_channel``: a QAT model's weights must be quantized as they were in training."""
    trained = {
        bool(getattr(layer, "cell", layer).per_channel)
        for layer in model.layers
        if hasattr(getattr(layer, "cell", layer), "per_channel")
    }
    if len(trained) == 1:
        (trained_setting,) = trained
        if per_channel is not None and bool(per_channel) != trained_setting:
            raise ValueError(
                f"`per_channel={per_channel}` differs from the quantization-aware model's "
                f"per_channel={trained_setting}: export with the weight quantization the model was trained with."
            )
        return trained_setting
    return bool(per_channel) if per_channel is not None else False


def _tflite_micro_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("tflite-micro")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return None


def _write_all(output_dir: Path, contents: dict[str, str | bytes]) -> None:
    """Writes every file or none: into a scratch directory first, then moved into ``output_dir``."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        for name, data in contents.items():
            path = scratch / name
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data)
        output_dir.mkdir(exist_ok=True)
        for name in contents:
            (scratch / name).replace(output_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
