"""Spike functions: an exact Heaviside step forward, a surrogate derivative backward.

A spiking neuron emits ``H(v)`` where ``v = u - threshold`` and ``H(v) = 1`` if
``v > 0`` else ``0``. The step has zero derivative almost everywhere, so
training with backpropagation through time replaces ``dH/dv`` by a smooth
*surrogate* ``f'(v)`` (Neftci, Mostafa & Zenke 2019). Every surrogate here is a
small serializable object; calling it on a tensor applies the spike function:

    import tensorflow as tf
    from keras_spiking_rnn import surrogates

    spike = surrogates.get("multi_gaussian")
    v = tf.constant([-0.3, 0.0, 0.2])
    spike(v)                      # [0., 0., 1.]  (the exact step)
    spike.derivative(v)           # the surrogate used by the gradient

Surrogates are addressable by name (``surrogates.get("gaussian")``), by config
dict, or as objects with their constants changed
(``surrogates.MultiGaussian(sigma=0.3)``). User-defined surrogates subclass
[`Surrogate`][keras_spiking_rnn.surrogates.Surrogate], implement
[`Surrogate.derivative`][keras_spiking_rnn.surrogates.Surrogate.derivative] and, to be
addressable by name and restored by ``keras.models.load_model``, are decorated
with [`register_surrogate`][keras_spiking_rnn.surrogates.register_surrogate].

Every surrogate takes ``gain``, a constant factor on the derivative. The
default ``gain=1`` gives the formulas as printed in the papers; the code of
Yin et al. (2021) multiplies every surrogate by 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Union

import tensorflow as tf

from keras_spiking_rnn._keras import keras

__all__ = [
    "Surrogate",
    "MultiGaussian",
    "Gaussian",
    "Linear",
    "SLayer",
    "FastSigmoid",
    "Arctan",
    "StraightThrough",
    "register_surrogate",
    "get",
    "serialize",
    "available",
]

_REGISTRY: dict[str, type[Surrogate]] = {}
_PACKAGE = "keras_spiking_rnn"


def register_surrogate(name: str) -> Callable[[type], type]:
    """Registers a [`Surrogate`][keras_spiking_rnn.surrogates.Surrogate] subclass under ``name``.

    The class becomes addressable as ``surrogate="name"`` in every cell and is
    registered with Keras serialization, so saved models restore it.

    Args:
        name: the string users pass, e.g. ``"my_surrogate"``.

    Returns:
        A class decorator that registers the class and returns it.

    Raises:
        ValueError: if ``name`` is empty or not a string, or (when decorating) already taken by
            another class.
        TypeError: (when decorating) a class that is not a ``Surrogate`` subclass.

    Examples:
        >>> @register_surrogate("box")
        ... class Box(Surrogate):
        ...     def derivative(self, v):
        ...         return tf.cast(tf.abs(v) < 1.0, v.dtype) * 0.5
        >>> get("box")
        Box(gain=1.0)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_surrogate: `name` must be a non-empty string, got {name!r}.")

    def decorator(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, Surrogate)):
            raise TypeError(f"register_surrogate('{name}') decorates Surrogate subclasses, got {cls!r}.")
        previous = _REGISTRY.get(name)
        if previous is not None and previous.__qualname__ != cls.__qualname__:
            raise ValueError(f"A surrogate named '{name}' is already registered ({previous.__qualname__}).")
        _REGISTRY[name] = cls
        cls.name = name
        return keras.saving.register_keras_serializable(package=_PACKAGE, name=cls.__name__)(cls)

    return decorator


def _positive(owner: str, **values: float) -> None:
    for arg, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{owner}: `{arg}` must be a positive finite number, got {value!r}.")


