#!/usr/bin/env bash
# The GPU benchmark, run on an NVIDIA host where nothing can be downloaded (bench/gpu/pack.sh prepares .gpu/ on a
# machine with the project installed). Unpacks Node and onnxruntime-node, installs the Vulkan loader, then runs the
# bundled benchmark (bench/gpu/main.ts) under a time budget; writes bench/results-gpu.md, or $GPU_BENCH_OUT.
# With the device tool: carry .gpu, run `bash bench/gpu.sh`, results come back under $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${GPU_BENCH_WORK:-/tmp/cascade-gpu}
mkdir -p "$work/node_modules"
for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
xz -dc .gpu/node.xz > "$work/node" && chmod +x "$work/node"
xz -dc .gpu/ort.tar.xz | tar -x -C "$work/node_modules"
cp .gpu/bench.mjs "$work/bench.mjs"
# The NVIDIA Vulkan driver's manifest, where the container runtime mounts it rather than under /usr/share.
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
  ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>/dev/null || true
ldconfig -p | grep -E 'libvulkan|libGLX_nvidia' || true
out=${GPU_BENCH_OUT:-${OUT:-$root/bench}/results-gpu.md}
cd "$work"
GPU_BENCH_OUT=$out GPU_BENCH_DIR=${GPU_BENCH_DIR:-$work/models} ./node bench.mjs
echo "results: $out"
