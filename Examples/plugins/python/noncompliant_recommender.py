#!/usr/bin/env python3
"""A NON-compliant recommender for Cocoon's plugin protocol, standard library only: the
kind of feed the standard suite exists to catch.

It chases engagement: each user gets the most popular items of the topic they consumed most,
and it ignores every control and duty — "not interested" marks, personalisation off,
deleted tags, blocks, harmful items, minors — and writes whatever the user consumed into
their tags. It speaks the protocol correctly, so every failure in its scorecard is a failed
check, not a protocol fault.

Run: cocoon suite Scenarios/standard --plugin -- python3 Examples/plugins/python/noncompliant_recommender.py
"""
import json
import sys

PROTOCOL = 1


def send(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "hello":
            send({"type": "hello", "protocol": PROTOCOL, "name": "engagement-python", "capabilities": ["tags", "deterministic"]})
        elif kind == "start":
            catalog = msg.get("catalog")
            if catalog is None:
                with open(msg["catalog_file"]) as f:
                    catalog = json.load(f)
            k = msg["slate_size"]
            topic_of = [t[0] if t else 0 for t in catalog["item_topics"]]
            n_topics = len(catalog["topics"])
            popularity = [float(p) for p in catalog["popularity_prior"]]
            counts = [[0] * n_topics for _ in range(msg["users"])]
            for u, history in enumerate(msg["seed_history"]):
                for i in history:
                    counts[u][topic_of[i]] += 1
            send({"type": "ready"})
        elif kind == "recommend":
            by_topic = [[] for _ in range(n_topics)]
            for i in sorted(range(len(topic_of)), key=lambda i: (-popularity[i], i)):
                by_topic[topic_of[i]].append(i)
            overall = sorted(range(len(topic_of)), key=lambda i: (-popularity[i], i))
            slates, tags = [], []
            for u in msg["users"]:
                c = counts[u]
                top = max(range(n_topics), key=lambda q: (c[q], -q))
                slate = by_topic[top][:k]
                for i in overall:
                    if len(slate) >= k:
                        break
                    if i not in slate:
                        slate.append(i)
                slates.append(slate)
                tags.append([q for q in range(n_topics) if c[q] > 0])
            answer = {"type": "slates", "step": msg["step"], "slates": slates}
            if msg.get("want_tags"):
                answer["tags"] = tags
            send(answer)
        elif kind == "feedback":
            for row, u in enumerate(msg["users"]):
                for i in msg["consumed"][row]:
                    counts[u][topic_of[i]] += 1
                    popularity[i] += 1
            send({"type": "ack", "step": msg["step"]})
        elif kind == "shutdown":
            return


if __name__ == "__main__":
    main()
