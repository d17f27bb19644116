"""Rendering synthetic head images with the project's rasterizer: pose the head, rasterize it from the EG3D
camera at `supersample` times the resolution, shade the covered pixels, composite on the backdrop, and
box-filter down (anti-aliasing)."""

from __future__ import annotations

import torch

from next3d.data.appearance import albedo
from next3d.data.background import render_backdrop
from next3d.data.head_features import head_features
from next3d.data.scene import SceneBatch
from next3d.data.shading import face_normals, incident_faces, shade, vertex_normals
from next3d.head import HeadModel, HeadParams
from next3d.raster import camera_clip, interpolate, rasterize
from next3d.render.camera import split_label

CAVITY = (0.10, 0.03, 0.03)  # sRGB of back faces, seen through holes (mouth interior, neck cut)


class SynthRenderer:
    """Renders SceneBatches of one head model on one device to uint8 images (B, H, W, 3)."""

    def __init__(self, head: HeadModel, resolution: int, supersample: int = 2, device="cpu"):
        self.device = torch.device(device)
        self.head = HeadModel(head.to_data()).to(self.device)  # a private copy: the caller's head stays put
        self.resolution = int(resolution)
        self.supersample = int(supersample)
        self.faces = self.head.faces.to(torch.int32)
        self.incident = incident_faces(self.head.faces, self.head.num_vertices)
        self.features = head_features(self.head, self.device)

    @torch.no_grad()
    def render(self, scene: SceneBatch) -> torch.Tensor:
        """uint8 images (B, H, W, 3) on the CPU."""
        size = self.resolution * self.supersample
        params = HeadParams.from_vector(scene.head.to(self.device), self.head)
        world = self.head.to_world(self.head(params).vertices)  # (B, V, 3)
        cam2world, k = split_label(scene.labels.to(self.device))
        frags = rasterize(camera_clip(world, cam2world, k).clip, self.faces, size, cull="none", check=False)
        fnormal = face_normals(world, self.head.faces)
        normal = interpolate(vertex_normals(fnormal, self.incident), frags, check=False)
        position = interpolate(world, frags, check=False)
        rest = interpolate(self.features.rest, frags, check=False)

        owner, rows, cols = frags.mask.nonzero(as_tuple=True)  # shade covered pixels only
        face = frags.face_id[owner, rows, cols].long()
        to_camera = torch.nn.functional.normalize(cam2world[owner, :3, 3] - position[owner, rows, cols], dim=-1)
        facing = (fnormal[owner, face] * to_camera).sum(-1) > 0
        colour = albedo(rest[owner, rows, cols], self.features.face_role[face], owner, self.features,
                        scene.appearance.to(self.device))
        lit = shade(colour, torch.nn.functional.normalize(normal[owner, rows, cols], dim=-1), to_camera,
                    scene.lighting.to(self.device), owner)
        lit = torch.where(facing[:, None], lit, torch.tensor(CAVITY, device=self.device))

        image = render_backdrop(scene.backdrop.to(self.device), self.resolution, self.resolution, self.device)
        if self.supersample > 1:
            image = image.repeat_interleave(self.supersample, 1).repeat_interleave(self.supersample, 2)
        image = image.clone()
        image[owner, rows, cols] = lit
        image = image.permute(0, 3, 1, 2)
        if self.supersample > 1:
            image = torch.nn.functional.avg_pool2d(image, self.supersample)
        return (image * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu()
