"""The Next3D Studio visualizer: the app, one small file per widget, and the asynchronous renderer client."""
