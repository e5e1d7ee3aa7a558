#!/usr/bin/env python3
"""Which B-trees does each commit dirty? Reads a database kept by `cargo bench --bench announce -- --keep-db DIR`
(announce-NxH.db and its -wal), splits the current WAL generation into transactions (a frame with a non-zero
"database size" field ends one), maps every frame's page number to its table or index through SQLite's `dbstat`,
and prints the mean pages per transaction kind and B-tree.

Transactions are classified by the B-trees they touch: `announce` (writes thread_files), `cancel` (writes threads
but not thread_files). Usage: python3 benches/wal_pages.py DIR/announce-100x1000.db [...]
"""

import collections
import shutil
import sqlite3
import struct
import sys
import tempfile
import os


def wal_transactions(wal_path):
    data = open(wal_path, "rb").read()
    if len(data) < 32:
        return [], 0
    magic, _version, page_size, _ckpt, salt1, salt2, _c1, _c2 = struct.unpack(">IIIIIIII", data[:32])
    if magic not in (0x377F0682, 0x377F0683):
        raise SystemExit(f"{wal_path}: not a WAL file")
    frame = 24 + page_size
    txs, current, off = [], [], 32
    while off + frame <= len(data):
        pgno, commit_size, s1, s2 = struct.unpack(">IIII", data[off : off + 16])
        if (s1, s2) != (salt1, salt2):
            break  # end of the current generation (older frames follow)
        current.append(pgno)
        if commit_size:
            txs.append(current)
            current = []
        off += frame
    return txs, page_size


def page_owners(db_path, wal_path):
    # Query a copy: opening the original could checkpoint and delete its WAL.
    tmp = tempfile.mkdtemp()
    db_copy = os.path.join(tmp, "x.db")
    shutil.copy(db_path, db_copy)
    shutil.copy(wal_path, db_copy + "-wal")
    conn = sqlite3.connect(db_copy)
    owners = {pageno: name for name, pageno in conn.execute("SELECT name, pageno FROM dbstat")}
    conn.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return owners


def main(paths):
    for db in paths:
        wal = db + "-wal"
        txs, page_size = wal_transactions(wal)
        owners = page_owners(db, wal)
        kinds = collections.defaultdict(list)
        for tx in txs:
            names = [owners.get(p, "page 1 / free" if p == 1 else "free / new") for p in tx]
            kind = "announce" if "thread_files" in names else ("cancel" if "threads" in names else "other")
            kinds[kind].append(collections.Counter(names))
        print(f"\n## {os.path.basename(db)} — {len(txs)} transactions in the current WAL generation, page {page_size} B")
        for kind, counters in sorted(kinds.items()):
            total = collections.Counter()
            for c in counters:
                total.update(c)
            n = len(counters)
            pages = sum(total.values()) / n
            print(f"\n{kind}: {n} transactions, {pages:.1f} pages ({pages * (page_size + 24) / 1024:.0f} KB of WAL) each")
            for name, count in total.most_common():
                print(f"  {count / n:5.2f}  {name}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
