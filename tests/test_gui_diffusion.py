"""The Diffusion widget under Xvfb with the tiny random model and a small random prior: sampling in the
background gives a strip of candidates, clicking one makes its W+ the current avatar (camera drags keep working
on it, and going back to seeds works), guidance with a rectangle drawn on the canvas runs, cancel stops, and a
prior of another latent shape is refused with a message in the canvas."""

import time

import numpy as np
import pytest
from gui_support import (
    canvas_center,
    canvas_pixels,
    drag,
    make_app,
    mean_abs_diff,
    save_random_prior,
    wait_for_job,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)

from next3d.capture.latent_bank import latent_source

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("config"), size=(1280, 800))
    for title in app.open_headers:  # only the Diffusion panel open: the candidate strip fits in the window
        app.open_headers[title] = title == "Diffusion"
    app.render_until_idle()
    prior = save_random_prior(tmp_path_factory.mktemp("prior") / "prior.safetensors")
    wait_for_job(app, app.diffusion.load_prior(str(prior)))
    app.diffusion.count, app.diffusion.steps, app.diffusion.seed = 3, 4, 0
    yield app
    app.close()


def _click(app, point) -> None:
    win = app.window
    win.queue_input(lambda io: io.add_mouse_pos_event(*point))
    win.queue_input(lambda io: io.add_mouse_button_event(0, True))
    win.queue_input(lambda io: io.add_mouse_button_event(0, False))
    for _ in range(5):
        app.step()


def test_prior_is_checked_against_the_model(app):
    diffusion = app.diffusion
    assert diffusion.prior is not None and diffusion.fit.usable
    assert "builtin:tiny-random" in diffusion.fit.message  # the prior records the model it was made for


def test_sampling_gives_candidates_and_a_click_makes_one_the_avatar(app):
    app.latent.back_to_seeds()
    app.render_until_idle()
    seed_args, before = app.args, canvas_pixels(app)
    job = app.diffusion.sample()
    frames = wait_for_job(app, job)
    assert frames > 2 and job.error == ""  # the GUI kept drawing while the job ran
    candidates = app.diffusion.strip.candidates
    assert len(candidates.seeds) == 3 and len(candidates.thumbnails) == 3
    assert candidates.latents.shape == (3, app.model.num_ws, app.model.w_dim)
    assert np.abs(candidates.latents[0] - candidates.latents[1]).mean() > 1e-3  # different seeds, different avatars
    assert all(t.shape == (app.model.img_resolution,) * 2 + (3,) and t.std() > 1.0 for t in candidates.thumbnails)
    app.step()
    (x0, y0), (x1, y1) = app.diffusion.strip.item_rects[1]
    assert y1 < app.window.window_size[1]  # the thumbnail is on screen
    _click(app, ((x0 + x1) / 2, (y0 + y1) / 2))  # a real click on the second thumbnail
    app.render_until_idle()
    assert app.diffusion.strip.chosen == 1
    assert app.args.latent_file and app.args.latent_file != seed_args.latent_file
    stored = np.load(app.args.latent_file)["w"]
    np.testing.assert_array_equal(stored, candidates.latents[1])
    assert latent_source(app.args.latent_file).startswith("diffusion sample") and "seed 1" in app.latent.source_label
    assert app.latent.source_label.startswith("Sampled latent")
    assert app.error == "" and app.image_result.args.latent_file == app.args.latent_file
    assert mean_abs_diff(canvas_pixels(app), before) > 2.0
    # the camera keeps working on the sampled latent: a drag re-renders only the camera stage
    sampled, yaw = canvas_pixels(app), app.camera.yaw
    drag(app, canvas_center(app), (120.0, 0.0))
    app.render_until_idle()
    assert app.camera.yaw < yaw - 0.1 and app.image_result.args.latent_file == app.args.latent_file
    assert app.result.stages_ran == ("camera",)
    assert mean_abs_diff(canvas_pixels(app), sampled) > 2.0
    app.camera.reset()
    app.latent.back_to_seeds()  # and back to seeds
    app.render_until_idle()
    assert app.args.latent_file == "" and app.latent.source_label == "seeds"
    assert mean_abs_diff(canvas_pixels(app), before) < 1.0


def test_guidance_with_a_rectangle_drawn_on_the_canvas_runs(app):
    diffusion, guidance = app.diffusion, app.diffusion.guidance
    unguided = diffusion.strip.candidates.latents.copy()
    guidance.enabled = True
    app.step()
    assert guidance.use_current_render()
    guidance.mask.set_mode("rectangle")
    guidance.tool.editing = True
    app.step()
    cx, cy = canvas_center(app)
    yaw = app.camera.yaw
    drag(app, (cx - 100, cy - 60), (160, 200))  # drawn on the canvas: a mask, not a camera turn
    assert app.camera.yaw == yaw
    x0, y0, x1, y1 = guidance.mask.rect
    (px0, py0), (px1, py1) = app.canvas.image_rect
    assert x0 == pytest.approx((cx - 100 - px0) / (px1 - px0), abs=0.02)
    assert x1 - x0 == pytest.approx(160 / (px1 - px0), abs=0.02) and y1 - y0 == pytest.approx(200 / (py1 - py0),
                                                                                               abs=0.02)
    mask = guidance.mask.array()
    assert 0.02 < mask.mean() < 0.5
    job = diffusion.sample()
    wait_for_job(app, job)
    guided = diffusion.strip.candidates
    assert job.error == "" and len(guided.seeds) == 3
    assert guided.losses is not None and all(np.isfinite(guided.losses))
    assert np.abs(guided.latents - unguided).mean() > 1e-4  # same seeds: the guidance changed the samples
    guidance.tool.editing, guidance.enabled = False, False


def test_cancel_stops_sampling_and_keeps_the_candidates(app):
    diffusion = app.diffusion
    shown = diffusion.strip.candidates
    diffusion.steps = 1000
    job = diffusion.sample()
    deadline = time.monotonic() + 60
    while job.done < 1 and time.monotonic() < deadline:
        app.step()
    diffusion.cancel()
    wait_for_job(app, job, 30)
    diffusion.steps = 4
    assert job.result is None and job.done < 1000
    assert "cancelled" in diffusion.last_message and diffusion.strip.candidates is shown


def test_a_prior_of_another_shape_is_refused_with_a_message(app, tmp_path):
    wrong = save_random_prior(tmp_path / "wrong.safetensors", shape=(7, 16))
    wait_for_job(app, app.diffusion.load_prior(str(wrong)))
    fit = app.diffusion.fit
    assert not fit.usable
    assert "wrong.safetensors does not fit" in fit.message and "7 x 16" in fit.message
    assert f"{app.model.num_ws} x {app.model.w_dim}" in fit.message
    assert app.canvas.message == fit.message  # shown in the canvas
    assert app.diffusion.sample() is None
    not_a_prior = tmp_path / "notes.safetensors"
    not_a_prior.write_text("not a checkpoint")
    wait_for_job(app, app.diffusion.load_prior(str(not_a_prior)))
    assert "notes.safetensors" in app.diffusion.load_error and app.window.should_close() is False


def test_a_dropped_latent_file_becomes_the_latent(app, tmp_path):
    np.savez(tmp_path / "sample-000007.npz", w=app.diffusion.strip.candidates.latents[0])
    app._on_drop(None, [str(tmp_path / "sample-000007.npz")])  # what glfw calls on drag-and-drop
    app.render_until_idle()
    assert app.args.latent_file == str(tmp_path / "sample-000007.npz") and app.error == ""
    assert app.latent.source_label.startswith("Latent file")
    app.latent.back_to_seeds()
    app.render_until_idle()
