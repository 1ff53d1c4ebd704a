"""The firmware kit (export/): an exported model built for the host and for a Cortex-M4 in QEMU, bit-exact.

Needs g++, arm-none-eabi-g++ with newlib, qemu-system-arm and a TFLM source tree (TFLM_ROOT, or
../shared/third_party/tflite-micro beside the repository). Without them the builds are skipped with the
reason; CI sets KSR_REQUIRE_FIRMWARE=1, which turns those skips into failures.
"""

import json
import os
import shutil
import warnings
from pathlib import Path

import keras
import pytest

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.data import load_mnist1d, sliding_windows
from keras_spiking_rnn.export import export_tflite_micro
from keras_spiking_rnn.export.firmware import FirmwareError, build_and_run, map_sizes, resolve_tflm

SHARED_TFLM = Path(__file__).resolve().parents[2] / "shared" / "third_party" / "tflite-micro"
INSTALL = "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm"


def tflm_root():
    return Path(os.environ.get("TFLM_ROOT", SHARED_TFLM))


def require(condition: bool, reason: str):
    if condition:
        return
    if os.environ.get("KSR_REQUIRE_FIRMWARE") == "1":
        pytest.fail(f"KSR_REQUIRE_FIRMWARE=1 but {reason}")
    pytest.skip(reason)


def require_toolchain(target: str, kernels: str = "reference"):
    require(shutil.which("make") is not None and shutil.which("g++") is not None, "needs make and g++")
    if target == "cortex-m4":
        require(shutil.which("arm-none-eabi-g++") is not None, f"needs arm-none-eabi-g++: {INSTALL}")
        require(shutil.which("qemu-system-arm") is not None, f"needs qemu-system-arm: {INSTALL}")
    try:
        resolve_tflm(tflm_root(), kernels)
    except FirmwareError as error:
        require(False, f"needs a TFLM source tree (set TFLM_ROOT): {error}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A briefly trained 2-layer ALIF model with a leaky readout, exported with 3 test sequences."""
    (x, y), (x_test, _) = load_mnist1d()
    x, x_test = sliding_windows(x, 8)[:1000], sliding_windows(x_test, 8)[:50]
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((None, 8)),
            SpikingRNN(
                24, neuron="alif", return_sequences=True, tau_m_initializer=keras.initializers.RandomNormal(5, 1)
            ),
            SpikingRNN(
                24, neuron="alif", return_sequences=True, tau_m_initializer=keras.initializers.RandomNormal(5, 1)
            ),
            LeakyReadout(10, output_mode="mean"),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y[:1000], epochs=2, batch_size=64, verbose=0)
    out = tmp_path_factory.mktemp("firmware") / "alif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_tflite_micro(model, x[:64], out, validation_data=x_test, test_sequences=3)
    return out


@pytest.mark.parametrize(
    "target, kernels", [("host", "reference"), ("cortex-m4", "reference"), ("cortex-m4", "cmsis-nn")]
)
def test_firmware_is_bit_exact_with_the_python_tflm_interpreter(exported, target, kernels):
    require_toolchain(target, kernels)
    result = build_and_run(exported, target=target, kernels=kernels, tflm_root=tflm_root())
    assert result.outputs == 3 * 40 * 10 and result.steps == 3 * 40
    assert result.mismatched == 0, str(result)
    assert result.arena_used_bytes > 0
    report = json.loads((exported / "report.json").read_text())
    assert report["firmware"][f"{target}-{kernels}"]["mismatched"] == 0
    if target == "cortex-m4":
        assert result.instructions_per_step["median"] > 1000
        assert result.sizes["model array"]["text"] >= len((exported / "model.tflite").read_bytes())
        assert result.sizes["TFLM kernels and runtime"]["text"] > 0


def test_cmsis_nn_takes_no_more_instructions_than_reference(exported):
    require_toolchain("cortex-m4", "cmsis-nn")
    report = json.loads((exported / "report.json").read_text()).get("firmware", {})
    if not {"cortex-m4-reference", "cortex-m4-cmsis-nn"} <= set(report):
        pytest.skip("runs after the two Cortex-M4 builds above")
    reference = report["cortex-m4-reference"]["instructions_per_step"]["median"]
    cmsis = report["cortex-m4-cmsis-nn"]["instructions_per_step"]["median"]
    assert cmsis <= reference


