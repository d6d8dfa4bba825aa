"""Validates EPCIS 2.0 JSON documents (one per line on stdin) against the standard's JSON
Schema given as the first argument (EPCIS-JSON-Schema.json, draft-07), with format
checks (date-time and uri: needs rfc3339-validator and rfc3987, else it exits 1). Prints
one line per document: "ok" or the validation errors; exits 0 when it could run (the
caller compares the verdicts)."""
import json
import sys

import jsonschema


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    missing = [f for f in ("uri", "date-time") if f not in checker.checkers]
    if missing:
        # the schema's formats would pass unchecked: a weaker oracle must not look whole
        sys.exit(f"jsonschema cannot check the formats {missing}: install rfc3987 and rfc3339-validator")
    validator = jsonschema.Draft7Validator(schema, format_checker=checker)
    for line in sys.stdin:
        if not line.strip():
            continue
        doc = json.loads(line)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            print("; ".join(f"/{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors).replace("\n", " "))
        else:
            print("ok")


if __name__ == "__main__":
    main()
