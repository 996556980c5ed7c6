"""Building the reference side: adding a catalogue to an index (ingest) and the null
distributions p-values are drawn from (calibrate)."""
