"""A trained sequence model rewritten as one timestep with its state in variables.

The streaming form is what runs on a microcontroller: one call consumes one
input frame and returns that step's output; the neuron state (membrane
potentials, adaptation traces, previous spikes, readout potentials) lives in
``tf.Variable``s between calls. Every state rests at zero, so TFLite Micro's
``reset()`` (which sets variables to their zero point) starts a new sequence.

Each layer's step is its neuron's own ``int8_step`` (``keras_spiking_rnn.cells``), run
with :class:`ExportOps`: the neuron's constants as captured constants, its states read from
and stored to variables. The step is written with the ops TFLite Micro implements for int8:
``FULLY_CONNECTED``, ``ADD``, ``SUB``, ``MUL``, ``GREATER``, ``SELECT_V2``,
``SUM``, ``LOGISTIC``, ``RELU`` and the variable ops. Spikes are
``tf.where(cond, 1, 0)`` (``SELECT_V2``), never ``tf.cast``, so no float
tensor appears in the int8 model.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.neuron import missing_int8_form
from keras_spiking_rnn.export.ranges import RangeRecorder, converted_names
from keras_spiking_rnn.graph import UnsupportedLayerError, is_inference_no_op, linear_layers
from keras_spiking_rnn.int8.arithmetic import Int8Ops, Synapse, running_mean_step
from keras_spiking_rnn.layers import LeakyReadout, SpikeCountReadout, SpikingRNN

_ACTIVATIONS = {"linear": None, "relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh, "softmax": tf.nn.softmax}


def state_name(variable: tf.Variable) -> str:
    """A state variable's name without TensorFlow's ``:0`` suffix, e.g. ``"alif_1_potential"``."""
    return variable.name.split(":")[0]


def _const(value) -> tf.Tensor:
    return tf.constant(np.asarray(value, dtype=np.float32))


def _numpy(weight) -> np.ndarray | None:
    return None if weight is None else np.asarray(tf.convert_to_tensor(weight), dtype=np.float32)


class _Step(tf.Module):
    """One layer, one timestep. ``states`` holds its state variables, each (batch, units), 0 at rest.

    ``sites`` are the ranges learned in quantization-aware training (empty for a float model). While the
    step is traced, each named tensor's range is noted under the name the converter will give it
    (``RangeRecorder``); the conversion then quantizes that tensor with it.
    """

    def __init__(self, name: str, batch_size: int, layer=None):
        super().__init__(name=name.replace("/", "_"))
        self.batch_size = batch_size
        self.states: list[tf.Variable] = []
        self.pooled = False  # True once the output no longer has a time axis (mean/sum/last pooling)
        self.ranges: dict[str, tuple[float, float]] = {}  # state name -> (min, max) the state is clipped to
        # States that must be clipped to their calibrated range for conversion: running sums, which the
        # converter's calibrator (which cannot reset) would otherwise see grow from sequence to sequence.
        self.accumulators: set[str] = set()
        self.sites: dict[str, tuple[float, float]] = learned_ranges(layer) if layer is not None else {}
        self.recorder: RangeRecorder | None = None  # shared with the StreamingModel, which reads it after tracing

    def quantize(self, site: str, tensor, operation=None):
        """In a QAT model, notes the range learned for ``site`` under the name the converter will give the tensor
        (see ``StreamingModel.learned_tensor_ranges``); returns ``tensor`` unchanged."""
        bounds = self.sites.get(site)
        if bounds is not None and self.recorder is not None:
            names = converted_names(tensor)
            self.recorder.ranges.update({name: bounds for name in names})
            self.recorder.required.append(names)
        return tensor

    def read(self, variable: tf.Variable):
        value = variable.read_value()
        if self.sites and self.recorder is not None:
            self.recorder.reads.setdefault(state_name(variable), []).extend(converted_names(value))
        return value

    def store(self, variable: tf.Variable, value) -> None:
        """Assigns ``value`` to the state ``variable``, clipped to its calibrated range if it has one."""
        bounds = self.ranges.get(state_name(variable))
        if self.sites:  # a QAT step's states are already quantized to their learned range
            if self.recorder is not None:
                self.recorder.stores[state_name(variable)] = converted_names(value)[0]
        elif bounds is not None:
            value = tf.clip_by_value(value, bounds[0], bounds[1])
        variable.assign(value)

    def state(self, name: str, units: int) -> tf.Variable:
        variable = tf.Variable(tf.zeros((self.batch_size, units)), trainable=False, name=f"{self.name}_{name}")
        self.states.append(variable)
        return variable

    def accumulator(self, name: str, units: int) -> tf.Variable:
        variable = self.state(name, units)
        self.accumulators.add(state_name(variable))
        return variable

    def __call__(self, x):
        raise NotImplementedError


def learned_ranges(layer) -> dict[str, tuple[float, float]]:
    """The QAT ranges of a layer made by ``keras_spiking_rnn.quantization.quantize_model``, else ``{}``."""
    ranges = getattr(layer, "learned_ranges", None)
    return ranges() if callable(ranges) else {}


class _NumpyNumerics:
    """``int8_parameters``' arithmetic in the export: NumPy, the decays in float64 rounded to float32."""

    @staticmethod
    def decay(dt: float, tau) -> np.ndarray:
        return np.exp(-dt / np.asarray(tf.convert_to_tensor(tau), dtype=np.float64)).astype(np.float32)

    @staticmethod
    def ones(n: int) -> np.ndarray:
        return np.ones(n, np.float32)


