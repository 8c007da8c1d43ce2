#!/usr/bin/env python3
"""A plugin that misbehaves on purpose, for Cocoon's fault tests.

Usage: misbehave.py MODE [STEP]
Speaks the protocol correctly (random valid slates) until step STEP (default 3), then:
  exit          exits with status 3 (after a line on stderr)
  crash         raises an exception (a Python traceback on stderr)
  hang          stops answering (sleeps)
  malformed     answers a line that is not JSON
  count         answers one slate too few
  size          answers a slate one item short
  unknown       answers an item id past the catalog's end
  string-id     answers an item id as a string
  duplicate     answers a slate with the same item twice
  version       claims protocol version 2 in its hello (STEP ignored)
  error         answers {"type": "error", "message": ...}
  wrong-type    answers an "ack" instead of "slates"
  feedback-hang stops answering feedback messages
  nondeterministic  never misbehaves, but draws its slates from an unseeded generator
"""
import json
import random
import sys
import time

mode = sys.argv[1]
at = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    kind = msg["type"]
    if kind == "hello":
        send({"type": "hello", "protocol": 2 if mode == "version" else 1, "name": "misbehave-" + mode, "capabilities": []})
    elif kind == "start":
        n = msg["catalog"]["items"] if "catalog" in msg else json.load(open(msg["catalog_file"]))["items"]
        k = msg["slate_size"]
        rng = random.Random() if mode == "nondeterministic" else random.Random(msg["seed"])
        print(f"misbehave: mode {mode} at step {at}", file=sys.stderr, flush=True)
        send({"type": "ready"})
    elif kind == "recommend":
        step = msg["step"]
        users = msg["users"]
        slates = [rng.sample(range(n), k) for _ in users]
        if step == at:
            print(f"misbehave: step {step}, about to misbehave ({mode})", file=sys.stderr, flush=True)
            if mode == "exit":
                print("misbehave: giving up now", file=sys.stderr, flush=True)
                sys.exit(3)
            if mode == "crash":
                raise RuntimeError("model weights not found")
            if mode == "hang":
                time.sleep(3600)
            if mode == "malformed":
                sys.stdout.write("{this is not json\n")
                sys.stdout.flush()
                continue
            if mode == "count":
                slates = slates[:-1]
            if mode == "size":
                slates[1] = slates[1][:-1]
            if mode == "unknown":
                slates[2][4] = n
            if mode == "string-id":
                slates[0][0] = str(slates[0][0])
            if mode == "duplicate":
                slates[1][3] = slates[1][0]
            if mode == "error":
                send({"type": "error", "message": "the feature store is down"})
                continue
            if mode == "wrong-type":
                send({"type": "ack", "step": step})
                continue
        send({"type": "slates", "step": step, "slates": slates})
    elif kind == "feedback":
        if mode == "feedback-hang" and msg["step"] == at:
            time.sleep(3600)
        send({"type": "ack", "step": msg["step"]})
    elif kind == "shutdown":
        break
