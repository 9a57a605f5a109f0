#!/usr/bin/env python3
"""Generate cn-regions.tsv: the county-level GB/T 2260 administrative
division codes a resident identity number may start with, with the years
each code was in use, from python-stdnum's `stdnum/cn/loc.dat`.

Not run by the build or the tests: run it by hand when python-stdnum
publishes a newer table, review the diff, and commit the output.

    python3 -m venv /tmp/stdnum-venv
    /tmp/stdnum-venv/bin/pip install python-stdnum==2.2
    /tmp/stdnum-venv/bin/python crates/posdiag-ids/data/cn-regions.py \
        > crates/posdiag-ids/data/cn-regions.tsv

Rows: code<TAB>from<TAB>until<TAB>name. `from` and `until` are the first and
last year the code was assigned to that county, empty when open (stdnum's
`[1986-]`, `[-2010]`); a code reused for another county has one row per
period. Codes that no longer exist stay: a person keeps the code of the
county where they were born.
"""

import os
import sys

import stdnum


def main():
    path = os.path.join(os.path.dirname(stdnum.__file__), 'cn', 'loc.dat')
    rows = []
    province = None
    with open(path, encoding='utf-8') as fp:
        for line in fp:
            if line.startswith('#') or not line.strip():
                continue
            code, _, props = line.strip().partition(' ')
            if not line.startswith(' '):
                province = code
                continue
            name = props.split('=', 1)[1].strip('"')
            for part in name.split(','):
                start = end = ''
                if part.startswith('['):
                    period, part = part[1:].split(']', 1)
                    start, end = period.split('-')
                rows.append((province + code, start, end, part))
    rows.sort(key=lambda r: (r[0], r[1] or '0000'))
    print(f'# GB/T 2260 county-level administrative division codes, generated from'
          f' python-stdnum {stdnum.__version__} stdnum/cn/loc.dat')
    print('# (itself downloaded from the Chinese Wikipedia tables'
          ' "中华人民共和国行政区划代码 (1区)" to "(8区)")')
    print('# command: python crates/posdiag-ids/data/cn-regions.py'
          ' > crates/posdiag-ids/data/cn-regions.tsv')
    print('# columns: code, first year (empty: open), last year (empty: open), name')
    for r in rows:
        print('\t'.join(r))
    print(f'{len(rows)} rows', file=sys.stderr)


if __name__ == '__main__':
    main()
