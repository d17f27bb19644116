"""Files in and out: checkpoints (safetensors + JSON), official pickle import, the restricted unpickler."""
