"""Path planning for the trajectory planner (issue 4): A* on a grid of the area, around no-fly cells.

Frame: the scenario's local ENU, metres, origin at the area's south-west corner. The area is cut
into square cells of `cell_m`; a cell is blocked when its centre lies inside a no-fly rectangle
[x0, y0, x1, y1] (inflated by `margin_m`). Moves go to the 8 neighbours (no corner cutting past
blocked cells), cost = Euclidean step length in m, heuristic = straight-line distance (admissible,
so A* returns a shortest grid path). Coverage visits points in nearest-neighbour order [A].
"""
import heapq

import numpy as np


class PlanningError(ValueError):
    """A planning input is out of range or no path exists (the message names the parameter)."""


def _finite(name, value, shape_tail=None):
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise PlanningError(f'{name}: must be finite, got {arr}')
    if shape_tail is not None and (arr.ndim == 0 or arr.shape[-1] != shape_tail):
        raise PlanningError(f'{name}: expected shape (..., {shape_tail}), got {arr.shape}')
    return arr


def occupancy_grid(area_size_m, no_fly_m, cell_m, margin_m=0.0):
    """Boolean grid (nx, ny), True = blocked: cells whose centre is in a no-fly rectangle (+ margin_m)."""
    size = _finite('area_size_m', area_size_m)
    if size.shape != (2,) or np.any(size <= 0):
        raise PlanningError(f'area_size_m: expected [x, y] > 0 in m, got {size}')
    if not np.isfinite(cell_m) or cell_m <= 0:
        raise PlanningError(f'cell_m: must be finite and > 0, got {cell_m}')
    cells = _finite('no_fly_m', np.asarray(no_fly_m, dtype=float).reshape(-1, 4), 4)
    nx, ny = (int(np.ceil(s / cell_m)) for s in size)
    cx = (np.arange(nx) + 0.5) * cell_m
    cy = (np.arange(ny) + 0.5) * cell_m
    blocked = np.zeros((nx, ny), dtype=bool)
    for x0, y0, x1, y1 in cells:
        bx = (cx >= x0 - margin_m) & (cx <= x1 + margin_m)
        by = (cy >= y0 - margin_m) & (cy <= y1 + margin_m)
        blocked |= bx[:, None] & by[None, :]
    return blocked


