"""Operation counts (MACs and ACs) and a theoretical energy estimate, after Yin et al. (2021), Fig. 2a and Table 2.

The cost model:

* A connection whose input is a real number costs one multiply-accumulate
  (MAC) per weight and timestep, whether the input is zero or not (dense
  layers, LSTM, GRU, the first layer of a spiking network fed real features).
* A binary spike costs one accumulate (AC) per synapse it reaches: the
  target adds the weight. So a spiking connection costs
  ``non-zero inputs x fan-out`` ACs per step, which is
  ``weights x firing rate`` on average. A spike count ``k`` (binned spike
  input) costs ``k`` ACs per synapse.
* A multi-level output (the gated cell with ``levels > 1``) is a small
  integer times the level height, so each non-zero output costs one MAC per
  synapse it reaches (Ponghiran & Roy count multiplications that scale with
  the non-zero outputs); a zero costs nothing.
* Each neuron's own update costs a few operations per step, counted from
  the equations as implemented (multiplications as MACs, additions of a
  constant as ACs, each sigmoid or tanh as one MAC, threshold comparisons
  free). Each neuron declares its count, ``neuron_update_operations``, in its own module (LIF 2 MACs,
  ALIF 4, gated 4 MACs and 2 ACs, the leaky readout 2); see
  [`neuron_update_operations`][keras_spiking_rnn.analysis.operations.neuron_update_operations].
* Biases cost one AC per gate unit and step in spiking layers, and are
  counted as the ``+ 1`` input of a MAC row in LSTM, GRU and dense layers.

Energy (a theoretical estimate, like the paper's): ``E = 3.1 pJ x MAC +
0.1 pJ x AC`` per step, Horowitz's 45 nm figures for 32-bit integer multiply
and add (M. Horowitz, ISSCC 2014, as used by Yin et al. 2021). It ignores
memory access, data movement and spike routing, which often dominate on
real hardware; its float32 figures would be 4.6 pJ and 0.9 pJ.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.neuron import implementation

MAC_ENERGY_PJ = 3.1
"""Energy of one multiply-accumulate in picojoules: 32-bit integer multiply, 45 nm (Horowitz 2014; Yin et al. 2021)."""
AC_ENERGY_PJ = 0.1
"""Energy of one accumulate in picojoules: 32-bit integer add, 45 nm (Horowitz 2014; Yin et al. 2021)."""

_INPUT_KINDS = ("dense", "spikes")


@dataclasses.dataclass(frozen=True)
class Operations:
    """Operations per timestep: ``macs`` multiply-accumulates and ``acs`` accumulates (floats: averages).

    Two counts add up with ``+``.

    Attributes:
        macs: multiply-accumulates per timestep.
        acs: accumulates per timestep.

    Examples:
        >>> Operations(macs=100.0, acs=50.0) + Operations(10.0)
        Operations(macs=110.0, acs=50.0)
    """

    macs: float
    acs: float = 0.0

    def energy_pj(self, mac_pj: float = MAC_ENERGY_PJ, ac_pj: float = AC_ENERGY_PJ) -> float:
        """Theoretical energy in picojoules, ``mac_pj * macs + ac_pj * acs``.

        See [`energy_pj`][keras_spiking_rnn.analysis.operations.energy_pj] for the figures and what they leave out.

        Args:
            mac_pj: energy of one MAC in pJ (default 3.1, 32-bit integer, 45 nm).
            ac_pj: energy of one AC in pJ (default 0.1).

        Returns:
            The energy in picojoules.

        Raises:
            ValueError: a count or an energy that is not a number >= 0.

        Examples:
            >>> Operations(macs=1000, acs=10_000).energy_pj()
            4100.0
        """
        return energy_pj(self.macs, self.acs, mac_pj, ac_pj)

    def __add__(self, other: Operations) -> Operations:
        return Operations(self.macs + other.macs, self.acs + other.acs)


def energy_pj(macs: float, acs: float, mac_pj: float = MAC_ENERGY_PJ, ac_pj: float = AC_ENERGY_PJ) -> float:
    """Theoretical energy of ``macs`` MACs and ``acs`` ACs in picojoules: ``mac_pj * macs + ac_pj * acs``.

    The defaults are Horowitz's 45 nm figures that Yin et al. (2021) use,
    3.1 pJ per (32-bit integer) MAC and 0.1 pJ per AC. A theoretical
    estimate: memory access and data movement are not included.

    Args:
        macs: number of multiply-accumulates (>= 0).
        acs: number of accumulates (>= 0).
        mac_pj: energy of one MAC in pJ.
        ac_pj: energy of one AC in pJ.

    Returns:
        The energy in picojoules.

    Raises:
        ValueError: an argument that is not a number >= 0.

    Examples:
        >>> energy_pj(1000, 10_000)
        4100.0
    """
    for name, value in (("macs", macs), ("acs", acs), ("mac_pj", mac_pj), ("ac_pj", ac_pj)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value >= 0:
            raise ValueError(f"energy_pj: `{name}` must be a number >= 0, got {value!r}.")
    return float(mac_pj * macs + ac_pj * acs)


def _check_sizes(owner: str, inputs: int, units: int) -> None:
    for name, value in (("inputs", inputs), ("units", units)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{owner}: `{name}` must be an integer >= 1, got {value!r}.")


def lstm_operations(inputs: int, units: int) -> Operations:
    """Operations of one LSTM layer per timestep (Yin et al. 2021, Fig. 2a).

    Four gates of ``(inputs + units + 1) x units`` MACs (weights and bias), the
    three elementwise products ``f * c``, ``i * g``, ``o * tanh(c)`` and five
    nonlinearities (three sigmoids, two tanh), each counted as one MAC per unit.

    Args:
        inputs: input features per step.
        units: hidden units.

    Returns:
        [`Operations`][keras_spiking_rnn.analysis.operations.Operations] per step; all MACs.

    Raises:
        ValueError: ``inputs`` or ``units`` not an integer >= 1.

    Examples:
        >>> lstm_operations(8, 128).macs
        71168
    """
    _check_sizes("lstm_operations", inputs, units)
    return Operations(macs=4 * (inputs + units + 1) * units + 8 * units)


def gru_operations(inputs: int, units: int, reset_after: bool = True) -> Operations:
    """Operations of one GRU layer per timestep, as ``keras.layers.GRU`` computes it.

    Three gates of ``(inputs + units + 2) x units`` MACs with ``reset_after``
    (Keras's default: separate input and recurrent biases), else
    ``(inputs + units + 1) x units``; the three elementwise products
    ``r * (U h)``, ``z * h``, ``(1 - z) * h~`` and three nonlinearities, one MAC
    per unit each.

    Args:
        inputs: input features per step.
        units: hidden units.
        reset_after: Keras's ``reset_after`` (two bias vectors).

    Returns:
        [`Operations`][keras_spiking_rnn.analysis.operations.Operations] per step; all MACs.

    Raises:
        ValueError: ``inputs`` or ``units`` not an integer >= 1.

    Examples:
        >>> gru_operations(8, 128).macs
        53760
    """
    _check_sizes("gru_operations", inputs, units)
    return Operations(macs=3 * (inputs + units + (2 if reset_after else 1)) * units + 6 * units)


def simple_rnn_operations(inputs: int, units: int) -> Operations:
    """Operations of one ``keras.layers.SimpleRNN`` per timestep: ``(inputs + units + 1) x units`` MACs and a tanh.

    The tanh counts as one MAC per unit.

    Args:
        inputs: input features per step.
        units: hidden units.

    Returns:
        [`Operations`][keras_spiking_rnn.analysis.operations.Operations] per step; all MACs.

    Raises:
        ValueError: ``inputs`` or ``units`` not an integer >= 1.

    Examples:
        >>> simple_rnn_operations(8, 128).macs  # (8 + 128 + 1) * 128 + 128
        17664
    """
    _check_sizes("simple_rnn_operations", inputs, units)
    return Operations(macs=(inputs + units + 1) * units + units)


def neuron_update_operations(cell: keras.layers.Layer) -> tuple[int, int]:
    """(MACs, ACs) of one neuron's update per step for a cell: what the neuron's class declares.

    Each neuron module declares ``neuron_update_operations = (macs, acs)`` next to its equations; a
    subclass that changes the equations (``update``) must declare its own (see
    ``keras_spiking_rnn.cells.neuron.implementation``).

    Args:
        cell: a cell object, e.g. ``layer.cell`` of a ``SpikingRNN``.

    Returns:
        ``(macs, acs)`` per neuron and step.

    Raises:
        ValueError: for a cell whose cost is not known.

    Examples:
        >>> neuron_update_operations(ALIFCell(4))
        (4, 0)
    """
    declared = implementation(cell, "neuron_update_operations")
    if declared is None:
        raise ValueError(
            f"count_operations: no operation count for cell {type(cell).__name__}; give the class an attribute "
            "`neuron_update_operations = (macs, acs)` per neuron and step."
        )
    return tuple(declared)


def output_kind(layer: keras.layers.Layer) -> str:
    """How a layer's outputs cost at the synapses they reach: ``"binary"``, ``"multilevel"`` or ``"dense"``.

    Args:
        layer: a Keras layer.

    Returns:
        ``"multilevel"`` for a ``SpikingRNN`` of a neuron with ``output_levels > 1`` (the gated cell with
            ``levels > 1``), ``"binary"`` for any other ``SpikingRNN``, ``"dense"`` for every other layer.

    Examples:
        >>> output_kind(SpikingRNN(4, neuron="gated", levels=7)), output_kind(keras.layers.Dense(3))
        ('multilevel', 'dense')
    """
    from keras_spiking_rnn.layers import SpikingRNN  # the layers import the cells; this module is imported lazily

    if isinstance(layer, SpikingRNN):
        return "multilevel" if getattr(layer.cell, "output_levels", 1) > 1 else "binary"
    return "dense"


def synapse_operations(inputs: np.ndarray, kind: str, fan_out: int) -> Operations:
    """Operations per step of ``inputs`` (batch, time, features) arriving at ``fan_out`` synapses each.

    ``"dense"``: one MAC per weight; ``"binary"``: one AC per non-zero input
    and synapse; ``"multilevel"``: one MAC per non-zero input and synapse;
    ``"spikes"`` (spike counts): ``k`` ACs per synapse for a count ``k``.

    Args:
        inputs: the values arriving, (batch, time, features); only their zeros matter except for ``"spikes"``.
        kind: one of the four above.
        fan_out: synapses per input feature (``n_gates * units`` of the receiving layer).

    Returns:
        [`Operations`][keras_spiking_rnn.analysis.operations.Operations] per step and sequence, averaged over the batch
            and the steps.

    Raises:
        ValueError: unknown ``kind``, or ``"spikes"`` inputs that are not non-negative whole numbers.

    Examples:
        >>> spikes = np.array([[[1, 0], [0, 0], [1, 1]]])  # 3 spikes in 3 steps
        >>> float(synapse_operations(spikes, "binary", fan_out=3).acs)  # 3 spikes x 3 synapses / 3 steps
        3.0
    """
    inputs = np.asarray(inputs)
    steps = inputs.shape[0] * inputs.shape[1]
    if kind == "dense":
        return Operations(macs=float(inputs.shape[-1] * fan_out))
    if kind in ("binary", "multilevel"):
        events = np.count_nonzero(inputs) * fan_out / steps
        return Operations(macs=events) if kind == "multilevel" else Operations(macs=0.0, acs=events)
    if kind == "spikes":
        if np.any(inputs < 0) or np.any(inputs != np.round(inputs)):
            raise ValueError(
                "count_operations: `input_kind='spikes'` needs spike counts (non-negative whole numbers) as inputs."
            )
        return Operations(macs=0.0, acs=float(inputs.sum()) * fan_out / steps)
    raise ValueError(f"synapse_operations: `kind` must be dense, binary, multilevel or spikes, got {kind!r}.")
