"""``toolwire demo --web``: the agent in the browser, with no dependency beyond h11.

``host``    an HTTP/1.1 server for one ASGI app (asyncio + h11): streamed bodies, disconnects
``routes``  exact paths to apps, 404/405, loopback requests only
``page``    ``GET /``: the single page (``page.html``: HTML, CSS and JS inline, no build step)
``app``     the demo: the shop agent behind ``toolwire.ui``'s endpoints and ``/metrics``
"""
