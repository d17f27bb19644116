"""The Next3D generator: EG3D's static tri-plane plus a neural texture rasterized onto the posed head mesh.

Three stages, cacheable separately (see next3d/networks/staged.py):
1. latent:  ws -> neural texture (B, C, T, T), static tri-plane (B, 3, C, P, P), per-layer styles;
2. head:    + head state -> posed mesh -> 4 orthographic views of the texture -> mouth and blending nets
            -> final planes = dynamic * alpha + static * (1 - alpha);
3. camera:  + camera -> rays -> importance volume rendering -> raw image -> super-resolution.
Module names mirror the official checkpoint layout (docs/official_layout.md). `config.architecture = "eg3d"`
builds EG3D's generator instead (stage 2 passes the static tri-plane through; planes sampled on EG3D's axes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from next3d.errors import BadInputError
from next3d.head import HeadModel, HeadParams
from next3d.networks.backbone import StyleGAN2Backbone
from next3d.networks.decoder import OSGDecoder
from next3d.networks.mapping import MappingNetwork
from next3d.networks.mouth import mouth_boxes, paste_mouth, crop_mouth
from next3d.networks.presets import GeneratorConfig
from next3d.networks.style_unet import StyleUNet
from next3d.networks.superresolution import SuperResolution
from next3d.networks.synthesis import SynthesisNetwork
from next3d.raster import fill_polygon, interpolate, plane_views, rasterize, sample_texture
from next3d.render.rays import camera_rays
from next3d.render.triplane import EG3D_PLANE_AXES, NEXT3D_PLANE_AXES, sample_planes
from next3d.render.volume import render_rays


@dataclass(frozen=True)
class RenderOptions:
    """Per-call rendering choices; None means the generator config's value."""

    neural_rendering_resolution: int | None = None
    samples: int | None = None  # stratified samples per ray
    importance_samples: int | None = None
    noise_mode: str = "const"  # StyleGAN noise of the backbones: 'const' | 'random' | 'none'
    sr_noise_mode: str = "none"  # super-resolution noise (official: 'none', also while training)
    perturb: bool = False  # random sample jitter (training)
    return_intermediates: bool = False
    raster_backend: str = "auto"


@dataclass
class LatentFeatures:
    """Stage 1 output: everything that depends on the latent only."""

    texture: torch.Tensor | None  # (B, C, T, T) neural texture in UV space (row 0 = v = 1); None for EG3D
    static_planes: torch.Tensor  # (B, 3, C, P, P)
    mouth_styles: dict[str, torch.Tensor]
    blend_styles: dict[str, torch.Tensor]
    sr_styles: dict[str, torch.Tensor]


@dataclass
class PlaneFeatures:
    """Stage 2 output: the final tri-planes for one head state (plus what the GUI may show)."""

    planes: torch.Tensor  # (B, 3, C, P, P)
    alpha: torch.Tensor  # (B, 3, 1, P, P) weight of the dynamic (mesh) features
    latent: LatentFeatures
    dynamic_planes: torch.Tensor | None = None  # (B, 3, C, P, P) before blending with the static planes
    vertices: torch.Tensor | None = None  # (B, V, 3) world units
    landmarks: torch.Tensor | None = None  # (B, L, 3) world units


@dataclass
class GeneratorOutput:
    """One rendered batch."""

    image: torch.Tensor  # (B, 3, H, W) in [-1, 1]
    image_raw: torch.Tensor  # (B, 3, h, w) in [-1, 1]
    depth: torch.Tensor  # (B, 1, h, w) world units along the ray
    alpha: torch.Tensor  # (B, 1, h, w) accumulated opacity in [0, 1]
    feature_image: torch.Tensor | None = None  # (B, C, h, w)
    texture: torch.Tensor | None = None
    planes: torch.Tensor | None = None
    static_planes: torch.Tensor | None = None
    dynamic_planes: torch.Tensor | None = None
    plane_alpha: torch.Tensor | None = None
    vertices: torch.Tensor | None = None
    landmarks: torch.Tensor | None = None


