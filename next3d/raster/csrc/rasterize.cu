// Forward rasterization kernels. The arithmetic mirrors next3d/raster/reference.py op for op: every float
// operation is an explicitly rounded intrinsic (__fadd_rn, __fmul_rn, ...), the file is built with
// -fmad=false and without fast math, so face ids are bit-equal to the PyTorch reference.
//
// Passes: (1) one thread per (view, face) sets the face up and, for small faces, loops over its bounding
// box, atomicMin-ing a 64-bit key (ordered depth bits << 32 | face id) per covered pixel; larger faces are
// queued; (2) a warp per queued medium face, (3) a block per queued huge face share its pixels among
// their threads; (4) one thread per pixel recomputes barycentrics and depth of the winning face.
// Everything but the launcher also compiles as host C++ (tests/test_raster_kernel_emulation.py runs the
// kernels' arithmetic on the CPU against the reference).

#include "rasterize.h"

#include <cstdint>

namespace {

constexpr int kThreads = 256;
constexpr int kSmallFacePixels = 32;    // larger bounding boxes are queued for a warp per face ...
constexpr int kMediumFacePixels = 4096;  // ... and larger still for a block per face
constexpr int kWarp = 32;
constexpr unsigned long long kEmptyKey = ~0ull;

struct Triangle {
    float x[3], y[3], z[3], w[3];  // screen position in pixels, NDC depth, clip w
    float area;                    // twice the signed screen area
    float ox[3], oy[3], dx[3], dy[3];  // edge k (opposite vertex k) from its canonical origin
    bool flip[3];                  // edge value negated (canonical order is the reverse of a -> b)
};

struct PixelBox {
    int c0, c1, r0, r1;  // inclusive pixel ranges
};

template <typename Index>
__device__ bool setup_triangle(const RasterParams& p, const Index* faces, int view, int face, Triangle& t) {
    const float half_w = 0.5f * static_cast<float>(p.width);
    const float half_h = 0.5f * static_cast<float>(p.height);
    const float4* clip = reinterpret_cast<const float4*>(p.clip) + static_cast<int64_t>(view) * p.n_verts;
    bool ok = true;
    for (int k = 0; k < 3; ++k) {
        const int64_t vi = static_cast<int64_t>(faces[3 * static_cast<int64_t>(face) + k]);
        if (vi < 0 || vi >= p.n_verts) return false;  // only reachable when value checks were skipped
        const float4 c = clip[vi];
        t.x[k] = __fmul_rn(__fadd_rn(__fdiv_rn(c.x, c.w), 1.0f), half_w);
        t.y[k] = __fmul_rn(__fadd_rn(__fdiv_rn(c.y, c.w), 1.0f), half_h);
        t.z[k] = __fdiv_rn(c.z, c.w);
        t.w[k] = c.w;
        ok = ok && c.w > 0.0f && t.z[k] >= -1.0f && t.z[k] <= 1.0f && isfinite(t.x[k]) && isfinite(t.y[k]);
    }
    t.area = __fsub_rn(__fmul_rn(__fsub_rn(t.x[1], t.x[0]), __fsub_rn(t.y[2], t.y[0])),
                       __fmul_rn(__fsub_rn(t.y[1], t.y[0]), __fsub_rn(t.x[2], t.x[0])));
    for (int k = 0; k < 3; ++k) {
        const int a = (k + 1) % 3, b = (k + 2) % 3;
        const bool flip = (t.x[b] < t.x[a]) || (t.x[b] == t.x[a] && t.y[b] < t.y[a]);
        t.flip[k] = flip;
        t.ox[k] = flip ? t.x[b] : t.x[a];
        t.oy[k] = flip ? t.y[b] : t.y[a];
        t.dx[k] = flip ? __fsub_rn(t.x[a], t.x[b]) : __fsub_rn(t.x[b], t.x[a]);
        t.dy[k] = flip ? __fsub_rn(t.y[a], t.y[b]) : __fsub_rn(t.y[b], t.y[a]);
    }
    const int cull = p.cull[view];
    const bool culled = (cull > 0 && t.area > 0.0f) || (cull < 0 && t.area < 0.0f);
    return ok && isfinite(t.area) && t.area != 0.0f && !culled;
}

__device__ PixelBox pixel_box(const Triangle& t, int width, int height) {
    const float xmin = fminf(fminf(t.x[0], t.x[1]), t.x[2]), xmax = fmaxf(fmaxf(t.x[0], t.x[1]), t.x[2]);
    const float ymin = fminf(fminf(t.y[0], t.y[1]), t.y[2]), ymax = fmaxf(fmaxf(t.y[0], t.y[1]), t.y[2]);
    const float c0 = fmaxf(ceilf(__fsub_rn(xmin, 0.5f)), 0.0f);
    const float c1 = fminf(floorf(__fsub_rn(xmax, 0.5f)), static_cast<float>(width) - 1.0f);
    const float r0 = fmaxf(ceilf(__fsub_rn(ymin, 0.5f)), 0.0f);
    const float r1 = fminf(floorf(__fsub_rn(ymax, 0.5f)), static_cast<float>(height) - 1.0f);
    if (c0 > c1 || r0 > r1) return PixelBox{0, -1, 0, -1};
    return PixelBox{static_cast<int>(c0), static_cast<int>(c1), static_cast<int>(r0), static_cast<int>(r1)};
}

__device__ float edge_value(const Triangle& t, int k, float px, float py) {
    const float v = __fsub_rn(__fmul_rn(t.dx[k], __fsub_rn(py, t.oy[k])), __fmul_rn(t.dy[k], __fsub_rn(px, t.ox[k])));
    return t.flip[k] ? -v : v;
}

// Screen barycentrics at pixel (c, r) and whether the centre is inside (edges inclusive).
__device__ bool screen_barycentrics(const Triangle& t, int c, int r, float b[3]) {
    const float px = __fadd_rn(static_cast<float>(c), 0.5f), py = __fadd_rn(static_cast<float>(r), 0.5f);
    float e[3];
    for (int k = 0; k < 3; ++k) e[k] = edge_value(t, k, px, py);
    for (int k = 0; k < 3; ++k) b[k] = __fdiv_rn(e[k], t.area);
    return t.area > 0.0f ? (e[0] >= 0.0f && e[1] >= 0.0f && e[2] >= 0.0f)
                         : (e[0] <= 0.0f && e[1] <= 0.0f && e[2] <= 0.0f);
}

__device__ float interpolated_depth(const Triangle& t, const float b[3]) {
    return __fadd_rn(__fadd_rn(__fmul_rn(b[0], t.z[0]), __fmul_rn(b[1], t.z[1])), __fmul_rn(b[2], t.z[2]));
}

// (depth, face) -> unsigned key ordered like the reference's signed int64 key (top bit flipped).
__device__ unsigned long long depth_key(float depth, int face) {
    const int bits = __float_as_int(depth);
    const int ordered = bits < 0 ? (bits ^ 0x7FFFFFFF) : bits;
    return (static_cast<unsigned long long>(static_cast<unsigned>(ordered) ^ 0x80000000u) << 32) |
           static_cast<unsigned>(face);
}

__device__ void cover_pixel(const RasterParams& p, const Triangle& t, int view, int face, int c, int r) {
    float b[3];
    if (!screen_barycentrics(t, c, r, b)) return;
    const int64_t pixel = (static_cast<int64_t>(view) * p.height + r) * p.width + c;
    atomicMin(p.keys + pixel, depth_key(interpolated_depth(t, b), face));
}

template <typename Index>
__global__ void raster_faces_kernel(RasterParams p, const Index* faces) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t face_views = static_cast<int64_t>(p.batch) * p.n_faces;
    if (i >= face_views) return;
    const int view = static_cast<int>(i / p.n_faces), face = static_cast<int>(i % p.n_faces);
    Triangle t;
    if (!setup_triangle(p, faces, view, face, t)) return;
    const PixelBox box = pixel_box(t, p.width, p.height);
    if (box.c1 < box.c0) return;
    const int64_t pixels = static_cast<int64_t>(box.c1 - box.c0 + 1) * (box.r1 - box.r0 + 1);
    if (pixels > kSmallFacePixels) {
        // queue layout: [medium count, huge count, medium ids (face_views), huge ids (face_views)]
        const bool huge = pixels > kMediumFacePixels;
        const int slot = atomicAdd(p.large + (huge ? 1 : 0), 1);
        p.large[2 + (huge ? face_views : 0) + slot] = static_cast<int>(i);
        return;
    }
    for (int r = box.r0; r <= box.r1; ++r)
        for (int c = box.c0; c <= box.c1; ++c) cover_pixel(p, t, view, face, c, r);
}

