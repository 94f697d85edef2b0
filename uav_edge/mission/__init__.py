"""The main job: a simulated mission of the whole stack (vehicles, node graph, live view, run report)."""
