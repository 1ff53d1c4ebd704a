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
  of the states. LIF, ALIF, the gated cell and the leaky integrator have
  closed-form adjoints (a dozen elementwise operations and one small product
  per step; the surrogate slopes of all steps are computed before the loop,
  in one pass). Any other cell (a user's subclass that changes ``update``)
  recomputes each step's update from the stored states and differentiates
  it with a ``GradientTape``, so its surrogate gradients are exactly the
  cell's;
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

from keras_spiking_rnn.cells import ALIFCell, GatedSpikingCell, LeakyIntegratorCell, LIFCell
from keras_spiking_rnn.cells.gated import level_slopes


def supports(cell, mask, unroll: bool) -> bool:
    """Whether :class:`SequenceRunner` can run ``cell``: a float cell with ``update``, no mask, no unrolling."""
    if mask is not None or unroll or not getattr(cell, "projects_inputs", False) or not hasattr(cell, "update"):
        return False
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return all(int(size) == int(cell.units) for size in sizes)


class SequenceRunner:
    """Runs one cell over whole sequences with the two-loop BPTT; one per layer.

    LIF, ALIF, the gated cell and the leaky integrator have closed-form
    adjoints here (a dozen elementwise operations and one small product per
    step); other cells are differentiated step by step with a
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
        self.adjoint = _ADJOINTS.get(type(cell).update)
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
                self.cell,
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


def _run(loop, jit_compile: bool):
    """``loop()``, compiled with XLA if ``jit_compile``."""
    return tf.function(loop, jit_compile=True, autograph=False)() if jit_compile else loop()


def _reverse_loop(steps, body, carries, dtype, jit_compile: bool):
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

    return _run(loop, jit_compile)


def _surrogate_slopes(surrogate, margins, jit_compile: bool):
    """The surrogate derivative at every step's ``potential - threshold``, (T, batch, units), in one pass
    (XLA fuses the elementwise formula into one kernel)."""
    return _run(lambda: surrogate.spike_gradient(margins), jit_compile)


def _feedback_matrix(recurrent, alpha, jit_compile: bool):
    """``((1 - alpha) * recurrent).T``, once before the loop: ``d_u_t @`` it is the gradient that
    ``(1 - alpha) * s_{t-1} @ recurrent`` passes back to ``s_{t-1}``. None without recurrence.

    (Transposed by XLA when compiling: oneDNN's transpose of a small matrix costs milliseconds, and a
    product with ``transpose_b`` inside XLA's loop costs more than one without.)"""
    if recurrent is None:
        return None
    return _run(lambda: tf.transpose(recurrent * (1.0 - alpha)), jit_compile)


def _sum_over_steps(a, b):
    """``sum_t a_t.T @ b_t`` for a (T, batch, n) and b (T, batch, m): one (n, m) product over all steps.

    Reshaped, not transposed: ``tf.tensordot`` would transpose both (T, batch, ...) arrays first.
    """
    flat_a = tf.reshape(a, (-1, a.shape[-1]))
    flat_b = tf.reshape(b, (-1, b.shape[-1]))
    return tf.matmul(flat_a, flat_b, transpose_a=True)


def _input_gradients(d_potential, alpha, sequence, spikes_before, recurrent):
    """The gradients that flow through ``(1 - alpha) * I_t`` with ``I_t = x_t + s_{t-1} @ recurrent``.

    Returns ``(d_sequence, d_recurrent, sum_t,b d_potential * I_t)``, the last per unit for the gradient of
    ``alpha``. One product ``M = S^T dU`` over all steps gives both ``d_recurrent = M (1 - alpha)`` and the
    recurrent part of the sum, ``sum_i recurrent[i, j] M[i, j]``, so ``I_t`` is never recomputed.
    """
    d_sequence = (1.0 - alpha) * d_potential
    through_input = tf.reduce_sum(d_potential * sequence, axis=[0, 1])
    if recurrent is None:
        return d_sequence, None, through_input
    products = _sum_over_steps(spikes_before, d_potential)  # (units, units)
    return d_sequence, products * (1.0 - alpha), through_input + tf.reduce_sum(recurrent * products, axis=0)


def _alif_adjoint(cell, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
    """Closed-form BPTT of :class:`ALIFCell` (eqs. in its docstring); the surrogate slopes of all steps at once.

    Carried backwards: the gradients that step ``t + 1`` passes to ``u_t``, ``eta_t`` and ``s_t``; they start
    as the gradients of the final states.
    """
    alpha, rho = constants
    potential, eta, _ = stored
    potential_before, eta_before, spikes_before = previous
    theta = cell.threshold + cell.adaptation * eta
    slope = _surrogate_slopes(cell.surrogate, potential - theta, jit_compile)
    beta = cell.adaptation
    feedback = _feedback_matrix(recurrent, alpha, jit_compile)
    input_rate = 1.0 - rho

    def step(t, from_potential, from_eta, from_spikes):
        d_v = (d_outputs[t] + from_spikes) * slope[t]
        d_potential = from_potential + d_v
        d_eta = from_eta - beta * (d_v + d_potential * spikes_before[t])  # d theta_t = -(d_v + d_u * s_{t-1})
        to_spikes = input_rate * d_eta - theta[t] * d_potential
        if feedback is not None:
            to_spikes += tf.matmul(d_potential, feedback)
        return (alpha * d_potential, rho * d_eta, to_spikes), (d_potential, d_eta)

    d_initial, per_step = _reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
    d_potential, d_eta = tf.unstack(per_step, axis=1)
    d_sequence, d_recurrent, through_input = _input_gradients(d_potential, alpha, sequence, spikes_before, recurrent)
    d_alpha = tf.reduce_sum(d_potential * potential_before, axis=[0, 1]) - through_input
    d_rho = tf.reduce_sum(d_eta * (eta_before - spikes_before), axis=[0, 1])
    return d_sequence, d_recurrent, [d_alpha, d_rho], d_initial


def _lif_adjoint(cell, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
    """Closed-form BPTT of :class:`LIFCell`, both resets."""
    (alpha,) = constants
    potential = stored[0]
    potential_before, spikes_before = previous
    slope = _surrogate_slopes(cell.surrogate, potential - cell.threshold, jit_compile)
    zero_reset = cell.reset == "zero"
    feedback = _feedback_matrix(recurrent, alpha, jit_compile)

    def step(t, from_potential, from_spikes):
        d_potential = from_potential + (d_outputs[t] + from_spikes) * slope[t]
        if zero_reset:
            to_potential = alpha * (1.0 - spikes_before[t]) * d_potential
            to_spikes = -alpha * potential_before[t] * d_potential
        else:
            to_potential = alpha * d_potential
            to_spikes = -cell.threshold * d_potential
        if feedback is not None:
            to_spikes += tf.matmul(d_potential, feedback)
        return (to_potential, to_spikes), (d_potential,)

    d_initial, per_step = _reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
    d_potential = per_step[:, 0]
    d_sequence, d_recurrent, through_input = _input_gradients(d_potential, alpha, sequence, spikes_before, recurrent)
    kept = potential_before * (1.0 - spikes_before) if zero_reset else potential_before
    d_alpha = tf.reduce_sum(d_potential * kept, axis=[0, 1]) - through_input
    return d_sequence, d_recurrent, [d_alpha], d_initial


def _leaky_integrator_adjoint(cell, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
    """Closed-form BPTT of :class:`LeakyIntegratorCell`: ``u_t = alpha u_{t-1} + (1 - alpha) x_t``."""
    (alpha,) = constants

    def step(t, from_potential):
        d_potential = from_potential + d_outputs[t]
        return (alpha * d_potential,), (d_potential,)

    d_initial, per_step = _reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
    d_potential = per_step[:, 0]
    d_alpha = tf.reduce_sum(d_potential * (previous[0] - sequence), axis=[0, 1])
    return (1.0 - alpha) * d_potential, None, [d_alpha], d_initial


def _gated_adjoint(cell, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
    """Closed-form BPTT of :class:`GatedSpikingCell`.

    With ``[a_f, a_c] = I_t``, ``f = sigmoid(a_f)``, ``c = relu(a_c)``, ``syn_t = f syn_{t-1} + (1 - f) c``,
    ``mem_t = mem_{t-1} + syn_t - o_{t-1}`` and ``o_t = q(mem_t)``, whose derivative is the surrogate summed
    over the levels, ``q' = gain * sum_k surrogate'(mem_t / threshold - k)`` (see ``multi_level_spikes``).
    The gate factors of all steps are computed before the loop from ``I_t`` (one product over all steps);
    the slopes are summed over the levels inside the loop, one step at a time, so that no
    (T, batch, units, levels) array is held (it would be 127 MB for the benchmark's T=250).
    """
    units = cell.units
    synaptic_before, _, outputs_before = previous
    potential = stored[1]
    current = sequence
    if recurrent is not None:
        flat = tf.matmul(tf.reshape(outputs_before, (-1, units)), recurrent)
        current = sequence + tf.reshape(flat, tf.shape(sequence))

    def gate_factors():
        forget = tf.sigmoid(current[..., :units])
        candidate_input = current[..., units:]
        candidate = tf.nn.relu(candidate_input)
        d_forget_input = forget * (1.0 - forget) * (synaptic_before - candidate)  # d syn / d a_f
        d_candidate_input = (1.0 - forget) * tf.cast(candidate_input > 0, forget.dtype)  # d syn / d a_c
        return forget, tf.concat([d_forget_input, d_candidate_input], axis=-1)

    forget, factors = _run(gate_factors, jit_compile)
    feedback = None if recurrent is None else _run(lambda: tf.transpose(recurrent), jit_compile)

    def slopes(potential):  # d o / d mem = d count / d (mem / threshold)
        return level_slopes(potential / cell.threshold, cell.levels, cell.surrogate)

    def step(t, from_synaptic, from_potential, from_output):
        d_output = d_outputs[t] + from_output
        d_potential = from_potential + d_output * slopes(potential[t])  # one step's levels at a time
        d_synaptic = from_synaptic + d_potential
        d_current = tf.concat([d_synaptic, d_synaptic], axis=-1) * factors[t]
        to_output = -d_potential
        if feedback is not None:
            to_output += tf.matmul(d_current, feedback)
        return (forget[t] * d_synaptic, d_potential, to_output), (d_current,)

    d_initial, per_step = _reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
    d_sequence = per_step[:, 0]
    d_recurrent = None if recurrent is None else _sum_over_steps(outputs_before, d_sequence)
    return d_sequence, d_recurrent, [], d_initial


# Closed-form adjoints by the update method they differentiate: a subclass that overrides ``update`` falls
# back to the taped adjoint.
_ADJOINTS = {
    GatedSpikingCell.update: _gated_adjoint,
    ALIFCell.update: _alif_adjoint,
    LIFCell.update: _lif_adjoint,
    LeakyIntegratorCell.update: _leaky_integrator_adjoint,
}
