"""Validates EPCIS 2.0 XML documents against the standard's XML schemas with xmlschema
(XSD 1.0). First argument: the folder of the XSD files (EPCglobal-epcis-2_0.xsd, the
query and master data schemas and the SBDH files they import). Input: one JSON string
per line, each an XML document. Prints one line per document: "ok" or its validation
errors; exits 0 when it could run (the caller compares the verdicts)."""
import json
import os
import sys

import xmlschema


def main():
    folder = sys.argv[1]
    schemas = {
        name: xmlschema.XMLSchema10(os.path.join(folder, name))
        for name in (
            "EPCglobal-epcis-2_0.xsd",
            "EPCglobal-epcis-query-2_0.xsd",
            "EPCglobal-epcis-masterdata-2_0.xsd",
        )
    }
    by_root = {
        "{urn:epcglobal:epcis:xsd:2}EPCISDocument": "EPCglobal-epcis-2_0.xsd",
        "{urn:epcglobal:epcis-query:xsd:2}EPCISQueryDocument": "EPCglobal-epcis-query-2_0.xsd",
        "{urn:epcglobal:epcis-masterdata:xsd:2}EPCISMasterDataDocument": "EPCglobal-epcis-masterdata-2_0.xsd",
    }
    for line in sys.stdin:
        if not line.strip():
            continue
        text = json.loads(line)
        try:
            root = xmlschema.XMLResource(text).root
        except Exception as e:  # not well-formed
            print(f"not well-formed: {e}".replace("\n", " "))
            continue
        schema = schemas.get(by_root.get(root.tag, ""))
        if schema is None:
            print(f"no schema for the root element {root.tag}")
            continue
        errors = list(schema.iter_errors(text))
        if errors:
            print("; ".join(f"{e.path}: {e.reason}" for e in errors[:5]).replace("\n", " "))
        else:
            print("ok")


if __name__ == "__main__":
    main()
