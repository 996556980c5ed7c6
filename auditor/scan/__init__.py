"""Scanning: one clip (scanner, pipeline, exhibits, assemble) and many (batch, inputs, engines)."""
