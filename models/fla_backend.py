"""Where fla's Triton kernels (fla-core, the kernels of flash-linear-attention)
can run, for the variants built on them (retnet/fla, mamba2/fla).

fla is pure Python and Triton: it installs without compiling, and its kernels
are compiled by Triton at their first call on a GPU. On a CPU they run only
under Triton's interpreter (``TRITON_INTERPRET=1``, set before triton is
imported), a few seconds per call at small shapes: the tests check every fla
path the project calls that way (tests/test_fla.py); a benchmark never should.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import torch

#: what installs them (pyproject's ``fla`` extra; scripts/install.sh installs it)
FLA_INSTALL = "pip install 'mixbench[fla]' (triton and fla-core)"
#: fla's chunk length in its chunked kernels (its default; it takes powers of 2 only)
FLA_CHUNK = 64


def interpreted() -> bool:
    """Whether Triton interprets kernels on the CPU in this process."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def fla_unavailable_reason() -> str | None:
    """Why fla's kernels cannot run here, or None: triton and fla-core are
    installed, a CUDA device is present (or the interpreter is on), and fla's
    retention and simple-GLA modules import."""
    for package in ("triton", "fla"):
        if importlib.util.find_spec(package) is None:
            return f"package {package} is not installed ({FLA_INSTALL})"
    if not torch.cuda.is_available() and not interpreted():
        return (
            "fla's Triton kernels need a CUDA device, none is available "
            "(TRITON_INTERPRET=1 runs them on the CPU, slowly: for tests only)"
        )
    for module in ("fla.ops.retention", "fla.ops.simple_gla"):
        try:
            importlib.import_module(module)
        except (ImportError, OSError, RuntimeError) as error:
            detail = " ".join(str(error).split())
            return f"{module} does not import ({type(error).__name__}: {detail}); {FLA_INSTALL}"
    return None


def fla_run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
    """Triton compiles for CUDA devices; on the CPU only its interpreter runs them."""
    if torch.device(device).type == "cuda" or interpreted():
        return None
    return (
        f"fla's Triton kernels run on CUDA, not on {torch.device(device).type} "
        "(TRITON_INTERPRET=1 interprets them on the CPU, for tests)"
    )
