"""Plain WSGI applications for the ``wsgi`` path tests: one that answers, one that raises."""


def hello(environ, start_response):
    body = f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def broken(environ, start_response):
    raise RuntimeError("the application failed")


not_callable = 42