ARCHITECTURES = ("next3d", "eg3d")


class Next3DGenerator(nn.Module):
    """z, camera label and head state -> image, raw image, depth and alpha (see module docstring)."""

    def __init__(self, config: GeneratorConfig, head: HeadModel):
        super().__init__()
        if config.architecture not in ARCHITECTURES:
            raise BadInputError(f"generator architecture {config.architecture!r}; expected one of {ARCHITECTURES}")
        self.config = config
        static = SynthesisNetwork(config.synthesis(3 * config.plane_channels))
        self.eg3d_num_ws = static.num_ws  # rows 0..eg3d_num_ws-1 drive planes, mouth, blending and SR
        if self.is_eg3d:  # EG3D: one mapping for the static tri-plane (and SR), no head-driven branch
            self.backbone = StyleGAN2Backbone(static, MappingNetwork(config.mapping(static.num_ws)))
        else:
            texture = SynthesisNetwork(config.synthesis(config.plane_channels))
            self.backbone = StyleGAN2Backbone(static, MappingNetwork(config.mapping(static.num_ws + texture.num_ws)))
            self.texture_backbone = StyleGAN2Backbone(texture)
            self.mouth_backbone = StyleGAN2Backbone(StyleUNet(config.mouth()))
            self.neural_blending = StyleGAN2Backbone(StyleUNet(config.blending()))
        self.superresolution = SuperResolution(config.superresolution())
        self.decoder = OSGDecoder(config.decoder())
        self.head = head  # not saved with the weights: checkpoints record its content hash instead
        self._register_state_dict_hook(_drop_head_tensors)
        self.register_load_state_dict_post_hook(_ignore_missing_head_tensors)
        self.head_hash = head.content_hash()

    # -- sizes ------------------------------------------------------------------------------------------
    @property
    def is_eg3d(self) -> bool:
        """EG3D variant: planes are the static tri-plane; the head state is ignored."""
        return self.config.architecture == "eg3d"

    @property
    def num_ws(self) -> int:
        return self.backbone.mapping.num_ws

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    @property
    def c_dim(self) -> int:
        return self.config.c_dim

    @property
    def img_resolution(self) -> int:
        return self.config.img_resolution

    # -- mapping ----------------------------------------------------------------------------------------
    def mapping(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        """(B, z_dim) latents and (B, 25) conditioning cameras -> ws (B, num_ws, w_dim)."""
        return self.backbone.mapping(z, c * self.config.c_scale, truncation_psi, truncation_cutoff, update_emas)

    # -- stage 1: latent ---------------------------------------------------------------------------------
    def latent_stage(self, ws: torch.Tensor, options: RenderOptions | None = None) -> LatentFeatures:
        """Neural texture, static tri-plane and the styles of the later stages' networks."""
        options = options or RenderOptions()
        eg3d_ws, texture_ws = ws[:, : self.eg3d_num_ws], ws[:, self.eg3d_num_ws:]
        static = self.backbone.synthesis(eg3d_ws, noise_mode=options.noise_mode)
        batch, _, res, _ = static.shape
        if self.is_eg3d:
            return LatentFeatures(texture=None, static_planes=static.reshape(batch, 3, -1, res, res),
                                  mouth_styles={}, blend_styles={}, sr_styles=self.superresolution.styles(eg3d_ws))
        texture = self.texture_backbone.synthesis(texture_ws, noise_mode=options.noise_mode)
        return LatentFeatures(
            texture=texture,
            static_planes=static.reshape(batch, 3, -1, res, res),
            mouth_styles=self.mouth_backbone.synthesis.styles(eg3d_ws),
            blend_styles=self.neural_blending.synthesis.styles(eg3d_ws),
            sr_styles=self.superresolution.styles(eg3d_ws),
        )

    # -- stage 2: head -----------------------------------------------------------------------------------
    def head_stage(self, latent: LatentFeatures, ws: torch.Tensor, head_state: HeadParams | torch.Tensor,
                   options: RenderOptions | None = None) -> PlaneFeatures:
        """Rasterize the texture onto the posed head into the planes, refine mouth and front, blend with static.

        EG3D variant: the planes are the static tri-plane (alpha 0) and the head state is ignored."""
        options = options or RenderOptions()
        if self.is_eg3d:
            alpha = torch.zeros_like(latent.static_planes[:, :, :1])
            return PlaneFeatures(planes=latent.static_planes, alpha=alpha, latent=latent)
        if self.config.official_plane_layout:
            from next3d.networks.official_planes import official_dynamic_planes

            dynamic, alpha, world, landmarks = official_dynamic_planes(self, latent, head_state, options)
        else:
            dynamic, alpha, world, landmarks = self._dynamic_planes(latent, head_state, options)
        planes = dynamic * alpha + latent.static_planes * (1.0 - alpha)
        keep = options.return_intermediates
        return PlaneFeatures(planes=planes, alpha=alpha, latent=latent, dynamic_planes=dynamic if keep else None,
                             vertices=world if keep else None, landmarks=landmarks if keep else None)

    def posed_world_geometry(self, head_state: HeadParams | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World-space vertices (B, V, 3) and landmarks (B, L, 3) of a head state (params or native vertices)."""
        if isinstance(head_state, HeadParams):
            posed = self.head(head_state, check_values=False)  # values are checked where they enter (CLI, GUI)
            vertices, landmarks = posed.vertices, posed.landmarks
        else:
            vertices = head_state.to(self.head.v_template)
            landmarks = self.head.landmarks_from(vertices)
        return self.head.to_world(vertices).detach(), self.head.to_world(landmarks).detach()

    def _dynamic_planes(self, latent: LatentFeatures, head_state, options: RenderOptions):
        cfg, head = self.config, self.head
        res, box_warp = cfg.plane_resolution, cfg.rendering.box_warp
        world, landmarks = self.posed_world_geometry(head_state)
        batch = world.shape[0]
        views = plane_views(world.float(), box_warp)  # front, top, side from +x, side from -x
        frags = rasterize(views.clip, head.faces, res, cull=views.cull, backend=options.raster_backend,
                          check=False)
        uv = interpolate(head.uvs, frags, attr_faces=head.uv_faces, check=False)  # (B*4, P, P, 2)
        features = sample_texture(latent.texture, uv, frags.mask)  # (B*4, C, P, P)
        mask = sample_texture(head.uv_mask[None, None], uv, frags.mask)  # (B*4, 1, P, P)
        features = features.reshape(batch, 4, -1, res, res)
        mask = mask.reshape(batch, 4, 1, res, res)

        # Mouth interior: a hole in the mesh bounded by the inner lip contour; its alpha is 1.
        lips_ndc = landmarks[:, head.lip_inner][..., :2] * (2.0 / box_warp)
        mouth_hole = fill_polygon(lips_ndc, res)[:, None].to(mask.dtype)  # (B, 1, P, P)
        front_alpha = torch.maximum(mask[:, 0], mouth_hole)

        # Mouth StyleUNet on the lip crop, pasted back; then the blending StyleUNet on the whole front plane.
        boxes = mouth_boxes(landmarks[..., :2] * (2.0 / box_warp), head.lip_outer, head.mouth_corners,
                            cfg.mouth_box_scale)
        crop = crop_mouth(features[:, 0], boxes, cfg.mouth_in_size)
        mouth = self.mouth_backbone.synthesis.synthesize(crop, latent.mouth_styles, options.noise_mode)
        front = paste_mouth(features[:, 0], mouth, boxes, cfg.mouth_in_size)
        front = self.neural_blending.synthesis.synthesize(front, latent.blend_styles, options.noise_mode)

        sides = features[:, 2] + features[:, 3]  # both side views land on the (z, y) plane (Next3D sums them)
        dynamic = torch.stack([front, features[:, 1], sides], dim=1)
        alpha = torch.stack([front_alpha, mask[:, 1], torch.maximum(mask[:, 2], mask[:, 3])], dim=1)
        return dynamic, alpha, world, landmarks

    # -- stage 3: camera ---------------------------------------------------------------------------------
    def camera_stage(self, planes: PlaneFeatures, ws: torch.Tensor, c: torch.Tensor,
                     options: RenderOptions | None = None) -> GeneratorOutput:
        """Volume-render the planes from cameras c (B, 25) and super-resolve."""
        options = options or RenderOptions()
        cfg = self.config
        res = options.neural_rendering_resolution or cfg.neural_rendering_resolution
        settings = dataclasses.replace(
            cfg.rendering, perturb=options.perturb,
            samples=options.samples or cfg.rendering.samples,
            importance_samples=options.importance_samples or cfg.rendering.importance_samples)
        cam2world, intrinsics = c[:, :16].reshape(-1, 4, 4), c[:, 16:25].reshape(-1, 3, 3)
        origins, dirs = camera_rays(cam2world.float(), intrinsics.float(), res)
        axes = EG3D_PLANE_AXES if self.is_eg3d else NEXT3D_PLANE_AXES  # official renderers' plane axes
        plane_tensor = planes.planes

        def field(points, _dirs):
            decoded = self.decoder(sample_planes(plane_tensor, points, settings.box_warp, axes))
            return decoded.sigma, decoded.features

        rays = render_rays(field, origins, dirs, settings)
        batch = c.shape[0]
        feature_image = rays.features.permute(0, 2, 1).reshape(batch, -1, res, res)
        depth = rays.depth.permute(0, 2, 1).reshape(batch, 1, res, res)
        alpha = rays.weight_sum.permute(0, 2, 1).reshape(batch, 1, res, res)
        image_raw = feature_image[:, :3]
        image = self.superresolution.synthesize(image_raw, feature_image, planes.latent.sr_styles,
                                                noise_mode=options.sr_noise_mode)
        out = GeneratorOutput(image=image, image_raw=image_raw, depth=depth, alpha=alpha)
        if options.return_intermediates:
            out.feature_image = feature_image
            out.texture = planes.latent.texture
            out.planes = planes.planes
            out.static_planes = planes.latent.static_planes
            out.dynamic_planes = planes.dynamic_planes
            out.plane_alpha = planes.alpha
            out.vertices, out.landmarks = planes.vertices, planes.landmarks
        return out

    # -- whole passes ------------------------------------------------------------------------------------
    def synthesis(self, ws: torch.Tensor, c: torch.Tensor, head_state: HeadParams | torch.Tensor,
                  options: RenderOptions | None = None) -> GeneratorOutput:
        """All three stages: ws (B, num_ws, w_dim), render cameras c (B, 25), head state -> GeneratorOutput."""
        options = options or RenderOptions()
        latent = self.latent_stage(ws, options)
        planes = self.head_stage(latent, ws, head_state, options)
        return self.camera_stage(planes, ws, c, options)

    def forward(self, z: torch.Tensor, c: torch.Tensor, head_state: HeadParams | torch.Tensor,
                c_render: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False,
                options: RenderOptions | None = None) -> GeneratorOutput:
        """Map z conditioned on camera c, render from c_render (default c)."""
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas)
        return self.synthesis(ws, c if c_render is None else c_render, head_state, options)


def _drop_head_tensors(module, state_dict, prefix, local_metadata):
    """state_dict hook: the head model's buffers are not generator weights (its hash is recorded instead)."""
    for key in [k for k in state_dict if k.startswith(prefix + "head.")]:
        del state_dict[key]
    return state_dict


def _ignore_missing_head_tensors(module, incompatible_keys):
    """load_state_dict post-hook: weights files never hold the head model's buffers."""
    incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys if not k.startswith("head.")]
