"""Lip-contour landmarks from mesh loops, in iBUG order (right corner, upper lip, left corner, lower lip).

"Right" is the subject's right (-x, the image's left in a frontal view), as in iBUG-68 where point 48 is
that corner and 54 the other.
"""

from __future__ import annotations

import numpy as np


def lip_chains(loop: np.ndarray, positions: np.ndarray) -> tuple[list[int], list[int]]:
    """Split a closed vertex loop around the mouth at its extreme-x vertices.

    Returns the upper chain (subject's right corner -> left corner, -x -> +x) and the lower chain (left
    corner -> right corner); the upper one is the chain with the higher mean y.
    """
    loop = [int(v) for v in loop]
    start = int(np.argmin(positions[loop, 0]))
    loop = loop[start:] + loop[:start]                      # begins at the right corner (-x)
    left = int(np.argmax(positions[loop, 0]))
    one_way = loop[:left + 1]                               # right corner -> left corner along one side
    other_way = [loop[0]] + loop[left:][::-1]               # right corner -> left corner along the other
    if positions[one_way, 1].mean() >= positions[other_way, 1].mean():
        upper, lower_right_to_left = one_way, other_way
    else:
        upper, lower_right_to_left = other_way, one_way
    return upper, lower_right_to_left[::-1]


def sample_chain(chain: list[int], positions: np.ndarray, count: int, mirror: np.ndarray | None = None) -> list[int]:
    """`count` vertices at even arc-length steps along a chain (its first vertex included, its last not).

    With a vertex `mirror` map the picks are made exactly symmetric: the middle pick is the midline vertex
    nearest x = 0 and the second half mirrors the first.
    """
    pts = positions[chain]
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    picks = [chain[int(np.argmin(np.abs(arc - arc[-1] * k / count)))] for k in range(count)]
    if mirror is None:
        return picks
    for k in range(1, count):
        if 2 * k == count:
            midline = [v for v in chain if mirror[v] == v]
            if not midline:
                raise ValueError("no midline vertex on a lip contour")
            picks[k] = min(midline, key=lambda v: abs(positions[v, 0]))
        elif 2 * k > count:
            picks[k] = int(mirror[picks[count - k]])
    return picks


def contour_landmarks(loop: np.ndarray, positions: np.ndarray, count: int,
                      mirror: np.ndarray | None = None) -> list[int]:
    """`count` (even) vertex ids around a lip loop: right corner, upper lip, left corner, lower lip back."""
    upper, lower = lip_chains(loop, positions)
    half = count // 2
    return sample_chain(upper, positions, half, mirror) + sample_chain(lower, positions, half, mirror)


def embed_vertices(faces: np.ndarray, vertex_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks on vertices: (face index, one-hot barycentric weights) of the first face using each vertex."""
    face_of, bary = [], []
    for vid in vertex_ids:
        rows, cols = np.nonzero(faces == vid)
        if len(rows) == 0:
            raise ValueError(f"vertex {vid} is used by no face")
        face_of.append(int(rows[0]))
        weights = np.zeros(3)
        weights[cols[0]] = 1.0
        bary.append(weights)
    return np.array(face_of, dtype=np.int64), np.array(bary).reshape(-1, 3)
