"""auditor — output-similarity auditor for generated video.

Index a rights holder's catalogue, scan suspect clips against it, and write evidence a rights
team can attach to an inquiry and an opposing expert can reproduce.
"""

__version__ = "0.1.0"
