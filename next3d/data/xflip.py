"""x-flip augmentation: mirror image, camera and head data consistently (reflect the world in x = 0)."""

from __future__ import annotations

import torch

from next3d.data.head_link import head_for_section
from next3d.errors import BadInputError
from next3d.head.params import HeadParams
from next3d.render.camera import mirror_label


def flip_image(image: torch.Tensor) -> torch.Tensor:
    """Mirror (..., H, W) images left-right."""
    return image.flip(-1)


def mirror_labels(labels: torch.Tensor) -> torch.Tensor:
    """Labels (N, 25) of the x-mirrored scene, seen in the left-right flipped image (camera.mirror_label)."""
    return mirror_label(labels) if len(labels) else labels.clone()


class HeadMirror:
    """Mirrors head-parameter vectors and vertex arrays of one head model (its left/right tables)."""

    def __init__(self, head):
        self.head = head

    @classmethod
    def for_dataset(cls, index, vertex_count: int | None, head=None) -> HeadMirror | None:
        """The mirror for a dataset's head data (None when it has none), checking it fits `head`."""
        if index.head_section is None and index.vertex_files is None:
            return None
        head = head_for_section(index.head_section, head)
        if index.vertex_files is not None:
            if not head.has_vertex_mirror:
                raise BadInputError(f"x-flip of per-image vertices needs the head model's vertex_mirror table; "
                                    f"head '{head.name}' has none (train without xflip, or use head parameters)")
            if vertex_count is not None and vertex_count != head.num_vertices:
                raise BadInputError(f"the dataset's vertex files have {vertex_count} vertices but head "
                                    f"'{head.name}' has {head.num_vertices}; pass the head model they belong to")
        return cls(head)

    def vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """Mirror (N, D) head vectors (HeadParams.to_vector order) with HeadParams.mirrored."""
        if not len(vectors):
            return vectors.clone()
        device = self.head.v_template.device
        with torch.no_grad():
            params = HeadParams.from_vector(vectors.to(device), self.head)
            return params.mirrored(self.head).to_vector().to(device=vectors.device, dtype=vectors.dtype)

    def vertices(self, vertices: torch.Tensor) -> torch.Tensor:
        """Mirror (..., V, 3) native-unit vertices: reflect the world x and renumber by vertex_mirror."""
        shift_x = float(self.head.world_shift[0])
        mirrored = vertices[..., self.head.vertex_mirror.cpu(), :].clone()
        mirrored[..., 0] = -mirrored[..., 0] - 2.0 * shift_x  # world x = (x + shift_x) * scale flips sign
        return mirrored
