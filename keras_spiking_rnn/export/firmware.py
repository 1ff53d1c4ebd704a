"""Building an exported model into firmware (host and Cortex-M4 in QEMU) and checking it bit for bit.

The firmware kit is the top-level ``export/`` folder of the source tree (a Makefile, a test program
and the Cortex-M4 startup and linker script). This module drives it: it runs ``make``, runs the
program on the host or in ``qemu-system-arm -M mps2-an386``, reads the program's ``KSR ...`` lines
and the linker map, and adds the figures to the model's ``report.json``.

    keras-spiking-rnn firmware build/mnist1d --target cortex-m4 --kernels cmsis-nn
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

TARGETS = ("host", "cortex-m4")
KERNELS = ("reference", "cmsis-nn")
MODEL_FILES = ("model_data.cc", "model_data.h", "model_ops.h", "model_settings.h", "test_vectors.h")
QEMU_COMMAND = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-semihosting", "-icount", "shift=0", "-kernel"]
_TOOLS = {"host": "g++", "cortex-m4": "arm-none-eabi-g++"}
_INSTALL = "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm"


CLOCKS_MHZ = (48, 80, 168)  # common Cortex-M4 clock rates
CPI_ESTIMATE = 1.25  # assumed cycles per instruction for the real-time estimate (an assumption, not a measurement)


class FirmwareError(RuntimeError):
    """The firmware could not be built or run, or it does not reproduce the exported model's outputs.

    The message says what is missing (a tool, the TFLM tree, a model file) or ends with the build's or
    the program's last lines of output.

    Examples:
        >>> try:
        ...     build_and_run("build/mnist1d", target="cortex-m4")
        ... except FirmwareError as error:
        ...     print(error)
        Model directory '.../build/mnist1d' does not exist (export_tflite_micro writes it).
    """


@dataclass
class FirmwareResult:
    """What a firmware build and run gave.

    ``str(result)`` is a short summary; ``bit_exact`` says whether every int8 output matched.

    Attributes:
        target: ``"host"`` or ``"cortex-m4"``.
        kernels: ``"reference"`` or ``"cmsis-nn"``.
        newlib: ``"newlib"`` or ``"newlib-nano"`` (cortex-m4), ``"host libc"`` otherwise.
        sequences: the test sequences run (those of ``test_vectors.h``).
        steps: timesteps run in all (sequences x timesteps per sequence).
        outputs: int8 outputs compared with the Python TFLM interpreter's.
        mismatched: how many of them differ.
        first_mismatch: the program's description of the first difference; None if none.
        arena_used_bytes: the tensor arena the firmware used, as TFLM reports it.
        instructions_per_step: cortex-m4 in QEMU: ``{"median", "min", "max"}`` instructions (not cycles)
            per step, counted with SysTick; None on the host.
        sizes: ``{part: {"text", "data", "bss"}}`` bytes by part (model array, TFLM, libc and runtime,
            program), from the link map.
        macs_per_step: the model's FULLY_CONNECTED multiply-accumulates per step (``report.json``).
        binary: the path of the executable or ELF file.

    Examples:
        >>> result = build_and_run("build/mnist1d", target="cortex-m4", kernels="cmsis-nn", tflm_root="tflite-micro")
        >>> result.bit_exact, result.instructions_per_step["median"]
    """

    target: str
    kernels: str
    newlib: str  # "newlib" or "newlib-nano" (cortex-m4), "host libc" otherwise
    sequences: int
    steps: int
    outputs: int
    mismatched: int
    first_mismatch: str | None
    arena_used_bytes: int
    instructions_per_step: dict[str, int] | None  # cortex-m4 in QEMU: instructions (not cycles), from SysTick
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # {part: {text, data, bss}} from the link map
    macs_per_step: int | None = None  # the model's FULLY_CONNECTED multiply-accumulates per step (report.json)
    binary: str = ""

    @property
    def instructions_per_mac(self) -> float | None:
        """Median instructions per step divided by ``macs_per_step``; None without both."""
        if not self.instructions_per_step or not self.macs_per_step:
            return None
        return self.instructions_per_step["median"] / self.macs_per_step

    def steps_per_second(self, clock_hz: float, cycles_per_instruction: float) -> float | None:
        """An estimate: ``clock_hz / (instructions per step * cycles_per_instruction)``, from QEMU's instruction count.

        QEMU counts instructions, not cycles; a Cortex-M4 takes one or more cycles per instruction
        (more with flash wait states and multi-cycle loads), so the CPI is an assumption to state.

        Args:
            clock_hz: the microcontroller's clock rate in Hz, e.g. ``80e6``.
            cycles_per_instruction: the assumed average cycles per instruction, e.g. 1.25.

        Returns:
            Timesteps per second, from the median instruction count; None without instruction counts
                (a host build).

        Examples:
            >>> result.steps_per_second(80e6, 1.25)  # a cortex-m4 result
        """
        if not self.instructions_per_step:
            return None
        return clock_hz / (self.instructions_per_step["median"] * cycles_per_instruction)

    @property
    def bit_exact(self) -> bool:
        """Whether every int8 output matched the Python TFLM interpreter's (and there were outputs)."""
        return self.mismatched == 0 and self.outputs > 0

    def __str__(self) -> str:
        verdict = "bit-exact" if self.bit_exact else f"{self.mismatched} of {self.outputs} outputs differ"
        lines = [
            f"{self.target} ({self.kernels} kernels, {self.newlib}): {self.sequences} sequences, {self.steps} steps, "
            f"{self.outputs} int8 outputs vs the Python TFLM interpreter: {verdict}",
            f"  arena used: {self.arena_used_bytes:,} bytes",
        ]
        if self.first_mismatch:
            lines.append(f"  first mismatch: {self.first_mismatch}")
        if self.instructions_per_step:
            ips = self.instructions_per_step
            lines.append(
                f"  instructions per step (QEMU -icount, not cycles): {ips['median']:,} median "
                f"({ips['min']:,}-{ips['max']:,})"
                + (f", {self.instructions_per_mac:.2f} per MAC" if self.instructions_per_mac else "")
            )
            budget = ", ".join(
                f"{self.steps_per_second(mhz * 1e6, CPI_ESTIMATE):,.0f} at {mhz} MHz" for mhz in CLOCKS_MHZ
            )
            lines.append(f"  estimated steps per second (assuming {CPI_ESTIMATE} cycles per instruction): {budget}")
        for part, size in self.sizes.items():
            lines.append(f"  {part}: text {size['text']:,}  data {size['data']:,}  bss {size['bss']:,}")
        return "\n".join(lines)


