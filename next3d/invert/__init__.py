"""Photo to avatar: fit a latent (and camera) to an image, optionally fine-tune the generator around it (PTI).

Entry point for programs and the GUI: `next3d.invert.pipeline.run_inversion`; files: `next3d.invert.outputs`.
"""
