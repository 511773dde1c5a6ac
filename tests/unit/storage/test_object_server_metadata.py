"""ObjectServer metadata written after the PUT: the expiry queue, the
conditional expiry delete, later scan verdicts, and the sysmeta its POST,
412 and 416 answers carry.  Same fixtures as test_object_server.py."""
import os
import time

from objproxy.common.timestamp import Timestamp
from tests.unit.storage.test_object_server import (  # fixtures and helpers
    app, devices, hash_dir, put, req, ts)

__all__ = ['app', 'devices']


def test_an_object_with_an_expiry_is_queued_for_the_expirer(app, devices):
    from objproxy.storage import expiry_queue
    later = int(time.time()) + 100
    put(app, t=1, **{'X-Delete-At': str(later)})
    req(app, method='POST', **{'X-Timestamp': ts(2),
                               'X-Delete-At': str(later + 50)})
    put(app, t=3, path='/sda/7/AUTH_a/c/plain')
    entries = list(expiry_queue.due_entries(str(devices / 'sda'),
                                            later + 1000))
    assert [(e.obj, e.partition, e.delete_at) for e in entries] == [
        ('o', '7', later), ('o', '7', later + 50)]


def test_an_expired_object_is_deleted_only_for_its_own_expiry(app, devices):
    """The expirer's delete: at the expiry's timestamp, conditional on it."""
    delete_at = int(time.time()) - 10
    put(app, t=1, **{'X-Delete-At': str(delete_at),
                     'X-Backend-Replication': 'true'})
    wrong = req(app, method='DELETE', **{
        'X-Timestamp': Timestamp(delete_at).internal,
        'X-If-Delete-At': str(delete_at + 1)})
    assert wrong.status_int == 412
    resp = req(app, method='DELETE', **{
        'X-Timestamp': Timestamp(delete_at).internal,
        'X-If-Delete-At': str(delete_at)})
    assert resp.status_int == 204
    assert [f for f in os.listdir(hash_dir(devices))] == [
        Timestamp(delete_at).internal + '.ts']


def test_a_verdict_update_replaces_only_the_verdict(app):
    put(app, t=1, **{'X-Object-Sysmeta-Av-Verdict': 'clean',
                     'X-Object-Sysmeta-Av-Engine': 'sigs-1'})
    req(app, method='POST', **{'X-Timestamp': ts(2),
                               'X-Object-Meta-Color': 'red',
                               'Content-Type': 'image/png'})
    resp = req(app, method='POST', **{
        'X-Timestamp': ts(3), 'X-Backend-Verdict-Update': 'true',
        'X-Object-Sysmeta-Av-Verdict': 'infected',
        'X-Object-Sysmeta-Av-Engine': 'sigs-2',
        'X-Object-Meta-Color': 'ignored'})
    assert resp.status_int == 202
    head = req(app, method='HEAD')
    assert head.headers['X-Object-Sysmeta-Av-Verdict'] == 'infected'
    assert head.headers['X-Object-Sysmeta-Av-Engine'] == 'sigs-2'
    assert head.headers['X-Object-Meta-Color'] == 'red'
    assert head.headers['Content-Type'] == 'image/png'


def test_a_client_post_keeps_a_verdict_given_after_the_put(app):
    put(app, t=1, **{'X-Object-Sysmeta-Av-Verdict': 'clean'})
    req(app, method='POST', **{
        'X-Timestamp': ts(2), 'X-Backend-Verdict-Update': 'true',
        'X-Object-Sysmeta-Av-Verdict': 'infected'})
    req(app, method='POST', **{'X-Timestamp': ts(3),
                               'X-Object-Meta-Color': 'blue'})
    head = req(app, method='HEAD')
    assert head.headers['X-Object-Sysmeta-Av-Verdict'] == 'infected'
    assert head.headers['X-Object-Meta-Color'] == 'blue'


def test_a_verdict_update_without_a_verdict_is_refused(app):
    put(app, t=1)
    resp = req(app, method='POST', **{'X-Timestamp': ts(2),
                                      'X-Backend-Verdict-Update': 'true'})
    assert resp.status_int == 400


def test_a_new_put_brings_its_own_verdict(app):
    put(app, t=1, **{'X-Object-Sysmeta-Av-Verdict': 'clean'})
    req(app, method='POST', **{
        'X-Timestamp': ts(2), 'X-Backend-Verdict-Update': 'true',
        'X-Object-Sysmeta-Av-Verdict': 'infected'})
    put(app, t=3, **{'X-Object-Sysmeta-Av-Verdict': 'clean'})
    assert req(app, method='HEAD').headers[
        'X-Object-Sysmeta-Av-Verdict'] == 'clean'


