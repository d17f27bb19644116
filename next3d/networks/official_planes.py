"""The official Next3D head stage (compatibility layout for imported weights), batched on the device.

Reproduces docs/official_layout.md section 4 (`TriPlaneGenerator.rasterize/synthesis`, `gen_mouth_mask`,
`fill_mouth`), including its quirks:
- 4 orthographic views `[pitch, yaw, roll]` = [0,0,0], [0,90,0], [0,-90,0], [90,0,0] of the native mesh:
  v' = (x, -y, z); t = (v' R + (0, -0.01, -0.01)) * 5; (t_y, t_z) negated. t_x runs along plane columns,
  t_y along rows (grid_sample coordinates), the nearest surface has the smallest t_z; back faces culled;
- the texture is sampled at the UNMASKED interpolated UVs (outside the mesh: the texture's centre value);
- alpha = coverage * uv mask, then the mouth fill: pixels not reachable from pixel (0, 0) through pixels
  with 255*alpha in [seed, seed + 254] (4-connected) get alpha 1;
- planes: features [front, view1 + view2, top], alphas [front, binarize(view1), top] (view 2's alpha is
  ignored). The renderer samples them on (x, y), (x, z), (z, y): the side sum lands on (x, z), the top on (z, y);
- mouth: integer crop box from the front-view landmarks (side = int(1.2 * larger lip extent in pixels)),
  antialiased bilinear resize to the mouth net's input, its output resized back (antialiased) and pasted.
Crops and pastes are per-sample resampling matrices built on the device (no host round trip); the fill is
a run-length flood fill (alternating row and column sweeps until nothing changes).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from next3d.errors import BadInputError
from next3d.head import HeadParams
from next3d.raster import interpolate, rasterize


@functools.lru_cache(maxsize=64)
def _constant(values: tuple, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A small constant tensor, made once per device: no host-to-device copy per call (CUDA-graph capturable)."""
    return torch.tensor(values, device=device, dtype=dtype)

OFFICIAL_VIEWS = ((0.0, 0.0, 0.0), (0.0, 90.0, 0.0), (0.0, -90.0, 0.0), (90.0, 0.0, 0.0))  # pitch, yaw, roll (deg)
ORTH_SCALE = 5.0
ORTH_SHIFT = (0.0, -0.01, -0.01)  # native units (FLAME metres), added after the rotation
IBUG_COUNT = 68
IBUG_LIP_OUTER = tuple(range(48, 60))
IBUG_MOUTH_CORNERS = (48, 54)
DEPTH_SCALE = 0.01  # official depth (t_z) -> rasterizer NDC z, kept inside [-1, 1]
BACK_FACE_SIGN = -1  # NDC-area sign of back faces under these transforms (det of the map < 0 in every view)