class Surrogate:
    """Base class of spike functions with a surrogate gradient.

    Forward: ``H(v)``, exactly (1 where ``v > 0``, else 0), in ``v``'s dtype.
    Backward: ``dL/dv = dL/ds * gain * derivative(v)``.

    Subclasses implement [`derivative`][keras_spiking_rnn.surrogates.Surrogate.derivative] and list their
    constants in ``get_config``.

    Args:
        gain: constant factor on the surrogate derivative (default 1).

    Raises:
        ValueError: ``gain`` not a positive finite number.

    Examples:
        >>> v = tf.constant([-0.3, 0.0, 0.2])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(v)
        ...     spikes = StraightThrough()(v)
        >>> spikes.numpy(), tape.gradient(spikes, v).numpy()
        (array([0., 0., 1.], dtype=float32), array([1., 1., 1.], dtype=float32))
    """

    name: str = "surrogate"

    def __init__(self, gain: float = 1.0):
        _positive(type(self).__name__, gain=gain)
        self.gain = float(gain)

    def derivative(self, v: tf.Tensor) -> tf.Tensor:
        """The surrogate of ``dH/dv``, before ``gain``.

        Args:
            v: the margin ``u - threshold``, a floating-point tensor of any shape.

        Returns:
            Tensor of the shape and dtype of ``v``.

        Raises:
            NotImplementedError: in the base class; subclasses implement it.

        Examples:
            >>> Gaussian().derivative(tf.constant([0.0, 0.5])).numpy().round(4)
            array([0.7979, 0.4839], dtype=float32)
        """
        raise NotImplementedError(f"{type(self).__name__} must implement derivative(v).")

    def spike_gradient(self, v: tf.Tensor) -> tf.Tensor:
        """The gradient the spike passes back per unit of upstream gradient: ``gain * derivative(v)``.

        Args:
            v: the margin ``u - threshold``, a floating-point tensor of any shape.

        Returns:
            Tensor of the shape and dtype of ``v``.

        Examples:
            >>> Gaussian(gain=0.5).spike_gradient(tf.constant([0.0])).numpy().round(4)
            array([0.3989], dtype=float32)
        """
        return self.gain * self.derivative(v)

    def __call__(self, v: tf.Tensor) -> tf.Tensor:
        """Spikes ``H(v)`` (shape and dtype of ``v``) with the surrogate gradient."""

        @tf.custom_gradient
        def spike(x):
            def grad(upstream):
                return upstream * self.spike_gradient(x)

            return tf.where(x > 0, tf.ones_like(x), tf.zeros_like(x)), grad

        return spike(v)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Surrogate:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


def _normal_pdf(v: tf.Tensor, mean: float, std: float) -> tf.Tensor:
    return tf.exp(-0.5 * tf.square((v - mean) / std)) / (std * math.sqrt(2.0 * math.pi))


@register_surrogate("multi_gaussian")
class MultiGaussian(Surrogate):
    """Multi-Gaussian surrogate (Yin, Corradi & Bohté 2021, eq. 1).

    ``f'(v) = (1 + h) N(v | 0, sigma^2) - h N(v | sigma, (s sigma)^2) - h N(v | -sigma, (s sigma)^2)``

    The two wide negative Gaussians give the derivative negative side lobes,
    as ELU/leaky-ReLU do. Defaults are the paper's: ``h = 0.15``, ``s = 6``,
    ``sigma = 0.5``; the peak is 0.878 at ``v = 0``.

    Args:
        sigma: width of the central Gaussian.
        height: ``h``, weight of the negative side Gaussians.
        scale: ``s``, width of the side Gaussians relative to ``sigma``.
        gain: constant factor on the derivative.

    Raises:
        ValueError: an argument that is not a positive finite number.

    Examples:
        >>> MultiGaussian().derivative(tf.constant([0.0, 0.5])).numpy().round(4)
        array([0.8782, 0.5177], dtype=float32)
    """

    def __init__(self, sigma: float = 0.5, height: float = 0.15, scale: float = 6.0, gain: float = 1.0):
        super().__init__(gain)
        _positive("MultiGaussian", sigma=sigma, height=height, scale=scale)
        self.sigma, self.height, self.scale = float(sigma), float(height), float(scale)

    def derivative(self, v):
        wide = self.scale * self.sigma
        return (
            (1.0 + self.height) * _normal_pdf(v, 0.0, self.sigma)
            - self.height * _normal_pdf(v, self.sigma, wide)
            - self.height * _normal_pdf(v, -self.sigma, wide)
        )

    def get_config(self):
        return {"sigma": self.sigma, "height": self.height, "scale": self.scale, **super().get_config()}


