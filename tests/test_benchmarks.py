"""benchmarks/training_speed.py in a tiny setting: every row runs, the FLOP count is the hand count."""

import json

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def speed():
    return load_script("benchmarks/training_speed.py")


def test_tiny_run_times_every_model_and_variant(speed, tmp_path):
    out = tmp_path / "speed.json"
    argv = "--timesteps 6 --batch 4 --features 10 --units 8 --classes 3 --steps 2 --warmup 1".split()
    results = speed.main([*argv, "--models", "alif,gated,lstm", "--json", str(out)])
    assert json.loads(out.read_text())["rows"] == results["rows"]
    pairs = [(row["model"], row["variant"]) for row in results["rows"]]
    spiking = [(k, v) for k in ("alif", "gated") for v in ("fused", "fused-no-xla", "autodiff", "model-xla")]
    assert pairs == spiking + [("lstm", "fused"), ("lstm", "model-xla")]
    assert all(row["step_seconds"] > 0 and 0 < row["mfu"] for row in results["rows"])
    assert results["rows"][-2]["ratio_to_lstm"] == 1.0
    assert results["attainable_flops_per_second"] > 1e8
    # ALIF: input 10x8, recurrent 8x8, second layer 8x8 + 8x8, readout 8x3; 2 FLOPs per MAC, x3 for training
    macs_per_step = 10 * 8 + 8 * 8 + 8 * 8 + 8 * 8 + 8 * 3
    assert results["rows"][0]["train_matmul_flops"] == 3 * 2 * 4 * 6 * macs_per_step
    # gated: two gates per layer; LSTM: four gates, Dense once per sequence
    gated = 2 * (10 * 8 + 8 * 8) + 2 * (8 * 8 + 8 * 8) + 8 * 3
    assert results["rows"][4]["train_matmul_flops"] == 3 * 2 * 4 * 6 * gated
    lstm_per_step = 4 * (10 * 8 + 8 * 8) + 4 * (8 * 8 + 8 * 8)
    assert results["rows"][-1]["train_matmul_flops"] == 3 * 2 * 4 * (6 * lstm_per_step + 8 * 3)
    assert "| alif | fused |" in speed.report(results)


def test_memory_probe_reports_growth_with_sequence_length(speed):
    args = speed.parse_args("--batch 32 --features 64 --units 64 --classes 3 --models alif --variants fused".split())
    short, long = (speed.peak_memory_probe("alif", args, t) for t in (50, 2000))
    # at T=2000 the three stored states alone are 2000 x 3 x 32 x 64 float32 = 49 MB
    assert 0 <= short and long - short > 40 * 2**20


def test_bad_arguments_are_refused(speed):
    with pytest.raises(SystemExit):
        speed.parse_args(["--models", "transformer"])
    with pytest.raises(SystemExit):
        speed.parse_args(["--variants", "fastest"])
