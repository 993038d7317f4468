"""The parts of ``toolwire.testing`` (the public module): the script model, one renderer per
wire API, request validation per API, and the HTTP server that ties them together."""
