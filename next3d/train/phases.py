"""The four training phases of one micro-batch (EG3D's Gmain, Greg, Dmain, Dreg): forward, loss, backward.

The loop seeds the random generators, zeroes gradients, decides when DDP synchronizes and steps the
optimizers; each phase here only accumulates `gain`-scaled gradients and returns detached statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from next3d.head import HeadParams
from next3d.networks.generator import Next3DGenerator, RenderOptions
from next3d.render.triplane import NEXT3D_PLANE_AXES, sample_planes
from next3d.train import losses
from next3d.train.config import TrainConfig
from next3d.train.d_condition import DiscriminatorCondition
from next3d.train.data import ConditionPool, RealBatch
from next3d.train.distributed import no_sync


def head_state(G: Next3DGenerator, head: torch.Tensor | None, batch: int, device) -> HeadParams | torch.Tensor:
    """Head vectors (B, D) -> HeadParams, vertices (B, V, 3) as they are, None -> the neutral head."""
    if head is None:
        return HeadParams.neutral(G.head, batch, device=device)
    if head.ndim == 3:
        return head
    return HeadParams.from_vector(head, G.head)


class GeneratorPass(nn.Module):
    """G's two trained computations behind one forward, so one DistributedDataParallel wraps both:
    mode 'image' -> (image, raw image); mode 'density' -> raw sigma (B, N, 1) at world points (B, N, 3)."""

    def __init__(self, G: Next3DGenerator, options: RenderOptions):
        super().__init__()
        self.G = G
        self.options = options

    def forward(self, mode: str, z, c_cond, c_render=None, head=None, points=None):
        G = self.G
        state = head_state(G, head, z.shape[0], z.device)
        ws = G.mapping(z, c_cond)
        if mode == "image":
            out = G.synthesis(ws, c_render, state, self.options)
            return out.image, out.image_raw
        latent = G.latent_stage(ws, self.options)
        planes = G.head_stage(latent, ws, state, self.options).planes
        features = sample_planes(planes, points, G.config.rendering.box_warp, NEXT3D_PLANE_AXES)
        return G.decoder(features).sigma


def real_head_state(real: RealBatch) -> torch.Tensor | None:
    """The real images' head data: vectors (B, D), else vertices (B, V, 3), else None."""
    return real.head if real.head is not None else real.vertices


@dataclass
class FakeConditions:
    """What one micro-batch of generated images is drawn from."""

    z: torch.Tensor  # (B, z_dim)
    c: torch.Tensor  # (B, 25) render camera (D's label, with the head's expression under --d-expression)
    head: torch.Tensor | None  # head vectors (B, D), vertices (B, V, 3) or None (neutral)


