# gb-bench's Python workload (program `python3`): churn.lua's algorithm with
# Python's containers (str formatting, join and split, lists of tuples, a
# dict filled and a third of it deleted, a ring of kept rounds): the same
# checksum as churn.lua for the same ROUNDS, which gb-bench checks.
# Usage: python3 churn.py ROUNDS (prints "checksum N")
import sys

rounds = int(sys.argv[1])
keep = [None] * 97
total = 0
for r in range(1, rounds + 1):
    parts = ["%d:%s" % (i * r, "x" * ((i * 7 + r) % 48)) for i in range(1, 401)]
    text = ",".join(parts)
    fields = [(w, len(w)) for w in text.split(",") if w]
    index = {}
    for i, (w, _) in enumerate(fields, 1):
        index[w] = i
    for i in range(0, len(fields), 3):
        del index[fields[i][0]]
    total = (total + sum(index.values()) + len(text)) % 1000000007
    keep[r % 97] = fields
print("checksum %d" % total)