def default_kit() -> Path:
    """The ``export/`` folder beside the package, in a source checkout (or an editable install)."""
    return Path(__file__).resolve().parents[2] / "export"


def resolve_tflm(tflm_root: str | Path | None, kernels: str) -> Path:
    """The TFLM source tree to compile: ``tflm_root`` itself, or its ``reference``/``cmsis-nn`` subtree."""
    root = tflm_root or os.environ.get("TFLM_ROOT")
    if root is None:
        raise FirmwareError(
            "No TFLM source tree: pass `tflm_root` (--tflm) or set TFLM_ROOT to a tflite-micro tree "
            "(e.g. ../shared/third_party/tflite-micro, or a tree made by TFLM's create_tflm_tree.py)."
        )
    root = Path(root)
    for candidate in (root / kernels, root):
        if (candidate / "tensorflow/lite/micro/micro_interpreter.h").is_file():
            if kernels == "cmsis-nn" and not (candidate / "third_party/cmsis_nn").is_dir():
                continue
            return candidate
    raise FirmwareError(
        f"{str(root)!r} is not a TFLM source tree for {kernels} kernels: no tensorflow/lite/micro/micro_interpreter.h"
        + (" with third_party/cmsis_nn" if kernels == "cmsis-nn" else "")
        + f" in it or in its {kernels}/ folder."
    )


def _check(model_dir: Path, target: str, kernels: str, kit: Path) -> None:
    if target not in TARGETS:
        raise ValueError(f"`target` must be one of {TARGETS}, got {target!r}.")
    if kernels not in KERNELS:
        raise ValueError(f"`kernels` must be one of {KERNELS}, got {kernels!r}.")
    if kernels == "cmsis-nn" and target == "host":
        raise ValueError("CMSIS-NN kernels are for Arm Cortex-M: use target='cortex-m4' with kernels='cmsis-nn'.")
    if not model_dir.is_dir():
        raise FirmwareError(f"Model directory {str(model_dir)!r} does not exist (export_tflite_micro writes it).")
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise FirmwareError(
            f"Model directory {str(model_dir)!r} lacks {', '.join(missing)}; re-run export_tflite_micro "
            "(test_vectors.h comes from keras-spiking-rnn 0.1 or newer)."
        )
    if not (kit / "Makefile").is_file():
        raise FirmwareError(
            f"No firmware kit at {str(kit)!r}: pass `kit` (--kit), the export/ folder of the source tree."
        )
    tool = _TOOLS[target]
    if shutil.which(tool) is None:
        raise FirmwareError(f"{tool} is not installed." + (f" On Debian: {_INSTALL}" if target != "host" else ""))
    if target == "cortex-m4" and shutil.which("qemu-system-arm") is None:
        raise FirmwareError(f"qemu-system-arm is not installed. On Debian: {_INSTALL}")


