"""Operation counts of a whole model on real input data: per layer, per timestep and per sequence."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.analysis import operations as ops
from keras_spiking_rnn.graph import INFERENCE_NO_OPS, trace_layers

# Layers that hand their input's values on: what the next layer receives costs as the layer before them.
_PASS_THROUGH = (*INFERENCE_NO_OPS, keras.layers.Masking, keras.layers.Activation)


@dataclasses.dataclass(frozen=True)
class LayerOperations:
    """One layer's costs, averaged over the batch and the timesteps.

    Attributes:
        name: the layer's name.
        kind: what was counted, e.g. ``"ALIFCell"``, ``"LSTM"``, ``"Dense"``.
        parameters: the layer's weight count.
        macs_per_step: multiply-accumulates per timestep.
        acs_per_step: accumulates per timestep.
        nonzero_output_rate: for spiking layers, the fraction of non-zero outputs per neuron and step; else None.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((None, 3)),
        ...     SpikingRNN(8, neuron="lif", return_sequences=True, name="lif"),
        ...     LeakyReadout(2),
        ... ])
        >>> report = count_operations(model, np.ones((4, 10, 3), "float32"))
        >>> report.layers[0].kind, report.layers[0].macs_per_step  # 3 x 8 input weights + 2 per neuron update
        ('LIFCell', 40.0)
    """

    name: str
    kind: str
    parameters: int
    macs_per_step: float
    acs_per_step: float
    nonzero_output_rate: float | None = None


@dataclasses.dataclass(frozen=True)
class OperationReport:
    """A model's operation counts per layer and timestep; energies are theoretical estimates.

    Made by [`count_operations`][keras_spiking_rnn.analysis.report.count_operations].

    Attributes:
        layers: per-layer counts, in the model's order.
        timesteps: the timesteps per sequence of the data counted.

    Examples:
        >>> report = OperationReport((LayerOperations("lstm", "LSTM", 100, 1000.0, 0.0),), timesteps=10)
        >>> report.macs_per_sequence, report.energy_per_step_pj()
        (10000.0, 3100.0)
    """

    layers: tuple[LayerOperations, ...]
    timesteps: int

    @property
    def macs_per_step(self) -> float:
        """Multiply-accumulates per timestep, summed over the layers."""
        return float(sum(layer.macs_per_step for layer in self.layers))

    @property
    def acs_per_step(self) -> float:
        """Accumulates per timestep, summed over the layers."""
        return float(sum(layer.acs_per_step for layer in self.layers))

    @property
    def parameters(self) -> int:
        """The model's weight count, summed over the layers."""
        return int(sum(layer.parameters for layer in self.layers))

    @property
    def macs_per_sequence(self) -> float:
        """Multiply-accumulates per sequence of ``timesteps`` steps."""
        return self.macs_per_step * self.timesteps

    @property
    def acs_per_sequence(self) -> float:
        """Accumulates per sequence of ``timesteps`` steps."""
        return self.acs_per_step * self.timesteps

    def energy_per_step_pj(self, mac_pj: float = ops.MAC_ENERGY_PJ, ac_pj: float = ops.AC_ENERGY_PJ) -> float:
        """Theoretical energy per timestep in picojoules, ``mac_pj * macs_per_step + ac_pj * acs_per_step``.

        See [`energy_pj`][keras_spiking_rnn.analysis.operations.energy_pj] for the figures and what they leave out.

        Args:
            mac_pj: energy of one MAC in pJ (default 3.1, 32-bit integer, 45 nm).
            ac_pj: energy of one AC in pJ (default 0.1).

        Returns:
            The energy per timestep in picojoules.

        Raises:
            ValueError: ``mac_pj`` or ``ac_pj`` not a number >= 0.

        Examples:
            >>> report = OperationReport((LayerOperations("lstm", "LSTM", 100, 1000.0, 0.0),), timesteps=10)
            >>> report.energy_per_step_pj(), report.energy_per_step_pj(mac_pj=4.6)  # 32-bit float MACs
            (3100.0, 4600.0)
        """
        return ops.energy_pj(self.macs_per_step, self.acs_per_step, mac_pj, ac_pj)

    def to_markdown(self) -> str:
        """The report as a Markdown table: a row per layer and a total, then the energy estimate.

        ``str(report)`` gives the same text.

        Returns:
            The table's lines and a line with the theoretical energy per step and per sequence.

        Examples:
            >>> report = OperationReport((LayerOperations("lstm", "LSTM", 100, 1000.0, 0.0),), timesteps=10)
            >>> print(report.to_markdown().splitlines()[2])
            | lstm | LSTM | 100 | 1,000 | 0 |  |
        """
        lines = [
            "| layer | counted as | parameters | MACs / step | ACs / step | non-zero outputs |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for layer in self.layers:
            rate = "" if layer.nonzero_output_rate is None else f"{layer.nonzero_output_rate:.3f}"
            lines.append(
                f"| {layer.name} | {layer.kind} | {layer.parameters:,} | {layer.macs_per_step:,.0f} "
                f"| {layer.acs_per_step:,.0f} | {rate} |"
            )
        lines.append(f"| total | | {self.parameters:,} | {self.macs_per_step:,.0f} | {self.acs_per_step:,.0f} | |")
        energy = self.energy_per_step_pj()
        lines.append("")
        lines.append(
            f"Theoretical energy estimate: {energy / 1000:,.2f} nJ per step, {energy * self.timesteps / 1e6:,.3f} uJ "
            f"per {self.timesteps}-step sequence (3.1 pJ/MAC, 0.1 pJ/AC, 45 nm; Horowitz 2014 via Yin et al. 2021)."
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def _input_kind(layer, producers, model_input_kind: str) -> str:
    producer = producers[layer.name]
    while isinstance(producer, _PASS_THROUGH) and not (
        isinstance(producer, keras.layers.Activation) and producer.activation is not keras.activations.linear
    ):
        producer = producers[producer.name]
    if producer is None:
        return "spikes" if model_input_kind == "spikes" else "dense"
    return ops.output_kind(producer)


def _spiking_sequences(layer, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """The spiking layer's outputs at every step, in the order the steps ran (it may return only the last)."""
    if layer.return_sequences:
        return outputs
    rnn = keras.layers.RNN(layer.cell, return_sequences=True, go_backwards=layer.go_backwards)
    return keras.ops.convert_to_numpy(rnn(inputs))


def _count_layer(layer, inputs: np.ndarray, outputs: np.ndarray, kind: str, timesteps: int) -> LayerOperations:
    from keras_spiking_rnn.layers import LeakyReadout, SpikeCountReadout, SpikingRNN

    params = int(layer.count_params())
    if isinstance(layer, SpikeCountReadout):  # a running count: one AC per non-zero input
        counted = ops.synapse_operations(inputs, "binary", 1)
        return LayerOperations(layer.name, "SpikeCountReadout", 0, counted.macs, counted.acs)
    if isinstance(layer, (SpikingRNN, LeakyReadout)):
        cell = layer.cell
        width = getattr(cell, "n_gates", 1) * cell.units
        total = ops.synapse_operations(inputs, kind, width)
        if getattr(cell, "use_bias", True):
            total += ops.Operations(0.0, float(width))
        macs, acs = ops.neuron_update_operations(cell)
        total += ops.Operations(float(macs * cell.units), float(acs * cell.units))
        rate = None
        if isinstance(layer, SpikingRNN):
            spikes = _spiking_sequences(layer, inputs, outputs)
            rate = float(np.count_nonzero(spikes) / spikes.size)
            if getattr(cell, "recurrent", True):
                previous = np.concatenate([np.zeros_like(spikes[:, :1]), spikes[:, :-1]], axis=1)  # s_{t-1}
                total += ops.synapse_operations(previous, ops.output_kind(layer), width)
        elif layer.output_mode == "mean":
            total += ops.Operations(0.0, float(cell.units))  # the running sum of the outputs
        return LayerOperations(layer.name, type(cell).__name__, params, total.macs, total.acs, rate)
    if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)):
        features, units = inputs.shape[-1], layer.units
        if isinstance(layer, keras.layers.LSTM):
            counted = ops.lstm_operations(features, units)
        elif isinstance(layer, keras.layers.GRU):
            counted = ops.gru_operations(features, units, reset_after=layer.reset_after)
        else:
            counted = ops.simple_rnn_operations(features, units)
        return LayerOperations(layer.name, type(layer).__name__, params, counted.macs, counted.acs)
    if isinstance(layer, keras.layers.Dense) and inputs.ndim in (2, 3):
        # per application: to every step of a sequence, or once to (batch, features), e.g. after the last step
        counted = ops.synapse_operations(inputs if inputs.ndim == 3 else inputs[:, None], kind, layer.units)
        if layer.use_bias:  # the "+ 1" input of a MAC row, or one AC per unit after events
            counted += ops.Operations(float(layer.units), 0.0) if kind == "dense" else ops.Operations(0.0, layer.units)
        share = 1.0 if inputs.ndim == 3 else 1.0 / timesteps
        return LayerOperations(layer.name, "Dense", params, counted.macs * share, counted.acs * share)
    if params == 0:
        return LayerOperations(layer.name, type(layer).__name__, 0, 0.0, 0.0)
    raise ValueError(
        f"count_operations: cannot count layer {layer.name!r} of type {type(layer).__name__}; supported: "
        "SpikingRNN, LeakyReadout, SpikeCountReadout, LSTM, GRU, SimpleRNN, Dense and layers without weights."
    )


def count_operations(
    model: keras.Model, x: np.ndarray, input_kind: str = "dense", batch_size: int = 256
) -> OperationReport:
    """Counts the MACs and ACs a model needs per timestep on the inputs ``x`` (Yin et al. 2021, Fig. 2a).

    Spiking layers are counted from the spikes they actually emit on ``x``
    (see [`keras_spiking_rnn.analysis.operations`][keras_spiking_rnn.analysis.operations] for the cost model); LSTM,
    GRU, SimpleRNN and Dense layers from their sizes. A Dense layer applied
    once to a sequence's last step counts as ``1 / timesteps`` of its cost per
    step.

    Args:
        model: a built Keras model with one input (batch, timesteps, features); layers:
            ``SpikingRNN``, ``LeakyReadout``, ``SpikeCountReadout``, ``LSTM``, ``GRU``,
            ``SimpleRNN``, ``Dense``, and layers without weights.
        x: input data (batch, timesteps, features), e.g. a few hundred test sequences.
        input_kind: ``"dense"``: the model's inputs are real numbers (one MAC
            per weight); ``"spikes"``: spike counts, such as binned SHD events
            (one AC per spike and synapse).
        batch_size: batch size of the inference run.

    Returns:
        The [`OperationReport`][keras_spiking_rnn.analysis.report.OperationReport]; ``print(report)`` shows the table
            and the theoretical energy estimate.

    Raises:
        ValueError: unknown ``input_kind``, ``x`` not 3-D, a model with more than one input, a layer
            that cannot be counted or traced.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((None, 3)),
        ...     SpikingRNN(8, neuron="lif", return_sequences=True, name="lif"),
        ...     LeakyReadout(2),
        ... ])
        >>> report = count_operations(model, np.ones((4, 10, 3), "float32"))
        >>> [(layer.kind, layer.macs_per_step) for layer in report.layers]
        [('LIFCell', 40.0), ('LeakyIntegratorCell', 4.0)]
        >>> report.macs_per_step, report.parameters
        (44.0, 124)
    """
    if input_kind not in ("dense", "spikes"):
        raise ValueError(f"count_operations: `input_kind` must be 'dense' or 'spikes', got {input_kind!r}.")
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"count_operations: `x` must be (batch, timesteps, features), got shape {x.shape}.")
    if len(model.inputs) != 1:
        raise ValueError(f"count_operations: the model must have one input, it has {len(model.inputs)}.")
    layers, probe, producers = trace_layers(model, x.shape[-1], "count_operations")
    values = probe.predict(x, batch_size=batch_size, verbose=0)
    counted = []
    for i, layer in enumerate(layers):
        inputs, outputs = (np.asarray(v) for v in values[2 * i : 2 * i + 2])
        counted.append(_count_layer(layer, inputs, outputs, _input_kind(layer, producers, input_kind), x.shape[1]))
    return OperationReport(tuple(counted), timesteps=int(x.shape[1]))