@register_surrogate("gaussian")
class Gaussian(Surrogate):
    """Gaussian surrogate: ``f'(v) = N(v | 0, sigma^2)`` (Yin et al. 2021, sigma_G = 0.5).

    Args:
        sigma: standard deviation.
        gain: constant factor on the derivative.

    Raises:
        ValueError: an argument that is not a positive finite number.

    Examples:
        >>> Gaussian().derivative(tf.constant([0.0])).numpy().round(4)  # 1 / (0.5 * sqrt(2 pi))
        array([0.7979], dtype=float32)
    """

    def __init__(self, sigma: float = 0.5, gain: float = 1.0):
        super().__init__(gain)
        _positive("Gaussian", sigma=sigma)
        self.sigma = float(sigma)

    def derivative(self, v):
        return _normal_pdf(v, 0.0, self.sigma)

    def get_config(self):
        return {"sigma": self.sigma, **super().get_config()}


@register_surrogate("linear")
class Linear(Surrogate):
    """Linear (triangle) surrogate: ``f'(v) = max(0, 1 - slope |v|)`` (Bellec et al. 2018; slope 1 in Yin et al.).

    Args:
        slope: how fast the triangle falls off; its half-width is ``1 / slope``.
        gain: constant factor on the derivative.

    Raises:
        ValueError: an argument that is not a positive finite number.

    Examples:
        >>> Linear().derivative(tf.constant([-0.5, 0.0, 2.0])).numpy()
        array([0.5, 1. , 0. ], dtype=float32)
    """

    def __init__(self, slope: float = 1.0, gain: float = 1.0):
        super().__init__(gain)
        _positive("Linear", slope=slope)
        self.slope = float(slope)

    def derivative(self, v):
        return tf.nn.relu(1.0 - self.slope * tf.abs(v))

    def get_config(self):
        return {"slope": self.slope, **super().get_config()}


@register_surrogate("slayer")
class SLayer(Surrogate):
    """SLayer exponential surrogate: ``f'(v) = exp(-rate |v|)`` (Shrestha & Orchard 2018; rate 5 in Yin et al.).

    SLayer itself multiplies this by a constant; here that constant is ``gain``.

    Args:
        rate: decay rate of the exponential.
        gain: constant factor on the derivative.

    Raises:
        ValueError: an argument that is not a positive finite number.

    Examples:
        >>> SLayer().derivative(tf.constant([0.0, 0.2])).numpy().round(4)  # exp(-5 * 0.2) = exp(-1)
        array([1.    , 0.3679], dtype=float32)
    """

    def __init__(self, rate: float = 5.0, gain: float = 1.0):
        super().__init__(gain)
        _positive("SLayer", rate=rate)
        self.rate = float(rate)

    def derivative(self, v):
        return tf.exp(-self.rate * tf.abs(v))

    def get_config(self):
        return {"rate": self.rate, **super().get_config()}


@register_surrogate("fast_sigmoid")
class FastSigmoid(Surrogate):
    """Fast-sigmoid (SuperSpike) surrogate: ``f'(v) = 1 / (1 + slope |v|)^2`` (Zenke & Ganguli 2018).

    The default ``slope = 25`` is snnTorch's.

    Args:
        slope: steepness; larger is narrower.
        gain: constant factor on the derivative.

    Raises:
        ValueError: an argument that is not a positive finite number.

    Examples:
        >>> FastSigmoid().derivative(tf.constant([0.0, 0.04])).numpy()  # 1 / (1 + 25 * 0.04)**2
        array([1.  , 0.25], dtype=float32)
    """

    def __init__(self, slope: float = 25.0, gain: float = 1.0):
        super().__init__(gain)
        _positive("FastSigmoid", slope=slope)
        self.slope = float(slope)

    def derivative(self, v):
        return 1.0 / tf.square(1.0 + self.slope * tf.abs(v))

    def get_config(self):
        return {"slope": self.slope, **super().get_config()}


