// ATen binding of the CUDA rasterizer: allocates outputs and scratch, launches on the current stream.
// Inputs are validated (and made contiguous) by next3d/raster/inputs.py; this file re-checks only what
// would make the kernel read out of bounds.

#include <torch/extension.h>

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <vector>

#include "rasterize.h"

std::vector<at::Tensor> rasterize_forward(at::Tensor clip, at::Tensor faces, at::Tensor cull, int64_t height,
                                          int64_t width) {
    TORCH_CHECK(clip.is_cuda() && faces.is_cuda() && cull.is_cuda(), "rasterize: tensors must be on CUDA");
    TORCH_CHECK(clip.dim() == 3 && clip.size(2) == 4 && clip.scalar_type() == at::kFloat,
                "rasterize: clip must be (B, N, 4) float32");
    TORCH_CHECK(faces.dim() == 2 && faces.size(1) == 3 &&
                    (faces.scalar_type() == at::kInt || faces.scalar_type() == at::kLong),
                "rasterize: faces must be (F, 3) int32 or int64");
    TORCH_CHECK(cull.dim() == 1 && cull.size(0) == clip.size(0) && cull.scalar_type() == at::kInt,
                "rasterize: cull must be (B,) int32");
    TORCH_CHECK(height > 0 && width > 0 && clip.size(0) * height * width < (int64_t(1) << 31) &&
                    clip.size(0) * faces.size(0) < (int64_t(1) << 31),
                "rasterize: batch x pixels and batch x faces must stay below 2^31");
    const c10::cuda::CUDAGuard guard(clip.device());
    clip = clip.contiguous();
    if (reinterpret_cast<std::uintptr_t>(clip.data_ptr()) % 16 != 0) clip = clip.clone();  // float4 loads
    faces = faces.contiguous();
    cull = cull.contiguous();

    const int64_t batch = clip.size(0), n_faces = faces.size(0);
    const auto f32 = clip.options();
    at::Tensor face_id = at::empty({batch, height, width}, f32.dtype(at::kInt));
    at::Tensor bary = at::empty({batch, height, width, 3}, f32);
    at::Tensor depth = at::empty({batch, height, width}, f32);
    at::Tensor keys = at::empty({batch * height * width}, f32.dtype(at::kLong));
    at::Tensor large = at::empty({2 + 2 * batch * n_faces}, f32.dtype(at::kInt));

    RasterParams p{};
    p.clip = clip.data_ptr<float>();
    p.faces = faces.data_ptr();
    p.cull = cull.data_ptr<int>();
    p.batch = static_cast<int>(batch);
    p.n_verts = static_cast<int>(clip.size(1));
    p.n_faces = static_cast<int>(n_faces);
    p.height = static_cast<int>(height);
    p.width = static_cast<int>(width);
    TORCH_CHECK(cudaDeviceGetAttribute(&p.num_sms, cudaDevAttrMultiProcessorCount, clip.get_device()) == cudaSuccess,
                "rasterize: cannot query the GPU");
    p.keys = reinterpret_cast<unsigned long long*>(keys.data_ptr<int64_t>());
    p.large = large.data_ptr<int>();
    p.face_id = face_id.data_ptr<int>();
    p.bary = bary.data_ptr<float>();
    p.depth = depth.data_ptr<float>();
    const cudaError_t err = launch_rasterize(p, faces.scalar_type() == at::kLong,
                                             c10::cuda::getCurrentCUDAStream());
    TORCH_CHECK(err == cudaSuccess, "rasterize: CUDA launch failed: ", cudaGetErrorString(err));
    return {face_id, bary, depth};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("rasterize_forward", &rasterize_forward,
          "Rasterize (B, N, 4) clip vertices of (F, 3) faces into (face_id, bary, depth) at (height, width)");
}
