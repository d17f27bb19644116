"""The `python -m next3d` command line: a click group whose subcommands load lazily.

Every command shares one failure behaviour (see `run_guarded`): a user error prints one line naming what
and where and exits 1; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from next3d.errors import Next3DError

# name -> "module:attribute". Modules are imported only when their command runs (fast --help, no torch
# import for commands that do not need it).
COMMANDS: dict[str, str] = {
    "bench": "next3d.cli.bench:bench",
    "dataset": "next3d.cli.dataset:dataset",
    "export": "next3d.cli.export:export",
    "gen-from-latents": "next3d.cli.diffusion:gen_from_latents",
    "head": "next3d.cli.head:head",
    "invert": "next3d.cli.invert:invert",
    "import-pkl": "next3d.cli.import_pkl:import_pkl",
    "render": "next3d.cli.render:render",
    "sample-diffusion": "next3d.cli.diffusion:sample_diffusion",
    "save-samples": "next3d.cli.diffusion:save_samples",
    "train": "next3d.cli.train:train",
    "train-diffusion": "next3d.cli.diffusion:train_diffusion",
    "video": "next3d.cli.video:video",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module_name, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)


def describe_exception(exc: BaseException) -> str:
    """One line for an unexpected exception, naming its type and message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_guarded(debug: bool, fn, *args, **kwargs):
    """Run `fn`, turning every failure into one clear line and a non-zero exit (traceback with --debug)."""
    try:
        return fn(*args, **kwargs)
    except click.exceptions.NoArgsIsHelpError:
        raise
    except click.ClickException as exc:
        report_click_error(exc)
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place every error is reported
        if debug:
            traceback.print_exc()
        if isinstance(exc, Next3DError):
            click.echo(f"error: {exc}", err=True)
        elif _is_cuda_oom(exc):
            click.echo(
                "error: out of GPU memory; use a smaller --batch, a smaller preset, or --device cpu", err=True
            )
        else:
            hint = "" if debug else " (run with --debug for the traceback)"
            click.echo(f"error: {describe_exception(exc)}{hint}", err=True)
        sys.exit(1)


def report_click_error(exc: click.ClickException) -> None:
    """A bad argument or unreadable file as one line naming the command, then exit with click's code (2 for usage)."""
    ctx = getattr(exc, "ctx", None)
    where = f"{ctx.command_path}: " if ctx is not None else ""
    click.echo(f"error: {where}{' '.join(exc.format_message().split())}", err=True)
    sys.exit(exc.exit_code)


def _is_cuda_oom(exc: BaseException) -> bool:
    oom_type = getattr(getattr(sys.modules.get("torch"), "cuda", None), "OutOfMemoryError", None)
    return (oom_type is not None and isinstance(exc, oom_type)) or "CUDA out of memory" in str(exc)


class GuardedGroup(LazyGroup):
    """Adds the shared failure behaviour around every subcommand."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.ClickException as exc:  # bad top-level options: one line too
            report_click_error(exc)

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug")) or os.environ.get("NEXT3D_DEBUG") == "1"
        return run_guarded(debug, super().invoke, ctx)


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="next3d-studio")
def main(debug: bool) -> None:
    """Next3D Studio: headless jobs (datasets, training, rendering, diffusion prior, benchmarks)."""
