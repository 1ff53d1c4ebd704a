"""Backpropagation through time over a whole sequence in two loops: one forward, one backward.

``keras.layers.RNN`` differentiates its time loop automatically: TensorFlow
then pushes every intermediate tensor of every step onto a stack in the
forward loop and pops it in the backward loop, a few dozen small operations
per step whose overhead, not arithmetic, sets the speed of a spiking RNN.
:class:`SequenceRunner` computes the same forward pass and the same
gradients with less work per step:

* forward: the loop does the recurrent product and the neuron update
  (``cell.update``, the cell's own equations) and stores each step's states;
* backward: a second loop walks the steps in reverse, carrying the gradients
  of the states. A neuron whose module gives a closed-form ``adjoint`` (the
  built-in ones: a dozen elementwise operations and one small product per
  step, with the building blocks of ``keras_spiking_rnn.adjoints``) runs it.
  Any other cell (a neuron without one, or a user's subclass that changes
  ``update``, which the parent's adjoint does not describe: see
  ``keras_spiking_rnn.cells.neuron.implementation``) recomputes each step's
  update from the stored states and differentiates it with a
  ``GradientTape``, so its surrogate gradients are exactly the cell's;
* the gradients of the recurrent kernel, of the input projection and of the
  decay factors (hence the time constants) are products and sums over all
  steps at once, after the loop.

The loops are compiled with XLA by default (``jit_compile``), which fuses
each step's elementwise operations. Gradients agree with TensorFlow's
automatic differentiation of Keras's loop to rounding (``tests/test_bptt.py``,
float64): only the order of floating-point sums differs. Gradients of
gradients are not supported (use ``bptt="autodiff"``).
"""

from __future__ import annotations

import tensorflow as tf

from keras_spiking_rnn.adjoints import run as _run
from keras_spiking_rnn.adjoints import sum_over_steps as _sum_over_steps
from keras_spiking_rnn.cells.neuron import implementation


def supports(cell, mask, unroll: bool) -> bool:
    """Whether :class:`SequenceRunner` can run ``cell``: a float cell with ``update``, no mask, no unrolling."""
    if mask is not None or unroll or not getattr(cell, "projects_inputs", False) or not hasattr(cell, "update"):
        return False
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return all(int(size) == int(cell.units) for size in sizes)


