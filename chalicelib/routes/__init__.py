"""HTTP routes, one blueprint per area; each view reads the request and calls one service."""
