"""objproxy: a Swift-API object store."""
import glob
import os
import re

from setuptools import find_packages, setup


def package_version():
    """``__version__`` from objproxy/__init__.py, read as text: importing
    the package would need its dependencies before they are installed."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'objproxy', '__init__.py')
    with open(path) as fp:
        match = re.search(r"^__version__ = '([^']+)'$", fp.read(), re.M)
    return match.group(1)


setup(
    name='objproxy',
    version=package_version(),
    description='An object store that speaks the OpenStack Swift API',
    python_requires='>=3.9',
    packages=find_packages(include=['objproxy', 'objproxy.*',
                                    'middleware', 'middleware.*']),
    include_package_data=True,
    # files only: a directory in a data_files list fails the install
    data_files=[('share/objproxy/etc',
                 [f for f in glob.glob('etc/*') if os.path.isfile(f)]),
                ('share/objproxy/etc/systemd', glob.glob('etc/systemd/*'))],
    package_data={'objproxy': ['data/*', 'data/*/*']},
    install_requires=[
        'webob>=1.8',
        'PasteDeploy>=2.0',
        'eventlet>=0.33',
        'pyclamd>=0.4.0',
        # per-block object checksums (hardware CRC32C, ~3 GB/s)
        'crc32c>=2.3',
    ],
    extras_require={
        'test': ['pytest>=7', 'pytest-timeout>=2', 'python-swiftclient>=4',
                 'selenium>=4.10'],
    },
    entry_points={
        'paste.app_factory': [
            'proxy_server = objproxy.proxy.server:app_factory',
            'storage_server = objproxy.storage.node:app_factory',
            'object_server = objproxy.storage.object_server:app_factory',
            'container_server = objproxy.storage.container_server:app_factory',
            'account_server = objproxy.storage.account_server:app_factory',
        ],
        'paste.filter_factory': [
            'catch_errors = middleware.catch_errors:filter_factory',
            'gatekeeper = middleware.gatekeeper:filter_factory',
            'healthcheck = middleware.healthcheck:filter_factory',
            'proxy_logging = middleware.proxy_logging:filter_factory',
            'ratelimit = middleware.ratelimit:filter_factory',
            'tempauth = middleware.tempauth:filter_factory',
            'clamav = middleware.clamav:filter_factory',
            'dlo = middleware.dlo:filter_factory',
            'slo = middleware.slo:filter_factory',
            'copy = middleware.copy:filter_factory',
            'listing_formats = middleware.listing_formats:filter_factory',
            'symlink = middleware.symlink:filter_factory',
            'versioned_writes = middleware.versioned_writes:filter_factory',
            'tempurl = middleware.tempurl:filter_factory',
            'formpost = middleware.formpost:filter_factory',
            'bulk = middleware.bulk:filter_factory',
            'container_quotas = middleware.container_quotas:filter_factory',
            'account_quotas = middleware.account_quotas:filter_factory',
            'staticweb = middleware.staticweb:filter_factory',
            'etag_quoter = middleware.etag_quoter:filter_factory',
        ],
        'console_scripts': [
            'objproxy-server = objproxy.cli.server:main',
            'objproxy-ring-builder = objproxy.cli.ring_builder:main',
            'objproxy-aio = objproxy.cli.aio:main',
            'objproxy-replicator = objproxy.cli.daemons:replicator_main',
            'objproxy-auditor = objproxy.cli.daemons:auditor_main',
            'objproxy-updater = objproxy.cli.daemons:updater_main',
            'objproxy-expirer = objproxy.cli.expirer:main',
            'objproxy-rescanner = objproxy.cli.rescanner:main',
            'objproxy-recon = objproxy.cli.recon:main',
        ],
    },
)
