"""The shipped generator and discriminator continue training as the model card says (`--init-generator` and
`--init-discriminator` with the card's options): the run starts from exactly the shipped D, not a fresh one (G's start is tests/test_train_init.py's concern)."""

import pytest
import torch

from next3d.capture.renderer import DEFAULT_CHECKPOINT
from next3d.head import load_default_head
from next3d.io.checkpoint import load_checkpoint
from next3d.io.generator_file import load_generator
from next3d.train import train
from next3d.train.snapshot import load_latest_snapshot
from tests.train_support import run_options, single_thread, train_config

DEFAULT_DISCRIMINATOR = DEFAULT_CHECKPOINT.with_name("next3d_default_discriminator.safetensors")
pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not DEFAULT_DISCRIMINATOR.is_file(), reason="the shipped D is not in this checkout")]


@pytest.fixture(scope="module")
def data128(tmp_path_factory):
    """8 rendered heads at the shipped generator's 128^2, with head parameters (the mouth mask needs them)."""
    from next3d.data.synth import synth_dataset
    from next3d.data.synth_settings import SynthSettings

    head = load_default_head()
    path = tmp_path_factory.mktemp("data") / "synth128"
    settings = SynthSettings(n=8, resolution=128, seed=3, batch=8, supersample=1, head_name=head.name,
                             head_hash=head.content_hash(), device_type="cpu")
    with single_thread():
        synth_dataset(path, settings, head, "cpu", progress=False)
    return path


def test_the_shipped_discriminator_continues_the_shipped_generator(data128, tmp_path):
    shipped_d = load_checkpoint(DEFAULT_DISCRIMINATOR)
    assert shipped_d.meta["kind"] == "discriminator"
    config = train_config(data128, generator=load_generator(DEFAULT_CHECKPOINT).config, d_mouth_mask=True,
                          init_generator=str(DEFAULT_CHECKPOINT), init_discriminator=str(DEFAULT_DISCRIMINATOR),
                          lr_d=1e-9, lr_g=1e-9)  # one step at lr 1e-9 moves nothing: the snapshot shows the start
    result = train(config, run_options(tmp_path / "run", 1))
    snapshot = load_latest_snapshot(result.run_dir)
    started = snapshot.module_state("D")
    shipped = shipped_d.module_state("D")
    assert started.keys() == shipped.keys()
    assert max((started[k].float() - v.float()).abs().max().item() for k, v in shipped.items()) < 1e-5
    assert all(torch.isfinite(v).all() for v in started.values())
