"""mamba/fused's selective scan: the loop of models/mamba_fused.c, compiled once
per machine with the system's C compiler and called through ctypes.

The build is cached under ``$MIXBENCH_CACHE`` (default ``~/.cache/mixbench``),
keyed by the source, the flags, the compiler and the host: ``-march=native``
code runs only where it was built. Without a compiler, or when the build
fails, ``unavailable_reason`` says why and the variant is skipped.

Loading a library runs its code, so a cached build is loaded only from a
folder the user owns and no one else can write, and only when it is a plain
file the user owns and no one else can write; a cached build that is not, or
that does not load, is rejected with a warning naming it and built again.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import itertools
import os
import platform
import shutil
import stat
import subprocess
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from .base import outside_autocast

SOURCE = Path(__file__).with_suffix(".c")
#: -ffast-math lets gcc call glibc's vector expf (libmvec) and sum the
#: reductions in vector lanes; it is given to the compile step only, because
#: linking with it would set flush-to-zero for the whole process. The second
#: set builds where libmvec or those flags are missing, with a scalar exp.
FLAG_SETS = (
    (["-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-fPIC"], ["-lmvec", "-lm"]),
    (["-O3", "-fPIC"], ["-lm"]),
)
#: positions per segment of the backward: it keeps L / SEGMENT checkpoint states
#: and recomputes SEGMENT + 1 states at a time
SEGMENT = 64
#: seconds one compile may take before the build counts as failed
BUILD_TIMEOUT_S = 120

_i64, _ptr = ctypes.c_int64, ctypes.c_void_p


def cache_dir() -> Path:
    """$MIXBENCH_CACHE (``~`` expanded), else ~/.cache/mixbench."""
    given = os.environ.get("MIXBENCH_CACHE")
    return Path(given).expanduser() if given else Path.home() / ".cache" / "mixbench"


def unsafe(path: Path) -> str | None:
    """Why ``path`` could hold code another user put there (None when only this
    user, or root, can have written it): a link, another owner, or writable by
    group or others."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if info.st_uid not in (os.getuid(), 0):
        return f"{path} belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} can be written by others (mode {stat.filemode(info.st_mode)})"
    return None


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def compiler_version(cc: str) -> str:
    done = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    return (done.stdout.splitlines() or ["unknown"])[0]


def build(cc: str, compile_flags: list[str], link_flags: list[str], target: Path) -> str | None:
    """Compile SOURCE into ``target`` (written whole or not at all: parallel
    workers may build at once); the compiler's first error line, or None."""
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        workspace = tempfile.TemporaryDirectory(dir=target.parent)
    except OSError as error:
        return (
            f"cannot write the build cache {target.parent} ({error.strerror}): "
            "set MIXBENCH_CACHE to a writable folder"
        )
    with workspace as scratch:
        obj, lib = Path(scratch) / "scan.o", Path(scratch) / target.name
        for command in (
            [cc, *compile_flags, "-c", str(SOURCE), "-o", str(obj)],
            [cc, "-shared", str(obj), "-o", str(lib), *link_flags],
        ):
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                return f"{' '.join(command[:2])}: {error}"
            if done.returncode:
                lines = (done.stderr or done.stdout).strip().splitlines()
                return lines[0] if lines else f"{command[0]} exited with {done.returncode}"
        lib.chmod(0o755)  # only its owner may change code the process will run
        os.replace(lib, target)
    return None


@functools.cache
def library() -> tuple[ctypes.CDLL | None, str]:
    """(the loaded kernel, how it was built) or (None, why there is none)."""
    cc = compiler()
    if cc is None:
        return None, "no C compiler (cc or gcc) on PATH: install gcc, or set CC"
    try:
        version = compiler_version(cc)
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"C compiler {cc} does not run: {error}"
    folder = cache_dir().resolve()  # a link to a private folder is as good as the folder
    if folder.exists() and (problem := unsafe(folder)):
        return (
            None,
            f"the build cache is not private: {problem}; chmod go-w it or set MIXBENCH_CACHE",
        )
    problems = []
    for compile_flags, link_flags in FLAG_SETS:
        target = built_library_path(cc, version, compile_flags)
        lib, problem = cached_or_built(cc, compile_flags, link_flags, target)
        if lib is not None:
            declare(lib)
            return lib, f"{version}, {' '.join(compile_flags)}"
        problems.append(problem)
    return None, f"the C scan did not build with {cc}: {problems[0]}"


def cached_or_built(
    cc: str, compile_flags: list[str], link_flags: list[str], target: Path
) -> tuple[ctypes.CDLL | None, str | None]:
    """The cached build at ``target`` when it is safe and loads, else a new
    build (a rejected one said with a warning); (None, why) when neither."""
    if target.exists() or target.is_symlink():
        rejected = unsafe(target)
        if rejected is None:
            try:
                return ctypes.CDLL(str(target)), None
            except OSError as error:
                rejected = f"it does not load: {error}"
        warnings.warn(
            f"mamba/fused: the cached build {target} was rejected ({rejected}); building it again",
            stacklevel=3,
        )
    problem = build(cc, compile_flags, link_flags, target)
    if problem is not None:
        return None, problem
    try:
        return ctypes.CDLL(str(target)), None
    except OSError as error:
        return None, f"cannot load the new build {target} ({error})"


