"""Motion detection (issue #24): settings, the detector and the tracker that makes events.

A leaf library: numpy, OpenCV and the standard library only (import-linter contracts in
pyproject.toml). The recorder hands it grey pictures, the app service turns its changes into
events; it knows neither. docs/motion.md explains the detector and each setting.
"""
