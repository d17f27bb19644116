"""Our `GeneratorConfig` from an official `TriPlaneGenerator` record: init kwargs, sub-module kwargs, attributes.

Sizes come from what the official constructors were called with (stored as `_init_args`/`_init_kwargs` in
every persistent record), never from tensor shapes: the tensors are then checked against the architecture.
Official settings our generator does not implement are refused with one line naming them.
"""

from __future__ import annotations

from typing import Any

from next3d.errors import BadInputError
from next3d.io.official_records import PersistentRecord, child
from next3d.networks.presets import GeneratorConfig
from next3d.networks.superresolution import SuperResolutionConfig
from next3d.render.volume import RenderSettings

TRIPLANE_CLASS = "TriPlaneGenerator"
# TriPlaneGenerator's positional parameters, in order (Next3D inserts topology_path after img_channels).
EG3D_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "sr_num_fp16_res", "mapping_kwargs",
                   "rendering_kwargs", "sr_kwargs")
NEXT3D_POSITIONAL = EG3D_POSITIONAL[:5] + ("topology_path",) + EG3D_POSITIONAL[5:]
# Official defaults where a kwarg is absent (networks_stylegan2 SynthesisNetwork/SynthesisBlock, MappingNetwork).
SYNTHESIS_DEFAULTS = {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}
MAPPING_DEFAULTS = {"num_layers": 8, "lr_multiplier": 0.01, "w_avg_beta": 0.998, "embed_features": None,
                    "layer_features": None, "activation": "lrelu"}


def official_architecture(record: Any, where: str) -> str:
    """'next3d' or 'eg3d' for an official TriPlaneGenerator record; refuses other networks."""
    if not isinstance(record, PersistentRecord) or record.class_name != TRIPLANE_CLASS:
        name = getattr(record, "class_name", type(record).__name__)
        raise BadInputError(f"{where}: the network is a {name}, not an EG3D/Next3D {TRIPLANE_CLASS}")
    return "next3d" if child(record, "texture_backbone") is not None else "eg3d"


def generator_kwargs(record: PersistentRecord, architecture: str) -> dict:
    """The generator's constructor arguments by name (positional ones named after the official signature)."""
    names = NEXT3D_POSITIONAL if architecture == "next3d" else EG3D_POSITIONAL
    kwargs = dict(zip(names, record.init_args))
    kwargs.update(record.init_kwargs)
    return kwargs


def official_generator_config(record: PersistentRecord, where: str) -> tuple[GeneratorConfig, list[str]]:
    """The config that rebuilds this network with our modules, plus notes on settings read from the file."""
    architecture = official_architecture(record, where)
    kw = generator_kwargs(record, architecture)
    rendering = _rendering_kwargs(record, kw, where)
    notes: list[str] = []
    synth = {k: kw.get(k, v) for k, v in SYNTHESIS_DEFAULTS.items()}

    static = _sub_kwargs(record, "backbone", where)
    plane_res = _int(static, "img_resolution", f"{where}: backbone")
    static_channels = _int(static, "img_channels", f"{where}: backbone")
    if static_channels % 3:
        raise BadInputError(f"{where}: backbone img_channels {static_channels} is not 3 planes' worth")
    channels = static_channels // 3
    mapping = {**MAPPING_DEFAULTS, **_sub_kwargs(record, "backbone.mapping", where)}
    for key in ("lr_multiplier", "w_avg_beta", "embed_features", "layer_features", "activation"):
        if mapping[key] != MAPPING_DEFAULTS[key]:
            raise BadInputError(f"{where}: mapping {key}={mapping[key]!r} is not supported (only {MAPPING_DEFAULTS[key]!r})")

    fields: dict[str, Any] = {}
    if architecture == "next3d":
        fields.update(_next3d_fields(record, plane_res, channels, where))

    sr_record = child(record, "superresolution")
    sr_name = getattr(sr_record, "class_name", None) or rendering.get("superresolution_module", "")
    try:
        sr = SuperResolutionConfig.official(str(sr_name))
    except ValueError as exc:
        raise BadInputError(f"{where}: {exc}") from None
    sr_kw = sr_record.init_kwargs if isinstance(sr_record, PersistentRecord) else {}
    if not rendering.get("sr_antialias", sr_kw.get("sr_antialias", True)):
        raise BadInputError(f"{where}: sr_antialias=False is not supported")
    img_res = int(kw.get("img_resolution", sr.img_resolution))
    if img_res != sr.img_resolution:
        raise BadInputError(f"{where}: img_resolution {img_res} does not match {sr_name} ({sr.img_resolution})")

    hidden, decoder_lr = _decoder_sizes(record, channels, where)
    neural = record.state.get("neural_rendering_resolution", 64)
    if not isinstance(neural, int) or isinstance(neural, bool) or neural < 1:
        raise BadInputError(f"{where}: neural_rendering_resolution {neural!r} is not a positive integer")
    notes.append(f"neural rendering resolution {neural} (from the network), {rendering['depth_resolution']} + "
                 f"{rendering['depth_resolution_importance']} samples per ray")

    config = GeneratorConfig(
        preset="imported", z_dim=_int(kw, "z_dim", where), w_dim=_int(kw, "w_dim", where),
        c_dim=_int(kw, "c_dim", where), mapping_layers=int(mapping["num_layers"]),
        c_scale=0.0 if rendering.get("c_gen_conditioning_zero") else float(rendering.get("c_scale", 0)),
        img_resolution=img_res, neural_rendering_resolution=neural, plane_resolution=plane_res,
        plane_channels=channels, channel_base=int(synth["channel_base"]), channel_max=int(synth["channel_max"]),
        num_fp16_res=int(synth["num_fp16_res"]), conv_clamp=synth["conv_clamp"],
        sr_block_channels=sr.block_channels, sr_upsample_first=sr.upsample_first,
        sr_num_fp16_res=int(kw.get("sr_num_fp16_res", 0)), decoder_hidden=hidden, decoder_lr_multiplier=decoder_lr,
        rendering=_render_settings(rendering, where), official_plane_layout=architecture == "next3d",
        architecture=architecture, **fields)
    return config, notes


