"""The neuron protocol, the registry of neuron models, and the rule for which implementation serves a cell.

A neuron model is one class, in one module, that holds all of it. The stages of the library (the fused
BPTT, quantization-aware training, the streaming int8 export, the analyses, ``SpikingRNN``'s name lookup
and the tf-keras configs) ask the class through this protocol and never name a concrete neuron:

| member | what it is, and who asks |
| --- | --- |
| `state_names` | the states, each (batch, units), all at rest at 0 (every stage) |
| `output_state` | index of the state that is the output and feeds back |
| `n_gates` | column blocks of `units` in the synaptic weights |
| `step_constants()` | tensors computed once per sequence from the weights (decay factors) |
| `update(current, states, constants)` | **the float equations**: the states of step t from the synaptic input |
| `adjoint(...)` | closed-form BPTT of `update`, or None for the taped fallback (`keras_spiking_rnn.bptt`) |
| `emits_spikes` | False for a non-spiking readout neuron |
| `output_levels`, `output_height` | non-zero output levels (1: binary), the height of one (level k = k spikes) |
| `neuron_update_operations` | (MACs, ACs) per neuron and step (`analysis.count_operations`) |
| `threshold_trace(states)` | the firing threshold over time, for recordings, or None |
| `int8_parameters(numerics)` | the constants as the int8 model holds them (QAT and the export) |
| `int8_step(x, states, parameters, ops)` | **the int8 equations**, in the int8 model's op order (QAT and the export) |
| `int8_sites()` | the names of the tensors `int8_step` quantizes, in order |
| `int8_fixed_ranges()` | sites whose int8 range a kernel or the design fixes |
| `int8_state_sites` | per state, the site whose grid it is stored on (None: 0/1 spikes) |
| `int8_state_clips()` | states a float export clips to a fixed range |

:func:`register_neuron` makes a class addressable as ``SpikingRNN(neuron="name")`` and serializable.

**Which implementation serves a cell** (:func:`implementation`): an implementation (the adjoint, the int8
step, the threshold trace, the operation count) serves a cell only if the float equations the cell runs
are those of the class that wrote the implementation. A subclass that overrides ``update`` or
``step_constants`` but not ``adjoint`` trains with the taped adjoint; one that does not override
``int8_step`` is refused by ``quantize_model`` and the export, with an error naming the method to write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras_spiking_rnn._keras import keras

_PACKAGE = "keras_spiking_rnn"
_REGISTRY: dict[str, type] = {}

#: The members that define a neuron's float equations; an implementation written for other equations
#: does not serve a cell that overrides one of them.
FLOAT_EQUATIONS = ("update", "step_constants")

#: The members that a neuron's int8 form consists of (all needed by ``quantize_model`` and the export).
INT8_FORM = ("int8_step", "int8_parameters", "int8_sites")


class Neuron:
    """The protocol every neuron model implements; a mixin of the library's cells (see the module docstring).

    Subclass [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell] (or
    [`LeakyCell`][keras_spiking_rnn.cells.LeakyCell] for a leaky membrane with a trainable ``tau_m``) rather
    than this class: they add the synaptic weights and the Keras cell contract. A new neuron implements
    ``state_names`` and ``update`` to train; ``int8_parameters``, ``int8_sites`` and ``int8_step`` to be
    quantized, exported and run on a microcontroller; ``adjoint`` only for speed.

    Examples:
        >>> from keras_spiking_rnn.cells.neuron import available_neurons
        >>> available_neurons()
        ['alif', 'gated', 'leaky_integrator', 'lif']
    """

    state_names: tuple[str, ...] = ()
    output_state: int = -1
    n_gates: int = 1

    #: Whether the outputs are spikes (0/1 or a few levels) rather than real values (a readout).
    emits_spikes: bool = True

    #: (MACs, ACs) of one neuron's update per step, counted from the equations; None: unknown.
    neuron_update_operations: tuple[int, int] | None = None

    #: The closed-form adjoint of ``update`` for the fused BPTT, or None for the taped fallback. Signature:
    #: ``adjoint(d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile)
    #: -> (d_sequence, d_recurrent or None, d_constants, d_initial)`` (see ``keras_spiking_rnn.bptt``).
    adjoint: Callable[..., Any] | None = None

    #: The int8 step, ``int8_step(x, states, parameters, ops) -> new_states`` (see
    #: ``keras_spiking_rnn.int8.arithmetic.Int8Ops``), or None: the neuron has no int8 form.
    int8_step: Callable[..., Any] | None = None

    #: Per state (in ``state_names`` order), the int8 site whose grid it is stored on; None: a 0/1 spike.
    int8_state_sites: tuple[str | None, ...] = ()

    @property
    def output_levels(self) -> int:
        """The number of non-zero output levels: 1 for binary spikes."""
        return 1

    @property
    def output_height(self) -> float:
        """The height of one output level: an output of ``k * output_height`` counts as ``k`` spikes."""
        return 1.0

    def int8_parameters(self, numerics: Any) -> dict[str, Any]:
        """The neuron's constants as the int8 model holds them, computed from its weights.

        Args:
            numerics: ``decay(dt, tau)`` (``exp(-dt / tau)``) and ``ones(n)``, in NumPy for the export and in
                TensorFlow (differentiable) for quantization-aware training.

        Returns:
            ``{name: value}``; ``"synapse_scale"`` (n_gates * units,) is folded into the synaptic weights.
        """
        raise NotImplementedError(f"{type(self).__name__} has no int8 form: implement `int8_parameters`.")

    def int8_sites(self) -> tuple[str, ...]:
        """The names of the tensors that ``int8_step`` quantizes, in computation order."""
        raise NotImplementedError(f"{type(self).__name__} has no int8 form: implement `int8_sites`.")

    def int8_fixed_ranges(self) -> dict[str, tuple[float, float]]:
        """Sites whose int8 range a kernel (LOGISTIC's output) or the design fixes; they are not tracked."""
        return {}

    def int8_state_clips(self) -> dict[str, tuple[float, float]]:
        """``{state name: (min, max)}``: states that a float export clips to a fixed range after each step."""
        return {}

    def threshold_trace(self, states: dict) -> Any:
        """The firing threshold at each step from recorded ``states`` ({name: (batch, time, units)}), or None."""
        return None


def register_neuron(name: str, package: str = _PACKAGE) -> Callable[[type], type]:
    """Registers a neuron class under ``name``, as ``register_surrogate`` registers a surrogate.

    The class becomes addressable as ``SpikingRNN(units, neuron="name", ...)``, and is registered with Keras
    serialization (unless it already is), so that ``.keras`` files restore it; quantization-aware training,
    the export, the analyses and the tests' conformance suite find it in the registry.

    Args:
        name: the string users pass, e.g. ``"my_neuron"``.
        package: the Keras serialization package of the class, if it is not registered yet.

    Returns:
        A class decorator that registers the class and returns it.

    Raises:
        ValueError: ``name`` empty or not a string, or (when decorating) taken by another class.
        TypeError: (when decorating) a class that is not a Keras layer implementing
            [`Neuron`][keras_spiking_rnn.cells.neuron.Neuron].

    Examples:
        >>> @register_neuron("relay")
        ... class Relay(SpikingCell):
        ...     state_names = ("spikes",)
        ...     def update(self, current, states, constants):
        ...         return [self.surrogate(current - 0.5)]
        >>> SpikingRNN(8, neuron="relay").cell
        <Relay name=relay, built=False>
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_neuron: `name` must be a non-empty string, got {name!r}.")

    def decorator(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, Neuron) and issubclass(cls, keras.layers.Layer)):
            raise TypeError(
                f"register_neuron({name!r}): {cls!r} must be a Keras layer class implementing the neuron protocol; "
                "subclass keras_spiking_rnn.cells.SpikingCell (or LeakyCell)."
            )
        previous = _REGISTRY.get(name)
        if previous is not None and previous.__qualname__ != cls.__qualname__:
            raise ValueError(f"register_neuron: the name {name!r} is already taken by {previous.__qualname__}.")
        _REGISTRY[name] = cls
        cls.neuron_name = name
        if keras.saving.get_registered_name(cls) == cls.__name__:  # not registered with Keras yet
            cls = keras.saving.register_keras_serializable(package=package, name=cls.__name__)(cls)
        return cls

    return decorator


def get_neuron(name: str) -> type:
    """The neuron class registered under ``name``.

    Args:
        name: a name of [`available_neurons`][keras_spiking_rnn.cells.neuron.available_neurons].

    Returns:
        The class.

    Raises:
        ValueError: an unknown name (the message lists the registered ones).

    Examples:
        >>> get_neuron("alif").__name__
        'ALIFCell'
    """
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown neuron {name!r}: expected one of {available_neurons()} or a cell object "
            "(register new neurons with keras_spiking_rnn.register_neuron)."
        )
    return cls


def available_neurons(spiking: bool | None = None) -> list[str]:
    """The registered neuron names, sorted.

    Args:
        spiking: True for the spiking neurons only, False for the non-spiking (readout) ones; None: all.

    Returns:
        The names.

    Examples:
        >>> available_neurons(spiking=True)
        ['alif', 'gated', 'lif']
    """
    return sorted(name for name, cls in _REGISTRY.items() if spiking is None or cls.emits_spikes == spiking)


def registered_neurons() -> dict[str, type]:
    """``{name: class}`` of every registered neuron (a copy)."""
    return dict(_REGISTRY)


def _owner(cls: type, member: str) -> type | None:
    return next((klass for klass in cls.__mro__ if member in vars(klass)), None)


def implementation(cell: Any, member: str) -> Any:
    """The cell's ``member`` if it serves the cell (see the module docstring), else None.

    ``member`` serves the cell if it is defined (not None) and the class that defines it runs the same float
    equations (:data:`FLOAT_EQUATIONS`) as the cell.

    Args:
        cell: a cell object.
        member: ``"adjoint"``, ``"int8_step"``, ``"threshold_trace"``, ``"neuron_update_operations"``, ...

    Returns:
        ``getattr(cell, member)``, or None.

    Examples:
        >>> class Halving(LIFCell):  # new float equations, no new int8 step
        ...     def update(self, current, states, constants):
        ...         return super().update(0.5 * current, states, constants)
        >>> implementation(LIFCell(4), "int8_step") is not None, implementation(Halving(4), "int8_step")
        (True, None)
    """
    cls = type(cell)
    owner = _owner(cls, member)
    if owner is None or getattr(owner, member) is None:
        return None
    if any(getattr(cls, name, None) is not getattr(owner, name, None) for name in FLOAT_EQUATIONS):
        return None
    return getattr(cell, member)


def missing_int8_form(cell: Any) -> str | None:
    """Why ``cell`` has no int8 form (a sentence naming its class and the methods to implement), or None.

    Args:
        cell: a cell object, or a cell class.

    Returns:
        None if quantization-aware training and the export can run the cell, else the reason.

    Examples:
        >>> missing_int8_form(ALIFCell(4)) is None
        True
    """
    cls = cell if isinstance(cell, type) else type(cell)
    name = cls.__name__
    if not issubclass(cls, Neuron):
        return f"cell {name} does not implement the neuron protocol (keras_spiking_rnn.cells.neuron.Neuron)"
    owner = _owner(cls, "int8_step")
    if owner is None or owner.int8_step is None:
        return f"cell {name} has no int8 form: implement `int8_step`, `int8_parameters` and `int8_sites`"
    changed = [m for m in FLOAT_EQUATIONS if getattr(cls, m, None) is not getattr(owner, m, None)]
    if changed:
        return (
            f"cell {name} overrides `{'`, `'.join(changed)}` (its float equations) but inherits `int8_step` from "
            f"{owner.__name__}, which computes {owner.__name__}'s equations: implement `{name}.int8_step` (and "
            "`int8_parameters`, `int8_sites` if they change) to quantize or export it"
        )
    for member in INT8_FORM[1:]:
        if _owner(cls, member) is Neuron:
            return f"cell {name} has an `int8_step` but no `{member}`: implement it"
    return None
