"""`python -m next3d invert`: photo -> latent + camera (+ pivotal tuning) -> files in a new folder."""

from __future__ import annotations

import click


@click.command("invert")
@click.option("--ckpt", required=True, type=click.Path(), help="Generator checkpoint (.safetensors) or training "
              "run directory; a training snapshot's discriminator adds a feature loss.")
@click.option("--image", required=True, type=click.Path(), help="The photo (PNG/JPEG; centre-cropped and resized).")
@click.option("--camera", type=click.Path(), default=None, help="The photo's camera: JSON with an EG3D label "
              "(camera.json, a list of 25 numbers, or a dataset.json); default: searched and optimised.")
@click.option("--mask", type=click.Path(), default=None, help="Mask image of the photo's size: white = fit, "
              "black = ignore.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (must not exist).")
@click.option("--prior", type=click.Path(), default=None, help="Diffusion prior (W+) to draw the starting latent.")
@click.option("--init", type=click.Choice(["w_avg", "random", "prior"]), default=None,
              help="Starting latent  [default: prior with --prior, else w_avg]")
@click.option("--space", "latent_space", type=click.Choice(["w", "w+"]), default="w+", show_default=True)
@click.option("--steps", type=int, default=300, show_default=True, help="Latent optimisation steps.")
@click.option("--lr", type=float, default=None, help="Latent learning rate  [default: 0.02]")
@click.option("--pti-steps", type=int, default=0, show_default=True, help="Pivotal tuning steps (0: off).")
@click.option("--fit-camera/--fixed-camera", default=None, help="Optimise the camera  [default: only without --camera]")
@click.option("--fit-radius", is_flag=True, help="Also optimise the camera distance.")
@click.option("--fit-roll", is_flag=True, help="Also optimise the camera roll.")
@click.option("--no-features", is_flag=True, help="Do not use the checkpoint's discriminator features.")
@click.option("--neural-res", type=int, default=None, help="Neural rendering resolution while fitting.")
@click.option("--turntable-frames", type=int, default=48, show_default=True, help="0: no turntable.mp4.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
def invert(ckpt, image, camera, mask, out, prior, init, latent_space, steps, lr, pti_steps, fit_camera, fit_radius,
           fit_roll, no_features, neural_res, turntable_frames, seed, device) -> None:
    """Invert a photo into the generator; writes the latent, camera, renders, turntable and report to --out."""
    from tqdm import tqdm

    from next3d.errors import BadInputError
    from next3d.invert.camera_file import read_camera
    from next3d.invert.image_input import load_target
    from next3d.utils.jsonl import JsonlLog
    from next3d.invert.model_files import load_inversion_models
    from next3d.invert.outputs import check_out_dir, write_outputs
    from next3d.invert.pipeline import run_inversion
    from next3d.invert.settings import InversionSettings
    from next3d.utils.atomic import atomic_dir
    from next3d.utils.device import resolve_device
    from next3d.utils.hashing import file_sha256

    out_dir = check_out_dir(out)
    if turntable_frames < 0:
        raise BadInputError(f"--turntable-frames {turntable_frames}: must be >= 0")
    init = init or ("prior" if prior else "w_avg")
    settings = InversionSettings(
        latent_space=latent_space, steps=steps, pti_steps=pti_steps, fit_camera=fit_camera, fit_radius=fit_radius,
        fit_roll=fit_roll, init=init, neural_rendering_resolution=neural_res, seed=seed,
        **({"lr": lr} if lr is not None else {})).validate()
    if init == "prior" and not prior:
        raise BadInputError("--init prior needs --prior RUN (a diffusion prior checkpoint or run directory)")
    dev = resolve_device(device)
    models = load_inversion_models(ckpt, dev, features=not no_features)
    target = load_target(image, models.G.img_resolution, mask)
    for note in target.notes:
        click.echo(f"note: {note}", err=True)
    cam = read_camera(camera, image_name=str(image)) if camera else None
    source = {"checkpoint": str(models.path.resolve()), "sha256": file_sha256(models.path)}
    click.echo(f"losses: {models.describe_losses(settings)}", err=True)

    with atomic_dir(out_dir) as tmp, JsonlLog(tmp / "log.jsonl") as log:
        log.write("start", checkpoint=source["checkpoint"], image=str(image), mask=mask and str(mask),
                  camera=camera and str(camera), settings=settings.to_dict(), notes=target.notes)
        bars: dict = {}

        def on_step(p) -> None:
            bar = bars.get(p.phase)
            if bar is None:
                for old in bars.values():
                    old.close()
                bar = bars[p.phase] = tqdm(total=p.steps, desc=p.phase, unit="step", leave=True)
            bar.update(p.step - bar.n)
            bar.set_postfix(loss=f"{p.loss:.4f}", psnr=f"{p.psnr:.2f}", yaw=f"{p.camera.yaw:+.3f}",
                            pitch=f"{p.camera.pitch:+.3f}")
            log.write("step", phase=p.phase, step=p.step, steps=p.steps, loss=p.loss, psnr=p.psnr,
                      yaw=p.camera.yaw, pitch=p.camera.pitch)

        try:
            result = run_inversion(models.G, target, settings, camera=cam, features=models.features, prior=prior,
                                   callback=on_step)
        finally:
            for bar in bars.values():
                bar.close()
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        log.write("fitted", psnr_before=result.psnr_before, psnr_after_latent=result.psnr_latent,
                  psnr_after=result.psnr_after, steps=result.steps, seconds=result.seconds,
                  camera=result.camera.to_dict(), warnings=result.warnings)
        with tqdm(total=turntable_frames, desc="turntable", unit="frame", disable=turntable_frames == 0) as bar:
            write_outputs(tmp, out_dir, result, models.G, source, settings.to_dict(), turntable_frames,
                          progress=lambda done, total: bar.update(done - bar.n))
        log.write("done", out=str(out_dir.resolve()))
    click.echo(f"PSNR {result.psnr_before:.2f} dB (start) -> {result.psnr_latent:.2f} dB (latent)"
               + (f" -> {result.psnr_after:.2f} dB (tuned)" if result.tuned_generator is not None else "")
               + f"; camera yaw {result.camera.yaw:+.3f} pitch {result.camera.pitch:+.3f} rad; wrote {out_dir}")
