"""Suite-wide settings: under CI, property tests are derandomized so a landing run is reproducible;
fuzz/run.py and local runs keep exploring random inputs."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
