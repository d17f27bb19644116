"""Mesh topology helpers for building head models: boundary loops (holes such as the mouth) and rings."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Closed loops of boundary edges (edges used by one face), each an ordered vertex array.

    Loops follow the faces' winding, longest first. Non-manifold boundaries (a vertex where two holes
    touch) are split where the walk first returns to its start.
    """
    faces = np.asarray(faces, dtype=np.int64)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    undirected = np.sort(edges, axis=1)
    _, inverse, counts = np.unique(undirected, axis=0, return_inverse=True, return_counts=True)
    border = edges[counts[inverse.reshape(-1)] == 1]
    successors: dict[int, list[int]] = defaultdict(list)
    for a, b in border.tolist():
        successors[a].append(b)
    loops: list[np.ndarray] = []
    unused = {(a, b) for a, b in border.tolist()}
    for a, b in sorted(unused):
        if (a, b) not in unused:
            continue
        loop = [a]
        unused.discard((a, b))
        current = b
        while current != a:
            loop.append(current)
            nxt = next((c for c in successors[current] if (current, c) in unused), None)
            if nxt is None:
                break
            unused.discard((current, nxt))
            current = nxt
        loops.append(np.array(loop, dtype=np.int64))
    loops.sort(key=len, reverse=True)
    return loops


def vertex_neighbours(faces: np.ndarray, num_vertices: int) -> list[set[int]]:
    """For each vertex, the set of vertices sharing an edge with it."""
    neighbours: list[set[int]] = [set() for _ in range(num_vertices)]
    for a, b, c in np.asarray(faces, dtype=np.int64).tolist():
        neighbours[a].update((b, c))
        neighbours[b].update((a, c))
        neighbours[c].update((a, b))
    return neighbours


def ring_distance(faces: np.ndarray, num_vertices: int, sources: np.ndarray) -> np.ndarray:
    """Edge-hop distance (V,) from the nearest source vertex (breadth-first); -1 where unreachable."""
    neighbours = vertex_neighbours(faces, num_vertices)
    dist = np.full(num_vertices, -1, dtype=np.int64)
    frontier = [int(s) for s in np.asarray(sources).reshape(-1)]
    dist[frontier] = 0
    step = 0
    while frontier:
        step += 1
        nxt = []
        for v in frontier:
            for n in neighbours[v]:
                if dist[n] < 0:
                    dist[n] = step
                    nxt.append(n)
        frontier = nxt
    return dist
