"""Fakes shipped with the package: in-memory ports and local servers speaking vendors' APIs."""
