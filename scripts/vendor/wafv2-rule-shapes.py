#!/usr/bin/env python3
"""Extracts, from botocore's WAFv2 service model, the shapes a web ACL rule
is made of (every shape reachable from `Rule`), without their documentation,
into app/src/rules/wafv2_rule_shapes.json: the constraints the rules
validation checks (patterns, lengths, enumerations, ranges, list sizes,
required members) come from there, not from hand.

Run with a Python that has botocore (the moto virtualenv the scripts make):
    ~/.local/share/gatehouse/venv/bin/python scripts/vendor/wafv2-rule-shapes.py
"""
import datetime
import glob
import gzip
import json
import os

import botocore

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
model_path = glob.glob(os.path.join(os.path.dirname(botocore.__file__), "data", "wafv2", "*", "service-2.json.gz"))[0]
model = json.load(gzip.open(model_path))
shapes = model["shapes"]
reachable = set()


def walk(name):
    if name in reachable:
        return
    reachable.add(name)
    shape = shapes[name]
    if shape["type"] == "structure":
        for member in shape.get("members", {}).values():
            walk(member["shape"])
    elif shape["type"] == "list":
        walk(shape["member"]["shape"])
    elif shape["type"] == "map":
        walk(shape["key"]["shape"])
        walk(shape["value"]["shape"])


def without_docs(value):
    if isinstance(value, dict):
        return {k: without_docs(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [without_docs(v) for v in value]
    return value


walk("Rule")
out = {
    "source": "botocore %s, botocore/data/wafv2/%s/service-2.json (AWS WAFv2 API model)"
    % (botocore.__version__, model["metadata"]["apiVersion"]),
    "extracted": datetime.date.today().isoformat(),
    "root": "Rule",
    "shapes": {name: without_docs(shapes[name]) for name in sorted(reachable)},
}
target = os.path.join(ROOT, "app", "src", "rules", "wafv2_rule_shapes.json")
with open(target, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote %s: %d shapes" % (target, len(reachable)))
