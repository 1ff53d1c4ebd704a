"""TFLite Micro's int8 rounding, for fake quantization: as the converter stores weights and constants, and as
the int8 kernels requantize their results.

* Weights: symmetric, narrow range ``[-127, 127]``, scale ``max|w| / 127`` per matrix or per output
  column, as the converter quantizes FULLY_CONNECTED weights.
* Other constants (decay factors, thresholds, level heights): asymmetric over ``[min(0, c), max(0, c)]``,
  as the converter quantizes a constant operand of MUL, ADD, GREATER or SELECT_V2.
* Activations and states: asymmetric int8 over a range tracked per tensor in training.

* Biases: int32 in units of input scale x weight scale.

Each rounds to nearest, ties away from zero. Where TFLite Micro computes an integer product and
requantizes it (MUL, FULLY_CONNECTED, SUM) or rescales before comparing (GREATER), ``tflm_rescale``
reproduces its fixed-point arithmetic bit for bit (tested against the TFLM interpreter). Gradients pass
straight through inside a range and stop outside it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

TINY = 1e-6  # the smallest range width: keeps the int8 scale positive for a tensor that is always 0


def round_half_away(v):
    """Rounds to nearest, ties away from zero, as TFLite's quantization does."""
    return tf.sign(v) * tf.floor(tf.abs(v) + 0.5)


def int8_grid(low, high):
    """``(scale, zero_point)`` of the int8 grid over ``[low, high]`` widened to include 0, with the zero point
    rounded to an integer (so 0 is on the grid), as the converter chooses them. No gradient."""
    low = tf.minimum(tf.stop_gradient(tf.cast(low, tf.float32)), 0.0)
    high = tf.maximum(tf.stop_gradient(tf.cast(high, tf.float32)), low + TINY)
    scale = (high - low) / 255.0
    zero_point = tf.clip_by_value(round_half_away(-128.0 - low / scale), -128.0, 127.0)
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
    steps = tf.clip_by_value(round_half_away(x / scale), -128.0 - zero_point, 127.0 - zero_point)
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
    return tf.maximum(tf.stop_gradient(bound), TINY) / 127.0


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
    high = tf.maximum(tf.cast(high, tf.float32), low + TINY)
    return tf.stop_gradient((high - low) / 255.0)
