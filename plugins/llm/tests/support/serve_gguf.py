"""Serves a GGUF model with llama.cpp's own OpenAI-compatible HTTP server, through the
prebuilt `xllamacpp` wheel (no compiler needed), for weft-plugin-llm's real-model test.

    python serve_gguf.py MODEL.gguf PORT API_KEY

Requests must carry `Authorization: Bearer API_KEY`. `response_format` with a JSON Schema
is turned into a grammar by llama.cpp, so the output is constrained to the schema.
The server stops when its standard input closes (the test holds the pipe).
"""
import sys

import xllamacpp

model, port, api_key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
params = xllamacpp.CommonParams()
params.model.path = model
params.hostnames = ["127.0.0.1"]
params.port = port
params.api_keys = [api_key]
params.n_ctx = 2048
params.n_parallel = 1
server = xllamacpp.Server(params)
print("listening on", server.listening_address, flush=True)
sys.stdin.read()
