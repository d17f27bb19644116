"""Polygon fill (the mouth interior) against hand-checked and brute-force point-in-polygon results."""

import math

import torch

from next3d.raster import fill_polygon, plane_views, rasterize


def brute_force_inside(polygon, x, y):
    """Even-odd rule by ray casting to +x, in Python floats."""
    inside = False
    for i in range(len(polygon)):
        (ax, ay), (bx, by) = polygon[i], polygon[(i + 1) % len(polygon)]
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def distance_to_edges(polygon, x, y):
    best = math.inf
    for i in range(len(polygon)):
        (ax, ay), (bx, by) = polygon[i], polygon[(i + 1) % len(polygon)]
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / max(dx * dx + dy * dy, 1e-30)))
        best = min(best, math.hypot(x - ax - t * dx, y - ay - t * dy))
    return best


def test_square_fills_the_pixels_whose_centres_it_contains():
    # NDC square [-0.5, 0.5]^2 on an 8x8 grid: centres at +-0.125, +-0.375 are inside -> rows/cols 2..5.
    square = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]])
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[2:6, 2:6] = True
    assert torch.equal(fill_polygon(square, 8)[0], expected)
    assert torch.equal(fill_polygon(square.flip(1), 8)[0], expected)  # orientation does not matter


def test_random_polygons_match_brute_force_point_in_polygon():
    gen = torch.Generator().manual_seed(0)
    height, width = 23, 31
    for n_points in (3, 7, 16):
        angles = torch.sort(torch.rand(2, n_points, generator=gen) * 2 * math.pi).values
        radii = 0.3 + 0.6 * torch.rand(2, n_points, generator=gen)
        polygon = torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], -1)
        polygon[1] = polygon[1][torch.randperm(n_points, generator=gen)]  # self-intersecting: even-odd matters
        filled = fill_polygon(polygon, (height, width))
        for b in range(2):
            pts = polygon[b].tolist()
            for r in range(height):
                for c in range(width):
                    x, y = (2 * c + 1) / width - 1, (2 * r + 1) / height - 1
                    if distance_to_edges(pts, x, y) < 1e-5:
                        continue  # too close to an edge for float32 vs float64 to agree
                    assert bool(filled[b, r, c]) == brute_force_inside(pts, x, y), (n_points, b, r, c)


def test_fill_uses_the_rasterizer_pixel_grid():
    # A convex polygon fills the same pixels as rasterizing it as a triangle fan (no centre lies on an edge).
    angles = torch.linspace(0, 2 * math.pi, 10)[:-1]
    ring = torch.stack([0.6 * torch.cos(angles), 0.5 * torch.sin(angles)], -1)
    world = torch.cat([torch.zeros(1, 2), ring]) / 2  # front view: NDC = 2 * world / box_warp
    world = torch.cat([world, torch.zeros(len(world), 1)], -1)[None]
    faces = torch.tensor([[0, 1 + i, 1 + (i + 1) % 9] for i in range(9)])
    views = plane_views(world)
    drawn = rasterize(views.clip, faces, (20, 26)).mask[0]
    assert torch.equal(fill_polygon(ring[None], (20, 26))[0], drawn)
