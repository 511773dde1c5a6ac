"""objproxy: an object store that speaks the OpenStack Swift API."""
__version__ = '0.1.0'
