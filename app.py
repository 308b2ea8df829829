"""Manabi Plus (まなび+) backend: wires the Chalice app together; the code lives in chalicelib/
(the map: docs/ARCHITECTURE.md)."""

from chalice import Chalice

from chalicelib import logs, tracing
from chalicelib.api import middleware
from chalicelib.api.admin import admin_api
from chalicelib.api.auth import cors
from chalicelib.api.files import files_api
from chalicelib.api.me import me_api
from chalicelib.functions.schedules import schedules
from chalicelib.functions.upload_events import upload_events

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
