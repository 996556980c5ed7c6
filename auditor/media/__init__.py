"""Reading clips and stills: frames with true timestamps and limits (reader), frames again by
time for verification and exhibits (frames), picture operations (images), provenance, and the
synthetic footage of the demo and the tests (synth)."""
