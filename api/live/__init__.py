"""Live WebSockets: fixes and alerts relayed from the realtime consumer's pub/sub, with a snapshot on connect.

Register with `LivePlugin(settings, authenticate)` in the app factory; the wire protocol is in `api.live.protocol`.
"""
