"""The twin: the papers' system models as vectorised numpy functions.

Imports nothing from rclpy, torch, onnxruntime or mavsdk (DESIGN.md, "One model, three faces").
"""