class ExportOps(Int8Ops):
    """The [`Int8Ops`][keras_spiking_rnn.int8.arithmetic.Int8Ops] of the streaming export, for one layer.

    Made once per layer, before tracing: the synaptic weights (``synapse_scale`` folded in), the neuron's
    array constants and the spike values are captured constants of the step; ``quantize`` notes a QAT
    model's learned ranges (``_Step.quantize``).

    Args:
        step: the layer's step, whose ``quantize`` this uses.
        cell: the layer's cell.
        parameters: the cell's ``int8_parameters`` in NumPy.
        batch_size: sequences per step.
    """

    def __init__(self, step: _Step, cell: keras.layers.Layer, parameters: dict, batch_size: int):
        self.quantize = step.quantize
        self.batch_size = batch_size
        scale = parameters["synapse_scale"]
        kernel, bias = _numpy(cell.kernel), _numpy(getattr(cell, "bias", None))
        recurrent = _numpy(getattr(cell, "recurrent_kernel", None))
        units, gates = cell.units, getattr(cell, "n_gates", 1)
        self._synapses: dict[tuple, Synapse] = {}
        for gate in range(gates):
            columns = slice(None) if gates == 1 else slice(gate * units, (gate + 1) * units)
            self._synapses[(columns.start, columns.stop)] = Synapse(
                _const(kernel[:, columns] * scale[columns]),
                None if bias is None else _const(bias[columns] * scale[columns]),
                None if recurrent is None else _const(recurrent[:, columns] * scale[columns]),
            )
        self.ones = _const(np.ones((batch_size, units)))
        self.zeros = _const(np.zeros((batch_size, units)))
        # what int8_step receives: Python numbers as they are, arrays as captured constants
        self.parameters = {
            name: value if isinstance(value, (int, float)) else _const(value) for name, value in parameters.items()
        }

    def constant(self, value):
        return value  # captured already; the converter quantizes the constant operands

    def synapse(self, columns: slice = slice(None)) -> Synapse:
        return self._synapses[(columns.start, columns.stop)]

    def spike(self, margin):
        return tf.where(margin > 0.0, self.ones, self.zeros)

    def greater(self, a, b):
        return tf.reshape(a, (self.batch_size, int(a.shape[-1]), 1)) > b

    def with_gradient(self, exact, smooth):
        return exact


