"""Small torch helpers shared by the model code: building custom CUDA ops (custom_ops)."""
