"""Cameras (EG3D 25-d labels), ray sampling, tri-plane sampling and two-pass importance volume rendering."""
