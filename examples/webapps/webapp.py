"""The application of examples/configs/web-apps.json: a Flask app (the ``wsgi`` path at
``/``) and a Twisted Web resource (the ``resource`` path ``hello``), found by the node
through the router's ``"pythonpath": [".."]`` (this file sits beside the node directory)."""
import json

from flask import Flask
from twisted.web import resource

app = Flask(__name__)


@app.route("/")
def home():
    return "<h1>wampnode web app</h1><p>UI at <a href='/ui/'>/ui/</a>, settings at /config</p>"


class Hello(resource.Resource):
    """``{"type": "resource", "classname": "webapp.Hello", "extra": {...}}``: made as ``Hello(extra)``."""

    isLeaf = True

    def __init__(self, extra):
        super().__init__()
        self.greeting = extra.get("greeting", "hello")

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps({"greeting": self.greeting}).encode()
