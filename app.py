"""Manabi Plus (まなび+) backend: wires the Chalice app together; the code lives in chalicelib/."""

from chalice import Chalice

from chalicelib.upload_events import upload_events

app = Chalice(app_name="manabiplus")
app.register_blueprint(upload_events)


@app.route("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
