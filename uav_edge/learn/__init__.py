"""Offline learning for the twin's environments (torch): Tiny MADRL, baselines, export, reproduction."""
