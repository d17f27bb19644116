"""Next3D Studio: generator, head models, rasterizer and the headless jobs behind the visualizer."""

__version__ = "0.1.0"
