"""REPLICATE on a storage node: suffix hashes and listings off the hub."""
import json

from webob import Request

from objproxy.common.hashing import set_hash_config
from objproxy.common.offload import on_main_thread
from objproxy.storage import object_replication_server as ors
from tests.unit.daemons.conftest import write_object


def replicate(app, op, body):
    req = Request.blank('/sdb', method='REPLICATE', body=json.dumps(
        body).encode(), headers={'X-Backend-Replicate-Op': op})
    return req.get_response(app)


def test_hashing_and_listing_run_off_the_hub(tmp_path, monkeypatch):
    """Hashing a busy partition rewrites hashes.json and reads every
    suffix: seconds of work under load, which must not stop the node's
    other requests, so it runs in a pool thread."""
    set_hash_config('unitprefix', 'unitsuffix')
    dev = tmp_path / 'sdb'
    write_object(str(dev), 5, 'obj', b'data', 1000000000)
    seen = []
    real_read, real_list = ors.read_hashes, ors.list_suffix

    def read_hashes(*args, **kwargs):
        seen.append(('hashes', on_main_thread()))
        return real_read(*args, **kwargs)

    def list_suffix(*args, **kwargs):
        seen.append(('list', on_main_thread()))
        return real_list(*args, **kwargs)

    monkeypatch.setattr(ors, 'read_hashes', read_hashes)
    monkeypatch.setattr(ors, 'list_suffix', list_suffix)
    app = ors.ObjectReplicationServer({'devices': str(tmp_path),
                                       'fsync': 'false'})
    resp = replicate(app, 'hashes', {'partitions': [5]})
    assert resp.status_int == 200
    hashes = json.loads(resp.body)['5']
    assert len(hashes) == 1
    suffix = list(hashes)[0]
    resp = replicate(app, 'list', {'partitions': {'5': [suffix]}})
    assert resp.status_int == 200
    assert list(json.loads(resp.body)['5'][suffix].values())
    assert seen == [('hashes', False), ('list', False)]