class SequenceRunner:
    """Runs one cell over whole sequences with the two-loop BPTT; one per layer.

    A cell whose ``adjoint`` serves it (``cells.neuron.implementation``) is
    differentiated in closed form; other cells step by step with a
    ``GradientTape``.

    Args:
        cell: a cell with ``update``, ``step_constants``, ``output_state`` and
            ``recurrent_kernel`` (None without recurrence), all of whose states
            are (batch, units).
        jit_compile: compile the loops (and the layout changes around them)
            with XLA; 1.4-1.6x faster training steps on the 2-core CPU of
            ``benchmarks/training_speed.py``.
    """

    def __init__(self, cell, jit_compile: bool = True):
        self.cell = cell
        self.adjoint = implementation(cell, "adjoint")  # None: the taped adjoint
        self.jit_compile = bool(jit_compile)
        # Only the loops are compiled: the work before and after them (surrogate slopes, reductions over all
        # steps, large products) runs faster as TensorFlow's own multi-threaded kernels.
        self._forward = self._forward_loop
        if self.jit_compile:
            self._forward = tf.function(self._forward_loop, jit_compile=True, autograph=False)

    def __call__(self, projected, initial_states, go_backwards: bool = False):
        """Runs the cell over ``projected`` (batch, timesteps, n_gates * units) from ``initial_states``.

        Returns:
            ``(last_output, outputs, final_states)`` like Keras's ``backend.rnn``:
            outputs (batch, timesteps, units) in the order the steps ran.
        """
        cell = self.cell
        dtype = projected.dtype
        recurrent = cell.recurrent_kernel
        recurrent = tf.zeros((0,), dtype) if recurrent is None else tf.cast(recurrent, dtype)
        constants = [tf.cast(c, dtype) for c in cell.step_constants()]
        initial = [tf.cast(s, dtype) for s in initial_states]
        count = len(constants)

        def time_major(inputs):  # (batch, T, ...) in input order -> (T, batch, ...) in the order the steps run
            if go_backwards:
                inputs = tf.reverse(inputs, [1])
            return tf.transpose(inputs, (1, 0, 2))

        def batch_major(steps):  # the inverse of time_major
            inputs = tf.transpose(steps, (1, 0, 2))
            return tf.reverse(inputs, [1]) if go_backwards else inputs

        @tf.custom_gradient
        def run(projected, recurrent, *rest):
            # stop_gradient: a tape must not record the loops themselves (an XLA-compiled loop cannot hand its
            # intermediate stacks to an eager tape); their gradient is `grad`
            projected, recurrent, *rest = [tf.stop_gradient(t) for t in (projected, recurrent, *rest)]
            constants, initial = list(rest[:count]), list(rest[count:])
            sequence, stored, outputs = self._forward(projected, recurrent, constants, initial, time_major)
            final = [history[-1] for history in stored]

            def grad(d_outputs, *d_final):
                d_outputs = (
                    tf.zeros_like(stored[cell.output_state])
                    if d_outputs is None
                    else _run(lambda: tf.transpose(tf.stop_gradient(d_outputs), (1, 0, 2)), self.jit_compile)
                )
                d_final = [tf.zeros_like(f) if d is None else tf.stop_gradient(d) for d, f in zip(d_final, final)]
                d_sequence, d_recurrent, d_constants, d_initial = self._backward_loop(
                    d_outputs, d_final, sequence, recurrent, constants, initial, stored
                )
                d_projected = _run(lambda: batch_major(d_sequence), self.jit_compile)
                return [d_projected, d_recurrent, *d_constants, *d_initial]

            return (outputs, *final), grad

        # The outputs (batch, T, units, in the order the steps ran, as Keras's backend.rnn returns them) and the
        # final states leave the gradient function separately: slicing them out of the stored states outside it
        # would make TensorFlow build a zero gradient of the whole history for each slice.
        outputs, *final_states = run(projected, recurrent, *constants, *initial)
        return final_states[cell.output_state], outputs, final_states

    def _has_recurrence(self) -> bool:
        return self.cell.recurrent_kernel is not None

    def _current(self, step_input, previous_states, recurrent):
        if not self._has_recurrence():
            return step_input
        return step_input + tf.matmul(previous_states[self.cell.output_state], recurrent)

    def _forward_loop(self, projected, recurrent, constants, initial, time_major):
        """Returns the time-major inputs, each state after every step (a list of (T, batch, units), one per
        state) and the outputs in batch-major order, (batch, T, units); the layout changes are compiled with
        the loop."""
        sequence = time_major(projected)
        steps = tf.shape(sequence)[0]
        history = [tf.TensorArray(sequence.dtype, size=steps, element_shape=s.shape) for s in initial]

        def body(t, states, history):
            states = self.cell.update(self._current(sequence[t], states, recurrent), list(states), constants)
            return t + 1, states, [h.write(t, s) for h, s in zip(history, states)]

        _, _, history = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), list(initial), history), maximum_iterations=steps
        )
        stored = [h.stack() for h in history]  # one (T, batch, units) history per state
        return sequence, stored, tf.transpose(stored[self.cell.output_state], (1, 0, 2))

    def _backward_loop(self, d_outputs, d_final, sequence, recurrent, constants, initial, stored):
        """Gradients of the inputs, recurrent kernel, constants and initial states, given those of the outputs
        (T, batch, units) and of the final states."""
        # the states each step starts from, per state (T, batch, units)
        previous = [tf.concat([s[None], history[:-1]], axis=0) for s, history in zip(initial, stored)]
        d_recurrent = None
        if self.adjoint is None:
            d_sequence, d_constants, d_initial = self._taped_adjoint(
                d_outputs, d_final, sequence, recurrent, constants, previous
            )
        else:
            d_sequence, d_recurrent, d_constants, d_initial = self.adjoint(
                d_outputs,
                d_final,
                sequence,
                recurrent if self._has_recurrence() else None,
                constants,
                previous,
                stored,
                self.jit_compile,
            )
        if not self._has_recurrence():
            d_recurrent = tf.zeros_like(recurrent)
        elif d_recurrent is None:
            feedback = previous[self.cell.output_state]  # (T, batch, units): the outputs each step received
            d_recurrent = _sum_over_steps(feedback, d_sequence)
        return d_sequence, d_recurrent, d_constants, d_initial

    def _taped_adjoint(self, d_outputs, d_final, sequence, recurrent, constants, previous):
        """Any cell: each step's update recomputed and differentiated with a GradientTape."""
        steps = tf.shape(sequence)[0]
        count = len(previous)
        shapes = [sequence.shape[1:], *[p.shape[1:] for p in previous], *[c.shape for c in constants]]

        def body(i, d_states, d_constants, d_inputs):
            t = steps - 1 - i
            states = [p[t] for p in previous]
            d_states = list(d_states)
            d_states[self.cell.output_state % count] += d_outputs[t]
            current = self._current(sequence[t], states, recurrent)
            with tf.GradientTape() as tape:
                tape.watch([current, *states, *constants])
                new_states = self.cell.update(current, states, constants)
            grads = tape.gradient(
                new_states,
                [current, *states, *constants],
                output_gradients=d_states,
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
            for grad, shape in zip(grads, shapes):
                grad.set_shape(shape)  # broadcasting gradients lose their static shape
            d_current, d_states, d_step = grads[0], list(grads[1 : 1 + count]), grads[1 + count :]
            if self._has_recurrence():
                d_states[self.cell.output_state % count] += tf.matmul(d_current, recurrent, transpose_b=True)
            d_constants = [a + b for a, b in zip(d_constants, d_step)]
            return i + 1, d_states, d_constants, d_inputs.write(t, d_current)

        def loop():
            d_inputs = tf.TensorArray(sequence.dtype, size=steps, element_shape=sequence.shape[1:])
            start = (tf.constant(0), list(d_final), [tf.zeros_like(c) for c in constants], d_inputs)
            _, d_initial, d_constants, gradients = tf.while_loop(
                lambda i, *_: i < steps, body, start, maximum_iterations=steps
            )
            return gradients.stack(), d_constants, d_initial

        return _run(loop, self.jit_compile)