def official_dynamic_planes(G, latent, head_state, options):
    """(dynamic (B, 3, C, P, P), alpha (B, 3, 1, P, P), world vertices (B, V, 3), world landmarks (B, L, 3))."""
    head, cfg = G.head, G.config
    res = cfg.plane_resolution
    vertices, landmarks, lip_outer, corners = official_head_inputs(head, head_state)
    batch = vertices.shape[0]

    coords = official_view_coordinates(vertices)  # (B, 4, V, 3)
    ones = torch.ones_like(coords[..., :1])
    clip = torch.cat([coords[..., :2], coords[..., 2:] * DEPTH_SCALE, ones], dim=-1).reshape(batch * 4, -1, 4)
    cull = torch.full((batch * 4,), BACK_FACE_SIGN, dtype=torch.int32, device=clip.device)
    frags = rasterize(clip.contiguous(), head.faces, res, cull=cull, backend=options.raster_backend, check=False)
    uv_grid = torch.stack([head.uvs[:, 0] * 2 - 1, 1 - head.uvs[:, 1] * 2], dim=-1)  # official uvcoords (x, y)
    grid = interpolate(uv_grid, frags, attr_faces=head.uv_faces, check=False)  # (B*4, P, P, 2), 0 off the mesh
    features = _sample_views(latent.texture, grid, batch)  # (B, 4, C, P, P)
    uv_mask = F.interpolate(head.uv_mask[None, None].to(grid.dtype), size=latent.texture.shape[-2:], mode="nearest")
    mask = _sample_views(uv_mask.expand(batch, -1, -1, -1), grid, batch)  # (B, 4, 1, P, P)
    alpha = frags.mask.reshape(batch, 4, 1, res, res).to(mask.dtype) * mask

    front_alpha, side_alpha, top_alpha = (official_mouth_fill(alpha[:, k]) for k in (0, 1, 3))
    side_alpha = (side_alpha != 0).to(side_alpha.dtype)  # official: alpha_view1 | alpha_view1

    pixels = official_view_coordinates(landmarks)[:, 0, :, :2] * (res / 2) + res / 2  # front view (col, row)
    rows, cols = official_mouth_boxes(pixels[:, lip_outer], pixels[:, corners], cfg.mouth_box_scale)
    front = features[:, 0]
    crop = crop_resize(front, rows, cols, cfg.mouth_in_size)
    mouth = G.mouth_backbone.synthesis.synthesize(crop, latent.mouth_styles, options.noise_mode)
    front = paste_resize(front, mouth, rows, cols)
    front = G.neural_blending.synthesis.synthesize(front, latent.blend_styles, options.noise_mode)

    dynamic = torch.stack([front, features[:, 1] + features[:, 2], features[:, 3]], dim=1)
    alphas = torch.stack([front_alpha, side_alpha, top_alpha], dim=1)
    return dynamic, alphas, head.to_world(vertices), head.to_world(landmarks)


def official_head_inputs(head, head_state):
    """Native vertices (B, V, 3), landmarks (B, L, 3) and the outer-lip / mouth-corner landmark indices.

    head_state: HeadParams of `head`; native vertices (B, V, 3); or the official input (B, V + 68, 3) =
    FLAME vertices followed by the 68 iBUG landmarks.
    """
    if isinstance(head_state, HeadParams):
        posed = head(head_state, check_values=False)  # values are checked where they enter (CLI, GUI)
        vertices, landmarks = posed.vertices, posed.landmarks
        lip_outer, corners = head.lip_outer, head.mouth_corners
    elif isinstance(head_state, torch.Tensor) and head_state.ndim == 3 and head_state.shape[-1] == 3:
        count = head.num_vertices
        points = head_state.to(head.v_template)
        if points.shape[1] == count + IBUG_COUNT:
            vertices, landmarks = points[:, :count], points[:, count:]
            lip_outer = _constant(IBUG_LIP_OUTER, points.device)
            corners = _constant(IBUG_MOUTH_CORNERS, points.device)
        elif points.shape[1] == count:
            vertices, landmarks = points, head.landmarks_from(points)
            lip_outer, corners = head.lip_outer, head.mouth_corners
        else:
            raise BadInputError(f"head state has {points.shape[1]} points; head model '{head.name}' needs {count} "
                                f"vertices, or {count} + {IBUG_COUNT} (vertices then iBUG-68 landmarks)")
    else:
        raise BadInputError("head state must be HeadParams or a (B, N, 3) tensor of native vertices")
    return vertices.detach().float(), landmarks.detach().float(), lip_outer, corners


def official_view_rotations(device: torch.device | str = "cpu") -> torch.Tensor:
    """(4, 3, 3) R = Rz Ry Rx of OFFICIAL_VIEWS, computed in float32 as the official `angle2matrix`."""
    angles = _constant(OFFICIAL_VIEWS, torch.device(device), torch.float32) * (math.pi / 180.0)
    s, c = torch.sin(angles), torch.cos(angles)
    cx, cy, cz, sx, sy, sz = c[:, 0], c[:, 1], c[:, 2], s[:, 0], s[:, 1], s[:, 2]
    return torch.stack([
        cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
        sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
        -sy, cy * sx, cy * cx,
    ], dim=-1).reshape(-1, 3, 3)


