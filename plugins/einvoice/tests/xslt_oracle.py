#!/usr/bin/env python3
"""The official EN 16931 validator as an oracle for the plugin's differential test.

Runs the XSLT validators generated from the EN 16931 Schematron (UBL and CII; each includes
the model, syntax and code-list rules) with SaxonC-HE (PyPI `saxonche`) on many documents in
one process, compiling each stylesheet once.

Usage: xslt_oracle.py UBL_XSLT CII_XSLT < requests > answers

Each request line is JSON {"id": ..., "syntax": "ubl" | "cii", "xml": TEXT} (or "path": FILE
instead of "xml"), answered in order. Each answer
line is JSON {"id": ..., "ok": true, "fired": [[rule_id, flag], ...]} with one pair per
svrl:failed-assert and svrl:successful-report, or {"id": ..., "ok": false, "error": TEXT}
when the validator cannot judge the document (a dynamic error stops the transformation).

With `--probe` it only checks that saxonche can be imported and prints its version.
"""

import json
import sys
import xml.etree.ElementTree as ET

SVRL = "{http://purl.oclc.org/dsdl/svrl}"


def fired_rules(svrl_text):
    root = ET.fromstring(svrl_text.encode("utf-8"))
    out = []
    for el in root.iter():
        if el.tag in (SVRL + "failed-assert", SVRL + "successful-report"):
            out.append([el.get("id") or "", el.get("flag") or ""])
    return out


def main(argv):
    try:
        from saxonche import PySaxonProcessor
    except ImportError as e:  # the Rust test turns this into SKIPPED or a failure
        print(f"saxonche is not importable: {e}", file=sys.stderr)
        return 3
    if argv[1:2] == ["--probe"]:
        with PySaxonProcessor(license=False) as proc:
            print(proc.version)
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with PySaxonProcessor(license=False) as proc:
        xslt = proc.new_xslt30_processor()
        executables = {}
        for syntax, path in (("ubl", argv[1]), ("cii", argv[2])):
            executables[syntax] = xslt.compile_stylesheet(stylesheet_file=path)
            if executables[syntax] is None:
                print(f"cannot compile {path}: {xslt.error_message}", file=sys.stderr)
                return 4
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            req = json.loads(line)
            answer = {"id": req["id"]}
            try:
                text = req.get("xml")
                if text is None:
                    with open(req["path"], encoding="utf-8") as f:
                        text = f.read()
                doc = proc.parse_xml(xml_text=text)
                svrl = executables[req["syntax"]].transform_to_string(xdm_node=doc)
                if svrl is None:
                    raise RuntimeError("the transformation returned nothing")
                answer["ok"] = True
                answer["fired"] = fired_rules(svrl)
            except Exception as e:  # noqa: BLE001 - any failure means "cannot judge"
                answer["ok"] = False
                answer["error"] = " ".join(str(e).split())[:500]
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
