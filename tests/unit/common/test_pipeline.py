"""The proxy inserts catch_errors, gatekeeper, listing_formats, copy, slo,
dlo and versioned_writes into proxy pipelines that leave them out, and
says so in its log."""
import os

import pytest

from objproxy.cli.aio_layout import AioLayout
from objproxy.common import pipeline, wsgi

DEFAULT = ('catch_errors gatekeeper healthcheck proxy_logging ratelimit '
           'tempauth clamav proxy_logging proxy_server').split()


@pytest.mark.parametrize('names,want', [
    (DEFAULT[:-1],
     'catch_errors gatekeeper healthcheck proxy_logging listing_formats '
     'ratelimit tempauth copy clamav slo dlo versioned_writes '
     'proxy_logging'),
    # catch_errors first, gatekeeper right after it
    ('tempauth'.split(),
     'catch_errors gatekeeper listing_formats tempauth copy slo dlo '
     'versioned_writes'),
    ('catch_errors tempauth'.split(),
     'catch_errors gatekeeper listing_formats tempauth copy slo dlo '
     'versioned_writes'),
    # a lone proxy_logging at the end still goes last
    ('catch_errors gatekeeper proxy_logging'.split(),
     'catch_errors gatekeeper listing_formats copy slo dlo '
     'versioned_writes proxy_logging'),
    # never left of auth or scanning, wherever proxy_logging is
    ('catch_errors gatekeeper proxy_logging tempauth clamav '
     'proxy_logging'.split(),
     'catch_errors gatekeeper proxy_logging listing_formats tempauth copy '
     'clamav slo dlo versioned_writes proxy_logging'),
    # one present: the other is placed in Swift's relative order
    ('catch_errors gatekeeper tempauth slo proxy_logging'.split(),
     'catch_errors gatekeeper listing_formats tempauth copy slo dlo '
     'versioned_writes proxy_logging'),
    ('catch_errors gatekeeper tempauth dlo proxy_logging'.split(),
     'catch_errors gatekeeper listing_formats tempauth copy slo dlo '
     'versioned_writes proxy_logging'),
    ('catch_errors gatekeeper tempauth dlo slo'.split(),
     'catch_errors gatekeeper listing_formats tempauth copy dlo slo '
     'versioned_writes'),
    ([], 'catch_errors gatekeeper listing_formats copy slo dlo '
         'versioned_writes'),
    # versioned_writes stays left of symlink
    ('catch_errors gatekeeper tempauth symlink proxy_logging'.split(),
     'catch_errors gatekeeper listing_formats tempauth copy slo dlo '
     'versioned_writes symlink proxy_logging'),
    # copy goes left of quotas and clamav, so the PUT it makes is checked
    # and scanned; listing_formats right of the first proxy_logging
    ('catch_errors gatekeeper healthcheck proxy_logging etag_quoter bulk '
     'tempurl ratelimit formpost tempauth staticweb container_quotas '
     'account_quotas clamav slo dlo versioned_writes symlink '
     'proxy_logging'.split(),
     'catch_errors gatekeeper healthcheck proxy_logging listing_formats '
     'etag_quoter bulk tempurl ratelimit formpost tempauth staticweb copy '
     'container_quotas account_quotas clamav slo dlo versioned_writes '
     'symlink proxy_logging'),
    # configured already: left where the config puts them
    ('gatekeeper catch_errors copy tempauth listing_formats slo dlo '
     'versioned_writes proxy_logging'.split(),
     'gatekeeper catch_errors copy tempauth listing_formats slo dlo '
     'versioned_writes proxy_logging'),
])
def test_planned_order(names, want):
    assert pipeline.planned_pipeline(names) == want.split()


CONF = '''
[DEFAULT]
objproxy_dir = %(etc)s
log_file = %(log)s

[pipeline:main]
pipeline = %(pipeline)s

[app:proxy_server]
use = egg:objproxy#proxy_server

[app:other]
paste.app_factory = tests.unit.common.test_pipeline:other_app

[filter:catch_errors]
use = egg:objproxy#catch_errors

[filter:gatekeeper]
use = egg:objproxy#gatekeeper

[filter:proxy_logging]
use = egg:objproxy#proxy_logging

[filter:tempauth]
use = egg:objproxy#tempauth
user_test_tester = testing .admin

[filter:my_slo]
use = egg:objproxy#slo
max_manifest_segments = 7
'''


