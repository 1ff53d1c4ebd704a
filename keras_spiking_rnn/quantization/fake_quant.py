"""Fake quantization as TFLite's int8 kernels quantize, and ranges tracked in training.

* Weights: symmetric, narrow range ``[-127, 127]``, scale ``max|w| / 127`` per matrix or per output
  column, as the converter quantizes FULLY_CONNECTED weights.
* Other constants (decay factors, thresholds, level heights): asymmetric over ``[min(0, c), max(0, c)]``,
  as the converter quantizes a constant operand of MUL, ADD, GREATER or SELECT_V2.
* Activations and states: asymmetric int8 over a range tracked per tensor in training.

* Biases: int32 in units of input scale x weight scale.

Each rounds to nearest, ties away from zero. Where TFLite Micro computes an integer product and
requantizes it (MUL, FULLY_CONNECTED, SUM) or rescales before comparing (GREATER), ``Quantizer``
reproduces its fixed-point arithmetic bit for bit (``tflm_rescale``; tested against the TFLM
interpreter). Gradients pass straight through inside a range and stop outside it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_TINY = 1e-6  # the smallest range width: keeps the int8 scale positive for a tensor that is always 0


def _round_half_away(v):
    return tf.sign(v) * tf.floor(tf.abs(v) + 0.5)


def int8_grid(low, high):
    """``(scale, zero_point)`` of the int8 grid over ``[low, high]`` widened to include 0, with the zero point
    rounded to an integer (so 0 is on the grid), as the converter chooses them. No gradient."""
    low = tf.minimum(tf.stop_gradient(tf.cast(low, tf.float32)), 0.0)
    high = tf.maximum(tf.stop_gradient(tf.cast(high, tf.float32)), low + _TINY)
    scale = (high - low) / 255.0
    zero_point = tf.clip_by_value(_round_half_away(-128.0 - low / scale), -128.0, 127.0)
    return scale, zero_point


def _straight_through(x, rounded, scale, zero_point):
    """``rounded`` forward; gradient 1 inside the grid's range, 0 outside."""
    inside = tf.cast((x >= (-128.0 - zero_point) * scale) & (x <= (127.0 - zero_point) * scale), x.dtype)
    return x * inside + tf.stop_gradient(rounded - x * inside)


def fake_quant(x, low, high) -> tf.Tensor:
    """``x`` rounded to the 256-level int8 grid of ``[low, high]`` (widened to include 0, nudged so that 0 is on
    the grid), to nearest with ties away from zero. Gradient: straight through inside the range, 0 outside.
    ``low`` and ``high`` are scalars and get no gradient."""
    x = tf.convert_to_tensor(x)
    scale, zero_point = int8_grid(low, high)
    steps = tf.clip_by_value(_round_half_away(x / scale), -128.0 - zero_point, 127.0 - zero_point)
    return _straight_through(x, steps * scale, scale, zero_point)


def tflm_rescale(accumulator, real_multiplier) -> tf.Tensor:
    """TFLite Micro's ``MultiplyByQuantizedMultiplier`` (double rounding, the reference kernels' default):
    ``accumulator`` (integer-valued) times ``real_multiplier`` (scalar or per output channel), as the
    MUL and FULLY_CONNECTED int8 kernels requantize. Returns int64.

    The multiplier is a 31-bit fixed-point mantissa and a power of two (``QuantizeMultiplier``); the product
    is rounded twice (``SaturatingRoundingDoublingHighMul``, then ``RoundingDivideByPOT``), which differs
    from rounding the exact product in about 1% of a MUL's outputs: enough, through the spikes, to change
    4% of the final decisions if training rounds once.
    """
    m = tf.cast(real_multiplier, tf.float64)
    exponent = tf.floor(tf.math.log(m) / np.log(2.0)) + 1.0
    mantissa = m / tf.pow(tf.constant(2.0, tf.float64), exponent)
    exponent = tf.where(mantissa >= 1.0, exponent + 1.0, tf.where(mantissa < 0.5, exponent - 1.0, exponent))
    mantissa = m / tf.pow(tf.constant(2.0, tf.float64), exponent)  # frexp: in [0.5, 1)
    fixed = tf.sign(mantissa) * tf.floor(tf.abs(mantissa) * 2.0**31 + 0.5)
    overflow = fixed >= 2.0**31
    fixed = tf.where(overflow, fixed / 2.0, fixed)
    exponent = tf.where(overflow, exponent + 1.0, exponent)
    multiplier = tf.cast(fixed, tf.int64)
    shift = tf.cast(exponent, tf.int64)
    left = tf.maximum(shift, 0)
    right = tf.maximum(-shift, 0)
    x = tf.bitwise.left_shift(tf.cast(tf.round(accumulator), tf.int64), left)
    product = x * multiplier
    nudge = tf.where(product >= 0, tf.constant(1 << 30, tf.int64), tf.constant(1 - (1 << 30), tf.int64))
    high = tf.raw_ops.TruncateDiv(x=product + nudge, y=tf.constant(1 << 31, tf.int64))  # C++ integer division
    mask = tf.bitwise.left_shift(tf.ones_like(right), right) - 1
    remainder = tf.bitwise.bitwise_and(high, mask)
    threshold = tf.bitwise.right_shift(mask, 1) + tf.cast(high < 0, tf.int64)
    return tf.bitwise.right_shift(high, right) + tf.cast(remainder > threshold, tf.int64)


