"""Small shared helpers: atomic file writes, device choice, logging, EMA, file hashes."""
