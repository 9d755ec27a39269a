"""The web side: the playground (and later the admin panel), aiohttp apps with their pages."""
