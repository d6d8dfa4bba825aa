"""Validates PACT ProductFootprint JSON documents (one per line on stdin) against the
ProductFootprint schema of the PACT OpenAPI document given as the first argument
(OpenAPI 3.1 schemas are JSON Schema 2020-12). Prints one line per document: "ok" or
the validation errors. Exit 0 when all are valid, 1 otherwise."""
import json
import sys

import jsonschema
import yaml


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        api = yaml.safe_load(f)
    schemas = api["components"]["schemas"]
    text = json.dumps(schemas).replace("#/components/schemas/", "#/$defs/")
    defs = json.loads(text)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs, "$ref": "#/$defs/ProductFootprint"}
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
    failed = False
    for line in sys.stdin:
        if not line.strip():
            continue
        doc = json.loads(line)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            failed = True
            print("; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors))
        else:
            print("ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