def requantize(x, accumulator, input_scale, low, high) -> tf.Tensor:
    """The int8 result of an integer ``accumulator`` (in units of ``input_scale``) rescaled by TFLM to the
    grid of ``[low, high]``; ``x`` is the same quantity in float, which carries the gradient."""
    scale, zero_point = int8_grid(low, high)
    real_multiplier = tf.cast(input_scale, tf.float64) / tf.cast(scale, tf.float64)
    steps = tf.cast(tflm_rescale(accumulator, real_multiplier), tf.float32)
    steps = tf.clip_by_value(steps, -128.0 - zero_point, 127.0 - zero_point)
    return _straight_through(x, steps * scale, scale, zero_point)


def quantize_constant(c) -> tf.Tensor:
    """A constant operand as the converter stores it: int8 over ``[min(0, c), max(0, c)]``, one scale per tensor."""
    c = tf.convert_to_tensor(c, tf.float32)
    return fake_quant(c, tf.reduce_min(c), tf.reduce_max(c))


def constant_scale(c) -> tf.Tensor:
    c = tf.convert_to_tensor(c, tf.float32)
    return int8_grid(tf.reduce_min(c), tf.reduce_max(c))[0]


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
        learned = {site: (low, max(high, low + _TINY)) for site, (low, high) in learned.items()}
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
        ra = tflm_rescale(_round_half_away(a / tf.cast(sa, a.dtype)) * 256.0, sa)
        rb = tflm_rescale(_round_half_away(b / tf.cast(sb, b.dtype)) * 256.0, sb)
        return tf.where(self.ready > 0.5, ra[..., None] > rb, a[..., None] > b)  # before the ranges: float

    def positive(self, a):
        """TFLM's int8 GREATER of the registered ``a`` against the constant 0: ``a`` times its scale, shifted
        left by 8 bits and rounded, is above 0 (false for a one-step ``a`` whose scale is below 1/512)."""
        sa = tf.cast(self.scales[id(a)], tf.float64)
        exact = tflm_rescale(_round_half_away(a / tf.cast(sa, a.dtype)) * 256.0, sa) > 0
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
            accumulator = _round_half_away(a / sa) * _round_half_away(b / sb)
            return requantize(x, accumulator, tf.cast(sa, tf.float64) * tf.cast(sb, tf.float64), low, high)
        if kind == "sum":  # SUM over the last axis
            (values,) = operands
            sv = self.scales[id(values)]
            accumulator = tf.reduce_sum(_round_half_away(values / sv), axis=-1)
            return requantize(x, accumulator, tf.cast(sv, tf.float64), low, high)
        inputs, kernel, bias = operands
        sx, sw = self.scales[id(inputs)], self.scales[id(kernel)]
        accumulator = tf.matmul(_round_half_away(inputs / sx), _round_half_away(kernel / sw))  # exact below 2**24
        if bias is not None:
            accumulator = accumulator + _round_half_away(bias / (sx * sw))
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