@register_surrogate("arctan")
class Arctan(Surrogate):
    """Arctan surrogate: the derivative of ``arctan(pi/2 * width * v) / pi``.

    ``f'(v) = (width / 2) / (1 + (pi/2 * width * v)^2)``; with the default
    ``width = 2`` this is ``1 / (1 + (pi v)^2)``, peak 1 (Fang et al. 2021, as in
    SpikingJelly and snnTorch).

    Args:
        width: steepness of the underlying arctan.
        gain: constant factor on the derivative.

    Raises:
        ValueError: an argument that is not a positive finite number.

    Examples:
        >>> Arctan().derivative(tf.constant([0.0, 1 / np.pi])).numpy().round(4)  # 1 / (1 + (pi v)**2)
        array([1. , 0.5], dtype=float32)
    """

    def __init__(self, width: float = 2.0, gain: float = 1.0):
        super().__init__(gain)
        _positive("Arctan", width=width)
        self.width = float(width)

    def derivative(self, v):
        return (self.width / 2.0) / (1.0 + tf.square(math.pi / 2.0 * self.width * v))

    def get_config(self):
        return {"width": self.width, **super().get_config()}


@register_surrogate("straight_through")
class StraightThrough(Surrogate):
    """Straight-through (box) surrogate: ``f'(v) = 1`` where ``|v| < half_width``, else 0.

    Args:
        half_width: half the width of the window around the threshold.
        gain: constant factor on the derivative.

    Raises:
        ValueError: an argument that is not a positive finite number.

    Examples:
        >>> StraightThrough().derivative(tf.constant([-0.6, 0.0, 0.4])).numpy()
        array([0., 1., 1.], dtype=float32)
    """

    def __init__(self, half_width: float = 0.5, gain: float = 1.0):
        super().__init__(gain)
        _positive("StraightThrough", half_width=half_width)
        self.half_width = float(half_width)

    def derivative(self, v):
        return tf.where(tf.abs(v) < self.half_width, tf.ones_like(v), tf.zeros_like(v))

    def get_config(self):
        return {"half_width": self.half_width, **super().get_config()}


SurrogateLike = Union[str, dict, Surrogate]


def available() -> list[str]:
    """The names accepted by [`get`][keras_spiking_rnn.surrogates.get], sorted.

    Returns:
        The registered surrogate names, the built-in ones and those added with ``register_surrogate``.

    Examples:
        >>> available()
        ['arctan', 'fast_sigmoid', 'gaussian', 'linear', 'multi_gaussian', 'slayer', 'straight_through']
    """
    return sorted(_REGISTRY)


def get(identifier: SurrogateLike) -> Surrogate:
    """Returns a [`Surrogate`][keras_spiking_rnn.surrogates.Surrogate] for a name, a config dict or an instance.

    Args:
        identifier: ``"multi_gaussian"`` and the other names of
            [`available`][keras_spiking_rnn.surrogates.available]; a dict from
            [`serialize`][keras_spiking_rnn.surrogates.serialize]; or a ``Surrogate`` (returned as is).

    Returns:
        The ``Surrogate``: ``identifier`` itself, or a new instance with the default (or the dict's)
            constants.

    Raises:
        ValueError: for an unknown name or a malformed dict.
        TypeError: for any other kind of value.

    Examples:
        >>> get("gaussian")
        Gaussian(sigma=0.5, gain=1.0)
    """
    if isinstance(identifier, Surrogate):
        return identifier
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier)
        if cls is None:
            raise ValueError(
                f"Unknown surrogate {identifier!r}: expected one of {available()} "
                "or a Surrogate instance (register new ones with register_surrogate)."
            )
        return cls()
    if isinstance(identifier, dict):
        obj = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(obj, Surrogate):
            raise ValueError(f"The config {identifier!r} does not describe a Surrogate.")
        return obj
    raise TypeError(
        f"`surrogate` must be a name in {available()}, a Surrogate instance or its config dict; "
        f"got {identifier!r} of type {type(identifier).__name__}."
    )


def serialize(surrogate: Surrogate) -> dict[str, Any]:
    """The Keras config dict of ``surrogate``, which [`get`][keras_spiking_rnn.surrogates.get] turns back into it.

    Args:
        surrogate: the surrogate to serialize.

    Returns:
        A JSON-serializable dict with the class, its registered name and its constants.

    Examples:
        >>> get(serialize(Gaussian(sigma=0.3)))
        Gaussian(sigma=0.3, gain=1.0)
    """
    return keras.saving.serialize_keras_object(surrogate)
