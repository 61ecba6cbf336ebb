import json
d = {}
for i in range(300000):
    d[f"key{i}"] = [i, str(i) * 3, {"a": i}]
s = json.dumps(d)
e = json.loads(s)
print(len(s), len(e))