def official_view_coordinates(points: torch.Tensor) -> torch.Tensor:
    """Native points (B, N, 3) -> (B, 4, N, 3): per view (column coord, row coord, depth; nearer is smaller)."""
    flip = _constant((1.0, -1.0, 1.0), points.device)
    shift = _constant(ORTH_SHIFT, points.device)
    rotated = torch.matmul((points * flip)[:, None], official_view_rotations(points.device)[None])
    return (rotated + shift) * ORTH_SCALE * _constant((1.0, -1.0, -1.0), points.device)


def _sample_views(image: torch.Tensor, grid: torch.Tensor, batch: int) -> torch.Tensor:
    """Bilinear samples (zeros padding) of image (B, C, H, W) at the 4 views' grids (B*4, P, P, 2): (B, 4, C, P, P)."""
    res = grid.shape[1]
    sampled = F.grid_sample(image, grid.reshape(batch, 4 * res, res, 2).to(image.dtype), mode="bilinear",
                            padding_mode="zeros", align_corners=False)  # (B, C, 4P, P)
    return sampled.reshape(batch, -1, 4, res, res).transpose(1, 2)


# -- mouth fill ---------------------------------------------------------------------------------------------
def official_mouth_fill(alpha: torch.Tensor) -> torch.Tensor:
    """cv2.floodFill(255 alpha, seed (0, 0), lo 0, up 254, FIXED_RANGE) semantics: unreached pixels -> alpha 1."""
    value = alpha * 255.0
    seed = value[..., :1, :1]
    fillable = (value >= seed) & (value <= seed + 254.0)
    return torch.where(reachable_from_corner(fillable), alpha, torch.ones_like(alpha))


def reachable_from_corner(fillable: torch.Tensor) -> torch.Tensor:
    """(..., H, W) bool: pixels 4-connected to pixel (0, 0) through `fillable` pixels (the corner always counts)."""
    reached = torch.zeros_like(fillable)
    reached[..., 0, 0] = True
    fillable = fillable.clone()
    fillable[..., 0, 0] = True
    for _ in range(fillable.shape[-1] * fillable.shape[-2]):
        grown = _spread_along_rows(reached, fillable)
        grown = _spread_along_rows(grown.transpose(-1, -2), fillable.transpose(-1, -2)).transpose(-1, -2)
        if torch.equal(grown, reached):
            break
        reached = grown
    return reached


def _spread_along_rows(reached: torch.Tensor, fillable: torch.Tensor) -> torch.Tensor:
    """Every fillable pixel in a horizontal run of fillable pixels that holds a reached pixel becomes reached."""
    width = fillable.shape[-1]
    run = torch.cumsum((~fillable).to(torch.int64), dim=-1)  # run id per pixel within its row
    rows = torch.arange(run[..., 0].numel(), device=run.device).reshape(run.shape[:-1])[..., None]
    index = (rows * (width + 1) + run).reshape(-1)
    hit = (reached & fillable).reshape(-1).to(torch.int64)
    any_hit = torch.zeros(rows.numel() * (width + 1), dtype=torch.int64, device=run.device)
    any_hit.scatter_reduce_(0, index, hit, reduce="amax")
    return (any_hit[index].reshape(fillable.shape) > 0) & fillable