class Phases:
    """Forward + backward of each phase for one micro-batch; `sync` False skips DDP's all-reduce."""

    def __init__(self, config: TrainConfig, G: Next3DGenerator, G_train: nn.Module, D: nn.Module, D_train: nn.Module,
                 pool: ConditionPool, d_condition: DiscriminatorCondition):
        self.config, self.loss = config, config.loss
        self.d_label = d_condition
        self.G, self.G_train, self.D, self.D_train, self.pool = G, G_train, D, D_train, pool
        self.options = self.training_options(config)
        self.neural_resolution = G.config.neural_rendering_resolution

    @staticmethod
    def training_options(config: TrainConfig) -> RenderOptions:
        """How G renders while training: StyleGAN noise per config, no super-resolution noise (official), ray jitter."""
        return RenderOptions(noise_mode=config.loss.noise_mode, sr_noise_mode="none", perturb=True)

    # -- inputs ------------------------------------------------------------------------------------------
    def fake_conditions(self, real: RealBatch) -> FakeConditions:
        """Latents, cameras and head states drawn at random from the dataset's (camera, head) pairs."""
        batch, device = real.image.shape[0], real.image.device
        z = torch.randn(batch, self.G.z_dim, device=device)
        c, head = self.pool.sample(batch)
        if head is None and real.vertices is not None:  # vertex datasets: another real image's mesh
            head = torch.roll(real.vertices, 1, 0)
        return FakeConditions(z, c, head)

    def real_inputs(self, real: RealBatch, blur: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Real image and its raw-resolution twin as D sees them (raw target blurred like the image)."""
        raw = losses.real_raw_images(real.image, self.neural_resolution, self.D.resample_filter, self.loss.filter_mode)
        return real.image, losses.gaussian_blur(raw, blur)

    # -- phases ------------------------------------------------------------------------------------------
    def g_main(self, real: RealBatch, blur: float, swap: float | None, gain: float, sync: bool) -> dict:
        """Maximize D's logits of generated images (non-saturating)."""
        fake = self.fake_conditions(real)
        with no_sync(self.G_train, not sync):
            c_cond = losses.swap_conditioning(fake.c, swap)
            image, raw = self.G_train("image", fake.z, c_cond, fake.c, head=fake.head)
            logits = self.D(losses.gaussian_blur(image, blur), raw, self.d_label(fake.c, fake.head),
                            cond=self.d_label.image(fake.c, fake.head))
            loss = losses.generator_loss(logits).mean()
            loss.mul(gain).backward()
        return {"loss_G": loss.detach(), "scores_fake_G": logits.detach().mean()}

    def g_density(self, real: RealBatch, swap: float | None, gain: float, sync: bool) -> dict:
        """Density regularization: L1 between raw densities at random points and slightly moved copies."""
        fake = self.fake_conditions(real)
        with no_sync(self.G_train, not sync):
            c_cond = losses.swap_conditioning(fake.c, swap, per_sample=False)
            points, moved = losses.density_points(fake.z.shape[0], self.loss.density_reg_points,
                                                  self.loss.density_reg_p_dist, fake.z.device)
            sigma = self.G_train("density", fake.z, c_cond, head=fake.head, points=torch.cat([points, moved], 1))
            count = points.shape[1]
            loss = losses.density_l1(sigma[:, :count], sigma[:, count:]) * self.loss.density_reg
            loss.mul(gain).backward()
        return {"loss_density": loss.detach()}

    def d_main(self, real: RealBatch, blur: float, swap: float | None, gain: float, sync: bool) -> dict:
        """Minimize D's logits of generated images, maximize those of real images."""
        fake = self.fake_conditions(real)
        with torch.no_grad():
            ws = self.G.mapping(fake.z, losses.swap_conditioning(fake.c, swap))
            out = self.G.synthesis(ws, fake.c, head_state(self.G, fake.head, fake.z.shape[0], fake.z.device),
                                   self.options)
        with no_sync(self.D_train, True):
            fake_logits = self.D_train(losses.gaussian_blur(out.image, blur), out.image_raw,
                                       self.d_label(fake.c, fake.head), cond=self.d_label.image(fake.c, fake.head))
            loss_fake = losses.discriminator_fake_loss(fake_logits).mean()
            loss_fake.mul(gain).backward()
        image, raw = self.real_inputs(real, blur)
        with no_sync(self.D_train, not sync):
            real_logits = self.D_train(losses.gaussian_blur(image, blur), raw, self.d_label(real.label, real.head),
                                       cond=self.d_label.image(real.label, real_head_state(real)))
            loss_real = losses.discriminator_real_loss(real_logits).mean()
            loss_real.mul(gain).backward()
        return {"loss_D": (loss_fake + loss_real).detach(), "scores_real": real_logits.detach().mean(),
                "scores_fake": fake_logits.detach().mean(), "w_sum": ws[:, 0].sum(0), "w_count": ws.shape[0]}

    def d_r1(self, real: RealBatch, blur: float, gain: float, sync: bool) -> dict:
        """Lazy dual R1: gradient penalty of D on real images w.r.t. both inputs (image and raw image)."""
        image, raw = self.real_inputs(real, blur)
        image = image.detach().requires_grad_(True)
        raw = raw.detach().requires_grad_(True)
        with no_sync(self.D_train, not sync):
            logits = self.D_train(losses.gaussian_blur(image, blur), raw, self.d_label(real.label, real.head),
                                  cond=self.d_label.image(real.label, real_head_state(real)))
            penalty = losses.r1_penalty(logits, [image, raw])
            loss = penalty * (self.loss.r1_gamma / 2)
            # logits * 0 puts every D weight in the graph (DDP waits for a gradient of each one).
            (logits[:, 0] * 0 + loss).mean().mul(gain).backward()
        return {"r1_penalty": penalty.detach().mean(), "loss_r1": loss.detach().mean()}
