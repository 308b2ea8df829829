"""The REST API (API Gateway + Lambda): routes by area (files, me, admin), the one routing helper
that carries the authorizer, CORS and error mapping, strict validation, and the middleware."""