def test_a_first_verdict_update_keeps_the_puts_user_metadata(app):
    put(app, t=1, **{'X-Object-Meta-Color': 'red',
                     'X-Object-Sysmeta-Av-Verdict': 'clean'})
    req(app, method='POST', **{
        'X-Timestamp': ts(2), 'X-Backend-Verdict-Update': 'true',
        'X-Object-Sysmeta-Av-Verdict': 'infected'})
    head = req(app, method='HEAD')
    assert head.headers['X-Object-Meta-Color'] == 'red'
    assert head.headers['X-Object-Sysmeta-Av-Verdict'] == 'infected'


def test_post_412_and_416_answers_carry_the_objects_sysmeta(app):
    put(app, t=1, **{'X-Object-Sysmeta-Symlink-Target': 'c/t'})
    post = req(app, method='POST', **{'X-Timestamp': ts(2)})
    assert post.status_int == 202
    assert post.headers['X-Object-Sysmeta-Symlink-Target'] == 'c/t'
    failed = req(app, **{'If-Match': '"nope"'})
    assert failed.status_int == 412
    assert failed.headers['X-Object-Sysmeta-Symlink-Target'] == 'c/t'
    unsatisfiable = req(app, **{'Range': 'bytes=100-200'})
    assert unsatisfiable.status_int == 416
    assert unsatisfiable.headers['X-Object-Sysmeta-Symlink-Target'] == 'c/t'


def test_a_verdict_on_an_upload_since_overwritten_is_refused(app):
    put(app, t=1, **{'X-Object-Sysmeta-Av-Verdict': 'clean'})
    put(app, t=2, **{'X-Object-Sysmeta-Av-Verdict': 'clean'})
    stale = req(app, method='POST', **{
        'X-Timestamp': ts(3), 'X-Backend-Verdict-Update': 'true',
        'X-Backend-Verdict-Data-Timestamp': ts(1),
        'X-Object-Sysmeta-Av-Verdict': 'infected'})
    assert stale.status_int == 409
    assert req(app, method='HEAD').headers[
        'X-Object-Sysmeta-Av-Verdict'] == 'clean'
    current = req(app, method='POST', **{
        'X-Timestamp': ts(4), 'X-Backend-Verdict-Update': 'true',
        'X-Backend-Verdict-Data-Timestamp': ts(2),
        'X-Object-Sysmeta-Av-Verdict': 'infected'})
    assert current.status_int == 202
    assert req(app, method='POST', **{
        'X-Timestamp': ts(5), 'X-Backend-Verdict-Update': 'true',
        'X-Backend-Verdict-Data-Timestamp': 'soon',
        'X-Object-Sysmeta-Av-Verdict': 'clean'}).status_int == 400


def meta_files(devices):
    return sorted(n for n in os.listdir(hash_dir(devices))
                  if n.endswith('.meta'))


def test_a_verdict_is_ordered_just_after_the_replicas_newest_state(
        app, devices):
    """A replica that missed a client POST (made at ts(2) elsewhere) must
    not write its stale metadata as newer than that POST when a verdict
    reaches it later: the verdict's .meta takes the replica's own newest
    timestamp with the offset raised, never the time of the update."""
    put(app, t=1, **{'X-Object-Meta-Color': 'red',
                     'X-Object-Sysmeta-Av-Verdict': 'clean'})
    assert req(app, method='POST', **{
        'X-Timestamp': ts(3), 'X-Backend-Verdict-Update': 'true',
        'X-Object-Sysmeta-Av-Verdict': 'infected'}).status_int == 202
    first = Timestamp(ts(1), offset=1)
    assert meta_files(devices) == [first.internal + '.meta']
    assert first < Timestamp(ts(2))       # the missed POST still wins
    head = req(app, method='HEAD')
    assert head.headers['X-Object-Sysmeta-Av-Verdict'] == 'infected'
    assert head.headers['Last-Modified'] == Timestamp(ts(1)).http_date
    # a second verdict orders after the first
    assert req(app, method='POST', **{
        'X-Timestamp': ts(4), 'X-Backend-Verdict-Update': 'true',
        'X-Object-Sysmeta-Av-Verdict': 'clean'}).status_int == 202
    assert meta_files(devices) == [
        Timestamp(ts(1), offset=2).internal + '.meta']
