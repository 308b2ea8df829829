"""Manabi Plus (まなび+) backend: wires the Chalice app together; the code lives in chalicelib/."""

import logging

from chalice import Chalice

from chalicelib import http
from chalicelib.auth import cors
from chalicelib.definitions_schedule import definitions_jobs
from chalicelib.jobs import jobs
from chalicelib.routes.admin import admin_api
from chalicelib.routes.files import files_api
from chalicelib.routes.me import me_api
from chalicelib.upload_events import upload_events

app = Chalice(app_name="manabiplus")
app.log.setLevel(logging.INFO)
logging.getLogger("manabiplus").setLevel(logging.INFO)
app.register_middleware(http.handle, "http")
app.register_blueprint(files_api)
app.register_blueprint(me_api)
app.register_blueprint(admin_api)
app.register_blueprint(upload_events)
app.register_blueprint(definitions_jobs)
app.register_blueprint(jobs)


@app.route("/health", cors=cors)
def health() -> dict[str, str]:
    return {"status": "ok"}
