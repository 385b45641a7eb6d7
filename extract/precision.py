"""One precision policy for extraction, fine-tuning, training and spotting: fp32, bf16 or fp16 autocast.

`--precision auto` means the faster of fp32 and bf16 on the machine it runs on:

- CUDA: bf16 where the GPU supports it, else fp16 (with a gradient scaler when training);
- a CPU without native bf16 (AVX2 only): fp32 — bf16 is emulated there and about 8x slower;
- a CPU with native bf16 (AVX-512-BF16, AMX): *measured*. The flag is only a first guess: on a Xeon with
  AVX-512-BF16 and no AMX, ResNet-152 ran 7.8 img/s in fp32 and 5.8 in bf16 autocast. A short probe
  (`measure_speeds`: a convolution stack in channels-last, the shape of a backbone's work, about a
  second) times both, and the answer is cached per CPU model, torch version and thread count in
  `$XDG_CACHE_HOME/soccerspot/precision.json` (default `~/.cache`), so it runs once per machine.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# what `auto` does, for every command's --help (the module docstring has the why)
AUTO_HELP = ("auto: bf16 on CUDA (fp16 where the GPU lacks bf16); on a CPU with native bf16, fp32 or bf16, "
             "whichever a one-second probe measured faster (cached per CPU, torch version and thread count); "
             "fp32 on other CPUs")
CACHE_NAME = "precision.json"
# torch is imported by the functions that need it: the command line reads PRECISIONS without loading torch


def autocast(device_type: str, precision: str):
    """The autocast context of a resolved precision: bf16 or fp16 autocast, or none for fp32."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(device_type, dtype=dtype or torch.float32, enabled=dtype is not None)


def cpu_has_native_bf16() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "soccerspot" / CACHE_NAME


def probe_key() -> str:
    import torch

    return f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def measure_speeds(repeats: int = 3) -> dict[str, float]:
    """Images per second of a small convolution stack (channels-last, batch 8 at 56x56, 64 channels, the
    body of a ResNet stage) in fp32 and in bf16 autocast on this CPU; the best of `repeats` runs each."""
    import torch

    generator = torch.Generator().manual_seed(0)
    layers = torch.nn.Sequential(*[torch.nn.Conv2d(64, 64, 3, padding=1) for _ in range(4)]).eval()
    layers = layers.to(memory_format=torch.channels_last)
    batch = torch.randn(8, 64, 56, 56, generator=generator).to(memory_format=torch.channels_last)
    speeds = {}
    for precision in ("fp32", "bf16"):
        with torch.no_grad(), autocast("cpu", precision):
            layers(batch)  # warm-up: kernels chosen, buffers allocated
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                layers(batch)
                best = min(best, time.perf_counter() - started)
        speeds[precision] = batch.shape[0] / best
    return speeds


def _read_cache(path: Path) -> dict:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return stored if isinstance(stored, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, stored: dict) -> None:
    """Atomic, and silent where the cache folder cannot be written (the probe then runs next time too)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(stored, indent=1), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass


def faster_cpu_precision() -> str:
    """fp32 or bf16, whichever the probe measured faster on this CPU (cached); fp32 without native bf16."""
    if not cpu_has_native_bf16():
        return "fp32"
    path, key = cache_path(), probe_key()
    stored = _read_cache(path)
    entry = stored.get(key)
    if not (isinstance(entry, dict) and entry.get("choice") in ("fp32", "bf16")):
        speeds = measure_speeds()
        entry = {"choice": "bf16" if speeds["bf16"] > speeds["fp32"] else "fp32", "images_per_s": speeds}
        stored[key] = entry
        _write_cache(path, stored)
    return entry["choice"]


def resolve_precision(precision: str, device) -> str:
    """fp32, bf16 or fp16 for `precision` on `device` (module docstring). Raises ValueError for an unknown
    precision and for fp16 on a CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            import torch

            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return faster_cpu_precision()
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 is for CUDA; on CPU use bf16 or fp32")
    return precision
