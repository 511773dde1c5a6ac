"""objproxy: an object store that speaks the OpenStack Swift API."""
import warnings

__version__ = '0.1.0'

# eventlet prints a nine-line deprecation banner on import; in front of
# every command and in every log it only hides the real messages
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
