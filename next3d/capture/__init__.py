"""Rendering frames for people: the args/result records, the renderer, and capture jobs (images, videos, states).

Shared by the visualizer (viz/) and the headless commands (`python -m next3d render|video`), so both produce
the same pixels from the same settings.
"""
