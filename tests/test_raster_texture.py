"""UV interpolation and texture sampling: conventions, batching of views, and gradients to the texture."""

import torch

from next3d.raster import interpolate, plane_views, rasterize, sample_texture
from next3d.raster.testing import icosphere


def test_texel_centres_read_exact_texels_with_v_up():
    texture = torch.arange(4 * 8, dtype=torch.float32).reshape(1, 1, 4, 8)  # row r, col c holds 8r + c
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(8), indexing="ij")
    uv = torch.stack([(cols + 0.5) / 8, 1 - (rows + 0.5) / 4], -1)[None].float()  # v = 1 is row 0 (OBJ)
    out = sample_texture(texture, uv, None)
    torch.testing.assert_close(out[0, 0], texture[0, 0], rtol=0, atol=1e-5)


def test_views_share_one_texture_per_batch_element_and_mask_zeroes():
    texture = torch.randn(2, 3, 5, 6)
    uv = torch.rand(8, 7, 9, 2)
    mask = torch.rand(8, 7, 9) > 0.3
    out = sample_texture(texture, uv, mask)
    for b in range(8):
        single = sample_texture(texture[b // 4: b // 4 + 1], uv[b:b + 1], mask[b:b + 1])
        torch.testing.assert_close(out[b:b + 1], single, rtol=0, atol=0)
    assert (out.permute(0, 2, 3, 1)[~mask] == 0).all()


def test_texture_gradient_is_the_bilinear_splat_of_visible_pixels_only():
    texture = torch.randn(1, 2, 6, 6, requires_grad=True)
    gen = torch.Generator().manual_seed(0)
    uv = torch.rand(1, 5, 5, 2, generator=gen) * 0.5  # only the lower-left quarter of the texture (v up)
    mask = torch.rand(1, 5, 5, generator=gen) > 0.4
    weights = torch.randn(1, 2, 5, 5, generator=gen)
    (sample_texture(texture, uv, mask) * weights).sum().backward()
    expected = torch.zeros(2, 6, 6)
    for r, c in torch.nonzero(mask[0]).tolist():
        x = uv[0, r, c, 0].item() * 6 - 0.5  # continuous texel column
        y = (1 - uv[0, r, c, 1].item()) * 6 - 0.5  # continuous texel row
        x0, y0 = int(torch.floor(torch.tensor(x))), int(torch.floor(torch.tensor(y)))
        for dy in (0, 1):
            for dx in (0, 1):
                tx, ty = min(max(x0 + dx, 0), 5), min(max(y0 + dy, 0), 5)  # border padding
                w = (1 - abs(x - (x0 + dx))) * (1 - abs(y - (y0 + dy)))
                expected[:, ty, tx] += w * weights[0, :, r, c]
    torch.testing.assert_close(texture.grad[0], expected, rtol=1e-4, atol=1e-5)
    assert (texture.grad[0, :, :2] == 0).all()  # the top rows (v near 1) were never sampled


def test_interpolated_positions_are_the_surface_points_under_pixel_centres():
    v, faces = icosphere(3, 0.4)
    res = 24
    views = plane_views(v[None])
    frags = rasterize(views.clip, faces, res, cull=views.cull)
    points = interpolate(v, frags)[0]  # front view
    rows, cols = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    seen = frags.mask[0]
    torch.testing.assert_close(points[..., 0][seen], ((2 * cols[seen] + 1) / res - 1) / 2, rtol=0, atol=1e-6)
    torch.testing.assert_close(points[..., 1][seen], ((2 * rows[seen] + 1) / res - 1) / 2, rtol=0, atol=1e-6)
    assert (points[~seen] == 0).all()
    # Depth is the NDC z of that point: z_ndc = -z_world / box_warp for the front view.
    torch.testing.assert_close(frags.depth[0][seen], -points[..., 2][seen], rtol=0, atol=1e-6)


def test_attr_faces_index_their_own_buffer_and_batches_fold_over_views():
    v, faces = icosphere(2, 0.4)
    gen = torch.Generator().manual_seed(1)
    uvs = torch.rand(len(v), 2, generator=gen)
    perm = torch.randperm(len(v), generator=gen)  # uv buffer stored in another order, with its own faces
    uvs_shuffled = torch.empty_like(uvs)
    uvs_shuffled[perm] = uvs
    uv_faces = perm[faces]
    views = plane_views(torch.stack([v, v * 0.9]))
    frags = rasterize(views.clip, faces, 16, cull=views.cull)
    torch.testing.assert_close(interpolate(uvs_shuffled, frags, uv_faces), interpolate(uvs, frags), rtol=0, atol=0)
    per_mesh = torch.stack([uvs, uvs + 1])  # (2, N, 2): mesh b's views 4b..4b+3 read row b
    out = interpolate(per_mesh, frags)
    torch.testing.assert_close(out[4:][frags.mask[4:]], interpolate(uvs, frags)[4:][frags.mask[4:]] + 1)


def test_pipeline_gradients_reach_only_the_sampled_texels():
    v, faces = icosphere(2, 0.4)
    uvs = (v[:, :2] / 0.8 + 0.5) * 0.5  # the sphere's x, y squeezed into the lower-left texture quarter
    texture = torch.randn(1, 4, 16, 16, requires_grad=True)
    views = plane_views(v[None])
    frags = rasterize(views.clip, faces, 32, cull=views.cull)
    features = sample_texture(texture, interpolate(uvs, frags), frags.mask)
    assert features.shape == (4, 4, 32, 32)
    features.square().sum().backward()
    grad = texture.grad[0].abs().sum(0)
    assert (grad[8:, :8] > 0).float().mean() > 0.5  # lower-left quarter: texture rows 8.., columns ..7
    assert (grad[:7] == 0).all() and (grad[:, 9:] == 0).all()