class _NeuronStep(_Step):
    """A layer of any neuron with an int8 form: its ``int8_step`` on states held in variables."""

    def __init__(self, layer, batch_size: int):
        super().__init__(layer.name, batch_size, layer)
        if layer.go_backwards:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r}: `go_backwards=True` has no streaming form (it needs the last frame first)."
            )
        cell = self.cell = layer.cell
        reason = missing_int8_form(cell)
        if reason:
            raise UnsupportedLayerError(f"Layer {layer.name!r}: {reason}; it has no streaming int8 form.")
        numeric = cell.int8_parameters(_NumpyNumerics())
        self.ops = ExportOps(self, cell, numeric, batch_size)  # a plain object: its constants are not tracked
        self.neuron_states = [self.state(name, cell.units) for name in cell.state_names]
        for name, variable in zip(cell.state_names, self.neuron_states):
            if not hasattr(self, name):  # tracked by name, as before: the converter orders the variables by it
                setattr(self, name, variable)
        for name, bounds in cell.int8_state_clips().items():  # fixed ranges, e.g. the gated membrane
            self.ranges[state_name(self.neuron_states[cell.state_names.index(name)])] = bounds

    def __call__(self, x):
        x = self.quantize("input", x)  # a QAT model's first layer rounds the model input to its learned range
        # The fed-back output is read first, then the others in order: the order of the reads decides the int8
        # model's op order (kept as it was before the neurons moved into their modules).
        first = self.cell.output_state % len(self.neuron_states)
        values = {first: self.read(self.neuron_states[first])}
        values.update({i: self.read(v) for i, v in enumerate(self.neuron_states) if i != first})
        states = [values[i] for i in range(len(self.neuron_states))]
        new_states = self.cell.int8_step(x, states, self.ops.parameters, self.ops)
        for variable, value in zip(self.neuron_states, new_states):
            self.store(variable, value)
        return new_states[self.cell.output_state]


class _ReadoutStep(_NeuronStep):
    """LeakyReadout: its neuron's step; mode ``mean`` adds a running ``sum_t u_t / T``."""

    def __init__(self, layer: LeakyReadout, batch_size: int, sequence_length: int):
        super().__init__(layer, batch_size)
        self.mean = layer.output_mode == "mean"
        self.pooled = layer.output_mode != "sequence"
        if self.mean:
            self.inverse_length = 1.0 / float(sequence_length)
            self.total = self.accumulator("mean", self.cell.units)

    def __call__(self, x):
        output = super().__call__(x)
        if not self.mean:
            return self.read(self.neuron_states[self.cell.output_state])
        total = running_mean_step(self.read(self.total), output, self.inverse_length, self.quantize)
        self.store(self.total, total)
        return self.read(self.total)


class _SpikeCountStep(_Step):
    """SpikeCountReadout: a running sum of the spikes (``mean``: divided by the sequence length)."""

    def __init__(self, layer: SpikeCountReadout, batch_size: int, sequence_length: int, units: int):
        super().__init__(layer.name, batch_size, layer)
        self.factor = 1.0 if layer.reduction == "sum" else 1.0 / float(sequence_length)
        self.total = self.accumulator("count", units)
        self.pooled = True

    def __call__(self, x):
        total = running_mean_step(self.read(self.total), x, self.factor, self.quantize)
        self.store(self.total, total)
        return self.read(self.total)


