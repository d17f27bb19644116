"""Official EG3D / Next3D pickle -> our `Next3DGenerator`, accounting for every tensor (docs/importing.md).

Tensors keep their official names (our modules mirror them). Known-unused official tensors are skipped
with a reason (docs/official_layout.md section 6); the mesh buffers are compared with the head model; all
others must match our architecture exactly, else the report lists them and no generator is built.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from next3d.errors import BadInputError
from next3d.io.checkpoint import load_state_strict
from next3d.io.official_config import official_architecture, official_generator_config
from next3d.io.official_pickle import read_official_pickle
from next3d.io.official_records import PersistentRecord, child, module_tensors
from next3d.io.official_report import ImportReport
from next3d.networks.conv2d_layer import FIR_TAPS
from next3d.networks.ops.upfirdn2d import setup_filter

UNUSED_MAPPINGS = ("texture_backbone.mapping.", "mouth_backbone.mapping.", "neural_blending.mapping.")
MESH_BUFFERS = ("faces", "uvfaces", "raw_uvcoords", "uvcoords", "face_uvcoords", "dense_faces")
ORTH_CONSTANTS = {"orth_scale": (5.0,), "orth_shift": (0.0, -0.01, -0.01)}
CLASS_PATHS = ("", "backbone", "texture_backbone", "mouth_backbone", "neural_blending", "superresolution", "decoder")

REASON_MAPPING = "mapping networks the official forward never calls (backbone.mapping drives every w row)"
REASON_UNBUILT = "StyleUNet blocks/fusions the official forward never runs (not built here)"
REASON_LABEL_STD = "dataset label statistics kept by the training loop (unused by the generator)"
REASON_MESH = "mesh topology buffers (compared with the head model instead)"
REASON_FILTER = "constant [1,3,3,1] FIR filter buffers (built into our layers)"
REASON_ORTH = "official orthographic view constants (built into official_planes)"


def import_official_generator(path: str | os.PathLike, head=None, which: str = "G_ema", build: bool = True):
    """(generator or None, ImportReport). The generator is built (CPU, eval) only when the report is ok and `build`.

    head: the HeadModel a Next3D network was trained with (FLAME, required); EG3D networks ignore it
    (default: the built-in head, recorded in the checkpoint but never used).
    """
    from next3d.head import load_default_head
    from next3d.networks.generator import Next3DGenerator

    pkl = read_official_pickle(path)
    record = pkl.network(which)
    where = f"{Path(path).name} ({which})"
    architecture = official_architecture(record, where)
    config, notes = official_generator_config(record, where)
    if head is None:
        if architecture == "next3d":
            raise BadInputError(f"{where}: a Next3D network needs the FLAME head model it was trained with: pass "
                                "--head (FLAME generic_model.pkl with head_template.obj beside it, or a head file)")
        head = load_default_head()
    report = ImportReport(source=str(pkl.path), sha256=pkl.sha256, which=which, class_name=record.class_name,
                          architecture=architecture, notes=notes, classes=_class_names(record))
    file_state = module_tensors(record, where)
    with torch.device("meta"):
        layout = Next3DGenerator(config, head)  # shapes only, nothing allocated
    expected = {k: tuple(v.shape) for k, v in layout.state_dict().items()}
    _classify(report, file_state, expected, _unbuilt_prefixes(layout))
    report.problems += [f"{key} contains NaN or Inf" for key in report.loaded
                        if file_state[key].is_floating_point() and not torch.isfinite(file_state[key]).all()]
    if architecture == "next3d":
        _check_mesh(report, file_state, head)
        _check_mapping_rows(report, record, layout.num_ws)
    if not (report.ok and build):
        return None, report
    G = Next3DGenerator(config, head)
    load_state_strict(G, {k: file_state[k] for k in expected}, where)
    return G.eval().requires_grad_(False), report


def import_meta(report: ImportReport) -> dict:
    """What a converted checkpoint records about its source (JSON-ready)."""
    return {"source": {"file": Path(report.source).name, "sha256": report.sha256, "which": report.which,
                       "class_name": report.class_name, "architecture": report.architecture,
                       "classes": dict(report.classes), "skipped": report.skipped_keys()}}


def _classify(report: ImportReport, file_state: dict, expected: dict, unbuilt: tuple[str, ...]) -> None:
    for key, tensor in sorted(file_state.items()):
        if key in expected:
            if tuple(tensor.shape) == expected[key]:
                report.loaded.append(key)
            else:
                report.misshaped.append(f"{key}: file {tuple(tensor.shape)} vs model {expected[key]}")
            continue
        reason = _skip_reason(key, tensor, unbuilt, report)
        if reason:
            report.skip(reason, key)
        else:
            report.unexpected.append(f"{key} {tuple(tensor.shape)}")
    report.missing.extend(f"{key} {shape}" for key, shape in sorted(expected.items()) if key not in file_state)


def _skip_reason(key: str, tensor: torch.Tensor, unbuilt: tuple[str, ...], report: ImportReport) -> str | None:
    if key.startswith(UNUSED_MAPPINGS):
        return REASON_MAPPING
    if key.startswith(unbuilt):
        return REASON_UNBUILT
    if key == "dataset_label_std":
        return REASON_LABEL_STD
    if key in MESH_BUFFERS:
        return REASON_MESH
    if key.endswith("resample_filter") and torch.equal(tensor.float(), setup_filter(FIR_TAPS)):
        return REASON_FILTER
    if key in ORTH_CONSTANTS:
        if tuple(tensor.flatten().tolist()) != tuple(torch.tensor(ORTH_CONSTANTS[key]).tolist()):
            report.problems.append(f"{key} = {tensor.flatten().tolist()}, but the official layout here uses "
                                   f"{list(ORTH_CONSTANTS[key])}")
        return REASON_ORTH
    return None


def _unbuilt_prefixes(layout) -> tuple[str, ...]:
    prefixes = []
    for name in ("mouth_backbone", "neural_blending"):
        if hasattr(layout, name):
            prefixes += [f"{name}.synthesis.{m}." for m in getattr(layout, name).synthesis.unbuilt_official_modules()]
    return tuple(prefixes)


def _check_mesh(report: ImportReport, file_state: dict, head) -> None:
    """The network's mesh buffers must describe the head model's topology and UV layout."""
    wanted = {"faces": head.faces, "uvfaces": head.uv_faces, "raw_uvcoords": head.uvs}
    found = [k for k in wanted if k in file_state]
    if not found:
        report.notes.append("no mesh buffers in the network to compare with the head model")
    for key in found:
        ours, theirs = wanted[key], file_state[key].reshape(-1, wanted[key].shape[-1])
        same = theirs.shape == ours.shape and (torch.equal(theirs.long(), ours.long()) if key != "raw_uvcoords"
                                               else bool(torch.allclose(theirs.float(), ours.float(), atol=1e-5)))
        if not same:
            report.problems.append(f"mesh buffer {key} {tuple(file_state[key].shape)} does not match head model "
                                   f"'{head.name}' ({tuple(ours.shape)}): pass the FLAME head this network was trained with")
    if "heuristic" in head.provenance.get("landmarks", ""):
        report.notes.append(f"head model '{head.name}' has heuristic lip landmarks; the official mouth crop uses "
                            "iBUG landmarks 48-59 (import FLAME with --landmarks, or pass vertices + 68 landmarks)")


def _check_mapping_rows(report: ImportReport, record: PersistentRecord, num_ws: int) -> None:
    mapping = child(record, "backbone.mapping")
    rows = mapping.init_kwargs.get("num_ws") if isinstance(mapping, PersistentRecord) else None
    if rows is not None and rows != num_ws:
        report.problems.append(f"backbone.mapping broadcasts {rows} w rows; this architecture reads {num_ws}")


def _class_names(record: PersistentRecord) -> dict[str, str]:
    out = {}
    for path in CLASS_PATHS:
        node = child(record, path)
        if node is not None:
            out[path] = getattr(node, "class_name", None) or getattr(node, "class_path", "?")
    return out