def _next3d_fields(record: PersistentRecord, plane_res: int, channels: int, where: str) -> dict:
    texture = _sub_kwargs(record, "texture_backbone", where)
    mouth = _sub_kwargs(record, "mouth_backbone", where)
    blend = _sub_kwargs(record, "neural_blending", where)
    expected = [("texture_backbone", texture, "img_resolution", plane_res), ("texture_backbone", texture, "img_channels", channels)]
    for name, sub in (("mouth_backbone", mouth), ("neural_blending", blend)):
        expected += [(name, sub, "img_resolution", plane_res), (name, sub, "img_channels", channels),
                     (name, sub, "cond_channels", channels), (name, sub, "num_cond_res", _int(sub, "in_size", f"{where}: {name}"))]
    expected.append(("neural_blending", blend, "in_size", plane_res))
    for name, sub, key, value in expected:
        if _int(sub, key, f"{where}: {name}") != value:
            raise BadInputError(f"{where}: {name} {key}={sub[key]} is not supported (this generator needs {value})")
    if record.state.get("load_lms", True) is not True:
        raise BadInputError(f"{where}: load_lms=False (no landmarks in the input) is not supported")
    return {"mouth_in_size": _int(mouth, "in_size", where), "mouth_final_size": _int(mouth, "final_size", where),
            "blend_final_size": _int(blend, "final_size", where)}


def _decoder_sizes(record: PersistentRecord, channels: int, where: str) -> tuple[int, float]:
    first, last = child(record, "decoder.net.0"), child(record, "decoder.net.2")
    if not isinstance(first, PersistentRecord) or not isinstance(last, PersistentRecord):
        raise BadInputError(f"{where}: decoder.net.0 / decoder.net.2 layers not found")
    sizes = [_layer_sizes(first, where), _layer_sizes(last, where)]
    if sizes[0][0] != channels or sizes[1] != (sizes[0][1], channels + 1):
        raise BadInputError(f"{where}: decoder layers {sizes} do not fit {channels} plane channels")
    return sizes[0][1], float(first.init_kwargs.get("lr_multiplier", 1))


def _layer_sizes(layer: PersistentRecord, where: str) -> tuple[int, int]:
    kw = dict(zip(("in_features", "out_features"), layer.init_args)) | layer.init_kwargs
    return _int(kw, "in_features", f"{where}: decoder"), _int(kw, "out_features", f"{where}: decoder")


def _rendering_kwargs(record: PersistentRecord, kw: dict, where: str) -> dict:
    rendering = record.state.get("rendering_kwargs", kw.get("rendering_kwargs"))
    if not isinstance(rendering, dict):
        raise BadInputError(f"{where}: no rendering_kwargs")
    for key in ("ray_start", "ray_end", "box_warp", "depth_resolution", "depth_resolution_importance"):
        if key not in rendering:
            raise BadInputError(f"{where}: rendering_kwargs has no {key}")
    return rendering


def _render_settings(rendering: dict, where: str) -> RenderSettings:
    for key in ("ray_start", "ray_end"):
        if not isinstance(rendering[key], (int, float)) or isinstance(rendering[key], bool):
            raise BadInputError(f"{where}: rendering_kwargs {key}={rendering[key]!r} is not supported (numbers only)")
    if rendering.get("clamp_mode", "softplus") != "softplus":
        raise BadInputError(f"{where}: clamp_mode {rendering['clamp_mode']!r} is not supported (softplus only)")
    if rendering.get("disparity_space_sampling", False):
        raise BadInputError(f"{where}: disparity_space_sampling=True is not supported")
    return RenderSettings(ray_start=float(rendering["ray_start"]), ray_end=float(rendering["ray_end"]),
                          box_warp=float(rendering["box_warp"]), samples=int(rendering["depth_resolution"]),
                          importance_samples=int(rendering["depth_resolution_importance"]),
                          white_back=bool(rendering.get("white_back", False)))


def _sub_kwargs(record: PersistentRecord, path: str, where: str) -> dict:
    sub = child(record, path)
    if not isinstance(sub, PersistentRecord):
        raise BadInputError(f"{where}: has no '{path}' network")
    return sub.init_kwargs


def _int(values: dict, key: str, where: str) -> int:
    value = values.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInputError(f"{where}: {key} is {value!r}, expected an integer")
    return value
