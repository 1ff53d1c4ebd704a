"""Building blocks of the closed-form adjoints that neurons give the fused BPTT (``keras_spiking_rnn.bptt``).

A neuron's ``adjoint`` walks the steps in reverse with :func:`reverse_loop`, carrying the gradients of its
states; the surrogate slopes of all steps come from one pass (:func:`surrogate_slopes`) before the loop, and
the gradients of the weights are products over all steps at once after it (:func:`sum_over_steps`,
:func:`input_gradients`). Each loop is compiled with XLA when ``jit_compile`` (see :func:`run`).
"""

from __future__ import annotations

import tensorflow as tf


def run(loop, jit_compile: bool):
    """``loop()``, compiled with XLA if ``jit_compile``."""
    return tf.function(loop, jit_compile=True, autograph=False)() if jit_compile else loop()


def reverse_loop(steps, body, carries, dtype, jit_compile: bool):
    """Runs ``body(t, *carries) -> (new_carries, per_step_outputs)`` for t = T-1 .. 0.

    Returns the final carries and the per-step outputs stacked as (T, outputs per step, ...).
    """

    def loop():
        def loop_body(i, carries, outputs):
            t = steps - 1 - i
            carries, step_outputs = body(t, *carries)
            return i + 1, list(carries), outputs.write(t, tf.stack(step_outputs))

        start = (tf.constant(0), list(carries), tf.TensorArray(dtype, size=steps))
        _, final, outputs = tf.while_loop(lambda i, *_: i < steps, loop_body, start, maximum_iterations=steps)
        return final, outputs.stack()

    return run(loop, jit_compile)


def surrogate_slopes(surrogate, margins, jit_compile: bool):
    """The surrogate derivative at every step's ``potential - threshold``, (T, batch, units), in one pass
    (XLA fuses the elementwise formula into one kernel)."""
    return run(lambda: surrogate.spike_gradient(margins), jit_compile)


def feedback_matrix(recurrent, alpha, jit_compile: bool):
    """``((1 - alpha) * recurrent).T``, once before the loop: ``d_u_t @`` it is the gradient that
    ``(1 - alpha) * s_{t-1} @ recurrent`` passes back to ``s_{t-1}``. None without recurrence.

    (Transposed by XLA when compiling: oneDNN's transpose of a small matrix costs milliseconds, and a
    product with ``transpose_b`` inside XLA's loop costs more than one without.)"""
    if recurrent is None:
        return None
    return run(lambda: tf.transpose(recurrent * (1.0 - alpha)), jit_compile)


def sum_over_steps(a, b):
    """``sum_t a_t.T @ b_t`` for a (T, batch, n) and b (T, batch, m): one (n, m) product over all steps.

    Reshaped, not transposed: ``tf.tensordot`` would transpose both (T, batch, ...) arrays first.
    """
    flat_a = tf.reshape(a, (-1, a.shape[-1]))
    flat_b = tf.reshape(b, (-1, b.shape[-1]))
    return tf.matmul(flat_a, flat_b, transpose_a=True)


def input_gradients(d_potential, alpha, sequence, spikes_before, recurrent):
    """The gradients that flow through ``(1 - alpha) * I_t`` with ``I_t = x_t + s_{t-1} @ recurrent``.

    Returns ``(d_sequence, d_recurrent, sum_t,b d_potential * I_t)``, the last per unit for the gradient of
    ``alpha``. One product ``M = S^T dU`` over all steps gives both ``d_recurrent = M (1 - alpha)`` and the
    recurrent part of the sum, ``sum_i recurrent[i, j] M[i, j]``, so ``I_t`` is never recomputed.
    """
    d_sequence = (1.0 - alpha) * d_potential
    through_input = tf.reduce_sum(d_potential * sequence, axis=[0, 1])
    if recurrent is None:
        return d_sequence, None, through_input
    products = sum_over_steps(spikes_before, d_potential)  # (units, units)
    return d_sequence, products * (1.0 - alpha), through_input + tf.reduce_sum(recurrent * products, axis=0)
