#!/usr/bin/env python3
"""A compliant recommender for Cocoon's plugin protocol (docs/plugin-protocol.md), standard
library only.

Model: each user's topic profile (decayed counts of consumed topics, each skip of a topic
weakening it, so old interests fade)
blended with a uniform prior, plus item popularity within each topic. Every control is
honoured:

* "not interested": the item and its near-duplicates never return; "not this kind of
  content" removes the topic for good;
* personalisation off: one non-personalised feed, the same for every user (popularity with a
  rotation that depends only on the step);
* deleted tags: the topic gets no personal weight; declared tags get 30% of the slate;
* blocked topics and creators are never shown;
* harmful items are never shown and harmful topics never become tags; minors never see
  minorUnsafe or borderline items;
* no item returns within 100 impressions, no near-duplicate pair in a slate, topics are
  interleaved (no long same-topic runs).

Deterministic for a given seed: every random draw comes from random.Random(seed, user, step).

Run: cocoon run Scenarios/quickstart.yaml --plugin -- python3 Examples/plugins/python/compliant_recommender.py
"""
import json
import math
import random
import sys

PROTOCOL = 1
DECAY = 0.9            # profile weight kept per consumed item
SKIP = 0.95            # a topic's profile weight kept per skipped item of that topic
PRIOR = 0.5            # share of the uniform prior in the calibration target
DECLARED_SHARE = 0.3   # share of declared tags in the target
MEMORY = 100           # impressions before an item may return
NEAR_DUPLICATE = 0.9   # cosine at or above which two items are near-duplicates
COLD = 5               # consumed items before a user is personalised
POOL = 6               # per topic, pick among this many best eligible items


