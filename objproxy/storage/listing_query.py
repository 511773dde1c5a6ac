"""The SQL behind a listing page: indexed range scans, no OFFSET.

Why a module of its own: this is the one place that turns Swift's listing
parameters (``marker``, ``end_marker``, ``prefix``, ``delimiter``,
``reverse``, ``path``) into range scans over the ``(deleted, name)`` index,
and that seeks past a whole sub-directory with one new query instead of
reading its rows, so a million-row container lists page by page at a
steady rate.  Container and account brokers both use it.
"""

# the lowest name outside the reserved namespace (which starts with NUL)
FIRST_UNRESERVED = '\x01'


def upper_bound(prefix):
    """Smallest string greater than every string starting with prefix.

    None when there is no such string we can express (prefix ends in the
    highest code point or a surrogate neighbour): callers then fall back to
    checking ``startswith`` in Python.
    """
    if not prefix:
        return None
    last = ord(prefix[-1])
    nxt = last + 1
    if nxt > 0x10FFFF:
        return None
    if 0xD800 <= nxt <= 0xDFFF:
        nxt = 0xE000
    return prefix[:-1] + chr(nxt)


def listing_rows(conn, table, select_cols, limit, marker, end_marker, prefix,
                 delimiter, reverse, path, make_subdir, allow_reserved=False):
    """One listing page of ``table`` (see DatabaseBroker._iter_listing).

    Names in the reserved namespace (starting with NUL) are left out unless
    ``allow_reserved``: they sort before every other name, so a lower bound
    of ``\x01`` skips them in the same range scan.
    """
    if path is not None:
        # Swift's path=: the direct children of one pseudo-directory; the
        # directory's own marker object ('dir/') is not one of them
        prefix = path.rstrip('/') + '/' if path else ''
        delimiter = '/'
    # lower bound (value, inclusive) and upper bound (value, inclusive)
    low = (marker, False) if marker else None
    high = (end_marker, False) if end_marker else None
    if reverse:
        low, high = ((end_marker, False) if end_marker else None,
                     (marker, False) if marker else None)
    if prefix:
        if low is None or low[0] < prefix:
            low = (prefix, True)
        ub = upper_bound(prefix)
        if ub is not None and (high is None or high[0] > ub):
            high = (ub, False)
    if not allow_reserved and (low is None or low[0] < FIRST_UNRESERVED):
        low = (FIRST_UNRESERVED, True)
    # a subdir equal to the excluded bound (the marker going forwards, the
    # end_marker in reverse) was listed on the page before
    orig_marker = end_marker if reverse else marker
    results = []
    cols = ', '.join(select_cols)
    while len(results) < limit:
        clauses = ['deleted = 0']
        args = []
        if low is not None:
            clauses.append('name >= ?' if low[1] else 'name > ?')
            args.append(low[0])
        if high is not None:
            clauses.append('name <= ?' if high[1] else 'name < ?')
            args.append(high[0])
        want = limit - len(results)
        sql = ('SELECT %s FROM %s WHERE %s ORDER BY name %s LIMIT ?'
               % (cols, table, ' AND '.join(clauses),
                  'DESC' if reverse else ''))
        # fetch in modest batches when a delimiter may cut the scan short
        args.append(want if not delimiter else min(want, 1000) + 1)
        cur = conn.execute(sql, args)
        got = 0
        restart = False
        for row in cur:
            got += 1
            name = row[0]
            if prefix and not name.startswith(prefix):
                if (not reverse and name > prefix) or \
                        (reverse and name < prefix):
                    cur.close()
                    return results
                continue
            if not delimiter:
                results.append(row)
                if len(results) >= limit:
                    break
                continue
            if path and name == prefix:
                continue
            pos = name.find(delimiter, len(prefix))
            if pos < 0 or (path is not None and
                           pos + len(delimiter) == len(name)):
                results.append(row)
                if len(results) >= limit:
                    break
                continue
            subdir = name[:pos + len(delimiter)]
            if path is None and subdir != orig_marker:
                results.append(make_subdir(subdir))
            # seek past every name starting with subdir
            if reverse:
                # path= keeps a 'dir/sub/' marker object itself
                high = (subdir, path is not None)
            else:
                ub = upper_bound(subdir)
                if ub is None:
                    cur.close()
                    return results
                low = (ub, True)
            restart = True
            break
        cur.close()
        if restart:
            continue
        if got < args[-1]:
            break  # the range is exhausted
        if len(results) >= limit:
            break
        # batch ran out without a subdir: continue after the last row
        if reverse:
            high = (name, False)
        else:
            low = (name, False)
    return results
