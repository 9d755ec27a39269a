"""The web side: pages served over the engine's own functions (engine/admin, the store), never
a second way to the database or a second interpreter."""
