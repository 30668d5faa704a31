"""The Open Inference Protocol V2 (KServe, Triton): its routes, its codec and its schema."""
