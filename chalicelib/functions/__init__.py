"""The Lambda functions other than the API: the upload event handler, the scanner (container
image), and the scheduled functions. Each reads its own settings through chalicelib.wiring."""
