"""RenderArgs -> RenderResult with the Next3D generator: model cache, latents, cameras, head state, pictures.

Used in-process by the headless commands and capture jobs, and in a worker thread/process by the GUI.
`Renderer.render` never raises: every failure becomes `RenderResult.error` (one line) and is logged once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from next3d.capture import images
from next3d.capture.latents import walk_seeds, z_from_seed
from next3d.capture.memory_models import MEMORY_PREFIX, MemoryModel, unpack_generator
from next3d.capture.render_args import (
    BUILTIN_PREFIX,
    BUILTIN_TINY,
    ModelFacts,
    RenderArgs,
    RenderResult,
)
from next3d.errors import BadInputError, Next3DError
from next3d.render.camera import orbit_label, project

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
# The embedded default model shipped with the repository (the `small` preset, trained); without it the
# visualizer opens on a randomly initialised tiny model and says so on screen.
DEFAULT_CHECKPOINT = REPO_ROOT / "assets" / "models" / "next3d_default.safetensors"
DEFAULT_PRIOR = REPO_ROOT / "assets" / "models" / "next3d_default_prior.safetensors"  # trained on its W+ latents
BUILTIN_PRESETS = {BUILTIN_TINY: "tiny", BUILTIN_PREFIX + "small-random": "small",
                   BUILTIN_PREFIX + "paper-random": "paper"}  # random weights: for benchmarks and tests
MIN_OVERLAY_SIZE = 256  # small renders (raw, depth) are enlarged before drawing overlays on them
_UNNAMED_EXPRESSION = re.compile(r"^(expr|exp|expression|e|pca)?[_ -]?\d+$", re.IGNORECASE)


def default_checkpoint() -> str:
    """The embedded default checkpoint if it is present, else the random tiny built-in."""
    return str(DEFAULT_CHECKPOINT) if DEFAULT_CHECKPOINT.is_file() else BUILTIN_TINY


@dataclass
class LoadedModel:
    generator: torch.nn.Module
    facts: ModelFacts
    load_ms: float


class ModelCache:
    """Loaded generators by (checkpoint, device); keeps the most recent `capacity` (GPU memory is finite).

    In-memory models (`memory:<name>`, e.g. a tuned inversion result) are registered with `register`; their
    weights stay here (and travel with the cache to a worker process) until another one replaces them."""

    def __init__(self, capacity: int = 1, memory: dict[str, MemoryModel] | None = None):
        self.capacity = capacity
        self._models: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._memory: dict[str, MemoryModel] = dict(memory or {})
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        # sent to a worker process: loaded models stay here, in-memory weights go along
        return {"capacity": self.capacity, "memory": dict(self._memory)}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["capacity"], state.get("memory"))

    def register(self, model: MemoryModel) -> None:
        """Make `model.spec` loadable; it replaces any earlier in-memory model (one is kept at a time)."""
        with self._lock:
            for key in [k for k in self._models if k[0] in self._memory]:
                del self._models[key]
            self._memory = {model.spec: model}

    def memory_model(self, spec: str) -> MemoryModel | None:
        return self._memory.get(spec)

    def get(self, spec: str, device: torch.device) -> LoadedModel:
        key = (_cache_key(spec), str(device))
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            while len(self._models) >= self.capacity:
                self._models.popitem(last=False)  # free before loading the next one
            loaded = load_model(spec, device, self._memory.get(spec))
            self._models[key] = loaded
            return loaded


def _cache_key(spec: str):
    if spec.startswith((BUILTIN_PREFIX, MEMORY_PREFIX)):
        return spec
    from next3d.io.checkpoint import resolve_checkpoint

    path = resolve_checkpoint(spec)
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)  # a rewritten file is loaded again


def load_model(spec: str, device: torch.device, memory: MemoryModel | None = None) -> LoadedModel:
    """Build a built-in generator, rebuild an in-memory one (`memory`) or load a checkpoint (file or run
    directory), with facts for the GUI."""
    start = time.perf_counter()
    if spec.startswith(MEMORY_PREFIX):
        if memory is None:
            raise BadInputError(f"{spec}: an in-memory model that is gone (they last until the visualizer closes, "
                                "or until a newer one replaces them; save one to keep it)")
        generator = unpack_generator(memory, "cpu")
        source, random_weights, description = spec, False, memory.description
        preset = str(generator.config.preset)
    elif spec.startswith(BUILTIN_PREFIX):
        if spec not in BUILTIN_PRESETS:
            raise BadInputError(f"{spec}: unknown built-in model (known: {', '.join(BUILTIN_PRESETS)})")
        from next3d.head import load_default_head
        from next3d.networks.generator import Next3DGenerator
        from next3d.networks.presets import preset_config

        preset = BUILTIN_PRESETS[spec]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # the same random model every run
            generator = Next3DGenerator(preset_config(preset), load_default_head())
        source, random_weights = spec, True
        description = f"built-in {preset} model, random weights (untrained)"
    else:
        from next3d.io.checkpoint import read_meta, resolve_checkpoint

        path = resolve_checkpoint(spec)
        meta = read_meta(path)  # a broken or foreign file is named here, before any weights are read
        if meta.get("kind") == "prior":
            raise BadInputError(f"{path}: a diffusion prior checkpoint, not a generator")
        from next3d.io.generator_file import load_generator

        generator = load_generator(path, device="cpu")
        preset = str(meta.get("generator_config", {}).get("preset", meta.get("preset", "")))
        source, random_weights = str(path), False
        kimg = meta.get("training", {}).get("kimg") if isinstance(meta.get("training"), dict) else None
        description = f"{path.name}" + (f" ({preset})" if preset else "") + (f", {kimg} kimg" if kimg else "")
    generator = generator.eval().requires_grad_(False).to(device)
    facts = _facts(generator, source, description, preset, random_weights)
    return LoadedModel(generator, facts, (time.perf_counter() - start) * 1e3)


def _facts(G, source: str, description: str, preset: str, random_weights: bool) -> ModelFacts:
    head = G.head
    names = tuple(str(n) for n in head.expr_names)
    named = bool(names) and not all(_UNNAMED_EXPRESSION.match(n) for n in names)
    return ModelFacts(
        checkpoint=source, description=description, preset=preset, random_weights=random_weights,
        num_ws=int(G.num_ws), z_dim=int(G.z_dim), w_dim=int(G.w_dim), img_resolution=int(G.img_resolution),
        neural_res=int(G.config.neural_rendering_resolution),
        head_name=str(head.name), head_hash=str(head.content_hash())[:12],
        expression_names=names if named else tuple(f"pca {i}" for i in range(len(names))),
        expressions_named=named, num_shape=int(head.num_shape),
        shape_names=tuple(str(n) for n in head.shape_names))


class Renderer:
    """Renders frames from RenderArgs; caches models, w codes and (through StagedGenerator) stage outputs."""

    def __init__(self, device: str = "auto", models: ModelCache | None = None):
        self.device_name = device
        self.models = models or ModelCache()
        self._staged = None          # StagedGenerator of the current model
        self._graphed = None         # its GraphedGenerator, for CUDA-graph modes on a GPU
        self._staged_for = None
        self._ws_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()  # per seed, of `_ws_model`
        self._ws_model = None
        self._last_ws: tuple[tuple, torch.Tensor] | None = None  # (what it depends on, ws) of the last frame
        self._logged_errors: set[str] = set()
        self._posed = None   # (key, world vertices, world landmarks) of the last overlay
        self._edges = None   # (head, edges, edge faces) of the last overlay
        self._file_arrays: tuple[tuple, dict[str, np.ndarray]] | None = None  # (file identity, arrays) last read
        self.last_ws: torch.Tensor | None = None

    # -- public -------------------------------------------------------------------------------------------
    def render(self, args: RenderArgs, stamp: int = 0) -> RenderResult:
        """One frame; failures are returned as `error`, never raised."""
        start = time.perf_counter()
        result = RenderResult(stamp=stamp, args=args)
        try:
            self._render_into(result, args)
        except Exception as exc:  # noqa: BLE001 - the app must survive any bad input or model failure
            result.image = None
            result.error = self._describe(exc, args)
        result.total_ms = (time.perf_counter() - start) * 1e3
        return result

    def render_image(self, args: RenderArgs) -> np.ndarray:
        """The frame's picture; raises Next3DError (for the headless commands and capture jobs)."""
        result = self.render(args)
        if result.error:
            raise Next3DError(result.error)
        return result.image

    def facts(self, args: RenderArgs) -> ModelFacts:
        return self.models.get(args.checkpoint, self._device(args)).facts

    def latent_of(self, args: RenderArgs) -> torch.Tensor:
        """(1, num_ws, w_dim) the frame's latent (seed walk or latent file, truncation, mixing); raises Next3DError."""
        args.check()
        device = self._device(args)
        loaded = self.models.get(args.checkpoint, device)
        with torch.no_grad():
            return self._ws(loaded.generator, loaded.facts, args, device).clone()

    # -- steps --------------------------------------------------------------------------------------------
    def _device(self, args: RenderArgs) -> torch.device:
        from next3d.utils.device import resolve_device

        return resolve_device(args.device or self.device_name, warn=lambda msg: None)

    def _render_into(self, result: RenderResult, args: RenderArgs) -> None:
        args.check()
        device = self._device(args)
        t0 = time.perf_counter()
        loaded = self.models.get(args.checkpoint, device)
        result.model = loaded.facts
        result.load_ms = (time.perf_counter() - t0) * 1e3
        G = loaded.generator

        t1 = time.perf_counter()
        ws = self._ws(G, loaded.facts, args, device)
        self.last_ws = ws
        result.mapping_ms = (time.perf_counter() - t1) * 1e3

        t2 = time.perf_counter()
        c_render, head_params = camera_label_for(args, "cpu"), head_params_for(G, args, "cpu")
        options = self._options(G, args)
        staged = self._stage_renderer(G, args.precision, options)
        staged.enabled = args.stage_cache
        if staged is not self._graphed:  # graphs take CPU inputs (compared there, without a sync)
            c_render, head_params = _to_device(c_render, head_params, device)
        with torch.no_grad():
            out = staged.render(ws, c_render, head_params, options)
        result.synthesis_ms = (time.perf_counter() - t2) * 1e3
        result.stages_ran = tuple(staged.stats.ran)
        result.stage_ms = dict(staged.stats.ms)

        t3 = time.perf_counter()
        image = _picture(out, args.render_type)
        if args.show_mesh or args.show_landmarks:
            image = self._overlay(G, image, *_to_device(c_render, head_params, device)[::-1], args)
        result.image = image
        result.display_ms = (time.perf_counter() - t3) * 1e3

    def _stage_renderer(self, G, precision: str, options):
        """What runs G's stages at `precision` (an inference mode name: 'fp32', 'fast', 'fastest'): replayed CUDA
        graphs where the mode, device and `options` allow, else cached eager stages. New model or precision:
        new caches."""
        from next3d.networks.cuda_graphs import GraphedGenerator, graphable
        from next3d.networks.inference import InferenceGenerator, InferenceMode, apply_backend_flags
        from next3d.networks.staged import StagedGenerator

        model, mode_name = self._staged_for or (None, None)
        if model is not G or mode_name != precision:  # identity, not id(): a freed model's id can be reused
            mode = InferenceMode.named(precision)
            on_cuda = next(G.parameters()).device.type == "cuda"
            if on_cuda:
                apply_backend_flags(mode)  # TF32 only for modes that allow it
            self._graphed = None  # its graphs' memory goes before new ones are captured
            self._staged = StagedGenerator(InferenceGenerator(G, mode))
            if mode.cuda_graphs and on_cuda and not G.config.official_plane_layout:
                self._graphed = GraphedGenerator(G, mode)
            self._staged_for = (G, precision)
        if self._graphed is not None and graphable(options):
            return self._graphed
        return self._staged

    def _ws(self, G, facts: ModelFacts, args: RenderArgs, device) -> torch.Tensor:
        """(1, num_ws, w_dim): the seed walk (or a latent file), truncated, with style mixing applied.

        An unchanged latent returns the same tensor object as the frame before: the CUDA-graph renderer then
        knows it unchanged without comparing (or synchronizing). Callers must not modify it in place."""
        if self._ws_model is not G:  # cached codes belong to one model
            self._ws_cache.clear()
            self._last_ws, self._ws_model = None, G
        cond = (args.yaw, args.pitch) if args.cond_yaw is None else (args.cond_yaw, args.cond_pitch)
        source = (self._latent_arrays(Path(args.latent_file).expanduser())[0] if args.latent_file
                  else (args.latent_x, args.latent_y))
        key = (source, str(device), args.psi, args.cutoff, cond, args.radius, args.fov_deg, tuple(args.pivot),
               args.mix_seed, args.mix_start, args.mix_stop)
        if self._last_ws is not None and self._last_ws[0] == key:
            return self._last_ws[1]
        c_cond = _label(cond[0], cond[1], args.radius, 0.0, args.fov_deg, args.pivot, device)
        if args.latent_file:
            ws = self._ws_from_file(G, args, c_cond, device)
        else:
            ws = sum(weight * self._ws_of_seed(G, seed, args, cond, c_cond)
                     for seed, weight in walk_seeds(args.latent_x, args.latent_y))
        if args.mix_seed is not None and args.mix_stop > args.mix_start:
            if args.mix_stop > facts.num_ws:
                raise BadInputError(f"style mixing rows {args.mix_start}..{args.mix_stop}: the model has "
                                    f"{facts.num_ws} w rows")
            mix = self._ws_of_seed(G, args.mix_seed, args, cond, c_cond)
            ws = ws.clone()
            ws[:, args.mix_start:args.mix_stop] = mix[:, args.mix_start:args.mix_stop]
        self._last_ws = (key, ws)
        return ws

    def _ws_of_seed(self, G, seed: int, args: RenderArgs, cond, c_cond) -> torch.Tensor:
        key = (seed, args.psi, args.cutoff, tuple(round(v, 6) for v in cond), args.radius, args.fov_deg,
               args.pivot)
        if key not in self._ws_cache:
            z = torch.from_numpy(z_from_seed(seed, int(G.z_dim)))[None].to(c_cond.device)
            with torch.no_grad():
                self._ws_cache[key] = G.mapping(z, c_cond, truncation_psi=args.psi, truncation_cutoff=args.cutoff)
            while len(self._ws_cache) > 64:
                self._ws_cache.popitem(last=False)
        return self._ws_cache[key]

    def _ws_from_file(self, G, args: RenderArgs, c_cond, device) -> torch.Tensor:
        path = Path(args.latent_file).expanduser()
        arrays = self._latent_arrays(path)[1]
        if "w" in arrays:
            w = torch.from_numpy(np.asarray(arrays["w"], np.float32)).to(device)
            w = w.reshape(-1, *w.shape[-2:])[:1] if w.ndim >= 2 else w
            if w.ndim != 3 or tuple(w.shape[1:]) != (G.num_ws, G.w_dim):
                raise BadInputError(f"{path}: 'w' has shape {tuple(arrays['w'].shape)}, the model needs "
                                    f"({G.num_ws}, {G.w_dim})")
            return w
        if "z" in arrays:
            z = torch.from_numpy(np.asarray(arrays["z"], np.float32)).reshape(1, -1).to(device)
            if z.shape[1] != G.z_dim:
                raise BadInputError(f"{path}: 'z' has {z.shape[1]} numbers, the model needs {G.z_dim}")
            with torch.no_grad():
                return G.mapping(z, c_cond, truncation_psi=args.psi, truncation_cutoff=args.cutoff)
        raise BadInputError(f"{path}: no 'w' or 'z' array in it (has: {', '.join(arrays) or 'nothing'})")

    def _latent_arrays(self, path: Path) -> tuple[tuple, dict[str, np.ndarray]]:
        """(file identity, arrays) of a latent file, read again only when the file changed (size or mtime)."""
        try:
            stat = path.stat()
            identity = (str(path), stat.st_mtime_ns, stat.st_size)
            if self._file_arrays is None or self._file_arrays[0] != identity:
                with np.load(path, allow_pickle=False) as data:
                    self._file_arrays = (identity, {k: data[k] for k in data.files})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise BadInputError(f"{path}: cannot read the latent file ({exc})") from None
        return self._file_arrays

    def _options(self, G, args: RenderArgs):
        """RenderOptions for the camera stage; sample counts are the config's times the multipliers."""
        from next3d.networks.generator import RenderOptions

        rendering = G.config.rendering
        return RenderOptions(
            neural_rendering_resolution=args.neural_res,
            samples=max(1, round(rendering.samples * args.depth_mult)),
            importance_samples=max(1, round(rendering.importance_samples * args.depth_importance_mult)),
            return_intermediates=args.render_type in ("texture", "planes"))

    def _overlay(self, G, image: np.ndarray, head_params, c_render, args: RenderArgs) -> np.ndarray:
        """Project the posed head mesh (edges of front-facing triangles) / landmarks with the rendering camera."""
        key = (G, tuple(args.head_values().items()))
        if self._posed is None or self._posed[0][0] is not G or self._posed[0][1] != key[1]:
            with torch.no_grad():
                self._posed = (key, *G.posed_world_geometry(head_params))  # camera moves reuse the posed mesh
        _, verts, lmks = self._posed
        cam2world, k = c_render[:, :16].reshape(-1, 4, 4), c_render[:, 16:].reshape(-1, 3, 3)
        image = images.upscale_nearest(image, MIN_OVERLAY_SIZE).copy()
        h, w = image.shape[:2]
        scale = np.array([w, h], dtype=np.float64)
        if args.show_mesh:
            faces = G.head.faces
            edges, edge_faces = self._mesh_edges(G.head)
            v = verts[0]
            normals = torch.linalg.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]], dim=-1)
            facing = (((v[faces[:, 0]] - cam2world[0, :3, 3]) * normals).sum(-1) < 0).cpu().numpy()  # CCW outside
            shown = edges[facing[edge_faces[:, 0]] | facing[edge_faces[:, 1]]]
            uv, _ = project(verts, cam2world, k)
            uv = uv[0].cpu().double().numpy() * scale
            images.draw_segments(image, uv[shown[:, 0]], uv[shown[:, 1]], (90, 220, 255), alpha=0.45)
        if args.show_landmarks:
            uv, _ = project(lmks, cam2world, k)
            images.draw_points(image, uv[0].cpu().double().numpy() * scale, (255, 70, 60), radius=max(1, w // 256))
        return image

    def _mesh_edges(self, head) -> tuple[np.ndarray, np.ndarray]:
        """Unique edges (E, 2) of the head mesh and the (up to two) faces sharing each edge (E, 2)."""
        if self._edges is None or self._edges[0] is not head:
            faces = head.faces.cpu().numpy()
            pairs = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
            owner = np.tile(np.arange(len(faces)), 3)
            edges, first, inverse = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
            edge_faces = np.stack([owner[first], owner[first]], axis=1)
            edge_faces[inverse.ravel(), 1] = owner  # the last face seen per edge (the other side, if any)
            self._edges = (head, edges, edge_faces)
        return self._edges[1], self._edges[2]

    def _describe(self, exc: Exception, args: RenderArgs) -> str:
        if isinstance(exc, Next3DError):
            text = str(exc)
        elif _is_oom(exc):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            text = "out of memory: lower the neural rendering resolution or depth samples, or use a smaller model"
        elif isinstance(exc, (RuntimeError, ValueError, IndexError)) and "shape" in str(exc).lower():
            text = f"shape mismatch: {_first_line(exc)}"
        else:
            text = f"{type(exc).__name__}: {_first_line(exc)}"
        if text not in self._logged_errors:  # callers show the one-line error; the traceback is for --debug
            self._logged_errors.add(text)
            log.debug("render failed for %s: %s", args.checkpoint, text, exc_info=not isinstance(exc, Next3DError))
        return text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, (MemoryError, getattr(torch.cuda, "OutOfMemoryError", MemoryError))) or \
        "out of memory" in str(exc).lower()


def camera_label_for(args: RenderArgs, device) -> torch.Tensor:
    """(1, 25) EG3D label of the frame's rendering camera."""
    return _label(args.yaw, args.pitch, args.radius, args.roll, args.fov_deg, args.pivot, device)


def head_params_for(G, args: RenderArgs, device):
    """The frame's head state as a batch-1 HeadParams for G's head model (missing trailing values are zero)."""
    from next3d.head import HeadParams

    head = G.head
    sizes = {"shape": head.num_shape, "expression": head.num_expression}
    values, names, counts = [], [], []
    for name, tup in args.head_values().items():
        size = sizes.get(name, len(tup))
        if len(tup) > size:
            raise BadInputError(f"head {name}: {len(tup)} values given, head model '{head.name}' has {size}")
        values += list(tup) + [0.0] * (size - len(tup))
        names.append(name)
        counts.append(size)
    flat = torch.tensor(values, dtype=torch.float32, device=device)  # one tensor, viewed per field
    return HeadParams(**{name: piece[None] for name, piece in zip(names, flat.split(counts))})


def _to_device(c: torch.Tensor, head_params, device):
    """The camera label and head state on `device` in one host-to-device copy (one transfer, not eight)."""
    from next3d.networks.cuda_graphs import pack_inputs, unpack_inputs

    if c.device == torch.device(device):
        return c, head_params
    return unpack_inputs(pack_inputs(c, head_params).to(device), c, head_params)


def _label(yaw, pitch, radius, roll, fov_deg, pivot, device) -> torch.Tensor:
    return torch.from_numpy(orbit_label(yaw, pitch, radius, roll, fov_deg, tuple(pivot)))[None].to(device)


def _picture(out, render_type: str) -> np.ndarray:
    """The requested view of a GeneratorOutput as (H, W, 3) uint8."""
    if render_type == "image":
        return images.signed_to_uint8(out.image[0])
    if render_type == "raw":
        return images.signed_to_uint8(out.image_raw[0, :3])
    if render_type == "depth":
        return images.depth_to_uint8(out.depth[0], out.alpha[0] if out.alpha is not None else None)
    if render_type == "alpha":
        return images.gray_to_uint8(out.alpha[0])
    if render_type == "texture":
        if out.texture is None:
            raise BadInputError("this model returned no neural texture")
        return images.features_to_uint8(out.texture[0])
    if render_type == "planes":
        if out.planes is None:
            raise BadInputError("this model returned no tri-planes")
        return images.planes_to_uint8(out.planes[0])
    raise BadInputError(f"unknown render type {render_type!r}")