// A team of kTeam consecutive threads (a warp or a whole block) per queued face, sharing its pixels.
template <typename Index, int kTeam>
__global__ void raster_queued_faces_kernel(RasterParams p, const Index* faces, int queue) {
    const int64_t face_views = static_cast<int64_t>(p.batch) * p.n_faces;
    const int count = p.large[queue];
    const int* ids = p.large + 2 + queue * face_views;
    const int team = static_cast<int>((static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kTeam);
    const int teams = static_cast<int>(static_cast<int64_t>(gridDim.x) * blockDim.x / kTeam);
    const int lane = static_cast<int>(threadIdx.x % kTeam);
    for (int j = team; j < count; j += teams) {
        const int i = ids[j];
        const int view = i / p.n_faces, face = i % p.n_faces;
        Triangle t;
        setup_triangle(p, faces, view, face, t);  // valid: it was queued
        const PixelBox box = pixel_box(t, p.width, p.height);
        const int box_w = box.c1 - box.c0 + 1;
        const int64_t pixels = static_cast<int64_t>(box_w) * (box.r1 - box.r0 + 1);
        for (int64_t k = lane; k < pixels; k += kTeam)
            cover_pixel(p, t, view, face, box.c0 + static_cast<int>(k % box_w), box.r0 + static_cast<int>(k / box_w));
    }
}

template <typename Index>
__global__ void resolve_kernel(RasterParams p, const Index* faces) {
    const int64_t pixel = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t per_view = static_cast<int64_t>(p.height) * p.width;
    if (pixel >= p.batch * per_view) return;
    const unsigned long long key = p.keys[pixel];
    if (key == kEmptyKey) {
        p.face_id[pixel] = -1;
        p.bary[3 * pixel] = p.bary[3 * pixel + 1] = p.bary[3 * pixel + 2] = 0.0f;
        p.depth[pixel] = __int_as_float(0x7F800000);  // +inf
        return;
    }
    const int face = static_cast<int>(key & 0xFFFFFFFFull);
    const int view = static_cast<int>(pixel / per_view);
    const int rc = static_cast<int>(pixel % per_view);
    Triangle t;
    setup_triangle(p, faces, view, face, t);
    float b[3];
    screen_barycentrics(t, rc % p.width, rc / p.width, b);
    // Perspective correction: b_k / w_k renormalized, in the reference's order.
    float q[3];
    for (int k = 0; k < 3; ++k) q[k] = __fdiv_rn(b[k], t.w[k]);
    const float total = __fadd_rn(__fadd_rn(q[0], q[1]), q[2]);
    p.face_id[pixel] = face;
    for (int k = 0; k < 3; ++k) p.bary[3 * pixel + k] = __fdiv_rn(q[k], total);
    p.depth[pixel] = interpolated_depth(t, b);
}

#ifdef __CUDACC__
unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

unsigned capped_blocks(int64_t threads, int64_t cap) {
    const int64_t blocks = (threads + kThreads - 1) / kThreads;
    return static_cast<unsigned>(blocks < cap ? blocks : cap);
}

template <typename Index>
cudaError_t launch(const RasterParams& p, cudaStream_t stream) {
    const int64_t pixels = static_cast<int64_t>(p.batch) * p.height * p.width;
    const int64_t face_views = static_cast<int64_t>(p.batch) * p.n_faces;
    const Index* faces = static_cast<const Index*>(p.faces);
    cudaError_t err = cudaMemsetAsync(p.keys, 0xFF, pixels * sizeof(unsigned long long), stream);
    if (err == cudaSuccess) err = cudaMemsetAsync(p.large, 0, 2 * sizeof(int), stream);
    if (err != cudaSuccess) return err;
    if (face_views > 0) {
        raster_faces_kernel<Index><<<blocks_for(face_views), kThreads, 0, stream>>>(p, faces);
        // Grids sized for the worst case, capped: teams loop over the queue (its length stays on the GPU).
        raster_queued_faces_kernel<Index, kWarp>
            <<<capped_blocks(face_views * kWarp, 4LL * p.num_sms), kThreads, 0, stream>>>(p, faces, 0);
        raster_queued_faces_kernel<Index, kThreads>
            <<<capped_blocks(face_views * kThreads, 2LL * p.num_sms), kThreads, 0, stream>>>(p, faces, 1);
    }
    resolve_kernel<Index><<<blocks_for(pixels), kThreads, 0, stream>>>(p, faces);
    return cudaGetLastError();
}

#endif  // __CUDACC__

}  // namespace

#ifdef __CUDACC__
cudaError_t launch_rasterize(const RasterParams& params, bool faces_int64, cudaStream_t stream) {
    return faces_int64 ? launch<int64_t>(params, stream) : launch<int32_t>(params, stream);
}
#endif
