"""auditor — output-similarity auditor for generated video.

Index a rights holder's catalogue, scan suspect clips against it, and write evidence a rights
team can attach to an inquiry and an opposing expert can reproduce.
"""

__version__ = "0.1.0"

import os as _os

# OpenCV's own log lines ("[ WARN:0@0.215] global cap.cpp ...") and FFmpeg's ("moov atom not
# found") go straight to stderr from C++, between our one-line messages; every failure they
# describe already reaches the user as that input's one line with its reason. Set before cv2 is
# imported anywhere (worker processes inherit them); a user's own setting wins.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
# FAISS's OpenMP threads sleep between searches instead of spinning (see reference_index).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
