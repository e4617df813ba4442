#!/usr/bin/env python3
"""Reads the GitHub Actions workflow berth generates, for tests/e2e/multiarch.sh, which runs
its steps locally.

  workflow.py FILE run JOB STEP       the `run:` script of the step named STEP of job JOB
  workflow.py FILE env                the workflow's top-level `env:` as KEY=VALUE lines
  workflow.py FILE job-env JOB        the job's `env:` as KEY=VALUE lines (unexpanded)
  workflow.py FILE step-env JOB STEP  the step's `env:` as KEY=VALUE lines (unexpanded)
  workflow.py FILE matrix JOB         one line per `matrix.include` entry: KEY=VALUE;...
  workflow.py FILE steps              every step with a `run:` as JOB<TAB>STEP
Exits 1 with a message when the job or step does not exist.
"""
import sys

import yaml


def die(message):
    print(f"workflow.py: {message}", file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def step(doc, job, name):
    jobs = doc.get("jobs") or {}
    if job not in jobs:
        die(f"no job {job!r} (jobs: {', '.join(jobs)})")
    for s in jobs[job].get("steps") or []:
        if s.get("name") == name:
            return s
    die(f"job {job!r} has no step named {name!r}")


def main(argv):
    if len(argv) < 3:
        die(__doc__)
    doc = load(argv[1])
    what = argv[2]
    if what == "run":
        s = step(doc, argv[3], argv[4])
        if "run" not in s:
            die(f"step {argv[4]!r} of {argv[3]!r} runs no command")
        print(s["run"], end="" if s["run"].endswith("\n") else "\n")
    elif what == "env":
        for k, v in (doc.get("env") or {}).items():
            print(f"{k}={v}")
    elif what == "job-env":
        job = (doc.get("jobs") or {}).get(argv[3]) or die(f"no job {argv[3]!r}")
        for k, v in (job.get("env") or {}).items():
            print(f"{k}={v}")
    elif what == "step-env":
        for k, v in (step(doc, argv[3], argv[4]).get("env") or {}).items():
            print(f"{k}={v}")
    elif what == "matrix":
        job = (doc.get("jobs") or {}).get(argv[3]) or die(f"no job {argv[3]!r}")
        for entry in job["strategy"]["matrix"]["include"]:
            print(";".join(f"{k}={v}" for k, v in entry.items()))
    elif what == "steps":
        for job_name, job in (doc.get("jobs") or {}).items():
            for s in job.get("steps") or []:
                if "run" in s:
                    print(f"{job_name}\t{s.get('name', '')}")
    else:
        die(f"unknown command {what!r}")


if __name__ == "__main__":
    main(sys.argv)