def other_app(global_conf, **local_conf):
    def app(env, start_response):
        start_response('200 OK', [])
        return [b'other']
    return app


@pytest.fixture(scope='module')
def etc_dir(tmp_path_factory):
    layout = AioLayout(str(tmp_path_factory.mktemp('pipe')), 8080,
                       [6010, 6020, 6030, 6040])
    os.makedirs(layout.etc_dir)
    layout.write_hash_conf()
    layout.write_rings()
    return layout.etc_dir


def chain(app):
    names = []
    while app is not None:
        names.append(type(app).__name__)
        app = getattr(app, 'app', None)
    return names


def load(tmp_path, etc_dir, line):
    path = tmp_path / 'proxy.conf'
    path.write_text(CONF % {'etc': etc_dir, 'pipeline': line,
                            'log': str(tmp_path / 'log')})
    return wsgi.load_app(str(path))


def test_proxy_pipeline_gets_the_required_filters(tmp_path, etc_dir):
    app = load(tmp_path, etc_dir, 'catch_errors gatekeeper tempauth '
               'proxy_logging proxy_server')
    names = chain(app)
    assert names[2] == 'ListingFormats'      # right after gatekeeper
    assert names.index('TempAuth') < names.index('ServerSideCopy')
    assert names[names.index('ServerSideCopy'):] == [
        'ServerSideCopy', 'StaticLargeObject', 'DynamicLargeObject',
        'VersionedWritesMiddleware', names[-2], 'Application']
    assert 'Logging' in names[-2]     # the final proxy_logging stays last


def test_each_insertion_is_logged_as_swift_does(tmp_path, etc_dir):
    load(tmp_path, etc_dir, 'catch_errors gatekeeper tempauth '
         'proxy_logging proxy_server')
    log = (tmp_path / 'log').read_text()
    for line in ('Adding required filter listing_formats to pipeline at '
                 'position 2',
                 'Adding required filter copy to pipeline at position 4',
                 'Adding required filter slo to pipeline at position 5',
                 'Adding required filter dlo to pipeline at position 6',
                 'Adding required filter versioned_writes to pipeline at '
                 'position 7'):
        assert line in log


def test_configured_filter_is_kept_not_duplicated(tmp_path, etc_dir):
    app = load(tmp_path, etc_dir, 'catch_errors my_slo proxy_server')
    names = chain(app)
    assert names.count('StaticLargeObject') == 1
    assert names.count('DynamicLargeObject') == 1
    node = app
    while type(node).__name__ != 'StaticLargeObject':
        node = node.app
    assert node.max_manifest_segments == 7     # the configured section


def test_other_pipelines_load_unchanged(tmp_path, etc_dir):
    app = load(tmp_path, etc_dir, 'catch_errors other')
    names = chain(app)
    for name in ('StaticLargeObject', 'DynamicLargeObject',
                 'ServerSideCopy', 'ListingFilter'):
        assert name not in names


def test_every_filter_knows_the_app_its_pipeline_ends_in(tmp_path, etc_dir):
    """Filters reach the proxy through ``_pipeline_final_app`` (Swift's
    name) instead of walking the chain."""
    from objproxy.proxy.server import Application
    app = load(tmp_path, etc_dir, 'catch_errors gatekeeper tempauth '
               'proxy_logging proxy_server')
    final = app._pipeline_final_app
    assert isinstance(final, Application)
    seen = 0
    while app is not None:
        assert app._pipeline_final_app is final
        assert app._pipeline[seen] is app
        app = getattr(app, 'app', None)
        seen += 1
    assert seen == len(final._pipeline)


def test_info_lookups_ask_the_final_app(tmp_path, etc_dir):
    """get_container_info goes straight to the proxy the chain ends in."""
    from objproxy.proxy import info
    app = load(tmp_path, etc_dir, 'catch_errors tempauth proxy_server')
    asked = []
    final = app._pipeline_final_app
    final.container_info = lambda env, a, c: asked.append((a, c)) or {
        'status': 204}
    assert info.get_container_info({}, app.app, 'AUTH_a', 'c') == {
        'status': 204}
    assert asked == [('AUTH_a', 'c')]
