#!/usr/bin/python3
"""Renders chat templates with Python jinja2 the way Hugging Face transformers does.

Reads {"cases": [{"template": str, "vars": {...}, "now": int}]} as JSON on stdin and
writes [{"ok": bool, "output": str, "error": str, "error_type": str}] to stdout.
The environment mirrors transformers' _compile_jinja_template: an
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, loop controls,
the {% generation %} tag, HF's tojson, raise_exception and strftime_now (fixed
to the case's "now", in UTC, so both renderers see the same date).
Exits 3 when jinja2 is not importable, so the C++ test can skip.
"""
import json
import sys
from datetime import datetime, timezone

try:
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.exceptions import TemplateError
except ImportError as e:  # pragma: no cover
    sys.stderr.write("jinja2 unavailable: %s\n" % e)
    sys.exit(3)


class GenerationTracker(Extension):
    """HF's AssistantTracker without the tracking: renders the body in place."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env(now):
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.fromtimestamp(now, timezone.utc).strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTracker, loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(case):
    try:
        env = make_env(case.get("now", 0))
        template = env.from_string(case["template"])
        out = template.render(**case.get("vars", {}))
        return {"ok": True, "output": out, "error": "", "error_type": ""}
    except Exception as e:  # every failure is data for the comparison
        return {"ok": False, "output": "", "error": str(e), "error_type": type(e).__name__}


def main():
    request = json.load(sys.stdin)
    results = [render(c) for c in request["cases"]]
    json.dump(results, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
