#!/usr/bin/env bash
# Builds onnxruntime with the CUDA execution provider and the Node.js binding for linux/aarch64 (the DGX Spark's
# GB10: sm_121, CUDA 13), at the version of codecarto's onnxruntime-node dependency, then (with --install)
# copies the binding and libraries into node_modules/onnxruntime-node. See docs/gb10.md.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${HOME}/onnxruntime"
CONFIG=Release
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
CUDNN_HOME="${CUDNN_HOME:-}"
JOBS="$(nproc 2>/dev/null || echo 4)"
VERSION=""
INSTALL=0

usage() {
  cat <<EOF
Usage: scripts/build-ort-cuda-aarch64.sh [options]

Builds onnxruntime for linux/aarch64 with CUDA 13 for sm_121 (NVIDIA GB10, DGX Spark) and the Node.js
binding, at the version of node_modules/onnxruntime-node (the published linux/arm64 binaries are CPU-only).
Runs on the DGX itself; takes about 1-2 hours and ~40 GB of disk.

  ./build.sh --config Release --build_shared_lib --use_cuda --build_nodejs --skip_tests
             --cuda_home \$CUDA_HOME --cudnn_home \$CUDNN_HOME
             --cmake_extra_defines CMAKE_CUDA_ARCHITECTURES=121

Options:
  --src DIR         onnxruntime checkout (cloned at tag v<version> if absent; default: ~/onnxruntime)
  --version X.Y.Z   onnxruntime version (default: node_modules/onnxruntime-node/package.json's)
  --cuda-home DIR   CUDA 13 toolkit (default: \$CUDA_HOME or /usr/local/cuda)
  --cudnn-home DIR  cuDNN 9 root holding include/ and lib/ (default: found under /usr or the CUDA home)
  --jobs N          parallel compile jobs (default: nproc; lower it if the build runs out of memory)
  --config NAME     Release (default) or RelWithDebInfo
  --install         afterwards, run \`codecarto install-ort <build dir>\` for this checkout of codecarto
  -h, --help        this text

Preflight checks (before anything is built): aarch64, nvcc >= 13, cuDNN 9, cmake >= 3.28, git, python3,
node and npm (the Node binding is built with npm), gcc/g++.
EOF
}

die() { echo "build-ort-cuda-aarch64: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --src) SRC="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --cuda-home) CUDA_HOME="$2"; shift 2 ;;
    --cudnn-home) CUDNN_HOME="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --install) INSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

# ---- preflight: fail in seconds, not after an hour of compiling ----

arch="$(uname -m)"
[ "$arch" = aarch64 ] || die "this machine is $arch; the script builds for linux/aarch64 (run it on the DGX Spark). On x64, onnxruntime-node's own CUDA 12 provider is enough: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node."

if [ -z "$VERSION" ]; then
  pkg="$REPO_ROOT/node_modules/onnxruntime-node/package.json"
  [ -f "$pkg" ] || die "$pkg not found: run npm ci in $REPO_ROOT first (or pass --version)."
  VERSION="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg" | head -n 1)"
  [ -n "$VERSION" ] || die "cannot read the version from $pkg; pass --version."
fi
note "onnxruntime version: $VERSION (must match onnxruntime-node: the binding is loaded by its JavaScript)"

NVCC="$CUDA_HOME/bin/nvcc"
[ -x "$NVCC" ] || NVCC="$(command -v nvcc || true)"
[ -n "$NVCC" ] && [ -x "$NVCC" ] || die "nvcc not found in $CUDA_HOME/bin or on PATH: install the CUDA 13 toolkit (sudo apt install cuda-toolkit-13-0) or pass --cuda-home."
cuda_release="$("$NVCC" --version | sed -n 's/.*release \([0-9]*\)\.\([0-9]*\).*/\1.\2/p')"
cuda_major="${cuda_release%%.*}"
[ -n "$cuda_major" ] && [ "$cuda_major" -ge 13 ] || die "nvcc is CUDA ${cuda_release:-unknown}; sm_121 (GB10) needs CUDA 13 or newer ($NVCC)."
CUDA_HOME="$(cd "$(dirname "$NVCC")/.." && pwd)"
note "CUDA $cuda_release at $CUDA_HOME"

if [ -z "$CUDNN_HOME" ]; then
  for candidate in /usr "$CUDA_HOME" /usr/local/cudnn; do
    if ls "$candidate"/lib/aarch64-linux-gnu/libcudnn.so.9* "$candidate"/lib/libcudnn.so.9* "$candidate"/lib64/libcudnn.so.9* >/dev/null 2>&1; then
      CUDNN_HOME="$candidate"; break
    fi
  done
fi
[ -n "$CUDNN_HOME" ] || die "cuDNN 9 not found (libcudnn.so.9 under /usr/lib/aarch64-linux-gnu, $CUDA_HOME/lib or lib64): install it (sudo apt install cudnn9-cuda-13) or pass --cudnn-home."
cudnn_header="$(ls "$CUDNN_HOME"/include/cudnn_version.h "$CUDNN_HOME"/include/aarch64-linux-gnu/cudnn_version*.h 2>/dev/null | head -n 1 || true)"
[ -n "$cudnn_header" ] || die "cuDNN headers (cudnn_version.h) not found under $CUDNN_HOME/include: install the cuDNN development package (cudnn9-cuda-13 includes it)."
cudnn_major="$(sed -n 's/^#define CUDNN_MAJOR *\([0-9]*\).*/\1/p' "$cudnn_header" | head -n 1)"
[ "${cudnn_major:-0}" -ge 9 ] || die "cuDNN ${cudnn_major:-unknown} in $cudnn_header; onnxruntime's CUDA provider needs cuDNN 9."
note "cuDNN $cudnn_major at $CUDNN_HOME"

for tool in git python3 node npm g++ cmake; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: install it (sudo apt install git python3 g++ cmake; Node 20+ from nodejs.org)."
done
cmake_version="$(cmake --version | sed -n 's/cmake version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
read -r cmake_major cmake_minor <<<"$cmake_version"
if [ "${cmake_major:-0}" -lt 3 ] || { [ "$cmake_major" -eq 3 ] && [ "${cmake_minor:-0}" -lt 28 ]; }; then
  die "cmake ${cmake_major}.${cmake_minor} is too old; onnxruntime needs 3.28+ (pip install --user 'cmake>=3.28')."
fi

# ---- source at the right tag ----

if [ ! -d "$SRC/.git" ]; then
  note "cloning onnxruntime v$VERSION into $SRC"
  git clone --recursive --depth 1 --branch "v$VERSION" https://github.com/microsoft/onnxruntime.git "$SRC"
fi
src_version="$(tr -d '[:space:]' <"$SRC/VERSION_NUMBER")"
[ "$src_version" = "$VERSION" ] || die "$SRC is onnxruntime $src_version, not $VERSION: git -C $SRC checkout v$VERSION && git -C $SRC submodule update --init --recursive (or pass another --src)."

# ---- build ----

# Compiling CUDA kernels takes ~2-3 GB of memory per job; one nvcc thread per job keeps the peak predictable.
note "building in $SRC/build/Linux/$CONFIG with $JOBS jobs (1-2 hours)"
cd "$SRC"
root_flag=()
[ "$(id -u)" -eq 0 ] && root_flag=(--allow_running_as_root)
./build.sh --config "$CONFIG" --build_shared_lib --parallel "$JOBS" --nvcc_threads 1 \
  --use_cuda --cuda_home "$CUDA_HOME" --cudnn_home "$CUDNN_HOME" \
  --build_nodejs --skip_tests --compile_no_warning_as_error "${root_flag[@]}" \
  --cmake_extra_defines CMAKE_CUDA_ARCHITECTURES=121 onnxruntime_BUILD_UNIT_TESTS=OFF

BUILD_DIR="$SRC/build/Linux/$CONFIG"
NAPI_DIR="$SRC/js/node/bin/napi-v6/linux/arm64"
for f in "$BUILD_DIR/libonnxruntime_providers_cuda.so" "$BUILD_DIR/libonnxruntime_providers_shared.so" "$NAPI_DIR/onnxruntime_binding.node"; do
  [ -f "$f" ] || die "the build finished but $f is missing; check the build log above."
done
missing_deps="$(ldd "$BUILD_DIR/libonnxruntime_providers_cuda.so" | grep 'not found' || true)"
[ -z "$missing_deps" ] || die "libonnxruntime_providers_cuda.so cannot resolve: $missing_deps (add the CUDA/cuDNN lib directories to LD_LIBRARY_PATH)."
note "built: $BUILD_DIR and $NAPI_DIR"

if [ "$INSTALL" -eq 1 ]; then
  node "$REPO_ROOT/dist/src/cli.js" install-ort "$BUILD_DIR"
  node "$REPO_ROOT/dist/src/cli.js" doctor
else
  echo "Next: cd $REPO_ROOT && node dist/src/cli.js install-ort $BUILD_DIR && node dist/src/cli.js doctor"
fi