def _parse_output(text: str) -> dict[str, str]:
    """The program's ``KSR key=value`` lines as a dict (instruction min/max as ``instructions_min/max``)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("KSR mismatch "):
            values.setdefault("first_mismatch", line[len("KSR mismatch ") :].strip())
        elif line.startswith("KSR error "):
            values["error"] = line[len("KSR error ") :].strip()
        elif line.startswith("KSR "):
            prefix = "instructions_" if line.startswith("KSR instructions_per_step") else ""
            for key, value in re.findall(r"(\w+)=(\S+)", line):
                values[key if key.startswith("instructions") else prefix + key] = value
    return values


_LIBC = re.compile(r"lib(c|c_nano|g|g_nano|m|gcc|stdc\+\+|stdc\+\+_nano|supc\+\+|supc\+\+_nano|rdimon|nosys)\.a\(")


def map_sizes(map_file: Path) -> dict[str, dict[str, int]]:
    """Bytes of text (code and read-only data), data and bss by part: model array, TFLM, libc and runtime, program.

    Read from a GNU ld map file (-Wl,-Map): every input section kept in the link, by the file it came from.
    """
    parts: dict[str, dict[str, int]] = {}
    text = map_file.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines() if start >= 0 else []
    pending = None  # an input section name printed alone on its line, its address and size on the next
    entry = re.compile(r"^\s(\.[\w.\-$]+|COMMON)?\s*(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")
    for line in lines:
        if re.match(r"^\s(\.[\w.\-$]+|COMMON)\s*$", line):
            pending = line.strip()
            continue
        match = entry.match(line)
        if not match:
            pending = None if not line.startswith(" ") else pending
            continue
        section = match.group(1) or pending
        pending = None
        size, source = int(match.group(3), 16), match.group(4).strip()
        if section is None or size == 0 or source.startswith("load address"):
            continue
        kind = (
            "bss"
            if section.startswith((".bss", "COMMON", ".stack", ".heap"))
            else "data"
            if section.startswith(".data")
            else "text"
            if section.startswith((".text", ".rodata", ".ARM", ".init", ".fini", ".preinit", ".vectors", ".isr"))
            else None
        )
        if kind is None:
            continue
        if "model_data" in source:
            part = "model array"
        elif _LIBC.search(source) or "/arm-none-eabi/lib" in source or "crt" in Path(source).name:
            part = "libc and runtime"
        elif "libtflm" in source or "tensorflow/" in source or "third_party/" in source or "signal/" in source:
            part = "TFLM kernels and runtime"
        else:
            part = "program"
        sizes = parts.setdefault(part, {"text": 0, "data": 0, "bss": 0})
        sizes[kind] += size
    return parts


def build_and_run(
    model_dir: str | Path,
    target: str = "host",
    kernels: str = "reference",
    tflm_root: str | Path | None = None,
    nano: bool = False,
    build_dir: str | Path | None = None,
    kit: str | Path | None = None,
    jobs: int = 2,
    timeout: float = 1800,
    update_report: bool = True,
) -> FirmwareResult:
    """Builds the firmware for an exported model, runs it, and checks its outputs against the Python TFLM interpreter.

    Args:
        model_dir: a directory written by ``export_tflite_micro``.
        target: ``"host"`` (an executable for this machine) or ``"cortex-m4"`` (an ELF run in
            ``qemu-system-arm -M mps2-an386``, with ``-icount shift=0`` so SysTick counts instructions).
        kernels: ``"reference"`` or ``"cmsis-nn"`` (Cortex-M only).
        tflm_root: a TFLM source tree (or a folder holding ``reference/`` and ``cmsis-nn/`` trees);
            default: the ``TFLM_ROOT`` environment variable.
        nano: link newlib-nano instead of newlib (Cortex-M4).
        build_dir: where objects and the binary go; default ``model_dir/firmware/<target>-<kernels>[-nano]``.
        kit: the firmware kit (the source tree's ``export/`` folder); found beside the package by default.
        jobs: parallel compile jobs.
        timeout: seconds allowed for the build, and again for the run.
        update_report: add the figures to ``model_dir/report.json`` under ``"firmware"``.

    Returns:
        The [`FirmwareResult`][keras_spiking_rnn.export.firmware.FirmwareResult]: mismatches, arena use,
            instruction counts and sizes.

    Raises:
        ValueError: an unknown ``target`` or ``kernels``, or ``"cmsis-nn"`` kernels for the host.
        FirmwareError: a missing model directory or model file, kit, compiler, QEMU or TFLM tree; a
            failed build; a program that stops, times out or contradicts its own mismatch count.
        subprocess.TimeoutExpired: the build takes longer than ``timeout``.

    Examples:
        >>> result = build_and_run("build/mnist1d", target="cortex-m4", kernels="cmsis-nn", tflm_root="tflite-micro")
        >>> result.bit_exact
        True
    """
    model_dir = Path(model_dir).resolve()
    kit = Path(kit).resolve() if kit is not None else default_kit()
    _check(model_dir, target, kernels, kit)
    tree = resolve_tflm(tflm_root, kernels)
    name = f"{target}-{kernels}" + ("-nano" if nano else "")
    build_dir = Path(build_dir).resolve() if build_dir is not None else model_dir / "firmware" / name
    command = [
        "make", "-C", str(kit), f"-j{jobs}", f"MODEL_DIR={model_dir}", f"TFLM_ROOT={tree}", f"TARGET={target}",
        f"KERNELS={kernels}", f"NANO={int(bool(nano))}", f"BUILD_DIR={build_dir}",
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if built.returncode != 0:
        log = (built.stdout + built.stderr).strip().splitlines()
        raise FirmwareError(f"Building the {name} firmware failed:\n" + "\n".join(log[-25:]))
    binary = build_dir / ("firmware" if target == "host" else "firmware.elf")
    run_command = [str(binary)] if target == "host" else [*QEMU_COMMAND, str(binary)]
    try:
        ran = subprocess.run(run_command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise FirmwareError(f"The {name} firmware did not finish within {timeout:.0f} s.") from error
    values = _parse_output(ran.stdout + ran.stderr)
    if "error" in values or "mismatched" not in values:
        log = "\n".join((ran.stdout + ran.stderr).strip().splitlines()[-12:])
        raise FirmwareError(
            f"The {name} firmware stopped (exit code {ran.returncode}): {values.get('error', 'no result line')}\n{log}"
        )
    instructions = None
    if "instructions_per_step" in values:
        instructions = {
            "median": int(values["instructions_per_step"]),
            "min": int(values.get("instructions_min", values["instructions_per_step"])),
            "max": int(values.get("instructions_max", values["instructions_per_step"])),
        }
    result = FirmwareResult(
        target=target,
        kernels=kernels,
        newlib=("newlib-nano" if nano else "newlib") if target != "host" else "host libc",
        sequences=int(values["sequences"]),
        steps=int(values["steps"]),
        outputs=int(values["outputs"]),
        mismatched=int(values["mismatched"]),
        first_mismatch=values.get("first_mismatch"),
        arena_used_bytes=int(values.get("arena_used_bytes", 0)),
        instructions_per_step=instructions,
        sizes=map_sizes(build_dir / "firmware.map") if (build_dir / "firmware.map").is_file() else {},
        macs_per_step=_macs(model_dir),
        binary=str(binary),
    )
    if (ran.returncode == 0) != (result.mismatched == 0):
        raise FirmwareError(f"The {name} firmware's exit code {ran.returncode} contradicts its mismatch count.")
    if update_report:
        _update_report(model_dir / "report.json", name, result)
    return result


def _macs(model_dir: Path) -> int | None:
    report = model_dir / "report.json"
    return json.loads(report.read_text()).get("macs_per_step") if report.is_file() else None


def _update_report(path: Path, name: str, result: FirmwareResult) -> None:
    if not path.is_file():
        return
    report = json.loads(path.read_text())
    figures = asdict(result)
    figures.pop("binary")
    if result.instructions_per_step:
        figures["instructions_per_mac"] = result.instructions_per_mac
        figures["steps_per_second_estimate"] = {
            "cycles_per_instruction_assumed": CPI_ESTIMATE,
            **{f"{mhz}MHz": result.steps_per_second(mhz * 1e6, CPI_ESTIMATE) for mhz in CLOCKS_MHZ},
        }
    report.setdefault("firmware", {})[name] = figures
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(report, indent=2) + "\n")
    scratch.replace(path)
