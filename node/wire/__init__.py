"""WAMP messages on the wire: bytes from a client to message objects and back.

Everything about bytes and formats lives here; the router (:mod:`node.router`) sees
message objects only, and the transports only pass bytes to a serializer from here.

========================  ==========================================================
``serializers``           autobahn's serializers, lean (no statistics, shared by all
                          connections), by the names the config uses: bytes <-> objects
``lazy``                  a large message checked, not decoded: its arguments decoded
                          when something reads them; the router's forwarding takes them
                          unread and carries them to the message it sends
``splice``                a large message's argument octets kept as they came, and
                          written after the forwarded message's head
``scan``                  the C scanner (built by ``native_scan_build``): where a
                          message's elements are, or "not sure"
``umsgpack_reader``       u-msgpack-python (PyPy) decoding a payload by slicing it
``json_codec``            the fast JSON format (C scanner, one encoder): bytes <-> lists
``parsing``               decoded lists -> message objects: the one place that checks a
                          message's shape and type; one parse table per source (msgpack
                          and CBOR clients, JSON clients, the cluster backplane)
``tolerance``             client quirks read as what they mean before parsing: absent
                          values (msgpack ext 0, CBOR ``undefined``), IDs as integral floats
``messages``              the router's message classes: autobahn's plus progressive
                          calls, cached HELLO roles, the invalid-URI request marker
``roles``                 HELLO roles in the compact form a session keeps, and the
                          bounded cache of announcements of joined sessions
``size``                  a serialized message over the receiving peer's size limit
========================  ==========================================================

Each module imports only modules listed below it (``serializers`` also chooses txaio's
framework, which autobahn's serializer module needs before it is imported).
"""
