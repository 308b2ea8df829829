import json

import pytest

from devstack.lambda_bridge import LambdaBridge, function_name


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("arn:aws:lambda:ap-northeast-1:123456789012:function:local-manabiplus-scanner", "local-manabiplus-scanner"),
        (
            "arn:aws:lambda:ap-northeast-1:123456789012:function:local-manabiplus-scanner:$LATEST",
            "local-manabiplus-scanner",
        ),
        ("local-manabiplus-scanner", "local-manabiplus-scanner"),
        ("local-manabiplus-scanner:live", "local-manabiplus-scanner"),
    ],
)
def test_function_references_resolve_to_names(reference: str, name: str) -> None:
    assert function_name(reference) == name


def test_results_and_errors_are_reported_like_lambda() -> None:
    class ScannerDownError(Exception):
        pass

    def handler(event: dict, context: object) -> dict:
        if event.get("fail"):
            raise ScannerDownError("clamd is not answering")
        return {"echo": event["value"]}

    bridge = LambdaBridge()
    bridge.register("arn:aws:lambda:ap-northeast-1:123456789012:function:scanner", handler)
    headers: dict[str, str] = {}
    assert json.loads(bridge.invoke("scanner", b'{"value": 1}', headers) or b"") == {"echo": 1}
    assert headers == {}
    failure = json.loads(bridge.invoke("scanner:$LATEST", '{"fail": true}', headers) or b"")
    assert headers["x-amz-function-error"] == "Unhandled"
    assert failure == {"errorType": "ScannerDownError", "errorMessage": "clamd is not answering"}
    assert bridge.invoke("some-other-function", b"{}", {}) is None
