"""Server-side TLS: from a ``tls`` config block to OpenSSL contexts, and judging the files.

Modules, each importing only those listed before it:

- :mod:`~node.tls.openssl`: the calls pyOpenSSL has no public API for;
- :mod:`~node.tls.pem`: read PEM keys, certificates and DH parameters (one-line errors);
- :mod:`~node.tls.certinfo`: facts about one certificate (names, key, issuer, pins);
- :mod:`~node.tls.sni`: which identity serves a host name;
- :mod:`~node.tls.ocsp`: the OCSP response to staple;
- :mod:`~node.tls.files`: read every file of one block once, into a ``Material``;
- :mod:`~node.tls.dh`: whether the ``dhparam`` group is served (one too small turns DHE off);
- :mod:`~node.tls.ciphers`: which suites a ``ciphers`` string enables, and the weak ones;
- :mod:`~node.tls.hygiene`: warnings about material that loads but deserves a look;
- :mod:`~node.tls.context`: build (and reload, and re-key) the server contexts;
- :mod:`~node.tls.devcerts`: make keys and certificates (``wampnode cert``, ``init``);
- :mod:`~node.tls.handshakes`: handshakes counted for metrics, and
  :mod:`~node.tls.handshake_protocol`, Twisted's TLS protocol that counts them;
- :mod:`~node.tls.paced_writes`: its base, which encrypts a large message as the socket takes it.

Who reads the files, and when: :mod:`node.workers.credentials`.
"""
