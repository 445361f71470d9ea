#!/usr/bin/env bash
# A virtual environment in .venv with mixbench, its test tools and the reference
# implementations the tests compare against. torch is pinned to the CPU build
# (constraints.txt); torchscale and fairscale come without their dependencies,
# which would pull timm, torchvision and a several-GB CUDA torch. Triton and
# fla-core (the fla extra) install on any machine: the tests run fla's kernels
# in Triton's interpreter on the CPU. The extras are the first argument
# (default test,fla); the main job passes test alone: fla's variants cannot run
# on a CPU outside the interpreter, and Triton is the largest download.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test,fla}"
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -c constraints.txt -e ".[$extras]"
.venv/bin/pip install -q --no-deps -c constraints.txt torchscale==0.3.0 fairscale==0.4.0
