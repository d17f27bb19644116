"""The CUDA kernels' arithmetic, compiled as host C++ and run thread by thread, equals the reference bit for bit.

This catches logic and rounding-order differences between csrc/rasterize.cu and reference.py on machines
without a GPU; tests/test_raster_gpu.py checks the real kernel on the device.
"""

import ctypes
import shutil
import subprocess

import pytest
import torch

from next3d.raster import camera_clip, plane_views, rasterize
from next3d.raster.cuda_backend import CSRC
from next3d.raster.inputs import CULL_MODES
from next3d.raster.testing import icosphere, random_soup
from next3d.render.camera import intrinsics, orbit_pose

# Host stand-ins for the CUDA built-ins the kernels use (IEEE single precision, no FMA: -ffp-contract=off).
CUDA_RUNTIME_STUB = r"""
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
typedef int cudaError_t;
typedef void* cudaStream_t;
#define __global__
#define __device__
struct float4 { float x, y, z, w; };
struct Dim3 { unsigned x = 0, y = 0, z = 0; };
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
    const unsigned long long old = *p; if (v < old) *p = v; return old; }
static inline int atomicAdd(int* p, int v) { const int old = *p; *p += v; return old; }
using std::isfinite;
"""

# Runs every kernel over its whole grid, one thread after another (the result cannot depend on the order).
HARNESS = r"""
#include "rasterize.cu"
static void run_grid(unsigned blocks, unsigned threads, void (*body)()) {
    gridDim.x = blocks; blockDim.x = threads;
    for (unsigned b = 0; b < blocks; ++b) for (unsigned t = 0; t < threads; ++t) {
        blockIdx.x = b; threadIdx.x = t; body(); } }
static RasterParams P;
static const int64_t* F;
extern "C" void emulate(const float* clip, const int64_t* faces, const int* cull, int batch, int n_verts,
                        int n_faces, int height, int width, unsigned long long* keys, int* large, int* face_id,
                        float* bary, float* depth) {
    P = RasterParams{clip, faces, cull, batch, n_verts, n_faces, height, width, 1, keys, large, face_id, bary,
                     depth};
    F = faces;
    const int64_t pixels = int64_t(batch) * height * width, face_views = int64_t(batch) * n_faces;
    std::memset(keys, 0xFF, pixels * 8);
    large[0] = large[1] = 0;
    run_grid((face_views + 255) / 256, 256, [] { raster_faces_kernel<int64_t>(P, F); });
    run_grid(3, 256, [] { raster_queued_faces_kernel<int64_t, kWarp>(P, F, 0); });
    run_grid(3, 256, [] { raster_queued_faces_kernel<int64_t, kThreads>(P, F, 1); });
    run_grid((pixels + 255) / 256, 256, [] { resolve_kernel<int64_t>(P, F); });
}
"""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("needs a C++ compiler")
    build = tmp_path_factory.mktemp("kernel_emulation")
    (build / "cuda_runtime.h").write_text(CUDA_RUNTIME_STUB)
    (build / "harness.cpp").write_text(HARNESS)
    lib = build / "libemulate.so"
    subprocess.run([compiler, "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC",
                    f"-I{build}", f"-I{CSRC}", str(build / "harness.cpp"), "-o", str(lib)], check=True)
    return ctypes.CDLL(str(lib))


def emulate(emulator, clip, faces, resolution, cull="none"):
    batch, n_verts = clip.shape[:2]
    height, width = (resolution, resolution) if isinstance(resolution, int) else resolution
    if isinstance(cull, str):
        cull = torch.full((batch,), CULL_MODES[cull])
    clip, faces, cull = clip.contiguous(), faces.long().contiguous(), cull.int().contiguous()
    keys = torch.empty(batch * height * width, dtype=torch.int64)
    large = torch.empty(2 + 2 * batch * len(faces), dtype=torch.int32)
    face_id = torch.empty(batch, height, width, dtype=torch.int32)
    bary, depth = torch.empty(batch, height, width, 3), torch.empty(batch, height, width)
    ptr = [ctypes.c_void_p(t.data_ptr()) for t in (clip, faces, cull, keys, large, face_id, bary, depth)]
    emulator.emulate(*ptr[:3], batch, n_verts, len(faces), height, width, *ptr[3:])
    return face_id, bary, depth, large[:2].tolist()


def assert_bit_equal(emulator, clip, faces, resolution, cull="none"):
    face_id, bary, depth, queued = emulate(emulator, clip, faces, resolution, cull)
    ref = rasterize(clip, faces, resolution, cull=cull, backend="reference")
    assert torch.equal(face_id, ref.face_id)
    assert torch.equal(bary, ref.bary) and torch.equal(depth, ref.depth)
    return queued


def test_random_soups_with_small_medium_and_huge_faces(emulator):
    gen = torch.Generator().manual_seed(0)
    queued = [0, 0]
    for n_faces, batch, res, size in [(50, 2, (64, 48), 0.3), (300, 2, (80, 120), 0.2), (40, 2, (128, 96), 1.5)]:
        clip, faces = random_soup(n_faces, batch, size=size, generator=gen)
        queued = [a + b for a, b in zip(queued, assert_bit_equal(emulator, clip, faces, res))]
    assert queued[0] > 0 and queued[1] > 0  # both queued passes were exercised


def test_exact_ties_and_per_view_culling(emulator):
    gen = torch.Generator().manual_seed(1)
    clip, faces = random_soup(200, 3, size=0.2, generator=gen)
    clip[..., 2] = torch.round(clip[..., 2] * 4) / 4
    assert_bit_equal(emulator, clip, torch.cat([faces, faces, faces.flip(1)]), 64)
    assert_bit_equal(emulator, clip, faces, (96, 80), torch.tensor([1, -1, 0]))


def test_perspective_and_plane_views(emulator):
    v, faces = icosphere(3, 0.35)
    cam2world = orbit_pose(torch.linspace(-1.2, 1.2, 3), torch.linspace(-0.4, 0.4, 3), radius=1.2)
    views = camera_clip(v[None], cam2world, intrinsics(batch=3), near=0.2, far=5.0)
    assert_bit_equal(emulator, views.clip, faces, (72, 56), views.cull)
    views = plane_views(v[None])
    assert_bit_equal(emulator, views.clip, faces, 96, views.cull)
