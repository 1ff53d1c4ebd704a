"""Independent NumPy references, written straight from the papers' equations (see ../shared/SPEC.md).

Nothing here imports keras_spiking_rnn: the tests check the Keras cells against
these loops, in float64, step by step.
"""

from __future__ import annotations

import math

import numpy as np


# -- surrogate derivatives (closed forms) -----------------------------------------
def normal_pdf(v, mean, std):
    return np.exp(-0.5 * ((v - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def multi_gaussian(v, sigma=0.5, height=0.15, scale=6.0):
    """Yin et al. (2021) eq. 1."""
    return (
        (1 + height) * normal_pdf(v, 0, sigma)
        - height * normal_pdf(v, sigma, scale * sigma)
        - height * normal_pdf(v, -sigma, scale * sigma)
    )


def gaussian(v, sigma=0.5):
    return normal_pdf(v, 0, sigma)


def linear(v, slope=1.0):
    return np.maximum(0.0, 1.0 - slope * np.abs(v))


def slayer(v, rate=5.0):
    return np.exp(-rate * np.abs(v))


def fast_sigmoid(v, slope=25.0):
    return 1.0 / (1.0 + slope * np.abs(v)) ** 2


def arctan(v, width=2.0):
    return (width / 2) / (1 + (math.pi / 2 * width * v) ** 2)


def straight_through(v, half_width=0.5):
    return (np.abs(v) < half_width).astype(float)


SURROGATE_DERIVATIVES = {
    "multi_gaussian": multi_gaussian,
    "gaussian": gaussian,
    "linear": linear,
    "slayer": slayer,
    "fast_sigmoid": fast_sigmoid,
    "arctan": arctan,
    "straight_through": straight_through,
}


def heaviside(v):
    return (v > 0).astype(float)


# -- neuron models over whole sequences --------------------------------------------
# x: (batch, time, inputs); W: (inputs, units); R: (units, units) or None; b: (units,)
# Each returns a dict of (batch, time, units) arrays, one per state, after each step.


def run_lif(x, W, R, b, tau_m, threshold, reset="zero", u0=None, dt=1.0):
    """Yin et al. eqs. 2-4, with alpha = exp(-dt/tau_m) in place of 1 - 1/tau_m."""
    batch, steps, _ = x.shape
    units = W.shape[1]
    alpha = np.exp(-dt / tau_m)
    u = np.zeros((batch, units)) if u0 is None else u0.copy()
    s = np.zeros((batch, units))
    out = {"potential": [], "spikes": []}
    for t in range(steps):
        current = x[:, t] @ W + b + (s @ R if R is not None else 0.0)
        if reset == "zero":
            u = u * (1 - s) + 0.0 * s  # eq. 2, u_r = 0
            u = alpha * u + (1 - alpha) * current  # eq. 3
        else:
            u = alpha * u + (1 - alpha) * current - threshold * s
        s = heaviside(u - threshold)  # eq. 4
        out["potential"].append(u)
        out["spikes"].append(s)
    return {k: np.stack(v, 1) for k, v in out.items()}


def run_alif(x, W, R, b, tau_m, tau_adp, b0=0.01, beta=1.8, u0=None, dt=1.0):
    """Yin et al. eqs. 5-8."""
    batch, steps, _ = x.shape
    units = W.shape[1]
    alpha, rho = np.exp(-dt / tau_m), np.exp(-dt / tau_adp)
    u = np.zeros((batch, units)) if u0 is None else u0.copy()
    eta = np.zeros((batch, units))
    s = np.zeros((batch, units))
    out = {"potential": [], "adaptation": [], "spikes": []}
    for t in range(steps):
        current = x[:, t] @ W + b + (s @ R if R is not None else 0.0)
        eta = rho * eta + (1 - rho) * s  # eq. 6
        theta = b0 + beta * eta  # eq. 7
        u = alpha * u + (1 - alpha) * current - theta * s  # eq. 5
        s = heaviside(u - theta)  # eq. 8
        out["potential"].append(u)
        out["adaptation"].append(eta)
        out["spikes"].append(s)
    return {k: np.stack(v, 1) for k, v in out.items()}


def run_adlif(x, W, R, b, tau_m, tau_w, a, b_spike, q, threshold, symplectic, dt=1.0):
    """Baronig et al. (2025): adLIF with an adaptation current, Euler-forward or symplectic-Euler step."""
    batch, steps, _ = x.shape
    units = W.shape[1]
    alpha, beta = np.exp(-dt / tau_m), np.exp(-dt / tau_w)
    u, w, s = (np.zeros((batch, units)) for _ in range(3))
    out = {"potential": [], "adaptation": [], "spikes": []}
    for t in range(steps):
        current = x[:, t] @ W + b + (s @ R if R is not None else 0.0)
        w_euler = beta * w + (1 - beta) * q * (a * u + b_spike * s)  # from u_{t-1}, s_{t-1}
        v = alpha * u + (1 - alpha) * (current - w)
        s = heaviside(v - threshold)
        u = v * (1 - s)  # reset to 0
        w = beta * w + (1 - beta) * q * (a * u + b_spike * s) if symplectic else w_euler  # from u_t, s_t
        out["potential"].append(u)
        out["adaptation"].append(w)
        out["spikes"].append(s)
    return {k: np.stack(v, 1) for k, v in out.items()}


def quantize_levels(mem, step, levels, dead_zone):
    """Ponghiran & Roy's multi-level output: trunc(mem / step), clipped, with a dead zone, times step."""
    q = np.trunc(mem / step)
    q = np.clip(q, 0, levels)
    q = np.where(q <= dead_zone, 0.0, q)
    return q * step


def run_gated(x, W, R, b, levels=31, dead_zone=3, step=1 / 32):
    """Ponghiran & Roy: Forget/Cand gates on the synaptic current, sigma-delta membrane.

    W: (inputs, 2 units) = [W_fi | W_ci]; R: (units, 2 units) = [W_fo | W_co].
    """
    batch, steps, _ = x.shape
    units = W.shape[1] // 2
    syn = np.zeros((batch, units))
    mem = np.zeros((batch, units))
    o = np.zeros((batch, units))
    out = {"synaptic": [], "potential": [], "output": []}
    for t in range(steps):
        a = x[:, t] @ W + b + (o @ R if R is not None else 0.0)
        forget = 1 / (1 + np.exp(-a[:, :units]))
        cand = np.maximum(a[:, units:], 0.0)
        syn = forget * syn + (1 - forget) * cand
        mem = mem + syn - o
        o = quantize_levels(mem, step, levels, dead_zone)
        out["synaptic"].append(syn)
        out["potential"].append(mem)
        out["output"].append(o)
    return {k: np.stack(v, 1) for k, v in out.items()}


def run_leaky_integrator(x, W, b, tau_m, dt=1.0):
    """Yin et al.'s non-spiking readout: u_t = alpha u_{t-1} + (1 - alpha)(W x_t + b)."""
    alpha = np.exp(-dt / tau_m)
    u = np.zeros((x.shape[0], W.shape[1]))
    out = []
    for t in range(x.shape[1]):
        u = alpha * u + (1 - alpha) * (x[:, t] @ W + b)
        out.append(u)
    return np.stack(out, 1)