# -- mouth crop -----------------------------------------------------------------------------------------------
def official_mouth_boxes(lip_outer: torch.Tensor, corners: torch.Tensor, scale: float
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer boxes (row start, row end), (col start, col end), each (B, 2), from pixel coords (col, row).

    side = int(scale * max(col extent, row extent)), h = side // 2 (at least 1); centred on the mean of the
    two mouth corners; bounds truncated toward zero like `numpy.astype(int)`.
    """
    extent = (lip_outer.amax(dim=1) - lip_outer.amin(dim=1)).amax(dim=-1)  # (B,)
    half = torch.div(torch.trunc(extent * scale), 2, rounding_mode="floor").clamp_min(1.0)
    centre = corners.mean(dim=1)  # (B, 2) (col, row)
    col_c, row_c = centre[:, 0], centre[:, 1]
    rows = torch.stack([torch.trunc(row_c - half), torch.trunc(row_c + half)], dim=-1).long()
    cols = torch.stack([torch.trunc(col_c - half), torch.trunc(col_c + half)], dim=-1).long()
    return rows, cols


def antialias_weights(out_index: torch.Tensor, in_size: torch.Tensor, out_size: torch.Tensor,
                      in_positions: torch.Tensor) -> torch.Tensor:
    """PyTorch's antialiased bilinear resize weights (align_corners=False) as a matrix.

    out_index (B, O) output sample positions, in_size/out_size (B,) per-sample sizes, in_positions (B, I)
    input sample positions: -> (B, O, I), rows normalized; zero rows where out_index is outside [0, out_size).
    """
    in_size, out_size = in_size.to(torch.float64), out_size.to(torch.float64)
    scale = (in_size / out_size)[:, None, None]
    invscale = torch.where(scale >= 1.0, 1.0 / scale, torch.ones_like(scale))  # triangle widened when shrinking
    centre = scale * (out_index[..., None].to(torch.float64) + 0.5)  # (B, O, 1)
    j = in_positions[:, None, :].to(torch.float64)  # (B, 1, I)
    weight = (1.0 - ((j - centre + 0.5) * invscale).abs()).clamp_min(0.0)
    weight = weight * ((j >= 0) & (j < in_size[:, None, None]))
    weight = weight / weight.sum(-1, keepdim=True).clamp_min(1e-12)
    valid = (out_index >= 0) & (out_index < out_size[:, None])
    return weight * valid[..., None]


def crop_resize(image: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, size: int) -> torch.Tensor:
    """image[:, :, r0:r1, c0:c1] resized (antialiased bilinear) to (size, size) per sample: (B, C, size, size)."""
    batch, _, height, width = image.shape
    out = torch.arange(size, device=image.device).expand(batch, size)
    target = torch.full((batch,), size, device=image.device)
    row_w = antialias_weights(out, rows[:, 1] - rows[:, 0], target,
                              torch.arange(height, device=image.device)[None] - rows[:, :1])
    col_w = antialias_weights(out, cols[:, 1] - cols[:, 0], target,
                              torch.arange(width, device=image.device)[None] - cols[:, :1])
    return torch.matmul(torch.matmul(row_w[:, None].to(image.dtype), image), col_w[:, None].transpose(-1, -2).to(image.dtype))


def paste_resize(image: torch.Tensor, patch: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Replace image[:, :, r0:r1, c0:c1] by patch (B, C, R, R) resized (antialiased bilinear) to the box."""
    batch, _, height, width = image.shape
    size = patch.shape[-1]
    src = torch.arange(size, device=image.device).expand(batch, size)
    source = torch.full((batch,), size, device=image.device)
    row_out = torch.arange(height, device=image.device)[None] - rows[:, :1]
    col_out = torch.arange(width, device=image.device)[None] - cols[:, :1]
    row_w = antialias_weights(row_out, source, rows[:, 1] - rows[:, 0], src)  # (B, H, R)
    col_w = antialias_weights(col_out, source, cols[:, 1] - cols[:, 0], src)  # (B, W, R)
    pasted = torch.matmul(torch.matmul(row_w[:, None].to(image.dtype), patch.to(image.dtype)),
                          col_w[:, None].transpose(-1, -2).to(image.dtype))
    inside = (row_w.sum(-1) > 0)[:, None, :, None] & (col_w.sum(-1) > 0)[:, None, None, :]
    return torch.where(inside, pasted, image)
