"""`dataset synth`: render the built-in head (or another head model) into an EG3D-layout dataset.

Deterministic: image i depends only on (seed, i) and the settings. Resumable: images are written (each
atomically) into `OUT.partial/` beside the output, with the settings in `synth.json`; rerunning the same
command skips finished images. At the end dataset.json is written, the result checked, and the folder
renamed onto OUT (or packed into OUT.zip). A JSONL log `synth_log.jsonl` records the run.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from next3d.data.dataset_json import dump_dataset_json
from next3d.data.head_link import head_section_for
from next3d.data.head_render import SynthRenderer
from next3d.data.image_io import encode_png
from next3d.data.scene import sample_scenes
from next3d.data.schema import DatasetIndex
from next3d.data.synth_settings import SynthSettings
from next3d.data.validate import DATASET_JSON, open_dataset
from next3d.data.writer import check_output, replace_dir, write_zip
from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_write_bytes, atomic_write_text
from next3d.utils.jsonl import append_event

SETTINGS_FILE = "synth.json"
LOG_FILE = "synth_log.jsonl"
CHUNKS_IN_FLIGHT = 2  # rendered batches waiting for their PNGs to be written


@dataclass
class SynthReport:
    """What one `synth_dataset` call did."""

    out: Path
    finished: bool
    written: int        # images rendered and written by this call
    already_done: int   # images found from an earlier, interrupted call
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def image_name(index: int) -> str:
    """EG3D's naming: 1000 images per sub-folder."""
    return f"{index // 1000:05d}/img{index:08d}.png"


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def synth_dataset(out: str | os.PathLike, settings: SynthSettings, head, device="cpu", force: bool = False,
                  stop_after: int | None = None, workers: int | None = None, progress: bool = True) -> SynthReport:
    """Render (or continue rendering) the dataset described by `settings` into `out` (.zip: a zip file).

    `stop_after`: return after writing at least that many new images (a later call continues).
    """
    start = time.time()
    out = Path(out)
    check_output(out, force)
    partial = partial_path(out)
    _open_partial(partial, settings)
    log_path = partial / LOG_FILE
    renderer = SynthRenderer(head, settings.resolution, settings.supersample, device)
    chunks = [list(range(s, min(s + settings.batch, settings.n))) for s in range(0, settings.n, settings.batch)]
    missing = {c: [i for i in chunk if not (partial / image_name(i)).exists()] for c, chunk in enumerate(chunks)}
    already = settings.n - sum(len(m) for m in missing.values())
    append_event(log_path, "start", settings=json.loads(settings.to_json()), already_done=already, device=str(device))
    written = 0
    bar = tqdm(total=settings.n, initial=already, unit="img", desc="synth", disable=not progress)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        pending: list[tuple[int, list[concurrent.futures.Future]]] = []
        for c, chunk in enumerate(chunks):
            if not missing[c]:
                continue
            if stop_after is not None and written >= stop_after:
                break
            images = renderer.render(sample_scenes(settings.seed, chunk, head))
            futures = [pool.submit(_write_png, partial / image_name(i), images[j].numpy())
                       for j, i in enumerate(chunk) if i in missing[c]]
            pending.append((c, futures))
            written += len(futures)
            while len(pending) > CHUNKS_IN_FLIGHT:
                _finish_chunk(pending.pop(0), chunks, bar, log_path)
        while pending:
            _finish_chunk(pending.pop(0), chunks, bar, log_path)
    bar.close()
    finished = already + written == settings.n
    append_event(log_path, "finished" if finished else "stopped", written=written, seconds=time.time() - start)
    if finished:
        _publish(partial, out, settings, head)
    return SynthReport(out if finished else partial, finished, written, already, time.time() - start)


def _open_partial(partial: Path, settings: SynthSettings) -> None:
    """Create the partial folder with its settings, or check that an existing one has the same settings."""
    settings_file = partial / SETTINGS_FILE
    if partial.exists():
        if not settings_file.is_file():
            raise BadInputError(f"{partial}: exists but is not an unfinished `dataset synth` run; remove it")
        before = SynthSettings.from_json(settings_file.read_text(), str(settings_file))
        if before != settings:
            raise BadInputError(f"{partial}: an unfinished run with other settings ({'; '.join(settings.differences(before))})"
                                f"; rerun with its settings to resume, or delete {partial.name}")
        return
    partial.mkdir(parents=True)
    atomic_write_text(settings_file, settings.to_json())


def _write_png(path: Path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, encode_png(pixels))


def _finish_chunk(item, chunks, bar, log_path: Path) -> None:
    c, futures = item
    for future in futures:
        future.result()  # re-raises a failed write
    bar.update(len(futures))
    append_event(log_path, "chunk_done", chunk=c, first=chunks[c][0], count=len(chunks[c]), written=len(futures))


def _publish(partial: Path, out: Path, settings: SynthSettings, head) -> None:
    """Write dataset.json, check the dataset, then move it onto `out` (folder) or pack it into `out` (zip)."""
    for leftover in partial.rglob(".*.tmp.*"):  # temp files of writes killed midway
        leftover.unlink()
    indices = list(range(settings.n))
    labels, vectors = [], []
    for s in range(0, settings.n, 1024):
        scenes = sample_scenes(settings.seed, indices[s:s + 1024], head)
        labels.append(scenes.labels.double())
        vectors.append(scenes.head.double())
    meta = {"made_by": "next3d dataset synth", "settings": json.loads(settings.to_json())}
    index = DatasetIndex([image_name(i) for i in indices], torch.cat(labels).numpy(), head_section_for(head),
                         torch.cat(vectors).numpy(), None, meta)
    atomic_write_bytes(partial / DATASET_JSON, dump_dataset_json(index))
    opened = open_dataset(partial)
    if len(opened.index) != settings.n:
        raise BadInputError(f"{partial}: holds {len(opened.index)} usable images, expected {settings.n}")
    if out.suffix.lower() == ".zip":
        names = sorted(p.relative_to(partial).as_posix() for p in partial.rglob("*") if p.is_file())
        write_zip(out, [(n, partial / n) for n in names if n != SETTINGS_FILE])
        shutil.rmtree(partial)
    else:
        replace_dir(partial, out)
        (out / SETTINGS_FILE).unlink()
