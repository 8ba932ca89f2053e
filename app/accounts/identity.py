"""`Identity` lives in `app.identity` (a foundation module every room may carry); this name
stays while the GUI's modules move to it."""

from app.identity import Identity

__all__ = ["Identity"]