def send(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class World:
    def __init__(self, start):
        catalog = start.get("catalog")
        if catalog is None:
            with open(start["catalog_file"]) as f:
                catalog = json.load(f)
        self.seed = start["seed"]
        self.k = start["slate_size"]
        self.n_users = start["users"]
        self.n_items = catalog["items"]
        self.topic_names = catalog["topics"]
        self.n_topics = len(self.topic_names)
        self.item_topic = [t[0] if t else 0 for t in catalog["item_topics"]]
        self.creator = catalog["creators"]
        flags = catalog["flags"]
        self.harmful = [("harmful" in f) for f in flags]
        self.minor_unsafe = [("minorUnsafe" in f) or ("harmful" in f) or ("borderline" in f) for f in flags]
        self.prior = catalog["popularity_prior"]
        # Topics most of whose items are harmful never become tags.
        size = [0] * self.n_topics
        bad = [0] * self.n_topics
        for i, q in enumerate(self.item_topic):
            size[q] += 1
            bad[q] += self.harmful[i]
        self.harmful_topic = [size[q] > 0 and 2 * bad[q] > size[q] for q in range(self.n_topics)]
        self.topic_items = [[] for _ in range(self.n_topics)]
        for i, q in enumerate(self.item_topic):
            if not self.harmful[i]:
                self.topic_items[q].append(i)
        self.near = self.near_duplicates(catalog["embeddings"])
        segments = start["segments"]
        minor_index = [j for j, name in enumerate(segments["names"]) if name == "minor"]
        self.minor = [s in minor_index for s in segments["of_user"]]
        self.popularity = [0.0] * self.n_items
        # Per-user state.
        self.profile = [[0.0] * self.n_topics for _ in range(self.n_users)]
        self.consumed = [set() for _ in range(self.n_users)]
        self.recent = [[] for _ in range(self.n_users)]
        self.recent_set = [set() for _ in range(self.n_users)]
        self.marked = [set() for _ in range(self.n_users)]
        self.marked_topics = [set() for _ in range(self.n_users)]
        for u, history in enumerate(start["seed_history"]):
            for i in history:
                self.consume(u, i)

    def near_duplicates(self, emb):
        """Near-duplicate neighbours of each item (compared within a topic)."""
        unit = []
        for v in emb:
            n = math.sqrt(sum(x * x for x in v)) or 1.0
            unit.append([x / n for x in v])
        near = [[] for _ in range(self.n_items)]
        by_topic = [[] for _ in range(self.n_topics)]
        for i, q in enumerate(self.item_topic):
            by_topic[q].append(i)
        for items in by_topic:
            for a_pos, a in enumerate(items):
                ua = unit[a]
                for b in items[a_pos + 1:]:
                    if sum(x * y for x, y in zip(ua, unit[b])) >= NEAR_DUPLICATE:
                        near[a].append(b)
                        near[b].append(a)
        return near

    def consume(self, u, i):
        p = self.profile[u]
        for q in range(self.n_topics):
            p[q] *= DECAY
        p[self.item_topic[i]] += 1.0
        self.consumed[u].add(i)
        self.popularity[i] += 1.0

    def skip(self, u, i):
        self.profile[u][self.item_topic[i]] *= SKIP

    def show(self, u, items):
        recent, rs = self.recent[u], self.recent_set[u]
        for i in items:
            recent.append(i)
            rs.add(i)
        while len(recent) > MEMORY:
            old = recent.pop(0)
            if old not in recent:
                rs.discard(old)

    def mark(self, u, item, topic, scope):
        self.marked[u].add(item)
        for j in self.near[item]:
            self.marked[u].add(j)
        if scope == "topic":
            self.marked_topics[u].add(topic)

    # The ranking within a topic: popularity, then the catalog's prior, then the id.
    def ranked_topics(self):
        pop, prior = self.popularity, self.prior
        return [sorted(items, key=lambda i: (-pop[i], -prior[i], i)) for items in self.topic_items]


def allocate(weights, k):
    """Largest-remainder allocation of k slots to topics by weight (ties: lower topic)."""
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    exact = [k * x / total for x in weights]
    slots = [int(math.floor(e)) for e in exact]
    order = sorted(range(len(weights)), key=lambda q: (-(exact[q] - slots[q]), q))
    for q in order[: k - sum(slots)]:
        slots[q] += 1
    return slots


def interleave(picks):
    """Orders the picks so that one topic never runs long: at each position, the topic with
    the most items left that differs from the previous one (ties: lower topic)."""
    queues = [list(p) for p in picks]
    out, last = [], None
    while any(queues):
        choices = [q for q in range(len(queues)) if queues[q] and q != last]
        if not choices:
            choices = [q for q in range(len(queues)) if queues[q]]
        q = min(choices, key=lambda q: (-len(queues[q]), q))
        out.append(queues[q].pop(0))
        last = q
    return out


def personal_slate(w, u, c, step, ranked, rng):
    k = w.k
    cold = len(w.consumed[u]) < COLD
    excluded = set(w.marked_topics[u]) | set(c["blocked_topics"]) | set(c["deleted_tags"])
    profile = w.profile[u]
    total = sum(profile)
    weights = []
    for q in range(w.n_topics):
        if q in excluded or not ranked[q]:
            weights.append(0.0)
            continue
        personal = 0.0 if (cold or total <= 0) else profile[q] / total
        weights.append((1 - PRIOR) * personal + PRIOR / w.n_topics)
    declared = [q for q in c["declared_tags"] if q not in excluded]
    if declared:
        s = sum(weights) or 1.0
        weights = [x / s * (1 - DECLARED_SHARE) for x in weights]
        for q in declared:
            weights[q] += DECLARED_SHARE / len(declared)
    if cold:
        # Breadth first: one item per topic, topics in a random order.
        topics = [q for q in range(w.n_topics) if weights[q] > 0]
        rng.shuffle(topics)
        slots = [0] * w.n_topics
        for q in topics[:k]:
            slots[q] = 1
    else:
        slots = allocate(weights, k)
    chosen, taken = [], set()
    picks = [[] for _ in range(w.n_topics)]

    # Per-user sets, bound once: the scan below is the plugin's hot loop.
    marked, recent, consumed = w.marked[u], w.recent_set[u], w.consumed[u]
    blocked_creators = set(c["blocked_creators"])
    creator, near, unsafe = w.creator, w.near, w.minor_unsafe
    minor = w.minor[u]

    def take(q, need, personal=True):
        # Topic-level exclusions (marked, blocked, deleted topics) are settled by the caller.
        pool = []
        limit = POOL + need
        for i in ranked[q]:
            if i in taken or i in marked or (personal and (i in recent or i in consumed)):
                continue
            if (minor and unsafe[i]) or (blocked_creators and creator[i] in blocked_creators):
                continue
            if near[i] and any(j in taken for j in near[i]):
                continue
            pool.append(i)
            if len(pool) >= limit:
                break
        got = 0
        while pool and got < need:
            i = pool.pop(rng.randrange(min(len(pool), POOL)))
            if near[i] and any(j in taken for j in near[i]):
                continue
            taken.add(i)
            picks[q].append(i)
            got += 1
        return got

    short = 0
    for q in range(w.n_topics):
        if slots[q]:
            short += slots[q] - take(q, slots[q])
    # Fill what is missing (a topic ran out of unseen items) from the other allowed topics,
    # one item per topic at a time in a random order: filling by weight would hand the spare
    # slots to the user's second-strongest, often abandoned, interest.
    fill = [q for q in range(w.n_topics) if weights[q] > 0]
    rng.shuffle(fill)
    while short > 0:
        progress = 0
        for q in fill:
            if short <= 0:
                break
            if weights[q] > 0:
                got = take(q, 1)
                short -= got
                progress += got
        if not progress:
            break
    if short:
        # Last resort: allow items seen recently (never marked, blocked or unsafe ones).
        for q in range(w.n_topics):
            if short <= 0:
                break
            if q not in excluded:
                short -= take(q, short, personal=False)
    chosen = interleave(picks)
    return chosen[:k]


def non_personal_slate(w, step, ranked, minor, c):
    """The same feed for everyone: topics in a step-seeded rotation, each topic's most popular item."""
    rng = random.Random(w.seed * 1000003 + step)
    topics = [q for q in range(w.n_topics) if ranked[q]]
    rng.shuffle(topics)
    slate, taken = [], set()
    depth = 0
    while len(slate) < w.k and depth < 50:
        for q in topics:
            if len(slate) >= w.k:
                break
            cands = ranked[q]
            if depth < len(cands):
                i = cands[(depth + step) % len(cands)]
                if i in taken or (minor and w.minor_unsafe[i]):
                    continue
                if i in c["marked"] or q in c["blocked_topics"] or w.creator[i] in c["blocked_creators"]:
                    continue
                if any(j in taken for j in w.near[i]):
                    continue
                taken.add(i)
                slate.append(i)
        depth += 1
    return slate


DEFAULT = {"personalisation": True, "declared_tags": [], "deleted_tags": [], "blocked_topics": [], "blocked_creators": []}


def main():
    w = None
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "hello":
            if msg.get("protocol") != PROTOCOL:
                log(f"this plugin speaks protocol {PROTOCOL}, Cocoon offered {msg.get('protocol')}")
            send({"type": "hello", "protocol": PROTOCOL, "name": "compliant-python",
                  "capabilities": ["not-interested-topic", "tags", "deterministic", "personalisation-off", "tag-controls", "blocks"]})
        elif kind == "start":
            w = World(msg)
            log(f"compliant plugin: {w.n_users} users, {w.n_items} items, {w.n_topics} topics")
            send({"type": "ready"})
        elif kind == "recommend":
            step = msg["step"]
            for m in msg["new_marks"]:
                w.mark(m["user"], m["item"], m["topic"], m["scope"])
            controls = {c["user"]: c for c in msg["controls"]}
            ranked = w.ranked_topics()
            slates, tags = [], []
            off_cache = {}
            for u in msg["users"]:
                c = controls.get(u, DEFAULT)
                if not c["personalisation"]:
                    key = (w.minor[u], tuple(sorted(w.marked[u])), tuple(c["blocked_topics"]), tuple(c["blocked_creators"]))
                    if key not in off_cache:
                        cc = dict(c)
                        cc["marked"] = w.marked[u]
                        off_cache[key] = non_personal_slate(w, step, ranked, w.minor[u], cc)
                    slate = off_cache[key]
                else:
                    rng = random.Random((w.seed * 1000003 + u) * 1000003 + step)
                    slate = personal_slate(w, u, c, step, ranked, rng)
                if len(slate) < w.k:
                    send({"type": "error", "message": f"cannot fill a slate for user {u} at step {step}"})
                    return
                w.show(u, slate)
                slates.append(slate)
                if msg.get("want_tags"):
                    p = w.profile[u]
                    top = sorted((q for q in range(w.n_topics)
                                  if p[q] > 0 and not w.harmful_topic[q] and q not in c["deleted_tags"]),
                                 key=lambda q: (-p[q], q))[:3]
                    tags.append(sorted(set(top) | set(q for q in c["declared_tags"] if not w.harmful_topic[q])))
            answer = {"type": "slates", "step": step, "slates": slates}
            if msg.get("want_tags"):
                answer["tags"] = tags
            send(answer)
        elif kind == "feedback":
            for row, u in enumerate(msg["users"]):
                for i in msg["consumed"][row]:
                    w.consume(u, i)
                for i in msg["skipped"][row]:
                    w.skip(u, i)
            send({"type": "ack", "step": msg["step"]})
        elif kind == "shutdown":
            return
        else:
            send({"type": "error", "message": f"unknown message type {kind!r}"})
            return


if __name__ == "__main__":
    main()
