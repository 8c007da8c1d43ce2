#!/usr/bin/env python3
"""The cheapest possible plugin, for measuring the protocol's own cost (cocoon-bench PLUGIN):
every user gets the catalog's most consumed items (ties: lower id). Standard library only."""
import json
import sys


def main():
    counts, k, top = [], 10, []
    out = sys.stdout
    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg["type"]
        if kind == "hello":
            reply = {"type": "hello", "protocol": 1, "name": "bench-popularity", "capabilities": ["deterministic"]}
        elif kind == "start":
            n = msg["catalog"]["items"] if "catalog" in msg else json.load(open(msg["catalog_file"]))["items"]
            counts, k = [0] * n, msg["slate_size"]
            top = list(range(k))
            reply = {"type": "ready"}
        elif kind == "recommend":
            row = json.dumps(top)
            users = len(msg["users"])
            body = ",".join([row] * users)
            tags = ',"tags":[' + ",".join(["[]"] * users) + "]" if msg.get("want_tags") else ""
            out.write('{"type":"slates","step":%d,"slates":[%s]%s}\n' % (msg["step"], body, tags))
            out.flush()
            continue
        elif kind == "feedback":
            for items in msg["consumed"]:
                for i in items:
                    counts[i] += 1
            top = sorted(range(len(counts)), key=lambda i: (-counts[i], i))[:k]
            reply = {"type": "ack", "step": msg["step"]}
        elif kind == "shutdown":
            return
        else:
            reply = {"type": "error", "message": "unknown message " + kind}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
