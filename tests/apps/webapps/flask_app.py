"""A Flask application for the ``wsgi`` path tests (tests/test_web_apps.py)."""
from flask import Flask, request

app = Flask(__name__)


@app.route("/")
def home():
    return "hello from flask\n"


@app.route("/echo", methods=["POST"])
def echo():
    return {"length": len(request.get_data()), "script_name": request.script_root, "path": request.path}


@app.route("/boom")
def boom():
    raise ValueError("flask view failed")
