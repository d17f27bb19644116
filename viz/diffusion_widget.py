"""Diffusion: sampling avatars from the latent diffusion prior. The prior is not part of this build yet, so
the header says so and how one will be trained; it draws no controls that would do nothing."""

from __future__ import annotations

from imgui_bundle import imgui


class DiffusionWidget:
    title = "Diffusion prior"
    default_open = False

    def __init__(self, app):
        self.app = app

    def __call__(self, show: bool) -> None:
        if not show:
            return
        imgui.text_wrapped("No diffusion prior is loaded. Sampling heads from a latent diffusion prior "
                           "(with guidance) appears here once the prior is available: save latent samples "
                           "from a trained generator, train the prior on them with the diffusion commands "
                           "(`python -m next3d --help` lists them), then load it here.")

    def persisted(self) -> dict:
        return {}

    def restore(self, saved: dict) -> None:
        pass
