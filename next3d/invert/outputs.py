"""Writing an inversion's files into a folder that appears only when complete (atomic rename).

Files: latent.npy (num_ws, w_dim) float32, latent.npz ('w', for the visualizer's latent file), camera.json,
target.png, before.png, after.png (after_latent.png too when PTI ran), comparison.png, turntable.mp4,
tuned.safetensors (PTI), view_state.json (opens the result in the visualizer), log.jsonl, report.json."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from next3d.errors import BadInputError
from next3d.invert.camera_file import camera_document
from next3d.utils.jsonl import JsonlLog, finite_json
from next3d.invert.result import InversionResult
from next3d.utils.atomic import atomic_dir, atomic_write_bytes, atomic_write_text

TURNTABLE_YAW, TURNTABLE_PITCH = 0.5, 0.15  # radians, swing of the turntable around the fitted view
TURNTABLE_FPS = 24.0


def check_out_dir(out_dir: str | Path) -> Path:
    """The output folder, which must not exist yet (results are never merged into or written over old ones)."""
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists():
        raise BadInputError(f"--out {out_dir}: already exists; choose a new folder (nothing is overwritten)")
    return out_dir


def save_inversion(out_dir: str | Path, result: InversionResult, G: torch.nn.Module, source: dict,
                   settings: dict, turntable_frames: int = 48, progress: Callable[[int, int], None] | None = None) -> Path:
    """Write everything into a temporary folder beside `out_dir`, then rename it (for the GUI; the CLI streams
    its log into the temporary folder itself and calls `write_outputs`). `G`: the original generator."""
    out_dir = check_out_dir(out_dir)
    with atomic_dir(out_dir) as tmp:
        with JsonlLog(tmp / "log.jsonl") as log:
            for record in result.history:
                log.write("step", **record)
        write_outputs(tmp, out_dir, result, G, source, settings, turntable_frames, progress)
    return out_dir


def write_outputs(folder: Path, final_dir: Path, result: InversionResult, G: torch.nn.Module, source: dict,
                  settings: dict, turntable_frames: int = 48, progress: Callable[[int, int], None] | None = None) -> None:
    """Write the result files into `folder` (a temporary folder that will be renamed to `final_dir`)."""
    from next3d.capture.jobs import save_png

    if result.cancelled:
        raise BadInputError("the inversion was cancelled; nothing is saved")
    folder, final_dir = Path(folder), Path(final_dir).resolve()
    w = result.w_plus
    atomic_write_bytes(folder / "latent.npy", _npy(w))
    buffer = io.BytesIO()
    np.savez(buffer, w=w)
    atomic_write_bytes(folder / "latent.npz", buffer.getvalue())
    atomic_write_text(folder / "camera.json", json.dumps(camera_document(result.camera, result.camera_given),
                                                         indent=2) + "\n")
    save_png(folder / "target.png", result.target)
    save_png(folder / "before.png", result.before)
    save_png(folder / "after.png", result.after)
    panels = [result.target, result.before, result.after_latent]
    tuned = result.tuned_generator
    if tuned is not None:
        save_png(folder / "after_latent.png", result.after_latent)
        panels.append(result.after)
    save_png(folder / "comparison.png", np.concatenate(panels, axis=1))
    checkpoint = source.get("checkpoint", "")
    if tuned is not None:
        from next3d.io.generator_file import save_generator

        save_generator(folder / "tuned.safetensors", tuned, inversion={
            "source_checkpoint": str(checkpoint), "source_sha256": source.get("sha256", ""),
            "latent": str(final_dir / "latent.npy"), "pti_steps": result.steps.get("pti", 0)})
        checkpoint = str(final_dir / "tuned.safetensors")
    if turntable_frames > 0:
        write_turntable(folder / "turntable.mp4", tuned if tuned is not None else G, result, turntable_frames, progress)
    if checkpoint:
        _write_view_state(folder / "view_state.json", final_dir, result, str(checkpoint))
    atomic_write_text(folder / "report.json", json.dumps(finite_json(report(result, source, settings)), indent=2) + "\n")


def report(result: InversionResult, source: dict, settings: dict) -> dict:
    """report.json: PSNR before/after (dB, inside the mask), steps and seconds per phase, what was used."""
    return {
        "psnr_before": result.psnr_before, "psnr_after_latent": result.psnr_latent, "psnr_after": result.psnr_after,
        "steps": result.steps, "seconds": result.seconds, "seconds_total": sum(result.seconds.values()),
        "camera": result.camera.to_dict(), "camera_given": result.camera_given, "init": result.init,
        "init_losses": result.init_losses,
        "losses": result.feature_loss, "pivotal_tuning": result.tuned_generator is not None,
        "source": source, "settings": settings, "notes": result.notes, "warnings": result.warnings,
        "camera_search": result.camera_search,
    }


@torch.no_grad()
def write_turntable(path: Path, G: torch.nn.Module, result: InversionResult, frames: int,
                    progress: Callable[[int, int], None] | None = None) -> Path:
    """A loop around the fitted view (capture's turntable path and mp4 writer)."""
    from next3d.capture.images import signed_to_uint8
    from next3d.capture.orbit import turntable_path
    from next3d.capture.video import write_mp4
    from next3d.head import HeadParams
    from next3d.invert.camera_fit import OrbitCamera

    device = next(G.parameters()).device
    ws = result.ws.to(device)
    head = HeadParams.neutral(G.head, device=device)
    cam = result.camera

    def rendered():
        for yaw, pitch in turntable_path(frames, TURNTABLE_YAW, TURNTABLE_PITCH, cam.yaw, cam.pitch):
            view = OrbitCamera(yaw, pitch, cam.radius, cam.roll, cam.focal, cam.pivot)
            yield signed_to_uint8(G.synthesis(ws, view.label(device), head).image[0])

    return write_mp4(path, rendered(), TURNTABLE_FPS, total=frames, progress=progress)


def _write_view_state(path: Path, final_dir: Path, result: InversionResult, checkpoint: str) -> None:
    from next3d.capture.render_args import RenderArgs
    from next3d.capture.state import save_state
    from next3d.render.camera import focal_to_fov

    cam = result.camera
    args = RenderArgs(checkpoint=checkpoint, latent_file=str(final_dir / "latent.npz"), yaw=cam.yaw,
                      pitch=cam.pitch, radius=cam.radius, roll=cam.roll, fov_deg=focal_to_fov(cam.focal),
                      pivot=tuple(cam.pivot))
    save_state(path, args)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
