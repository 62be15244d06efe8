"""Background tasks of the demo application, with planted insecure code for the scanners."""

import subprocess

import yaml


def run_report(name):
    # Planted: shell injection through string interpolation.
    return subprocess.call("generate-report --name " + name, shell=True)


def load_config(stream):
    # Planted: yaml.load without a safe loader.
    return yaml.load(stream)


def evaluate(expression):
    # Planted: eval of caller-provided text.
    return eval(expression)
