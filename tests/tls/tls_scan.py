"""tls_scan.py - testssl.sh and sslscan (Debian packages) against a lifeguard TLS listener with
its default TLS settings and an ECDSA and an RSA certificate; fails on any vulnerability, weak
protocol or weak cipher they report. Slow (testssl takes minutes): ctest label tls-scan.

  /usr/bin/python3 tests/tls/tls_scan.py      (lifeguard from $LG_BINARY or build/lifeguard)
  cd build && ctest -L tls-scan --output-on-failure

The assertions read testssl's JSON (--jsonfile: one object per finding with an id and a
severity) and sslscan's XML, never their screen text. docs/security.md ("TLS") explains the
findings that are allowed and why. Everything runs on 127.0.0.1; no DNS lookup is made.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tls_support as ts  # noqa: E402

# testssl findings above INFO that are not about the listener, with the reason.
ALLOWED = {
    "cert_revocation": "the test PKI's certificates name no CRL or OCSP responder",
    "HSTS": "an HTTP response header of the application (or a route's response_headers)",
    "security_headers": "HTTP response headers of the application",
    "engine_problem": "the scanner's own openssl has no GOST engine",
}
# testssl checks that may end in WARN ("check failed because of connect problem") for the
# scanner's own reason: its `s_client -sess_out </dev/null` closes at once, and on a loaded
# machine before the TLS 1.3 session tickets arrive, so the second connection has no session to
# resume. Resumption itself is tested with real clients elsewhere (tests/integration/test_tls.c).
SCANNER_WARN = ("sessionresumption_ticket", "sessionresumption_ID")
# Each must be present and OK: the scan ran it and found nothing.
VULNERABILITIES = ("heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego",
                   "secure_client_renego", "CRIME_TLS", "BREACH", "POODLE_SSL", "fallback_SCSV",
                   "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4")
NOT_OFFERED = ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL",
               "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE")
OFFERED = ("TLS1_2", "TLS1_3", "cipherlist_STRONG", "PFS")
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"}
SSLSCAN_STRONG = {"strong", "acceptable"}


def default_ciphers():
    """LG_TLS_CIPHERS of src/config/config.h: the TLS 1.2 list lifeguard offers by default."""
    with open(os.path.join(ts.ROOT, "src", "config", "config.h")) as f:
        text = f.read()
    macro = re.search(r"#define LG_TLS_CIPHERS((?:.*\\\n)*.*)", text).group(1)
    return set("".join(re.findall(r'"([^"]*)"', macro)).split(":"))


def testssl(port, pki, out):
    path = os.path.join(out, "testssl.json")
    cmd = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
           "--ip", "127.0.0.1", "--add-ca", os.path.join(pki, "ca.pem"), "--connect-timeout",
           "10", "--jsonfile", path,
           "https://%s:%d/" % (ts.NAME, port)]
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=840)
    if not os.path.exists(path):
        sys.exit("testssl wrote no JSON (exit %d):\n%s" % (run.returncode, run.stdout.decode()))
    with open(path) as f:
        return json.load(f)


def check_testssl(findings, problems):
    by_id = {}
    for f in findings:
        by_id.setdefault(f["id"], []).append(f)
        base = f["id"].split(" ")[0]
        if f["severity"] in ("INFO", "OK") or base in ALLOWED:
            continue
        if f["severity"] == "WARN" and base in SCANNER_WARN:
            print("testssl could not check %s: %s" % (f["id"], f["finding"]))
            continue
        problems.append("testssl %s %s: %s" % (f["id"], f["severity"], f["finding"]))
    for fid in VULNERABILITIES:
        got = [f["severity"] for f in by_id.get(fid, [])]
        if got != ["OK"]:
            problems.append("testssl %s: %s (expected one OK finding)" % (fid, got))
    for fid in NOT_OFFERED + OFFERED:
        text = " ".join(f["finding"] for f in by_id.get(fid, []))
        if text.startswith("not offered") != (fid in NOT_OFFERED) or not text:
            problems.append("testssl %s: %r" % (fid, text))
    keys = sorted(f["finding"] for f in findings if f["id"].startswith("cert_keySize"))
    if keys != ["EC 256 bits", "RSA 2048 bits"]:
        problems.append("testssl saw the certificates %s, not the ECDSA and the RSA one" % keys)
    return {f["finding"].split()[1] for f in findings if f["id"].startswith("cipher_x")}


def sslscan(port, out, problems):
    path = os.path.join(out, "sslscan.xml")
    subprocess.run(["sslscan", "--no-colour", "--sni-name=" + ts.NAME, "--xml=" + path,
                    "127.0.0.1:%d" % port], stdout=subprocess.DEVNULL, check=True, timeout=300)
    test = ET.parse(path).getroot().find("ssltest")
    enabled = {"%s%s" % (p.get("type"), p.get("version"))
               for p in test.iter("protocol") if p.get("enabled") == "1"}
    if enabled != {"tls1.2", "tls1.3"}:
        problems.append("sslscan: protocols enabled %s" % sorted(enabled))
    for r in test.iter("renegotiation"):
        if r.get("supported") != "0":
            problems.append("sslscan: renegotiation %s" % r.attrib)
    for h in test.iter("heartbleed"):
        if h.get("vulnerable") != "0":
            problems.append("sslscan: heartbleed %s" % h.attrib)
    for c in test.iter("compression"):
        if c.get("supported") != "0":
            problems.append("sslscan: compression %s" % c.attrib)
    for c in test.iter("cipher"):
        if c.get("strength") not in SSLSCAN_STRONG:
            problems.append("sslscan: weak cipher %s" % c.attrib)
    return {c.get("cipher") for c in test.iter("cipher")}


def main():
    pki = ts.make_pki()
    out = tempfile.TemporaryDirectory(prefix="lg-tls-scan-")
    proxy = ts.Proxy(pki.name)
    problems = []
    try:
        findings = testssl(proxy.port, pki.name, out.name)
        by_testssl = check_testssl(findings, problems)
        by_sslscan = sslscan(proxy.port, out.name, problems)
    finally:
        status = proxy.stop()
        log = proxy.log()
        pki.cleanup()
        out.cleanup()
    expected = default_ciphers() | TLS13_SUITES
    for tool, got in (("testssl", by_testssl), ("sslscan", by_sslscan)):
        if got != expected:
            problems.append("%s: ciphers offered %s, lifeguard's defaults are %s"
                            % (tool, sorted(got), sorted(expected)))
    if status != 0 or "[error]" in log or "Sanitizer" in log or "runtime error:" in log:
        problems.append("lifeguard exited %s or logged an error" % status)
    for f in findings:
        if f["id"] in VULNERABILITIES + NOT_OFFERED + OFFERED or f["id"] == "scanTime":
            print("%-22s %-8s %s" % (f["id"], f["severity"], f["finding"]))
    print("ciphers (both tools): %s" % " ".join(sorted(by_testssl)))
    for p in problems:
        print("PROBLEM: " + p)
    if problems:
        print("lifeguard's log:\n" + log)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
