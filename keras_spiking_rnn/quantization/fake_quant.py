"""Fake quantization as TFLite's int8 kernels quantize, and ranges tracked in training.

* Weights: symmetric, narrow range ``[-127, 127]``, scale ``max|w| / 127`` per matrix or per output
  column, as the converter quantizes FULLY_CONNECTED weights.
* Other constants (decay factors, thresholds, level heights): asymmetric over ``[min(0, c), max(0, c)]``,
  as the converter quantizes a constant operand of MUL, ADD, GREATER or SELECT_V2.
* Activations and states: asymmetric int8 over a range tracked per tensor in training.

Each rounds to nearest; gradients pass straight through inside the range and stop outside it
(``tf.quantization.fake_quant_with_min_max_vars``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_TINY = 1e-6  # the smallest range width: keeps the int8 scale positive for a tensor that is always 0


def _round_half_away(v):
    return tf.sign(v) * tf.floor(tf.abs(v) + 0.5)


def fake_quant(x, low, high) -> tf.Tensor:
    """``x`` rounded to the 256-level int8 grid of ``[low, high]`` (nudged so that 0 is on the grid).

    Rounds as TFLite Micro's int8 kernels requantize (``MultiplyByQuantizedMultiplier``: to nearest, ties
    away from zero, before the zero point is added); ``tf.quantization.fake_quant_with_min_max_vars``
    rounds ties up instead, which disagrees with the microcontroller on every negative tie.
    ``low`` and ``high`` are scalars; they get no gradient. The range is widened to include 0. The gradient
    passes straight through inside the range and is 0 outside it.
    """
    x = tf.convert_to_tensor(x)
    low = tf.minimum(tf.stop_gradient(tf.cast(low, x.dtype)), 0.0)
    high = tf.maximum(tf.stop_gradient(tf.cast(high, x.dtype)), low + _TINY)
    scale = (high - low) / 255.0
    zero_point = tf.clip_by_value(_round_half_away(-128.0 - low / scale), -128.0, 127.0)
    steps = tf.clip_by_value(_round_half_away(x / scale), -128.0 - zero_point, 127.0 - zero_point)
    inside = tf.cast((x >= (-128.0 - zero_point) * scale) & (x <= (127.0 - zero_point) * scale), x.dtype)
    return x * inside + tf.stop_gradient(steps * scale - x * inside)


def quantize_constant(c) -> tf.Tensor:
    """A constant operand as the converter stores it: int8 over ``[min(0, c), max(0, c)]``, one scale per tensor."""
    c = tf.convert_to_tensor(c)
    return fake_quant(c, tf.reduce_min(c), tf.reduce_max(c))


def weight_scale(w, per_channel: bool = False) -> tf.Tensor:
    """The converter's int8 step for a FULLY_CONNECTED weight matrix (inputs, outputs): ``max|w| / 127``,
    a scalar or (``per_channel``) one per output column. No gradient."""
    bound = tf.reduce_max(tf.abs(w), axis=0) if per_channel else tf.reduce_max(tf.abs(w))
    return tf.maximum(tf.stop_gradient(bound), _TINY) / 127.0


def quantize_weights(w, per_channel: bool = False) -> tf.Tensor:
    """A FULLY_CONNECTED weight matrix ``(inputs, outputs)`` as the converter stores it: symmetric int8 in
    ``[-127, 127]`` with scale ``max|w| / 127``, per matrix or (``per_channel``) per output column."""
    w = tf.convert_to_tensor(w)
    bound = weight_scale(w, per_channel) * 127.0
    if per_channel:
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(w, -bound, bound, num_bits=8, narrow_range=True)
    return tf.quantization.fake_quant_with_min_max_vars(w, -bound, bound, num_bits=8, narrow_range=True)


def quantize_bias(b, step) -> tf.Tensor:
    """A bias as the converter stores it: int32 in units of ``input scale * weight scale``, rounded half away
    from zero. Without this, a unit whose input is all zeros (bias only) can round one way in training and
    the other on the microcontroller. Gradient: straight through."""
    units = b / step
    rounded = tf.sign(units) * tf.floor(tf.abs(units) + 0.5) * step
    return b + tf.stop_gradient(rounded - b)


def range_scale(low, high) -> tf.Tensor:
    """The int8 step of the range ``[low, high]`` as ``fake_quant`` widens it (to include 0)."""
    low = tf.minimum(tf.cast(low, tf.float32), 0.0)
    high = tf.maximum(tf.cast(high, tf.float32), low + _TINY)
    return tf.stop_gradient((high - low) / 255.0)


class SiteRanges:
    """The ranges of a layer's quantized tensors ("sites"), as non-trainable weights of ``layer``.

    ``ranges`` (sites, 2) holds each tracked site's (min, max), an exponential moving average of the
    per-batch extremes with decay ``decay``; until the first update (``ready`` = 0) the sites pass values
    through unquantized. ``fixed`` sites have a range set by the int8 kernel (LOGISTIC's output) or by
    design (the gated membrane's clip) and are not tracked.
    """

    def __init__(self, layer, sites: tuple[str, ...], fixed: dict[str, tuple[float, float]], decay: float):
        self.fixed = dict(fixed)
        self.sites = tuple(s for s in sites if s not in self.fixed)
        self.index = {site: i for i, site in enumerate(self.sites)}
        self.decay = float(decay)
        self.ranges = layer.add_weight(
            shape=(max(len(self.sites), 1), 2), name="quantization_ranges", initializer="zeros", trainable=False
        )
        self.ready = layer.add_weight(shape=(), name="quantization_ready", initializer="zeros", trainable=False)

    def quantizer(self, observed: dict[str, tuple[tf.Tensor, tf.Tensor]] | None = None, axis=None):
        """A ``quantize(site, x)`` function; if ``observed`` is a dict it collects each site's extremes
        (``tf.reduce_min/max`` over ``axis``) of the values before rounding."""
        ranges = tf.convert_to_tensor(self.ranges)
        ready = tf.convert_to_tensor(self.ready)

        def quantize(site: str, x):
            if site in self.fixed:
                return fake_quant(x, *self.fixed[site])
            i = self.index[site]
            if observed is not None:
                values = tf.stop_gradient(x)
                observed[site] = (tf.reduce_min(values, axis=axis), tf.reduce_max(values, axis=axis))
            rounded = fake_quant(x, ranges[i, 0], ranges[i, 1])
            return ready * rounded + (1.0 - ready) * x

        return quantize

    def update(self, low: tf.Tensor, high: tf.Tensor) -> None:
        """Folds one batch's extremes, each (sites,), into the moving averages (the first batch sets them)."""
        batch = tf.stack([tf.minimum(low, 0.0), tf.maximum(high, 0.0)], axis=-1)
        keep = self.decay * self.ready
        self.ranges.assign(keep * self.ranges + (1.0 - keep) * batch)
        self.ready.assign(tf.ones_like(self.ready))

    def range_of(self, site: str):
        """The current (min, max) of ``site``, as tensors (fixed sites: constants)."""
        if site in self.fixed:
            return self.fixed[site]
        i = self.index[site]
        return self.ranges[i, 0], self.ranges[i, 1]

    def update_from(self, observed: dict[str, tuple[tf.Tensor, tf.Tensor]]) -> None:
        """``update`` from the extremes ``quantizer`` collected (sites not seen keep their range)."""
        ranges = tf.convert_to_tensor(self.ranges)
        low = [tf.reduce_min(observed[s][0]) if s in observed else ranges[i, 0] for i, s in enumerate(self.sites)]
        high = [tf.reduce_max(observed[s][1]) if s in observed else ranges[i, 1] for i, s in enumerate(self.sites)]
        if low:
            self.update(tf.stack(low), tf.stack(high))

    def learned(self) -> dict[str, tuple[float, float]]:
        """``{site: (min, max)}`` for export; raises if the ranges were never set."""
        if float(np.asarray(self.ready)) < 0.5:
            raise ValueError(
                "The quantization ranges were never measured: fit the quantization-aware model (or call it with "
                "training=True, or pass calibration_data to quantize_model) before exporting."
            )
        values = np.asarray(self.ranges)
        learned = {
            site: (float(min(values[i, 0], 0.0)), float(max(values[i, 1], 0.0))) for site, i in self.index.items()
        }
        learned = {site: (low, max(high, low + _TINY)) for site, (low, high) in learned.items()}
        return {**learned, **self.fixed}