def test_a_changed_expected_output_is_reported_as_the_first_mismatch(exported):
    """Change one expected value of test_vectors.h (in place: the build reuses its TFLM library) and rebuild."""
    require_toolchain("host")
    path = exported / "test_vectors.h"
    original = path.read_text()
    head, expected = original.split("kTestExpected", 1)
    values_start = expected.index("{") + 1
    first = expected[values_start:].lstrip().split(",", 1)[0]
    changed = str(int(first) + 1 if int(first) < 127 else int(first) - 1)
    try:
        path.write_text(
            head + "kTestExpected" + expected[:values_start] + expected[values_start:].replace(first, changed, 1)
        )
        result = build_and_run(exported, target="host", tflm_root=tflm_root(), update_report=False)
    finally:
        path.write_text(original)
    assert result.mismatched == 1
    assert result.first_mismatch.startswith("sequence=0 step=0 output=0")
    assert f"expected={changed}" in result.first_mismatch and f"got={first}" in result.first_mismatch


def test_an_op_missing_from_the_resolver_is_refused_before_building(exported):
    require_toolchain("host")
    path = exported / "model_ops.h"
    original = path.read_text()
    count = int(original.split("kModelOpCount = ", 1)[1].split(";", 1)[0])
    lines = [line for line in original.splitlines() if "AddGreater()" not in line]
    edited = "\n".join(lines).replace(f"kModelOpCount = {count};", f"kModelOpCount = {count - 1};")
    try:
        path.write_text(edited + "\n")
        with pytest.raises(FirmwareError, match="(?s)Building.*failed.*GREATER.*makes 11 resolver"):
            build_and_run(exported, target="host", tflm_root=tflm_root(), update_report=False)
    finally:
        path.write_text(original)


def test_missing_model_files_are_named(tmp_path):
    (tmp_path / "model_data.cc").write_text("")
    with pytest.raises(FirmwareError, match="lacks model_data.h, model_ops.h, model_settings.h, test_vectors.h"):
        build_and_run(tmp_path, tflm_root=tmp_path)


def test_a_path_that_is_not_a_tflm_tree_is_refused(exported, tmp_path):
    with pytest.raises(FirmwareError, match="not a TFLM source tree"):
        build_and_run(exported, tflm_root=tmp_path)


def test_cmsis_nn_on_the_host_is_refused(exported):
    with pytest.raises(ValueError, match="cortex-m4"):
        build_and_run(exported, target="host", kernels="cmsis-nn", tflm_root=tflm_root())


def test_a_missing_cross_compiler_is_named_with_how_to_install(exported, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no compilers, no qemu
    with pytest.raises(FirmwareError, match="arm-none-eabi-g\\+\\+ is not installed.*apt-get install"):
        build_and_run(exported, target="cortex-m4", tflm_root=tflm_root())


def test_map_sizes_splits_a_gnu_ld_map(tmp_path):
    map_file = tmp_path / "firmware.map"
    map_file.write_text(
        "Discarded input sections\n .text.unused 0x0 0x40 obj/model_data.o\n\n"
        "Linker script and memory map\n\n"
        ".text           0x00000400     0x2000\n"
        " .text.main     0x00000400       0x80 obj/firmware_main.o\n"
        " .text._ZN6tflite3AddEv\n"
        "                0x00000480      0x100 obj/libtflm.a(add.o)\n"
        " .text          0x00000580       0x20 /usr/lib/arm-none-eabi/lib/thumb/libc_nano.a(lib_a-memcpy.o)\n"
        " .rodata.g_model\n                0x00000600     0x1000 obj/model_data.o\n"
        ".data           0x20000000       0x10 load address 0x00001600\n"
        " .data          0x20000000       0x10 obj/libtflm.a(micro_log.o)\n"
        ".bss            0x20000010      0x200\n"
        " .bss.arena     0x20000010      0x200 obj/firmware_main.o\n"
    )
    sizes = map_sizes(map_file)
    assert sizes["model array"] == {"text": 0x1000, "data": 0, "bss": 0}
    assert sizes["TFLM kernels and runtime"] == {"text": 0x100, "data": 0x10, "bss": 0}
    assert sizes["libc and runtime"] == {"text": 0x20, "data": 0, "bss": 0}
    assert sizes["program"] == {"text": 0x80, "data": 0, "bss": 0x200}