def built_library_path(cc: str, version: str, compile_flags: list[str]) -> Path:
    """Where the build of these flags is cached: -march=native code runs only
    on the host and compiler that made it."""
    key = "\n".join([SOURCE.read_text(), cc, version, platform.node(), *compile_flags])
    return cache_dir() / f"mamba_fused-{hashlib.sha256(key.encode()).hexdigest()[:16]}.so"


def declare(lib: ctypes.CDLL) -> None:
    lib.mamba_fused_forward.argtypes = [_i64] * 5 + [_ptr] * 7
    lib.mamba_fused_forward.restype = None
    lib.mamba_fused_work_floats.argtypes = [_i64] * 4
    lib.mamba_fused_work_floats.restype = _i64
    lib.mamba_fused_backward.argtypes = [_i64] * 6 + [_ptr] * 13
    lib.mamba_fused_backward.restype = None


def unavailable_reason() -> str | None:
    lib, how = library()
    return None if lib is not None else how


def build_description() -> str:
    """How the kernel was built, or why it was not: for the run's machine info."""
    return library()[1]


def address(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


@functools.cache
def pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="mamba-fused")


def workers_for(batch: int) -> int:
    return max(1, min(torch.get_num_threads(), batch))


def over_rows(call, batch: int) -> None:
    """``call(part, b0, b1)`` over the batch rows, split in parts across torch's
    thread count: ctypes lets go of the GIL, so the parts run at once."""
    workers = workers_for(batch)
    if workers == 1:
        call(0, 0, batch)
        return
    bounds = [batch * i // workers for i in range(workers + 1)]
    parts = [
        pool(workers).submit(call, part, b0, b1)
        for part, (b0, b1) in enumerate(itertools.pairwise(bounds))
    ]
    for part in parts:
        part.result()


def run_problem(device: torch.device, scan_dtype: torch.dtype) -> str | None:
    """Why the C scan cannot run on ``device`` scanning in ``scan_dtype``, or None."""
    if device.type != "cpu" or scan_dtype != torch.float32:
        kind = str(scan_dtype).removeprefix("torch.")
        return f"its C scan runs on the CPU in float32, not {kind} on {device.type}"
    return None


def check_runs_here(*tensors: torch.Tensor) -> None:
    for t in tensors:
        if run_problem(t.device, t.dtype) is not None:
            raise ValueError(
                f"mamba/fused's C scan runs on CPU float32 (bf16/fp16 models scan in "
                f"float32), got {t.dtype} on {t.device}: use mamba/scan there"
            )


class FusedScan(torch.autograd.Function):
    """The selective scan over (b, L, E) inputs in C; returns y (b, L, E)
    without the D skip and the final h (b, E, N), as ``ChunkedScan`` does."""

    @staticmethod
    @outside_autocast
    def forward(ctx, u, delta, A, B, C):
        check_runs_here(u, delta, A, B, C)
        lib = library()[0]
        u, delta, B, C = (z.contiguous() for z in (u, delta, B, C))
        A_ne = A.T.contiguous()
        (batch, length, E), N = u.shape, A.shape[1]
        y, h = torch.empty_like(u), u.new_empty(batch, N, E)
        pointers = [address(z) for z in (u, delta, A_ne, B, C, y, h)]
        over_rows(lambda _, b0, b1: lib.mamba_fused_forward(b0, b1, length, E, N, *pointers), batch)
        ctx.save_for_backward(u, delta, A_ne, B, C)
        return y, h.transpose(1, 2)

    @staticmethod
    @outside_autocast
    def backward(ctx, dy, dh):
        u, delta, A_ne, B, C = ctx.saved_tensors
        lib = library()[0]
        (batch, length, E), N = u.shape, A_ne.shape[0]
        dy = dy.contiguous()
        dh = None if dh is None else dh.transpose(1, 2).contiguous()
        d_u, d_delta, dB, dC = (torch.empty_like(z) for z in (u, u, B, C))
        dA = u.new_empty(batch, N, E)
        floats = lib.mamba_fused_work_floats(length, E, N, SEGMENT)
        # one work space per part, as a tensor: the run's memory figures count it
        work = u.new_empty(workers_for(batch), floats)
        inputs = [address(z) for z in (u, delta, A_ne, B, C, dy, dh)]
        outputs = [address(z) for z in (d_u, d_delta, dA, dB, dC)]

        def rows(part: int, b0: int, b1: int) -> None:
            scratch = address(work[part])
            lib.mamba_fused_backward(b0, b1, length, E, N, SEGMENT, *inputs, scratch, *outputs)

        over_rows(rows, batch)
        return d_u, d_delta, dA.sum(0).T, dB, dC


def fused_selective_scan(u, delta, A, B, C) -> tuple[torch.Tensor, torch.Tensor]:
    """The same result as ``sequential_selective_scan`` (models/mamba.py), in C."""
    return FusedScan.apply(u, delta, A, B, C)
