#!/usr/bin/env bash
# Packs what bench/gpu.sh needs on a GPU host where nothing can be downloaded, into .gpu/ (git-ignored), small
# enough to travel with the repository (the device tool carries 64 MiB): Node 22 (stripped, xz), onnxruntime-node's
# Linux x64 package (xz), the benchmark bundled with esbuild (every other dependency inside), and the Vulkan loader
# with the GL vendor libraries the NVIDIA Vulkan driver loads (Debian bookworm packages).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
if [ ! -s .gpu/node.xz ] || [ node_modules/node/bin/node -nt .gpu/node.xz ]; then
  strip -o .gpu/node node_modules/node/bin/node
  xz -9 -T0 -f .gpu/node
fi
if [ ! -s .gpu/ort.tar.xz ]; then
  tar -C node_modules -c onnxruntime-node/package.json onnxruntime-node/dist onnxruntime-node/lib \
    onnxruntime-node/bin/napi-v6/linux/x64 onnxruntime-common | xz -9 -T0 > .gpu/ort.tar.xz
fi
node_modules/.bin/esbuild bench/gpu/main.ts --bundle --platform=node --format=esm --target=node22 \
  --external:onnxruntime-node --alias:sharp=./bench/gpu/no-sharp.ts --outfile=.gpu/bench.mjs --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
if ! ls .gpu/libvulkan1_*.deb >/dev/null 2>&1; then
  lists=$(mktemp -d)
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  mkdir -p "$lists/partial"
  apt-get $o update -qq
  (cd .gpu && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -ch .gpu/* | tail -1