class _DenseStep(_Step):
    def __init__(self, layer: keras.layers.Dense, batch_size: int):
        super().__init__(layer.name, batch_size, layer)
        name = keras.activations.serialize(layer.activation)
        name = name if isinstance(name, str) else name.get("config", {}).get("name", str(name))
        if name not in _ACTIVATIONS:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r}: activation {name!r} has no int8 TFLite Micro form; "
                f"supported: {sorted(_ACTIVATIONS)}."
            )
        self.activation = _ACTIVATIONS[name]
        self.fused = name in ("linear", "relu")  # FULLY_CONNECTED computes these itself: one output tensor
        bias = None if layer.bias is None else _const(_numpy(layer.bias))
        self.synapse = Synapse(_const(_numpy(layer.kernel)), bias)

    def __call__(self, x):
        y = tf.matmul(x, self.synapse.kernel)
        if self.synapse.bias is not None:
            y = y + self.synapse.bias
        if self.activation is None:
            return self.quantize("output", y)
        if self.fused:
            return self.quantize("output", self.activation(y))
        return self.quantize("output", self.activation(self.quantize("preactivation", y)))


def streaming_steps(model: keras.Model, sequence_length: int, batch_size: int = 1) -> list[_Step]:
    """Converts each layer of ``model`` to its one-timestep form; raises UnsupportedLayerError otherwise."""
    steps: list[_Step] = []
    pooled = False
    units = int(model.inputs[0].shape[-1])
    for layer in linear_layers(model):
        if is_inference_no_op(layer):
            continue
        if isinstance(layer, keras.layers.Bidirectional):
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} (Bidirectional) has no streaming form: its backward direction needs the "
                "future frames. Export a unidirectional model."
            )
        if isinstance(layer, SpikingRNN):
            if pooled:
                raise UnsupportedLayerError(f"Layer {layer.name!r} is recurrent but its input has no time axis.")
            step = _NeuronStep(layer, batch_size)
            pooled = not layer.return_sequences
            units = layer.cell.units
        elif isinstance(layer, LeakyReadout):
            if pooled:
                raise UnsupportedLayerError(f"Layer {layer.name!r} is recurrent but its input has no time axis.")
            step = _ReadoutStep(layer, batch_size, sequence_length)
            pooled = step.pooled
            units = layer.cell.units
        elif isinstance(layer, SpikeCountReadout):
            step = _SpikeCountStep(layer, batch_size, sequence_length, units)
            pooled = True
        elif isinstance(layer, keras.layers.Dense):
            step = _DenseStep(layer, batch_size)
            units = layer.units
        else:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has no streaming int8 TFLite Micro form. "
                "Supported: SpikingRNN of a neuron with an int8 form, LeakyReadout, SpikeCountReadout, Dense, "
                "Dropout and other layers that do nothing at inference."
            )
        steps.append(step)
    return steps


