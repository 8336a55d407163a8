"""response_cases.py - the response side of the framing suite: what a backend answers (raw bytes,
malformed or not) and what the client must get through lifeguard.

RCase(name, raw response, expected, method=, upgrade=, never=, reuse=, close=):
  expected  Resp(status, body, {header: value}) for a response passed on (body decoded by h11),
            Answer(502) for one refused before anything was sent, BROKEN for "502, or the head
            went out and the connection is closed before the body ends" (issue 12 (8))
  never     bytes that must not reach the client (the malformed framing, a smuggled response)
  reuse     False: lifeguard must close that backend connection afterwards, not pool it
  close     the backend closes the connection after its answer (close-delimited bodies)
The client asks `METHOD / HTTP/1.1` with Host: scripted (routed to the scripted backend).
"""

from harness import BROKEN, Answer, RCase, Resp

R = RCase
BAD_GATEWAY = Answer(502)


def rsp(*lines, body=b""):
    return "".join(line + "\r\n" for line in lines).encode("latin-1") + b"\r\n" + body


OK_HEAD = "HTTP/1.1 200 OK"
TE = "Transfer-Encoding: chunked"

VALID = [
    R("length", rsp(OK_HEAD, "Content-Length: 5", body=b"hello"), Resp(200, b"hello"), reuse=True),
    R("chunked", rsp(OK_HEAD, TE, body=b"5\r\nhello\r\n0\r\n\r\n"), Resp(200, b"hello"),
      reuse=True),
    R("chunked_ext_dropped", rsp(OK_HEAD, TE, body=b"5;ext=1\r\nhello\r\n0\r\n\r\n"),
      Resp(200, b"hello"), never=[b";ext"]),
    R("chunked_trailer", rsp(OK_HEAD, TE, body=b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"),
      Resp(200, b"hello")),
    R("chunked_trailer_content_length", rsp(OK_HEAD, TE,
                                            body=b"5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n"),
      Resp(200, b"hello"), never=[b"Content-Length: 9"]),
    R("chunked_upper_hex", rsp(OK_HEAD, TE, body=b"A\r\n0123456789\r\n0\r\n\r\n"),
      Resp(200, b"0123456789")),
    R("te_trailing_tab", rsp(OK_HEAD, "Transfer-Encoding: chunked\t",
                             body=b"5\r\nhello\r\n0\r\n\r\n"), Resp(200, b"hello"),
      note="issue 12 (4): the client got raw chunk framing and waited 60 s"),
    R("te_case", rsp(OK_HEAD, "Transfer-Encoding: Chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
      Resp(200, b"hello")),
    R("close_delimited", rsp(OK_HEAD, body=b"hello"), Resp(200, b"hello"), close=True),
    R("http10_close_delimited", rsp("HTTP/1.0 200 OK", body=b"hello"), Resp(200, b"hello"),
      close=True),
    R("status_without_reason", rsp("HTTP/1.1 200 ", "Content-Length: 2", body=b"hi"),
      Resp(200, b"hi")),
    R("continue_then_final", rsp("HTTP/1.1 100 Continue") +
      rsp(OK_HEAD, "Content-Length: 2", body=b"hi"), Resp(200, b"hi")),
    R("early_hints_then_final", rsp("HTTP/1.1 103 Early Hints", "Link: </s.css>; rel=preload") +
      rsp(OK_HEAD, "Content-Length: 2", body=b"hi"), Resp(200, b"hi")),
    R("two_interim_then_final", rsp("HTTP/1.1 100 Continue") + rsp("HTTP/1.1 102 Processing") +
      rsp(OK_HEAD, "Content-Length: 2", body=b"hi"), Resp(200, b"hi")),
    R("interim_with_length", rsp("HTTP/1.1 100 Continue", "Content-Length: 5") +
      rsp(OK_HEAD, "Content-Length: 2", body=b"hi"), Resp(200, b"hi"),
      never=[b"Content-Length: 5"], note="RFC 9110 8.6: no Content-Length in a 1xx"),
    R("no_content_length_zero", rsp("HTTP/1.1 204 No Content", "Content-Length: 0"),
      Resp(204, b"", {"content-length": None}), reuse=True,
      note="RFC 9110 8.6: a 204 has no Content-Length (HTTP/2 clients reset the stream)"),
    R("status_404", rsp("HTTP/1.1 404 Not Found", "Content-Length: 2", body=b"no"),
      Resp(404, b"no")),
    R("no_content", rsp("HTTP/1.1 204 No Content"), Resp(204, b""), reuse=True),
    R("not_modified", rsp("HTTP/1.1 304 Not Modified", "ETag: \"x\""), Resp(304, b"")),
    R("head_with_length", rsp(OK_HEAD, "Content-Length: 5"),
      Resp(200, b"", {"content-length": "5"}), method="HEAD", reuse=True),
    R("websocket_101", rsp("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                           "Connection: Upgrade"), Resp(101), upgrade="websocket"),
]

MALFORMED = [
    R("cl_and_te", rsp(OK_HEAD, "Content-Length: 5", TE, body=b"5\r\nhello\r\n0\r\n\r\n"),
      BAD_GATEWAY, reuse=False),
    R("te_and_cl", rsp(OK_HEAD, TE, "Content-Length: 5", body=b"5\r\nhello\r\n0\r\n\r\n"),
      BAD_GATEWAY, reuse=False),
    R("cl_duplicate_differ", rsp(OK_HEAD, "Content-Length: 2", "Content-Length: 5", body=b"hello"),
      BAD_GATEWAY, reuse=False),
    R("cl_duplicate_same", rsp(OK_HEAD, "Content-Length: 5", "Content-Length: 5", body=b"hello"),
      BAD_GATEWAY, reuse=False),
    R("cl_list", rsp(OK_HEAD, "Content-Length: 5, 5", body=b"hello"), BAD_GATEWAY, reuse=False),
    R("cl_plus", rsp(OK_HEAD, "Content-Length: +5", body=b"hello"), BAD_GATEWAY, reuse=False),
    R("cl_letters", rsp(OK_HEAD, "Content-Length: 5x", body=b"hello"), BAD_GATEWAY, reuse=False),
    R("cl_huge", rsp(OK_HEAD, "Content-Length: 99999999999999999999", body=b"hello"), BAD_GATEWAY,
      reuse=False),
    R("cl_2pow63", rsp(OK_HEAD, "Content-Length: 9223372036854775808", body=b"hello"),
      BAD_GATEWAY, reuse=False),
    R("cl_shorter_than_data", rsp(OK_HEAD, "Content-Length: 2", body=b"hiEXTRA"), Resp(200, b"hi"),
      never=[b"EXTRA"], reuse=False,
      note="the extra bytes are not a response: drop the connection"),
    R("response_splitting", rsp(OK_HEAD, "Content-Length: 2", body=b"hi") +
      rsp(OK_HEAD, "Content-Length: 8", body=b"SMUGGLED"), Resp(200, b"hi"),
      never=[b"SMUGGLED"], reuse=False),
    R("cut_short", rsp(OK_HEAD, "Content-Length: 10", body=b"hello"), BROKEN, close=True),
    R("chunk_size_cr_then_byte", rsp(OK_HEAD, TE, body=b"5\rXhello\r\n0\r\n\r\n"), BROKEN,
      never=[b"5\rX"], reuse=False),
    R("chunk_size_bare_lf", rsp(OK_HEAD, TE, body=b"5\nhello\r\n0\r\n\r\n"), BROKEN,
      never=[b"5\nhello"], reuse=False),
    R("chunk_data_then_two_bytes", rsp(OK_HEAD, TE, body=b"5\r\nhelloXX0\r\n\r\n"), BROKEN,
      never=[b"helloXX"], reuse=False),
    R("chunk_data_then_bare_lf", rsp(OK_HEAD, TE, body=b"5\r\nhello\n0\r\n\r\n"), BROKEN,
      never=[b"hello\n0"], reuse=False),
    R("chunk_size_2pow63", rsp(OK_HEAD, TE, body=b"8000000000000000\r\nhello\r\n0\r\n\r\n"),
      BROKEN, never=[b"8000000000000000"], reuse=False),
    R("chunk_size_not_hex", rsp(OK_HEAD, TE, body=b"z\r\nhello\r\n0\r\n\r\n"), BROKEN,
      reuse=False),
    R("chunk_end_bare_lf", rsp(OK_HEAD, TE, body=b"5\r\nhello\r\n0\r\n\n"), BROKEN, reuse=False),
    R("trailer_obs_fold", rsp(OK_HEAD, TE, body=b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n 2\r\n\r\n"),
      BROKEN, never=[b"\r\n 2"], reuse=False),
    R("trailer_space_before_colon", rsp(OK_HEAD, TE, body=b"5\r\nhello\r\n0\r\nX-Sum : 1\r\n\r\n"),
      BROKEN, never=[b"X-Sum :"], reuse=False),
    R("te_twice_chunked", rsp(OK_HEAD, "Transfer-Encoding: chunked, chunked",
                              body=b"5\r\nhello\r\n0\r\n\r\n"), BAD_GATEWAY, reuse=False),
    R("head_bare_lf", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", BAD_GATEWAY, reuse=False),
    R("header_obs_fold", rsp(OK_HEAD, "X-A: a", " b", "Content-Length: 2", body=b"hi"),
      BAD_GATEWAY, reuse=False),
    R("header_space_before_colon", rsp(OK_HEAD, "Content-Length : 2", body=b"hi"), BAD_GATEWAY,
      reuse=False),
    R("header_name_space", rsp(OK_HEAD, "X A: 1", "Content-Length: 2", body=b"hi"), BAD_GATEWAY,
      reuse=False),
    R("header_value_nul", rsp(OK_HEAD, "X-A: a\x00b", "Content-Length: 2", body=b"hi"),
      BAD_GATEWAY, reuse=False),
    R("status_four_digits", rsp("HTTP/1.1 2000 OK", "Content-Length: 2", body=b"hi"), BAD_GATEWAY,
      reuse=False),
    R("status_letters", rsp("HTTP/1.1 abc", body=b""), BAD_GATEWAY, reuse=False),
    R("status_000", rsp("HTTP/1.1 000 X", "Content-Length: 2", body=b"hi"), BAD_GATEWAY,
      reuse=False, note="RFC 9110 15: a status outside 100..599 is invalid"),
    R("status_099", rsp("HTTP/1.1 099 X", "Content-Length: 2", body=b"hi"), BAD_GATEWAY,
      reuse=False, note="below 100: an interim response to one client, final to another"),
    R("status_600", rsp("HTTP/1.1 600 X", "Content-Length: 2", body=b"hi"), BAD_GATEWAY,
      reuse=False),
    R("version_2", rsp("HTTP/2 200", "Content-Length: 2", body=b"hi"), BAD_GATEWAY, reuse=False),
    R("no_content_with_body", rsp("HTTP/1.1 204 No Content", "Content-Length: 5", body=b"hello"),
      Resp(204, b""), never=[b"hello"], reuse=False,
      note="a 204 has no body: the bytes after its head are not a response"),
    R("not_modified_with_body", rsp("HTTP/1.1 304 Not Modified", "Content-Length: 5",
                                    body=b"hello"),
      Resp(304, b""), never=[b"hello"], reuse=False),
    R("head_answered_with_body", rsp(OK_HEAD, "Content-Length: 5", body=b"hello"),
      Resp(200, b"", {"content-length": "5"}), method="HEAD", never=[b"hello"], reuse=False),
    R("unrequested_101", rsp("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                             "Connection: Upgrade"), BAD_GATEWAY, reuse=False,
      note="issue 12 (7): a 101 nobody asked for"),
    R("101_other_protocol", rsp("HTTP/1.1 101 Switching Protocols", "Upgrade: h2c",
                                "Connection: Upgrade"), BAD_GATEWAY, upgrade="websocket",
      reuse=False, note="issue 12 (7): a 101 naming a protocol the client did not ask for"),
]

CASES = VALID + MALFORMED
