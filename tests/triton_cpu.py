"""What Triton's interpreter needs to run fla's kernels on a CPU, for
tests/test_fla.py (which starts the run) and tests/fla_interpreted.py (the
tests that run inside it). Nothing here imports triton or fla: the interpreter
is chosen when triton's ``jit`` decorates a kernel, that is when fla is
imported, so TRITON_INTERPRET=1 is set in a fresh process before that.

Two frictions of triton 3.9.0 with fla-core 0.6.0, each fixed at test time
and watched by a test that fails when upstream changes it:

- Triton's autotuner benchmarks every config of a kernel with the active
  driver's benchmarker; the interpreter has no driver ("0 active drivers").
  ``first_config_autotuner`` prunes each kernel's configs to one, which the
  autotuner runs without benchmarking (configs only choose block sizes and
  warps: every one computes the same). Watched by
  fla_interpreted.test_autotuner_still_needs_a_driver_without_the_fixture.
- fla's chunked kernels call ``.to(tl.int64)`` on loop indices
  (fla/ops/common/chunk_h.py:97, ``i_t.to(tl.int64)``): the interpreter runs
  ``for i_t in range(NT)`` as a Python loop, and a Python int has no ``.to``.
  ``patched_fla_copy`` copies the installed fla into a temporary folder and
  rewrites ``name.to(tl.int64)`` as ``tl.cast(name, tl.int64)``, which is
  what ``.to`` calls on a GPU too; the copy is put first on the run's path.
  Nothing patched is kept in the repository. Watched by
  test_fla.test_released_fla_still_casts_loop_indices_with_to.

fla's own device guard already leaves CPU tensors alone (its
``custom_device_ctx`` gives a null context for a device without an index), so
no ``torch.cuda.device`` stand-in is needed for fla's paths.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: a bare name's ``.to(tl.int64)``: loop indices (Python ints in the
#: interpreter) and tensors alike; calls and parenthesised expressions are left
INT64_TO = re.compile(r"\b([A-Za-z_]\w*)\.to\(tl\.int64\)")
INT64_CAST = r"tl.cast(\1, tl.int64)"
#: where the interpreted run finds the patched copy (checked inside the run)
COPY_ENV = "MIXBENCH_FLA_COPY"
REPO = Path(__file__).resolve().parent.parent


def installed_fla() -> Path:
    """The installed fla package's folder (found without importing it)."""
    spec = importlib.util.find_spec("fla")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fla is not installed (bash scripts/install.sh installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


def rewrite_int64_casts(package: Path) -> dict[str, int]:
    """Rewrite ``name.to(tl.int64)`` as ``tl.cast(name, tl.int64)`` in every
    module under ``package``; the number of rewrites per file changed."""
    counts = {}
    for path in sorted(package.rglob("*.py")):
        text, n = INT64_TO.subn(INT64_CAST, path.read_text())
        if n:
            path.write_text(text)
            counts[str(path.relative_to(package))] = n
    return counts


def patched_fla_copy(folder: Path) -> Path:
    """A copy of the installed fla under ``folder`` with its int64 casts
    rewritten (see the module's docstring); returns the folder to put first
    on the path."""
    shutil.copytree(installed_fla(), folder / "fla", ignore=shutil.ignore_patterns("__pycache__"))
    rewrite_int64_casts(folder / "fla")
    return folder


def run_interpreted(test_file: Path, copy: Path, report: Path, timeout_s: float):
    """pytest on ``test_file`` in a fresh process under Triton's interpreter,
    with the patched fla copy first on the path; a JUnit report at ``report``."""
    env = dict(os.environ, TRITON_INTERPRET="1", **{COPY_ENV: str(copy)})
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(REPO), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "pytest", str(test_file), "-q", f"--junitxml={report}"]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s
    )


@pytest.fixture(scope="module")
def first_config_autotuner():
    """Inside the interpreted run: every Triton autotuner keeps the first of
    its configs that its own pruning leaves, so that it never benchmarks
    (which asks for a GPU driver; see the module's docstring)."""
    from triton.runtime.autotuner import Autotuner

    prune = Autotuner.prune_configs
    patch = pytest.MonkeyPatch()
    patch.setattr(Autotuner, "prune_configs", lambda self, kwargs: prune(self, kwargs)[:1])
    yield prune
    patch.undo()
