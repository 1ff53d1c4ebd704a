"""Ranges tracked in quantization-aware training, and the quantizer that rounds each site as TFLite Micro does.

* :class:`SiteRanges`: a layer's quantized tensors ("sites") and their ranges, as non-trainable weights,
  moving averages of each batch's extremes.
* :class:`Quantizer`: rounds each site's tensor as the int8 kernel that computes it, with the rounding of
  :mod:`keras_spiking_rnn.int8.rounding`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_spiking_rnn.int8.rounding import (
    TINY,
    constant_scale,
    fake_quant,
    int8_grid,
    quantize_constant,
    quantize_weights,
    requantize,
    round_half_away,
    tflm_rescale,
    weight_scale,
)


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

    def quantizer(self, observed: dict[str, tuple[tf.Tensor, tf.Tensor]] | None = None, axis=None) -> Quantizer:
        """A ``quantize(site, x, operation=None)`` function (see ``Quantizer``); if ``observed`` is a dict it
        collects each site's extremes (``tf.reduce_min/max`` over ``axis``) of the values before rounding."""
        return Quantizer(self, observed, axis)

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
        learned = {site: (low, max(high, low + TINY)) for site, (low, high) in learned.items()}
        return {**learned, **self.fixed}


class Quantizer:
    """Rounds each site's tensor as the int8 kernel that computes it.

    ``quantize(site, x)`` rounds ``x`` to the site's grid. With ``operation=("mul", a, b)`` or
    ``("fc", x, kernel, bias)`` and the scales of the operands known (registered with ``register``,
    ``constant`` or ``weights``, or produced by an earlier call), it computes the integer product and
    requantizes it as TFLM does (``tflm_rescale``). Every result is registered with its site's scale.
    """

    def __init__(self, sites: SiteRanges, observed, axis):
        self.site_ranges = sites
        self.observed = observed
        self.axis = axis
        self.ranges = tf.convert_to_tensor(sites.ranges)
        self.ready = tf.convert_to_tensor(sites.ready)
        self.scales: dict[int, tf.Tensor] = {}
        self._keep: list = []  # keeps registered tensors alive, so that their ids stay theirs

    def register(self, tensor, scale):
        self.scales[id(tensor)] = scale
        self._keep.append(tensor)
        return tensor

    def constant(self, c):
        """``c`` quantized as the converter stores a constant operand, registered."""
        return self.register(quantize_constant(c), constant_scale(c))

    def weights(self, w, per_channel: bool):
        """A weight matrix quantized as the converter stores it, registered."""
        return self.register(quantize_weights(w, per_channel), weight_scale(w, per_channel))

    def greater(self, a, b):
        """TFLM's int8 GREATER of ``a`` (batch, units) against ``b`` (levels,), both registered:
        (batch, units, levels) booleans. TFLM compares the operands after multiplying each (shifted left
        by 8 bits) by its own scale, with rounding (``comparisons.cc``); that decides where they are
        within a rounding of each other."""
        sa = tf.cast(self.scales[id(a)], tf.float64)
        sb = tf.cast(self.scales[id(b)], tf.float64)
        ra = tflm_rescale(round_half_away(a / tf.cast(sa, a.dtype)) * 256.0, sa)
        rb = tflm_rescale(round_half_away(b / tf.cast(sb, b.dtype)) * 256.0, sb)
        return tf.where(self.ready > 0.5, ra[..., None] > rb, a[..., None] > b)  # before the ranges: float

    def positive(self, a):
        """TFLM's int8 GREATER of the registered ``a`` against the constant 0: ``a`` times its scale, shifted
        left by 8 bits and rounded, is above 0 (false for a one-step ``a`` whose scale is below 1/512)."""
        sa = tf.cast(self.scales[id(a)], tf.float64)
        exact = tflm_rescale(round_half_away(a / tf.cast(sa, a.dtype)) * 256.0, sa) > 0
        return tf.where(self.ready > 0.5, exact, a > 0)  # before the ranges are measured: float

    def _bounds(self, site: str):
        if site in self.site_ranges.fixed:
            return self.site_ranges.fixed[site]
        i = self.site_ranges.index[site]
        return self.ranges[i, 0], self.ranges[i, 1]

    def _exact(self, x, operation, low, high):
        kind, *operands = operation
        if any(o is not None and id(o) not in self.scales for o in operands[:2]):
            return None
        if kind == "mul":
            a, b = operands
            sa, sb = self.scales[id(a)], self.scales[id(b)]
            accumulator = round_half_away(a / sa) * round_half_away(b / sb)
            return requantize(x, accumulator, tf.cast(sa, tf.float64) * tf.cast(sb, tf.float64), low, high)
        if kind == "sum":  # SUM over the last axis
            (values,) = operands
            sv = self.scales[id(values)]
            accumulator = tf.reduce_sum(round_half_away(values / sv), axis=-1)
            return requantize(x, accumulator, tf.cast(sv, tf.float64), low, high)
        inputs, kernel, bias = operands
        sx, sw = self.scales[id(inputs)], self.scales[id(kernel)]
        accumulator = tf.matmul(round_half_away(inputs / sx), round_half_away(kernel / sw))  # exact below 2**24
        if bias is not None:
            accumulator = accumulator + round_half_away(bias / (sx * sw))
        return requantize(x, accumulator, tf.cast(sx, tf.float64) * tf.cast(sw, tf.float64), low, high)

    def __call__(self, site: str, x, operation=None):
        low, high = self._bounds(site)
        fixed = site in self.site_ranges.fixed
        if self.observed is not None and not fixed:
            values = tf.stop_gradient(x)
            self.observed[site] = (tf.reduce_min(values, axis=self.axis), tf.reduce_max(values, axis=self.axis))
        rounded = self._exact(x, operation, low, high) if operation is not None else None
        if rounded is None:
            rounded = fake_quant(x, low, high)
        if not fixed:
            rounded = self.ready * rounded + (1.0 - self.ready) * x
        return self.register(rounded, int8_grid(low, high)[0])
