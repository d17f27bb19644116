"""CUDA-graph replay of the generator's three stages: the fast path for interactive, batch-1 rendering.

At batch 1 the generator is bound by kernel launches (hundreds of small kernels per stage), not by
arithmetic. `GraphedGenerator` captures each stage once per (batch, options) into a CUDA graph whose inputs
and outputs are fixed buffers, then re-runs a stage by copying new inputs in and replaying its graph. Like
`StagedGenerator`, it replays only the stages whose inputs changed. The replayed result equals the eager
stages' result (tests/test_generator_fast.py on the GPU).

Returned tensors are the graphs' output buffers: they stay valid until the next `render` call (copy them
if you need them longer). The camera and head state may be given on the CPU (the visualizer does): they are then
compared on the host and copied in asynchronously, so deciding what to replay needs no synchronization.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from next3d.head import HeadParams
from next3d.networks.generator import RenderOptions
from next3d.networks.inference import InferenceGenerator, InferenceMode
from next3d.networks.staged import StageStats


@dataclass
class _Captured:
    """The graphs and buffers of one (batch, options) configuration."""

    ws: torch.Tensor
    inputs: torch.Tensor  # camera labels then head fields, flattened: filled by one host-to-device copy
    camera: torch.Tensor  # views into `inputs`, read by the graphs
    head: HeadParams
    graphs: dict[str, torch.cuda.CUDAGraph]
    output: object
    fresh: bool = True
    seen: tuple | None = None  # the last inputs as given: (ws, ws._version, packed camera + head)


MAX_CAPTURES = 4  # configurations kept (each holds its graphs' memory); the least recently used goes first


def graphable(options: RenderOptions) -> bool:
    """Whether `options` render the same way every time (graphs replay fixed randomness)."""
    return not (options.perturb or options.noise_mode == "random" or options.sr_noise_mode == "random")


class GraphedGenerator:
    """Replays CUDA graphs of the latent/head/camera stages; `render` has StagedGenerator's signature.

    `enabled` False replays every stage on every call (StagedGenerator's cache switch)."""

    def __init__(self, G, mode: InferenceMode | str = "fp32", warmup: int = 2):
        if next(G.parameters()).device.type != "cuda":
            raise ValueError("GraphedGenerator needs the generator on a CUDA device")
        self.runner = InferenceGenerator(G, mode)
        self.warmup = warmup
        self.enabled = True
        self.stats = StageStats()
        self._captured: dict[tuple, _Captured] = {}  # insertion order = use order (LRU)

    def clear(self) -> None:
        """Drop every captured graph (after the weights or the head model changed)."""
        self._captured.clear()

    @torch.no_grad()
    def render(self, ws: torch.Tensor, c: torch.Tensor, head: HeadParams, options: RenderOptions | None = None):
        options = options or RenderOptions()
        if not graphable(options):
            raise ValueError("CUDA graphs replay fixed randomness: use deterministic options (no perturb/random noise)")
        key = (ws.shape[0], options)
        cap = self._captured.pop(key, None)
        if cap is None:
            while len(self._captured) >= MAX_CAPTURES:
                self._captured.pop(next(iter(self._captured)))
            cap = self._capture(ws, c, head, options)
        self._captured[key] = cap  # now the most recently used
        ran = []
        packed = pack_inputs(c, head)
        ws_changed, head_changed, camera_changed = self._changes(cap, ws, packed, c.numel())
        cap.fresh = False
        if ws_changed:
            cap.ws.copy_(ws, non_blocking=True)
            cap.graphs["latent"].replay()
            ran.append("latent")
        if head_changed or camera_changed:
            cap.inputs.copy_(packed, non_blocking=True)
        if head_changed:
            cap.graphs["head"].replay()
            ran.append("head")
        if camera_changed:
            cap.graphs["camera"].replay()
            ran.append("camera")
        self.stats = StageStats(tuple(ran), {})
        return cap.output

    def _changes(self, cap: _Captured, ws, packed: torch.Tensor, camera_numel: int) -> tuple[bool, bool, bool]:
        """Which stages must re-run (latent, head, camera), each implying the later ones, compared with the last
        inputs as given: the same ws object, unmodified, needs no comparison; CPU inputs compare on the host."""
        seen, cap.seen = cap.seen, (ws, ws._version, packed)
        if cap.fresh or not self.enabled or seen is None or seen[2].device != packed.device:
            return True, True, True
        same_ws = (seen[0] is ws and seen[1] == ws._version) or torch.equal(seen[0], ws)
        head_changed = not same_ws or not torch.equal(seen[2][camera_numel:], packed[camera_numel:])
        return not same_ws, head_changed, head_changed or not torch.equal(seen[2][:camera_numel],
                                                                          packed[:camera_numel])

    def _capture(self, ws, c, head: HeadParams, options: RenderOptions) -> _Captured:
        runner = self.runner
        device = next(runner.G.parameters()).device
        static_ws = ws.detach().to(device, copy=True)
        inputs = pack_inputs(c, head).to(device, copy=True)
        static_c, static_head = unpack_inputs(inputs, c, head)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: cuDNN algorithm choice, extension build, allocator pools
            for _ in range(self.warmup):
                runner.synthesis(static_ws, static_c, static_head, options)
        torch.cuda.current_stream().wait_stream(side)

        graphs = {name: torch.cuda.CUDAGraph() for name in ("latent", "head", "camera")}
        with torch.cuda.graph(graphs["latent"]):
            latent = runner.latent_stage(static_ws, options)
        with torch.cuda.graph(graphs["head"]):
            planes = runner.head_stage(latent, static_ws, static_head, options)
        with torch.cuda.graph(graphs["camera"]):
            output = runner.camera_stage(planes, static_ws, static_c, options)
        return _Captured(static_ws, inputs, static_c, static_head, graphs, output)


def pack_inputs(c: torch.Tensor, head: HeadParams) -> torch.Tensor:
    """The camera labels (B, 25) and head fields as one flat float32 tensor on c's device (compared and copied
    to the GPU in one operation each, not eight)."""
    parts = [c] + [getattr(head, f.name) for f in dataclasses.fields(HeadParams)]
    return torch.cat([p.detach().reshape(-1).float() for p in parts])


def unpack_inputs(flat: torch.Tensor, c: torch.Tensor, head: HeadParams) -> tuple[torch.Tensor, HeadParams]:
    """Views into `flat` shaped like `c` and `head` (the inverse of `pack_inputs`)."""
    names = [f.name for f in dataclasses.fields(HeadParams)]
    parts = [c] + [getattr(head, name) for name in names]
    views = [piece.view(p.shape) for piece, p in zip(flat.split([p.numel() for p in parts]), parts)]
    return views[0], HeadParams(**dict(zip(names, views[1:])))
