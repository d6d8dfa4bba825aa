#!/usr/bin/env python3
"""Stage only the hunks of FILE (working tree vs index) whose text contains one of
PATTERNS (or with --not: none of them). Applies the chosen -U0 hunks to the index
version by their old line numbers, so skipped hunks do not shift the others."""
import re, subprocess, sys
f = sys.argv[1]; args = sys.argv[2:]
invert = args[:1] == ['--not']
if invert: args = args[1:]
diff = subprocess.run(['git', 'diff', '-U0', '--', f], capture_output=True, text=True, check=True).stdout
base = subprocess.run(['git', 'show', f':{f}'], capture_output=True, text=True, check=True).stdout
old = base.splitlines(keepends=True)
hunks = []
for block in re.split(r'(?m)^(?=@@ )', diff)[1:]:
    head, *body = block.splitlines(keepends=True)
    m = re.match(r'@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@', head)
    start, count = int(m.group(1)), int(m.group(2) or 1)
    added = [l[1:] for l in body if l.startswith('+')]
    text = ''.join(body)
    hunks.append((start, count, added, text))
chosen = [h for h in hunks if any(p in h[3] for p in args) != invert]
for start, count, added, _ in sorted(chosen, key=lambda h: h[0], reverse=True):
    # count == 0: insert after line `start`; else replace lines start..start+count-1
    at = start if count == 0 else start - 1
    old[at:at + count] = added
content = ''.join(old)
sha = subprocess.run(['git', 'hash-object', '-w', '--stdin'], input=content.encode(), capture_output=True, check=True).stdout.decode().strip()
subprocess.run(['git', 'update-index', '--cacheinfo', f'100644,{sha},{f}'], check=True)
print(f"{f}: staged {len(chosen)} of {len(hunks)} hunks", file=sys.stderr)
