// Interface between the ATen binding (raster_bindings.cpp) and the plain-CUDA kernels (rasterize.cu).
#pragma once

#include <cuda_runtime.h>

struct RasterParams {
    const float* clip;         // (B, N, 4) clip-space vertices x, y, z, w; 16-byte aligned
    const void* faces;         // (F, 3) int32 or int64 vertex indices shared by the batch
    const int* cull;           // (B,) +1 drop positive NDC area, -1 drop negative, 0 none
    int batch, n_verts, n_faces, height, width;
    int num_sms;               // multiprocessor count (sizes the queued-face passes)
    unsigned long long* keys;  // (B*H*W,) scratch: min over covering faces of (depth bits, face id)
    int* large;                // (2 + 2*B*F,) scratch: queue counts, then ids (view*F + face) of larger faces
    int* face_id;              // (B, H, W) out: winning face, -1 where empty
    float* bary;               // (B, H, W, 3) out: perspective-correct barycentrics, 0 where empty
    float* depth;              // (B, H, W) out: NDC z, +inf where empty
};

// Enqueues the whole rasterization on `stream` (no host synchronisation); returns the launch status.
cudaError_t launch_rasterize(const RasterParams& params, bool faces_int64, cudaStream_t stream);
