"""Runtime policy loading (onnxruntime + numpy only; never torch)."""