def cell_of(point_m, cell_m, shape):
    """Grid index (ix, iy) of an (x, y[, z]) point in m, clipped to the grid."""
    p = _finite('point_m', point_m)
    return (int(np.clip(p[0] // cell_m, 0, shape[0] - 1)), int(np.clip(p[1] // cell_m, 0, shape[1] - 1)))


def cell_centre(cell, cell_m):
    """(x, y) in m of a grid cell's centre."""
    return np.array([(cell[0] + 0.5) * cell_m, (cell[1] + 0.5) * cell_m])


_MOVES = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]


def astar(blocked, start, goal):
    """Shortest 8-connected path of grid cells from start to goal (both included); PlanningError if none."""
    blocked = np.asarray(blocked, dtype=bool)
    nx, ny = blocked.shape
    for name, cell in (('start', start), ('goal', goal)):
        if not (0 <= cell[0] < nx and 0 <= cell[1] < ny):
            raise PlanningError(f'{name}: cell {cell} is outside the {nx} x {ny} grid')
        if blocked[cell]:
            raise PlanningError(f'{name}: cell {cell} is inside a no-fly cell')
    start, goal = tuple(start), tuple(goal)

    def h(c):
        return float(np.hypot(c[0] - goal[0], c[1] - goal[1]))

    cost = {start: 0.0}
    parent = {start: None}
    frontier = [(h(start), 0, start)]
    tie = 0
    while frontier:
        _, _, cell = heapq.heappop(frontier)
        if cell == goal:
            path = []
            while cell is not None:
                path.append(cell)
                cell = parent[cell]
            return path[::-1]
        for dx, dy in _MOVES:
            nxt = (cell[0] + dx, cell[1] + dy)
            if not (0 <= nxt[0] < nx and 0 <= nxt[1] < ny) or blocked[nxt]:
                continue
            if dx and dy and (blocked[cell[0] + dx, cell[1]] or blocked[cell[0], cell[1] + dy]):
                continue                                  # no cutting the corner of a no-fly cell
            new_cost = cost[cell] + (1.4142135623730951 if dx and dy else 1.0)
            if new_cost < cost.get(nxt, np.inf):
                cost[nxt] = new_cost
                parent[nxt] = cell
                tie += 1
                heapq.heappush(frontier, (new_cost + h(nxt), tie, nxt))
    raise PlanningError(f'goal: no path from cell {start} to cell {goal} around the no-fly cells')


def simplify(cells):
    """Drop the interior cells of straight runs (same step direction): fewer waypoints, same path."""
    if len(cells) <= 2:
        return list(cells)
    kept = [cells[0]]
    for prev, cur, nxt in zip(cells, cells[1:], cells[2:]):
        if (cur[0] - prev[0], cur[1] - prev[1]) != (nxt[0] - cur[0], nxt[1] - cur[1]):
            kept.append(cur)
    kept.append(cells[-1])
    return kept


def plan_path(start_m, goal_m, blocked, cell_m):
    """Waypoints (K, 2) in m from start to goal: the exact start, A* cell centres, the exact goal.

    A start inside a no-fly cell (e.g. after a GPS jump) leaves from the nearest free cell.
    """
    start_m, goal_m = _finite('start_m', start_m)[:2], _finite('goal_m', goal_m)[:2]
    s = _nearest_free(blocked, cell_of(start_m, cell_m, blocked.shape))
    g = cell_of(goal_m, cell_m, blocked.shape)
    if blocked[g]:
        raise PlanningError(f'goal_m: {goal_m.tolist()} is inside a no-fly cell')
    cells = simplify(astar(blocked, s, g))
    points = [start_m] + [cell_centre(c, cell_m) for c in cells[1:-1]] + [goal_m]
    return np.array(points)


def _nearest_free(blocked, cell):
    if not blocked[cell]:
        return cell
    free = np.argwhere(~blocked)
    if free.size == 0:
        raise PlanningError('no_fly_m: every cell of the area is blocked')
    k = np.argmin(np.hypot(free[:, 0] - cell[0], free[:, 1] - cell[1]))
    return tuple(int(v) for v in free[k])


def coverage_order(start_m, points_m):
    """Indices of points_m (N, 2+) in nearest-neighbour visiting order from start_m (a greedy tour) [A]."""
    pts = _finite('points_m', np.asarray(points_m, dtype=float).reshape(-1, np.shape(points_m)[-1]
                                                                          if np.ndim(points_m) > 1 else 2))
    here = _finite('start_m', start_m)[:2]
    left = list(range(len(pts)))
    order = []
    while left:
        k = min(left, key=lambda n: float(np.hypot(*(pts[n, :2] - here))))
        order.append(k)
        left.remove(k)
        here = pts[k, :2]
    return order


def plan_coverage(start_m, points_m, blocked, cell_m, return_to_m=None):
    """Waypoints (K, 2) in m visiting every point (nearest-neighbour order), A* between them.

    Points inside no-fly cells are skipped (they cannot be overflown). With return_to_m the tour
    ends there (e.g. home).
    """
    pts = np.asarray(points_m, dtype=float).reshape(-1, np.shape(points_m)[-1] if np.ndim(points_m) > 1 else 2)
    visit = [p[:2] for p in pts if not blocked[cell_of(p, cell_m, blocked.shape)]]
    legs, here = [np.asarray(start_m, dtype=float)[None, :2]], np.asarray(start_m, dtype=float)[:2]
    stops = [visit[k] for k in coverage_order(here, np.array(visit).reshape(-1, 2))] if visit else []
    if return_to_m is not None:
        stops.append(np.asarray(return_to_m, dtype=float)[:2])
    for stop in stops:
        leg = plan_path(here, stop, blocked, cell_m)
        legs.append(leg[1:])
        here = stop
    return np.concatenate(legs)


def path_length(waypoints_m):
    """Length in m of a polyline (K, 2+)."""
    w = np.asarray(waypoints_m, dtype=float)
    return float(np.sum(np.linalg.norm(np.diff(w[:, :2], axis=0), axis=1))) if len(w) > 1 else 0.0


def assign_to_nearest(points_m, anchors_m):
    """Index of the nearest anchor (e.g. UAV home) for every point (e.g. user), shape (N,) [A]."""
    p = np.asarray(points_m, dtype=float).reshape(-1, np.shape(points_m)[-1] if np.ndim(points_m) > 1 else 3)
    a = np.asarray(anchors_m, dtype=float)
    if len(p) == 0:
        return np.zeros(0, dtype=int)
    return np.argmin(np.linalg.norm(p[:, None, :2] - a[None, :, :2], axis=-1), axis=1)
