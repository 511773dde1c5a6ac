"""The comparison logic of tests/compat/run_swift_suite.py: junit parsing,
judging the listed tests, and the expected list that only grows."""
import os

from tests.compat import run_swift_suite as rss

JUNIT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="6">
<testcase classname="test.functional.tests.TestFile" name="testCopy" time="0.1"/>
<testcase classname="test.functional.tests.TestFile" name="testDelete" time="0.1">
  <failure message="AssertionError: 404 != 204">traceback</failure>
</testcase>
<testcase classname="test.functional.test_slo.TestSlo" name="test_get" time="0">
  <error message="failed on setup with &quot;ResponseError: 400&quot;">tb</error>
</testcase>
<testcase classname="test.functional.test_tempurl.TestTempurl" name="test_get" time="0">
  <skipped type="pytest.skip" message="tempurl not enabled">skip</skipped>
</testcase>
<testcase classname="test.functional.test_account.TestAccount" name="test_teardown" time="0"/>
<testcase classname="test.functional.test_account.TestAccount" name="test_teardown" time="0">
  <error message="failed on teardown">tb</error>
</testcase>
<testcase classname="test.functional.test_account.TestAccount" name="test_new" time="0"/>
</testsuite></testsuites>
"""

COPY = 'test.functional.tests.TestFile::testCopy'
DELETE = 'test.functional.tests.TestFile::testDelete'
SLO = 'test.functional.test_slo.TestSlo::test_get'
TEMPURL = 'test.functional.test_tempurl.TestTempurl::test_get'
TEARDOWN = 'test.functional.test_account.TestAccount::test_teardown'
NEW = 'test.functional.test_account.TestAccount::test_new'
GONE = 'test.functional.tests.TestFile::testRenamedAway'


def write(path, text):
    with open(path, 'w') as fp:
        fp.write(text)
    return str(path)


def test_parse_junit_outcomes(tmp_path):
    results = rss.parse_junit(write(tmp_path / 'junit.xml', JUNIT))
    assert results == {COPY: 'passed', DELETE: 'failed', SLO: 'error',
                       TEMPURL: 'skipped', TEARDOWN: 'error', NEW: 'passed'}
    messages = rss.junit_messages(str(tmp_path / 'junit.xml'))
    assert messages[DELETE] == 'AssertionError: 404 != 204'
    assert COPY not in messages
    tracebacks = rss.junit_tracebacks(str(tmp_path / 'junit.xml'))
    assert tracebacks[DELETE] == 'traceback'
    assert tracebacks[TEARDOWN] == 'tb'


def test_verdict_full_run(tmp_path):
    results = rss.parse_junit(write(tmp_path / 'junit.xml', JUNIT))
    verdict = rss.Verdict(results, [COPY, DELETE, TEMPURL, GONE])
    assert not verdict.ok
    assert verdict.not_passing == {DELETE: 'failed', TEMPURL: 'skipped',
                                   GONE: 'missing'}
    assert verdict.new_passes == [NEW]
    assert verdict.counts() == {'passed': 2, 'failed': 1, 'skipped': 1,
                                'error': 2}
    table = verdict.per_module()
    assert table['test.functional.tests'] == {'passed': 1, 'failed': 1}
    assert table['test.functional.test_account'] == {'passed': 1,
                                                     'error': 1}


def test_verdict_narrowed_run_ignores_unselected(tmp_path):
    results = rss.parse_junit(write(tmp_path / 'junit.xml', JUNIT))
    verdict = rss.Verdict(results, [COPY, GONE], full_run=False)
    assert verdict.ok
    assert verdict.not_run == 1


def test_rerun_forgives_only_what_passes(tmp_path):
    results = rss.parse_junit(write(tmp_path / 'junit.xml', JUNIT))
    verdict = rss.Verdict(results, [COPY, DELETE, TEMPURL])
    assert verdict.rerun_passed({DELETE: 'passed', TEMPURL: 'skipped'}) \
        == [DELETE]
    assert verdict.not_passing == {TEMPURL: 'skipped'}
    assert verdict.rerun_passed({TEMPURL: 'passed'}) == [TEMPURL]
    assert verdict.ok


def test_update_keeps_header_sorts_and_only_grows(tmp_path):
    path = write(tmp_path / 'expected-pass.txt',
                 '# what this is\n# it only grows\n' + COPY + '\n' + SLO
                 + '\n')
    # SLO is not passing now, yet stays listed; NEW and DELETE are added
    added = rss.update_expected(path, [NEW, COPY, DELETE])
    assert added == sorted([NEW, DELETE])
    with open(path) as fp:
        lines = fp.read().splitlines()
    assert lines[:2] == ['# what this is', '# it only grows']
    assert lines[2:] == sorted([COPY, SLO, NEW, DELETE])
    assert rss.read_expected(path) == sorted([COPY, SLO, NEW, DELETE])
    # nothing new: the file is unchanged
    assert rss.update_expected(path, [COPY]) == []
    with open(path) as fp:
        assert fp.read().splitlines() == lines


def test_update_new_file_gets_the_default_header(tmp_path):
    path = str(tmp_path / 'expected-pass.txt')
    assert rss.update_expected(path, [NEW, COPY]) == sorted([NEW, COPY])
    with open(path) as fp:
        text = fp.read()
    assert text.startswith(rss.HEADER)
    assert rss.read_expected(path) == sorted([NEW, COPY])


def test_node_id_finds_the_module_file(tmp_path):
    os.makedirs(tmp_path / 'test' / 'functional' / 's3api')
    write(tmp_path / 'test' / 'functional' / 'tests.py', '')
    write(tmp_path / 'test' / 'functional' / 's3api' / 'test_bucket.py', '')
    assert rss.node_id(COPY, str(tmp_path)) == \
        'test/functional/tests.py::TestFile::testCopy'
    assert rss.node_id(
        'test.functional.s3api.test_bucket.TestS3ApiBucket::test_x',
        str(tmp_path)) == \
        'test/functional/s3api/test_bucket.py::TestS3ApiBucket::test_x'
    assert rss.node_id('no.such.Module::test', str(tmp_path)) is None


def test_parse_args_splits_pytest_args():
    args = rss.parse_args(['-k', 'TestFile', 'test/functional/tests.py',
                           '--', '-x', '--maxfail=2'])
    assert args.keyword == 'TestFile'
    assert args.paths == ['test/functional/tests.py']
    assert args.pytest_args == ['-x', '--maxfail=2']
    assert args.narrowed
    assert not rss.parse_args([]).narrowed
