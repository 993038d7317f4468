"""The parts of ``toolwire.ui`` (the public module): ``track`` turns agent and stream events
into protocol-neutral moves, ``vercel`` and ``agui`` render moves in their protocol, ``base``
frames them as server-sent events, ``transcript`` reads a browser's messages back into the
agent's transcript and ``asgi`` serves it all over HTTP."""
