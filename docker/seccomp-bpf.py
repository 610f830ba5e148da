#!/usr/bin/env python3
"""Writes a seccomp profile for the agent's container: the container engine's
default profile, plus bpf() for CAP_BPF and perf_event_open() for CAP_PERFMON.

Why: the default profile of podman 4.x / containers-common (and of Docker
before 23.0) allows bpf and perf_event_open only with CAP_SYS_ADMIN, so with
--cap-add=BPF,PERFMON alone the agent gets EPERM from bpf() under seccomp.
Newer Docker profiles already have these two rules.

  usage: docker/seccomp-bpf.py [DEFAULT_PROFILE] > docker/seccomp-bpf.json
  DEFAULT_PROFILE defaults to /usr/share/containers/seccomp.json
"""
import json
import sys

src = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/containers/seccomp.json'
with open(src) as f:
    profile = json.load(f)

GATES = {'bpf': 'CAP_BPF', 'perf_event_open': 'CAP_PERFMON'}
out = []
for rule in profile['syscalls']:
    names = rule.get('names', [])
    gated = [n for n in names if n in GATES]
    # podman's explicit EPERM rule for callers without CAP_SYS_ADMIN: split the
    # two syscalls out and also exclude their new capability.
    if gated and rule.get('action') == 'SCMP_ACT_ERRNO' and rule.get('excludes', {}).get('caps'):
        rest = [n for n in names if n not in GATES]
        if rest:
            out.append(dict(rule, names=rest))
        for n in gated:
            caps = rule['excludes']['caps'] + [GATES[n]]
            out.append(dict(rule, names=[n], excludes=dict(rule['excludes'], caps=caps)))
        continue
    out.append(rule)
for name, cap in GATES.items():
    out.append({'names': [name], 'action': 'SCMP_ACT_ALLOW', 'args': [],
                'comment': f'tcplife-otel: {name} with {cap}',
                'includes': {'caps': [cap]}, 'excludes': {}})
profile['syscalls'] = out
json.dump(profile, sys.stdout, indent=1)
sys.stdout.write('\n')
