"""The HTTP side of the API server: aiohttp app, authentication, routing, bodies, watches."""
