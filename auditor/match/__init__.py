"""Matching: alignment of hits into segments in time (segments), geometric verification
(geometry), p-values from null distributions (calibration), and the one decision that turns them
into levels and a verdict (decision)."""
