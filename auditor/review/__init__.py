"""The review desk: a local web app where reviewers confirm or dismiss matches (auditor serve)."""