class StreamingModel(tf.Module):
    """A Keras spiking model as one timestep with state in variables.

    ``step(frame)`` takes one input frame ``(batch_size, features)`` and returns
    that timestep's output ``(batch_size, outputs)``; ``reset()`` sets every
    state to zero. For readouts that pool over time (``LeakyReadout``
    ``"mean"``/``"last"``, ``SpikeCountReadout``) the output after the last
    frame of a ``sequence_length``-step sequence equals the Keras model's
    output; earlier outputs are the same quantity so far (for ``"mean"``,
    ``sum_{k<=t} u_k / sequence_length``).

    Args:
        model: a trained Keras model, a linear stack of the library's layers and Dense/Dropout.
        sequence_length: number of frames per sequence (scales running means).
        batch_size: number of sequences stepped in parallel (1 for export).
        state_ranges: ``{state name: (min, max)}`` to clip states to after every step (see
            [`state_names`][keras_spiking_rnn.export.streaming.StreamingModel.state_names]); None: no clipping.

    Raises:
        UnsupportedLayerError: a layer without a streaming int8 form, a model that is not a linear
            stack of one input and one output, or a model with nothing to export.
        ValueError: ``state_ranges`` naming unknown states.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((None, 3)),
        ...     SpikingRNN(8, neuron="alif", return_sequences=True, name="alif"),
        ...     LeakyReadout(2, output_mode="mean", name="readout"),
        ... ])
        >>> stream = StreamingModel(model, sequence_length=10, batch_size=4)
        >>> stream.run(np.ones((4, 10, 3), "float32")).shape  # one output per step
        (4, 10, 2)
    """

    def __init__(
        self,
        model: keras.Model,
        sequence_length: int,
        batch_size: int = 1,
        state_ranges: dict[str, tuple[float, float]] | None = None,
    ):
        super().__init__(name="streaming_" + model.name)
        self.features = int(model.inputs[0].shape[-1])
        self.sequence_length = int(sequence_length)
        self.batch_size = int(batch_size)
        self.layers = streaming_steps(model, self.sequence_length, self.batch_size)
        if not self.layers:
            raise UnsupportedLayerError("The model has no layer to export.")
        unknown = set(state_ranges or {}) - set(self.state_names())
        if unknown:
            raise ValueError(
                f"`state_ranges` names unknown states {sorted(unknown)}; the model's states are {self.state_names()}."
            )
        for layer in self.layers:
            for variable in layer.states:
                name = state_name(variable)
                if state_ranges and name in state_ranges:
                    layer.ranges[name] = tuple(float(v) for v in state_ranges[name])
        self._recorder = RangeRecorder()
        for layer in self.layers:
            layer.recorder = self._recorder
        self.step = tf.function(
            self._step, input_signature=[tf.TensorSpec((self.batch_size, self.features), tf.float32)], autograph=False
        )

    @property
    def accumulators(self) -> set[str]:
        """Names of the running-sum states (clipped to their calibrated range in the export)."""
        return {name for layer in self.layers for name in layer.accumulators}

    @property
    def state_limits(self) -> dict[str, tuple[float, float]]:
        """The (min, max) each clipped state is held to."""
        return {name: bounds for layer in self.layers for name, bounds in layer.ranges.items()}

    @property
    def quantization_aware(self) -> bool:
        """Whether the model came from ``quantize_model`` (its ranges, not a calibration, set the int8 scales)."""
        return any(layer.sites for layer in self.layers)

    def learned_tensor_ranges(self) -> tuple[dict[str, tuple[float, float]], list[tuple[str, ...]]]:
        """The ranges learned in quantization-aware training, by the tensor names the converter gives.

        Traces ``step`` and notes the learned range of every tensor that QAT quantized.

        Returns:
            ``(ranges, required)``: ``{converted tensor name: (min, max)}`` of every QAT-quantized
                tensor of the traced ``step``, and per quantized tensor the tuple of names it may have
                (the converted model must hold one of them). Both empty for a float model.

        Examples:
            >>> model = keras.Sequential([
            ...     keras.Input((None, 3)),
            ...     SpikingRNN(8, neuron="alif", return_sequences=True, name="alif"),
            ...     LeakyReadout(2, output_mode="mean", name="readout"),
            ... ])
            >>> from keras_spiking_rnn.quantization import quantize_model
            >>> qat = quantize_model(model, calibration_data=np.ones((4, 10, 3), "float32"))
            >>> ranges, required = StreamingModel(qat, sequence_length=10).learned_tensor_ranges()
            >>> len(ranges) > 0, len(required) > 0
            (True, True)
        """
        self.step.get_concrete_function()
        output = set(converted_names(self._recorder.output))
        # The converter renames the model's output tensor.
        required = [
            names + ("StatefulPartitionedCall:0",) if output & set(names) else names
            for names in self._recorder.required
        ]
        return self._recorder.tensor_ranges(), required

    @property
    def state_variables(self) -> list[tf.Variable]:
        """Every layer's state variables, each (batch_size, units), in the order of ``state_names()``."""
        return [v for layer in self.layers for v in layer.states]

    def _step(self, frame):
        self._recorder.clear()
        x = frame
        for layer in self.layers:
            x = layer(x)
        self._recorder.output = x
        return x

    def reset(self) -> None:
        """Sets every state to zero, its resting value, to start a new sequence.

        Examples:
            >>> stream = StreamingModel(model, sequence_length=10)
            >>> stream.reset()
        """
        for variable in self.state_variables:
            variable.assign(tf.zeros_like(variable))

    def state_names(self) -> list[str]:
        """The names of the state variables, ``<layer name>_<state name>``, in layer order.

        Returns:
            One name per state variable, as ``state_ranges`` and ``report.json`` use them.

        Examples:
            >>> model = keras.Sequential([
            ...     keras.Input((None, 3)),
            ...     SpikingRNN(8, neuron="alif", return_sequences=True, name="alif"),
            ...     LeakyReadout(2, output_mode="mean", name="readout"),
            ... ])
            >>> StreamingModel(model, sequence_length=10).state_names()
            ['alif_potential', 'alif_adaptation', 'alif_spikes', 'readout_potential', 'readout_mean']
        """
        return [state_name(variable) for variable in self.state_variables]

    def measure_state_ranges(self, sequences: np.ndarray) -> dict[str, tuple[float, float]]:
        """Min and max of every state over all steps of ``sequences``, each sequence started from rest.

        The sequences are stepped ``batch_size`` at a time (the last batch zero-padded; the padding
        is not measured).

        Args:
            sequences: float sequences, (n, timesteps, features).

        Returns:
            ``{state name: (min, max)}`` for every name of ``state_names()``; every range includes 0,
                the resting state.

        Examples:
            >>> model = keras.Sequential([
            ...     keras.Input((None, 3)),
            ...     SpikingRNN(8, neuron="alif", return_sequences=True, name="alif"),
            ...     LeakyReadout(2, output_mode="mean", name="readout"),
            ... ])
            >>> stream = StreamingModel(model, sequence_length=10, batch_size=4)
            >>> sorted(stream.measure_state_ranges(np.ones((4, 10, 3), "float32")))
            ['alif_adaptation', 'alif_potential', 'alif_spikes', 'readout_mean', 'readout_potential']
        """
        names = self.state_names()
        low = {name: 0.0 for name in names}
        high = dict(low)
        for chunk, used in self._batches(sequences):
            self.reset()
            for t in range(chunk.shape[1]):
                self.step(tf.constant(chunk[:, t], tf.float32))
                for name, variable in zip(names, self.state_variables):
                    value = variable.numpy()[:used]
                    low[name] = min(low[name], float(value.min()))
                    high[name] = max(high[name], float(value.max()))
        return {name: (low[name], high[name]) for name in low}

    def _batches(self, sequences: np.ndarray):
        """Yields ``(batch, used)``: ``batch_size`` sequences at a time, the last batch zero-padded."""
        for start in range(0, len(sequences), self.batch_size):
            chunk = np.asarray(sequences[start : start + self.batch_size], np.float32)
            used = len(chunk)
            if used < self.batch_size:
                chunk = np.concatenate([chunk, np.zeros((self.batch_size - used,) + chunk.shape[1:], np.float32)])
            yield chunk, used

    def run(self, sequences: np.ndarray) -> np.ndarray:
        """Steps ``sequences`` through the model, each sequence from rest, ``batch_size`` at a time.

        Args:
            sequences: float sequences, (n, timesteps, features).

        Returns:
            Every step's output, float32 array (n, timesteps, outputs); for readouts that pool over
                time, the output after the last step equals the Keras model's output.

        Examples:
            >>> model = keras.Sequential([
            ...     keras.Input((None, 3)),
            ...     SpikingRNN(8, neuron="alif", return_sequences=True, name="alif"),
            ...     LeakyReadout(2, output_mode="mean", name="readout"),
            ... ])
            >>> stream = StreamingModel(model, sequence_length=10, batch_size=4)
            >>> stream.run(np.ones((4, 10, 3), "float32")).shape
            (4, 10, 2)
        """
        results = []
        for chunk, used in self._batches(sequences):
            self.reset()
            steps = [self.step(tf.constant(chunk[:, t])).numpy() for t in range(chunk.shape[1])]
            results.append(np.stack(steps, axis=1)[:used])
        return np.concatenate(results)
