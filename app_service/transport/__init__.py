"""The aiohttp transport: FastAPI-shaped HTTP behaviour, routes and websockets, nothing more."""
