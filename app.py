"""Manabi Plus (まなび+) backend: wires the Chalice app together; the code lives in chalicelib/
(the map: docs/ARCHITECTURE.md)."""

from chalice import Chalice

from chalicelib.functions import cli_hooks

# Only when the Chalice CLI imports this file: `chalice local` serves the local stack with API
# Gateway's token checks, `chalice deploy` checks for credentials first (chalicelib/functions/cli_hooks.py).
# First, because the route modules read their settings (user pool, web origin) as they are imported.
cli_hooks.attach()

from chalicelib import logs, tracing  # noqa: E402
from chalicelib.api import middleware  # noqa: E402
from chalicelib.api.admin import admin_api  # noqa: E402
from chalicelib.api.auth import cors  # noqa: E402
from chalicelib.api.files import files_api  # noqa: E402
from chalicelib.api.me import me_api  # noqa: E402
from chalicelib.functions.schedules import schedules  # noqa: E402
from chalicelib.functions.upload_events import upload_events  # noqa: E402

logs.configure()
tracing.configure()  # the AWS SDK traced in every Chalice function (X-Ray, "xray": true)
app = Chalice(app_name="manabiplus")
app.register_middleware(middleware.handle, "http")
app.register_blueprint(files_api)
app.register_blueprint(me_api)
app.register_blueprint(admin_api)
app.register_blueprint(upload_events)
app.register_blueprint(schedules)


@app.route("/health", cors=cors)
def health() -> dict[str, str]:
    return {"status": "ok"}
